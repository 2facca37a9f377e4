"""The load's fast paths of this round give exactly what the general paths give: text cells
looked at in blocks, ids known distinct by their order, parquet enum columns read as
dictionaries."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ownercomm_kit import loader, schema
from ownercomm_kit.formats import parsers

PIECES = ["a", "Z", "0", " ", "\t", "\u00a0", "é", "中", "=", "+", "-", "@", "'", "\n", "x y"]


def _cells(rng: random.Random, n: int) -> list:
    out = []
    for _ in range(n):
        r = rng.random()
        out.append(
            None if r < 0.15 else "" if r < 0.2 else "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 5)))
        )
    return out


def _series(cells: list, rng: random.Random, large: bool = True) -> pd.Series:
    typ = pa.large_string() if large else pa.string()
    cut = sorted(rng.sample(range(len(cells) + 1), min(2, len(cells) + 1)))
    parts = [cells[: cut[0]], cells[cut[0] : cut[-1]], cells[cut[-1] :]]
    s = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(parts, typ)))
    return s.iloc[1:].reset_index(drop=True) if len(s) and rng.random() < 0.3 else s  # sliced: an offset


@pytest.mark.parametrize("seed", range(40))
def test_cell_ends_in_small_blocks_equal_the_plain_checks(seed, monkeypatch):
    rng = random.Random(seed)
    monkeypatch.setattr(parsers, "CELL_BLOCK", rng.choice([1, 2, 3, 7, 1 << 18]))
    cells = _cells(rng, rng.choice([0, 1, 2, 5, 40]))
    if rng.random() < 0.3:  # every cell clean: the fast answer is "nothing to trim"
        cells = [c if c is None else "k" + str(i) for i, c in enumerate(cells)]
    if rng.random() < 0.1:
        cells = [None] * len(cells)
    s = _series(cells, rng, large=rng.random() < 0.5)
    stripped = s.str.strip()
    nothing_to_do = bool((stripped.dropna() != "").all() and (stripped.dropna() == s.dropna()).all())
    visible = all(c and "!" <= c[0] <= "~" and "!" <= c[-1] <= "~" for c in s.dropna())  # cell by cell
    fast = parsers._trimmed_and_filled(s.array._pa_array)
    assert fast == visible
    assert nothing_to_do or not fast
    plain = s.str.startswith(loader.FORMULA_START).fillna(False).to_numpy(bool)
    assert np.array_equal(loader._starts_with(s, loader.FORMULA_START), plain)
    trimmed = stripped.mask(stripped == "")
    pd.testing.assert_series_equal(parsers._text(s), trimmed.astype("string"))


@pytest.mark.parametrize("seed", range(60))
def test_ids_known_distinct_only_when_they_are(seed, monkeypatch):
    rng = random.Random(seed)
    monkeypatch.setattr(loader, "INCREASING_BLOCK", rng.choice([1, 2, 5, 1 << 20]))
    width = rng.choice([1, 3, 8, 9, 16, 17])
    alphabet = rng.choice(["ab", "0123456789", "a ", "é1"])
    n = rng.choice([2, 3, 10, 60])
    fixed = rng.random() < 0.4  # every id of one length (read straight from Arrow's buffer)
    ids = ["".join(rng.choice(alphabet) for _ in range(width if fixed else rng.randint(1, width))) for _ in range(n)]
    if rng.random() < 0.5:
        order = rng.choice([None, lambda i: (len(i.encode()), i.encode())])  # as text, or as numbers
        ids = sorted(set(ids), key=order) if rng.random() < 0.7 else sorted(ids, key=order)
    if rng.random() < 0.2:
        ids[rng.randrange(len(ids))] = None
    truly = len({i for i in ids if i is not None}) == sum(i is not None for i in ids)
    arr = pa.array(ids, pa.large_string())
    if loader._distinct_by_words(arr):
        assert truly
    s = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([arr])))
    assert loader._all_distinct(s) == truly


def test_ids_in_order_across_blocks(monkeypatch):
    monkeypatch.setattr(loader, "INCREASING_BLOCK", 4)
    for width in (5, 12):
        ids = [f"M{i:0{width}d}" for i in range(50)]
        words = pa.array(ids, pa.large_string())
        assert loader._distinct_by_words(words)
        for at in (3, 4, 5, 49):  # a repeat at, just before and just after a block's edge
            again = ids.copy()
            again[at] = again[at - 1]
            assert not loader._distinct_by_words(pa.array(again, pa.large_string()))
        numbered = [f"M{i}" for i in range(50)]  # as numbers: "M9" before "M10"
        assert loader._distinct_by_words(pa.array(numbered, pa.large_string()))
        assert not loader._distinct_by_words(pa.array(numbered + ["M49"], pa.large_string()))
        assert not loader._distinct_by_words(pa.array(["M1", "M2 ", "M2 "], pa.large_string()))
        swapped = ids.copy()
        swapped[4], swapped[5] = swapped[5], swapped[4]  # not in order, still distinct: the sort says so
        assert loader._distinct_by_words(pa.array(swapped, pa.large_string()))


ENUM_CELLS = ["sms", "email", "SMS", " sms", "sms ", "", "Text", "No Show", "fax", "é"]


def _comm_table(rng: random.Random, n: int, messy: bool, large: bool) -> pa.Table:
    typ = pa.large_string() if large else pa.string()
    cols = {"message_id": [f"M{i}" for i in range(n)], "customer_id": [f"C{i % 3}" for i in range(n)]}
    cols["sent_at"] = [f"2026-03-{1 + i % 28:02d} 0{i % 4}:30" for i in range(n)]
    for c in ("channel", "sender", "category", "status"):
        allowed = list(schema.TABLES["communications"].column(c).allowed)
        pool = allowed + (ENUM_CELLS if messy else [])
        cols[c] = [None if rng.random() < 0.1 else rng.choice(pool) for _ in range(n)]
    if rng.random() < 0.2:
        cols["channel"] = [None] * n
    return pa.table({k: pa.array(v, typ if k != "sent_at" else pa.string()) for k, v in cols.items()})


def _load(folder, values):
    params = {"dealer_id": "D", "data_dir": str(folder), "timezone": "America/Chicago", "values": values}
    return loader.load_with_info(params, strict=False)


@pytest.mark.parametrize("seed", range(16))
def test_enum_columns_read_as_dictionaries_load_the_same(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    n = rng.choice([0, 1, 5, 60])
    table = _comm_table(rng, n, messy=rng.random() < 0.5, large=rng.random() < 0.5)
    folder = tmp_path / "d"
    folder.mkdir()
    pq.write_table(table, folder / "communications.parquet", row_group_size=rng.choice([1, 7, 1000]))
    pq.write_table(
        pa.table({"customer_id": ["C0", "C1", "C2"], "sms_consent": ["Y", "N", "Y"]}), folder / "customers.parquet"
    )
    values = rng.choice([{}, {"channel": {"Text": "sms", " fax ": "email"}}, {"status": {"x": "sent"}}])
    fast, fast_info = _load(folder, values)
    monkeypatch.setattr(loader, "_enum_headers", lambda *a: None)
    plain, plain_info = _load(folder, values)
    assert fast.problems == plain.problems
    assert fast_info == plain_info
    for name in schema.TABLES:
        pd.testing.assert_frame_equal(fast[name], plain[name])
        for c in fast[name].columns:
            a, b = fast[name][c].array, plain[name][c].array
            if isinstance(a, pd.arrays.ArrowStringArray):
                assert a._pa_array.type == b._pa_array.type


def test_a_canonical_parquet_enum_column_is_taken_as_it_is(tmp_path, monkeypatch):
    rng = random.Random(1)
    pq.write_table(_comm_table(rng, 50, messy=False, large=True), tmp_path / "communications.parquet", row_group_size=7)
    taken = []
    real = loader._already_canonical
    monkeypatch.setattr(loader, "_already_canonical", lambda *a: taken.append(real(*a)) or taken[-1])
    data, _ = _load(tmp_path, {})
    assert taken and all(taken)  # every enum column came with its distinct values, all allowed
    assert data["communications"]["channel"].array._pa_array.num_chunks == 1


@pytest.mark.parametrize("large", [True, False])
@pytest.mark.parametrize("rows", [0, 1, 9])
@pytest.mark.parametrize("columns", [None, ["a", "n"], ["a"]])
def test_read_raw_with_dictionary_columns_equals_the_plain_read(tmp_path, large, rows, columns):
    from ownercomm_kit import formats

    typ = pa.large_string() if large else pa.string()
    cells = (["sms", None, " Email", "", "é"] * 2)[:rows]
    frame = pd.DataFrame(
        {
            "a": pd.array(cells, dtype="string"),
            "n": range(rows),
            "gone": pd.array([None] * rows, dtype="string"),
            "b": pd.array(cells[::-1], dtype="string"),
        },
        index=pd.Index([f"i{i}" for i in range(rows)], name="idx"),  # an index column pandas wrote
    )
    table = pa.Table.from_pandas(frame).cast(
        pa.schema(
            [
                pa.field(f.name, typ if pa.types.is_large_string(f.type) or pa.types.is_string(f.type) else f.type)
                for f in pa.Table.from_pandas(frame).schema
            ]
        ).with_metadata(pa.Table.from_pandas(frame).schema.metadata)
    )
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=4)
    plain = formats.read_raw(tmp_path / "t.parquet", columns=columns)
    coded = formats.read_raw(tmp_path / "t.parquet", columns=columns, dictionary=["a", "b", "gone"])
    pd.testing.assert_frame_equal(plain.frame, coded.frame)
    assert plain.headers == coded.headers
    for c in coded.frame.columns:
        if isinstance(coded.frame[c].array, pd.arrays.ArrowStringArray):
            assert coded.frame[c].array._pa_array.type == plain.frame[c].array._pa_array.type
            assert coded.frame[c].array._pa_array.num_chunks <= 1
    for c, values in (coded.distinct or {}).items():
        assert sorted(values) == sorted(set(plain.frame[c].dropna()))
    if columns != ["a"]:  # another column is read: the dictionary path is taken
        assert set(coded.distinct) == {"a", "b", "gone"} & set(columns or ["a", "b", "gone"])


@pytest.mark.parametrize(
    "ids",
    [
        ["", ""],
        ["", "", None],
        ["éa", "aé"],
        ["éa", "aé", "éa"],
        ["abcdefghi", "abcdefghj"],
        ["abcdefghi", "abcdefghi"],
        ["x" * 16, "y" * 16],
        ["ab", "ab", "cd"],
    ],
)
def test_ids_of_one_length(ids, monkeypatch):
    truly = len({i for i in ids if i is not None}) == sum(i is not None for i in ids)
    for sliced in (False, True):
        arr = pa.array(["pad"] + ids, pa.large_string()).slice(1) if sliced else pa.array(ids, pa.large_string())
        if loader._distinct_by_words(arr):
            assert truly
        s = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([arr])))
        assert loader._all_distinct(s) == truly


def test_an_enum_header_repeated_once_trimmed_is_not_judged_by_the_other_column(tmp_path, monkeypatch):
    # " preferred_channel" and "preferred_channel" are one header: the table is blocked for the
    # repeat, and the first column's values that are not allowed are still reported.
    folder = tmp_path / "d"
    folder.mkdir()
    ids = [f"C{i}" for i in range(6)]
    pq.write_table(
        pa.table({"customer_id": ids, " preferred_channel": ["bogus"] * 6, "preferred_channel": ["sms"] * 6}),
        folder / "customers.parquet",
    )
    pq.write_table(
        pa.table({"message_id": ["M1"], "customer_id": ["C0"], "sent_at": ["2026-01-02 10:00"], "channel": ["sms"]}),
        folder / "communications.parquet",
    )
    fast, _ = _load(folder, {})
    monkeypatch.setattr(loader, "_enum_headers", lambda *a: None)
    plain, _ = _load(folder, {})
    assert fast.problems == plain.problems
    assert any("bogus" in str(p) for p in fast.problems)
