"""formats._read_parquet reads a parquet file in one pass (enum columns as dictionaries, decoded
beside pandas' conversion of the others): the frame is the one pandas' own read gives, cell for
cell and dtype for dtype, whatever the file holds; a pandas without ``arrow_table_to_pandas``
(with ``to_pandas_kwargs``) reads through ``pd.read_parquet`` and gets the same cells."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ownercomm_kit import formats
from ownercomm_kit.formats import readers

WORDS = ["sms", "email", "SMS", " sms", "", "é", "Text", "=cmd()", 'a "quoted", word', "line\nbreak"]


def _column(rng: random.Random, kind: str, n: int, nulls: float):
    def maybe(v):
        return None if rng.random() < nulls else v

    if kind in ("string", "large_string"):
        return pa.array([maybe(rng.choice(WORDS)) for _ in range(n)], getattr(pa, kind)())
    if kind == "all_null_text":
        return pa.array([None] * n, pa.string())
    if kind == "int":
        return pa.array([maybe(rng.randrange(-5, 10**6)) for _ in range(n)], pa.int64())
    if kind == "float":
        return pa.array([maybe(rng.random() * 1e4) for _ in range(n)], pa.float64())
    if kind == "bool":
        return pa.array([maybe(rng.random() < 0.5) for _ in range(n)], pa.bool_())
    if kind == "date":
        return pa.array([maybe(dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(400))) for _ in range(n)])
    if kind == "ts_utc":
        base = dt.datetime(2026, 3, 8, tzinfo=dt.timezone.utc)
        cells = [maybe(base + dt.timedelta(minutes=rng.randrange(10**5))) for _ in range(n)]
        return pa.array(cells, pa.timestamp("us", tz="UTC"))
    if kind == "ts_naive":
        cells = [maybe(dt.datetime(2026, 11, 1) + dt.timedelta(minutes=rng.randrange(10**5))) for _ in range(n)]
        return pa.array(cells, pa.timestamp("ms"))
    if kind == "category":  # pandas writes a categorical as a parquet dictionary of its own
        return pa.array([maybe(rng.choice(WORDS[:4])) for _ in range(n)], pa.string()).dictionary_encode()
    raise AssertionError(kind)


KINDS = ["string", "large_string", "all_null_text", "int", "float", "bool", "date", "ts_utc", "ts_naive", "category"]


def _file(tmp_path, rng: random.Random, index: bool) -> tuple:
    n = rng.choice([0, 1, 3, 50, 257])
    names = [f"c{i}" for i in range(rng.randrange(1, 8))]
    kinds = {c: rng.choice(KINDS) for c in names}
    nulls = rng.choice([0.0, 0.1, 1.0])
    table = pa.table({c: _column(rng, kinds[c], n, nulls) for c in names})
    if index:  # as pandas writes a frame with a named index: a column the reader drops
        frame = table.to_pandas().set_axis(pd.Index([f"i{i}" for i in range(n)], name="idx"))
        table = pa.Table.from_pandas(frame)
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=rng.choice([1, 7, 100, 10_000]))
    return path, names, kinds


def _reference(path, columns=None):
    """What pandas' own read gives, with the reader's text columns as the kit's string dtype."""
    frame = pd.read_parquet(path, columns=columns).reset_index(drop=True)
    for c in frame.columns:
        dtype = frame[c].dtype
        if isinstance(dtype, pd.StringDtype) or (
            dtype == object and pd.api.types.infer_dtype(frame[c], skipna=True) in ("string", "empty")
        ):
            frame[c] = frame[c].astype("string")
    return frame


def _same(raw, expected):
    pd.testing.assert_frame_equal(raw.frame, expected, check_exact=True)
    for c in raw.frame.columns:
        arr = raw.frame[c].array
        if isinstance(arr, pd.arrays.ArrowStringArray):
            assert arr._pa_array.num_chunks <= 1, c  # joined once, as read
            assert arr._pa_array.type == expected[c].array._pa_array.type, c


@pytest.mark.parametrize("plain", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_one_pass_read_equals_pandas_read(tmp_path, monkeypatch, seed, plain):
    if plain:  # as on a pandas without the conversion function: pandas' own read, no dictionaries
        monkeypatch.setattr(readers, "_arrow_table_to_pandas", lambda: None)
    rng = random.Random(seed)
    path, names, kinds = _file(tmp_path, rng, index=rng.random() < 0.4)
    columns = sorted(rng.sample(names, rng.randrange(1, len(names) + 1))) if rng.random() < 0.5 else None
    dictionary = [c for c in names if rng.random() < 0.7]
    raw = formats.read_raw(path, columns=columns, dictionary=dictionary)
    wanted = [c for c in names if columns is None or c in columns]
    _same(raw, _reference(path, wanted))
    assert raw.headers == (names if columns is not None else None)
    if plain:
        assert raw.distinct is None
    for c, values in (raw.distinct or {}).items():
        assert kinds[c] in ("string", "large_string", "all_null_text"), c  # only the file's text columns
        assert c in dictionary
        assert sorted(values) == sorted(set(raw.frame[c].dropna())), c
        assert len(values) == len(set(values))


def test_dictionary_columns_are_decoded_beside_the_others(tmp_path):
    """The enum columns come back where they stand in the file, with their values in use."""
    n = 300_000  # several row groups, past the two-thread join
    rng = np.random.default_rng(5)
    channel = pa.array(np.array(["sms", "email", "phone"])[rng.integers(0, 3, n)])
    table = pa.table(
        {
            "message_id": pa.array([f"M{i}" for i in range(n)]),
            "channel": channel,
            "n": pa.array(np.arange(n)),
            "category": pa.array(np.where(rng.random(n) < 0.5, "service", None).tolist(), pa.string()),
        }
    )
    path = tmp_path / "m.parquet"
    pq.write_table(table, path, row_group_size=64_000)
    raw = formats.read_raw(path, dictionary=["channel", "category"])
    assert list(raw.frame.columns) == ["message_id", "channel", "n", "category"]
    assert sorted(raw.distinct["channel"]) == ["email", "phone", "sms"]
    assert raw.distinct["category"] == ["service"]
    _same(raw, _reference(path))


def test_a_dictionary_that_holds_unused_values_names_only_those_in_use(tmp_path):
    """A writer may keep dictionary entries no row uses (a filtered export): they are not values."""
    values = pa.array(["sms", "email", "fax"])
    coded = pa.DictionaryArray.from_arrays(pa.array([0, None, 0, 1], pa.int32()), values)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"], "channel": coded.cast(pa.string())}), path)
    series, used = readers._decoded(pa.chunked_array([coded]), pa.string())
    assert sorted(used) == ["email", "sms"]
    assert series.tolist() == ["sms", pd.NA, "sms", "email"]
    raw = formats.read_raw(path, dictionary=["channel"])
    assert sorted(raw.distinct["channel"]) == ["email", "sms"]


def test_repeated_names_are_read_plainly(tmp_path):
    """ " channel" and "channel" are one header once trimmed: no dictionary is read for either."""
    path = tmp_path / "r.parquet"
    pq.write_table(
        pa.table([pa.array(["sms"]), pa.array(["email"]), pa.array([1])], names=["channel", " channel", "n"]), path
    )
    raw = formats.read_raw(path, dictionary=["channel"])
    assert raw.distinct is None
    assert list(raw.frame.columns) == ["channel", "channel", "n"]


def test_a_file_of_enum_columns_only_is_read_plainly(tmp_path):
    """Nothing else is left to give the frame its rows: the enum columns are read as they are."""
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"channel": ["sms", None], "sender": ["dealer", "oem"]}), path)
    raw = formats.read_raw(path, dictionary=["channel", "sender"])
    assert raw.distinct is None
    _same(raw, _reference(path))


@pytest.mark.parametrize("typ", [pa.string(), pa.large_string()])
def test_enum_columns_keep_their_codes_whatever_the_text_type(tmp_path, typ):
    """A vendor's file holds ``string`` or ``large_string``: either way the column pandas gets is
    the very array decoded (no cast after), so its codes are known."""
    path = tmp_path / "t.parquet"
    cells = ["sms", None, "email", "sms"]
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"], "channel": pa.array(cells, typ)}), path)
    raw = formats.read_raw(path, dictionary=["channel"])
    found = formats.known_codes(raw.frame["channel"])
    assert found is not None
    codes, values = found
    assert [values[c] if c >= 0 else None for c in codes] == cells
    assert raw.frame["channel"].array._pa_array.type == pa.large_string()


def test_names_that_repeat_exactly_are_refused_as_before(tmp_path):
    """pandas refuses a file whose column names repeat; the user gets the same message as before
    the one-pass read (Arrow's own error, named)."""
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.table([pa.array(["sms"]), pa.array(["email"])], names=["channel", "channel"]), path)
    with pytest.raises(formats.FormatError) as one_pass:
        formats.read_raw(path, dictionary=["channel"])
    try:
        pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - whatever pandas raises is what the message names
        assert f"({type(e).__name__})" in str(one_pass.value)
    else:
        raise AssertionError("pandas read a file with repeated names")


def test_the_codes_are_read_only(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "channel": ["sms", "email"]}), path)
    codes, values = formats.known_codes(formats.read_raw(path, dictionary=["channel"]).frame["channel"])
    assert not codes.flags.writeable and isinstance(values, tuple)
