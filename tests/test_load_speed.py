"""The loader's fast paths (issue 12) give exactly what the plain paths give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers.data import COMMUNICATIONS, CUSTOMERS, write_folder

from ownercomm_kit import formats, loader
from ownercomm_kit.formats import parsers

# every kind of problem in several columns at once: blanks, padding, formula-like ids,
# duplicate ids, unparseable dates, unknown enum values, orphans, bad yes/no cells
MESSY_COMM = (
    COMMUNICATIONS
    + """M4 , C9,2026-06-20 08:00,Text,oem,offer,abc,maybe
=M5,C1,2026-13-45,email,dealer,offer,,N
M1,C2,2026-06-21,email,,survey,,N
 ,C3,2026-06-22,fax,sales,nope,,
@M6,-C1,45826.4375,sms,fi,offer,12,Y
"""
)
MESSY_CUST = (
    CUSTOMERS
    + """ C4 ,Dee,d@example.com,maybe,pager
C4,Eve,,Y,sms
+C5,Fay,,N,
"""
)


def _load(folder):
    return loader.load_with_info(
        {
            "dealer_id": "D",
            "data_dir": str(folder),
            "timezone": "America/Chicago",
            "files": {},
            "mapping": {},
            "values": {"channel": {"Text": "sms"}},
        },
        strict=False,
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_threaded_coercion_equals_one_thread(tmp_path, monkeypatch, fmt):
    folder = write_folder(tmp_path / "csv", {"customers.csv": MESSY_CUST, "communications.csv": MESSY_COMM})
    if fmt == "parquet":
        out = tmp_path / "pq"
        out.mkdir()
        for name in ("customers", "communications"):
            formats.read_raw(folder / f"{name}.csv").frame.to_parquet(out / f"{name}.parquet")
        folder = out
    monkeypatch.setattr(loader, "PARALLEL_ROWS", 10**9)
    one, _ = _load(folder)
    monkeypatch.setattr(loader, "PARALLEL_ROWS", 0)
    two, _ = _load(folder)
    assert one.problems == two.problems
    assert any(p.level == "error" for p in one.problems)  # the messy data really has problems
    for name in one.tables:
        pd.testing.assert_frame_equal(one[name], two[name])


def _arrow_series(chunks):
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string())))


CELLS = ["a", " b", "c ", "", None, "é", "x\u00a0", "\tq", "ok", "=1", "+2", "-3", "@4", "'5", "mid dle"]


@pytest.mark.parametrize("cells", [CELLS, ["plain", "ids", None], [None, None], [], ["=A1"], ["   "]])
def test_text_fast_path_equals_strip(cells):
    for s in (pd.Series(cells, dtype="string"), _arrow_series([cells[:2], cells[2:]]), _arrow_series([cells]).iloc[1:]):
        plain = s.astype("string").str.strip()
        plain = plain.mask(plain == "")  # the plain path, as the loader had it
        pd.testing.assert_series_equal(parsers._text(s), plain)
        if parsers._trimmed_and_filled(s.array._pa_array):  # said "nothing to trim": really nothing
            assert plain.notna().sum() == s.notna().sum() and (plain.dropna() == s.dropna()).all()
    assert not parsers._trimmed_and_filled(pa.chunked_array([[" a"]], pa.large_string()))
    assert not parsers._trimmed_and_filled(pa.chunked_array([["b", ""]], pa.large_string()))


@pytest.mark.parametrize("cells", [CELLS, ["=x"], [None], []])
def test_formula_start_and_distinct_keys(cells):
    for s in (pd.Series(cells, dtype="string"), _arrow_series([cells[:3], cells[3:]]), _arrow_series([cells]).iloc[1:]):
        plain = s.str.startswith(loader.FORMULA_START).fillna(False).to_numpy(bool)
        assert np.array_equal(loader._starts_with(s, loader.FORMULA_START), plain)
        filled = s.dropna()
        assert loader._all_distinct(s) == (not filled.duplicated().any())


def test_one_chunk_keeps_values():
    s = _arrow_series([["a", None], ["b"]])
    one = loader._one_chunk(s)
    assert one.array._pa_array.num_chunks == 1
    pd.testing.assert_series_equal(one, s)


@pytest.mark.parametrize("parallel", [0, 10**9])
@pytest.mark.parametrize("row_group", [1, 2, 3, 100])
def test_read_raw_gives_one_chunk_per_text_column(tmp_path, monkeypatch, row_group, parallel):
    """Text columns come out of read_raw in one chunk (joined as read), with the values, nulls
    and dtypes of the plain pandas read, from a file of many row groups (and CSV blocks)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    cells = ["a", None, "Cára", "", " x ", "=1", None, "zz"]
    table = pa.table(
        {
            "id": pa.array(cells, pa.large_string()),
            "short": pa.array(cells[::-1], pa.string()),
            "nulls": pa.array([None] * len(cells), pa.string()),
            "n": pa.array(range(len(cells)), pa.int64()),
            "t": pa.array([None, 0, 1, 2, 3, 4, 5, 6], pa.timestamp("ms")),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=row_group)
    monkeypatch.setattr(formats.readers, "PARALLEL_JOIN_ROWS", parallel)
    raw = formats.read_raw(tmp_path / "t.parquet").frame
    plain = pd.read_parquet(tmp_path / "t.parquet")
    for c in ("id", "short"):
        assert raw[c].array._pa_array.num_chunks == 1
        pd.testing.assert_series_equal(raw[c], plain[c].astype("string"))
    pd.testing.assert_series_equal(raw["n"], plain["n"])
    pd.testing.assert_series_equal(raw["t"], plain["t"])
    part = formats.read_raw(tmp_path / "t.parquet", columns=["id"]).frame
    assert part["id"].array._pa_array.num_chunks == 1
    pd.testing.assert_series_equal(part["id"], raw["id"])
    csv_path = tmp_path / "t.csv"
    pacsv.write_csv(table.select(["id", "short", "n"]), csv_path)
    big = csv_path.read_text(encoding="utf-8").splitlines(keepends=True)
    csv_path.write_text(big[0] + "".join(big[1:]) * 20_000, encoding="utf-8")  # several CSV blocks
    frame = formats.read_raw(csv_path).frame
    assert all(frame[c].array._pa_array.num_chunks == 1 for c in frame.columns)
    monkeypatch.setattr(formats.readers, "one_chunk", lambda s: s)
    chunked = formats.read_raw(csv_path).frame
    assert chunked["id"].array._pa_array.num_chunks > 1
    pd.testing.assert_frame_equal(frame, chunked)


def test_one_chunk_of_an_empty_and_a_sliced_column():
    for s in (_arrow_series([[], []]), _arrow_series([["a", "b"], ["c", None]]).iloc[1:]):
        one = formats.one_chunk(s)
        assert one.array._pa_array.num_chunks <= 1
        pd.testing.assert_series_equal(one, s)


@pytest.mark.parametrize("parallel", [0, 10**9])
def test_release_gives_the_same_table(tmp_path, monkeypatch, parallel):
    """load_table(release=True) lets each raw column go once coerced: same frame, rows,
    absent columns and problems as a load that keeps the raw table (one and two threads)."""
    folder = write_folder(tmp_path / "csv", {"customers.csv": MESSY_CUST, "communications.csv": MESSY_COMM})
    monkeypatch.setattr(loader, "PARALLEL_ROWS", parallel)
    for name in ("customers", "communications"):
        formats.read_raw(folder / f"{name}.csv").frame.to_parquet(tmp_path / f"{name}.parquet", row_group_size=2)
        values = {"channel": {"Text": "sms"}}
        kept = loader.load_table(name, formats.read_raw(tmp_path / f"{name}.parquet"), "America/Chicago", {}, values)
        raw = formats.read_raw(tmp_path / f"{name}.parquet")
        let_go = loader.load_table(name, raw, "America/Chicago", {}, values, release=True)
        assert raw.frame.shape[1] == 0
        pd.testing.assert_frame_equal(kept[0], let_go[0])
        assert np.array_equal(kept[1], let_go[1])
        assert kept[2:] == let_go[2:]
