"""The Arrow CSV writer gives exactly the bytes of the pandas writer it replaced (issue 12).

The reference below is the former ``outputs.write_csv``: ``neutralize_formulas`` then
``DataFrame.to_csv(index=False, lineterminator="\\r\\n")``. It lives only here.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ownercomm_kit import csv_arrow, loader, outputs, referrals, retention
from ownercomm_kit.audit import FLAG_COLUMNS, run_audit
from ownercomm_kit.data import DealerData
from ownercomm_kit.params import resolve

ROOT = Path(__file__).resolve().parents[1]


def reference_csv(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    outputs.neutralize_formulas(df).to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue().encode("utf-8")


def assert_same(df: pd.DataFrame, chunk_rows: int = csv_arrow.CHUNK_ROWS) -> None:
    new, old = csv_arrow.frame_bytes(df, chunk_rows=chunk_rows), reference_csv(df)
    if new != old:  # show the first differing line, not two blobs
        for a, b in zip(new.split(b"\r\n"), old.split(b"\r\n")):
            assert a == b
    assert new == old


def _tz(values, zone):
    return pd.Series(pd.to_datetime(values, format="ISO8601")).dt.tz_localize(
        zone, ambiguous=True, nonexistent="shift_forward"
    )


def test_hostile_cells_quoting_formulas_and_types():
    t = _tz(
        [
            "2026-03-08 01:59:59",
            "2026-03-08 03:00:00",
            None,
            "2026-11-01 01:30:00",
            "2026-11-01 01:30:00",
            "2026-07-04 00:00:00",
        ],
        "America/Los_Angeles",
    )
    df = pd.DataFrame(
        {
            "text": pd.array(["=1+1", "x,y", 'say "hi"', "a\r\nb", None, "-3"], dtype="string"),
            "more": pd.array(["@SUM(A1)", "\tx", "\rx", "+1", "plain", ""], dtype="string"),
            "local": t,
            "utc": t.dt.tz_convert("UTC"),
            "kolkata": t.dt.tz_convert("Asia/Kolkata"),
            "seconds_unit": t.dt.as_unit("s"),
            "us_unit": t.dt.as_unit("us"),
            "float": [1.0, np.nan, 0.1, 1e-5, 123456789.123, -2.5],
            "int": [1, -2, 3, 4, 5, 6],
            "bool": [True, False, True, False, True, True],
            "date": pd.to_datetime(
                ["2026-01-01", None, "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"], format="ISO8601"
            ),
            "datetime": pd.to_datetime(
                ["2026-01-01 10:00", None, "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"], format="ISO8601"
            ),
            "object": ["=x", 5, None, "+y", 2.5, "ok"],
            "object_text": ["@a", "b", None, "\tc", "d", ""],
            "Int64": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "boolean": pd.array([True, None, False, True, True, False], dtype="boolean"),
            'odd, "header"': ["a", "b", "c", "d", "e", "f"],
        }
    )
    for chunk in (1, 4, 1000):
        assert_same(df, chunk)
    assert b"'=1+1" in csv_arrow.frame_bytes(df)
    assert_same(df.iloc[:0])


def test_unusual_timestamps_go_through_pandas_and_still_match():
    frac = _tz(["2026-01-01 10:00:00.5", "2026-01-01 10:00:00.000000001", "2026-01-02 10:00:00", None], "Europe/Paris")
    old = _tz(
        ["1850-01-01 10:00:00", "2026-01-01 10:00:00"], "America/Los_Angeles"
    )  # local mean time: offset with seconds
    midnight = _tz(["2026-03-08", "2026-03-09", None], "America/New_York")
    assert_same(pd.DataFrame({"t": frac, "x": 1}))
    assert_same(pd.DataFrame({"t": old, "x": 1}))
    assert_same(pd.DataFrame({"t": midnight, "u": midnight.dt.tz_convert("UTC")}))
    assert_same(pd.DataFrame({"t": midnight.iloc[[2, 2]]}))


def test_single_column_and_empty_cells():
    assert_same(pd.DataFrame({"x": ["", None, "a"]}))
    assert_same(pd.DataFrame({"x": pd.array(["", None, "a,b"], dtype="string")}))
    assert_same(pd.DataFrame(index=range(3)))


def _outputs_of(data: DealerData, params: dict) -> dict[str, pd.DataFrame]:
    r = run_audit(data, params)
    rr = retention.compute(data, params)
    rf = referrals.compute(data, params)
    return {
        "flags": r.flags[FLAG_COLUMNS],
        "suppression": r.suppression[["customer_id", "channel", "rule", "until"]],
        "due_for_service": rr.due_for_service,
        "warranty_expiring": rr.warranty_expiring,
        "milestones": rr.milestones,
        "referral_followups": rf.followups,
    }


@pytest.mark.parametrize("dealer", ["D001", "D002", "D003"])
def test_sample_dealers_outputs_byte_identical(dealer):
    params = resolve(dealer_file=ROOT / "params" / "dealers" / f"{dealer}.yaml", root=ROOT)
    data = loader.load_dealer(params, strict=True)
    frames = _outputs_of(data, params)
    assert len(frames["flags"]) > 50
    for _name, df in frames.items():
        assert_same(df, chunk_rows=37)


def test_synthetic_dealer_outputs_byte_identical():
    from ownercomm_kit import schema
    from ownercomm_kit.synth import generate_dealer

    params = resolve({"dealer_id": "SYN", "data_dir": str(ROOT), "timezone": "America/Denver"}, root=ROOT)
    frames, _ = generate_dealer("SYN", 250, 11, timezone="America/Denver")
    as_of = max(frames["communications"]["sent_at"]).date()
    data = DealerData("SYN", "Synth Motors", "America/Denver", as_of, frames, [], {t: [] for t in schema.TABLES})
    out = _outputs_of(data, params)
    assert len(out["flags"]) > 50
    for _name, df in out.items():
        assert_same(df, chunk_rows=101)


def test_write_parquet_holds_the_same_rows(tmp_path):
    t = _tz(["2026-03-08 01:59:59", None], "America/Chicago")
    df = pd.DataFrame({"message_id": pd.array(["=M1", None], dtype="string"), "sent_at": t, "n": [1, 2]})
    outputs.write_parquet(df, tmp_path / "f.parquet")
    back = pq.read_table(tmp_path / "f.parquet").to_pandas()
    assert back["message_id"].tolist()[0] == "=M1"  # values as they are: parquet is not a spreadsheet
    assert back["sent_at"].iloc[0] == t.iloc[0] and pd.isna(back["sent_at"].iloc[1])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("dtype", ["string[python]", "string[pyarrow]", "str", "object"])
def test_every_text_storage(dtype):
    values = ["=x", None, "a,b", 'q"', "-1", "plain"]
    df = pd.DataFrame(
        {
            "a": pd.array(values, dtype=None if dtype == "object" else dtype)
            if dtype != "object"
            else pd.Series(values, dtype=object),
            "b": range(6),
        }
    )
    assert_same(df, chunk_rows=4)


def test_marked_bytes_match_the_lookup_table():
    from ownercomm_kit.csv_arrow import QUOTE_BYTES, _byte_table, _cells_holding, _marked

    rng = np.random.default_rng(4)
    data = rng.integers(0, 256, 5000).astype(np.uint8)
    for chars in ("", ",", ',"\r\n', "abcde", "".join(map(chr, range(40, 50)))):
        table = _byte_table(chars)
        assert _marked(data, table).tolist() == table[data].tolist()
        assert _marked(data[:0], table).tolist() == []
    cells = pa.array(["a,b", "", "x", 'q"', "é\n", "plain"], pa.large_string())
    assert _cells_holding(cells, QUOTE_BYTES).tolist() == [True, False, False, True, True, False]
    assert _cells_holding(cells.slice(3), QUOTE_BYTES).tolist() == [True, True, False]
