"""The loader's typed and pruned fast paths give what the general path gives.

- ``load_dealer(columns=loader.AUDIT_COLUMNS)`` (what ``ownercomm audit`` reads): every rule
  and the suppression list give the same rows and the same skip reasons as on the whole data;
  a column left unread is in no frame (a rule that looked at it would fail here) and is not
  reported missing; the problems that block are the same.
- typed parquet time stamps and dates (``parsers._typed_ns``) against the text-and-object
  parser, placeholder dates by integers against the local year, ids checked distinct by
  64-bit words against Arrow's hash set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ownercomm_kit import formats, loader, schema
from ownercomm_kit.formats import parsers
from ownercomm_kit.params import resolve

ZONE = "America/Chicago"


def _write_store(folder, frames, fmt):
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        if fmt == "parquet":
            df.to_parquet(folder / f"{name}.parquet", index=False)
        else:
            df.to_csv(folder / f"{name}.csv", index=False)


def _params(folder, kit_root, **more):
    return resolve({"dealer_id": "SYN", "data_dir": str(folder), "timezone": ZONE, **more}, root=kit_root)


@pytest.fixture(scope="module")
def synth_frames():
    from ownercomm_kit.synth import generate_dealer

    frames, _ = generate_dealer("SYN", 300, 5, timezone=ZONE, inject_rate=0.05)
    comm = frames["communications"]
    # every message column filled somewhere, so the unread ones would matter if a rule read them
    for col in loader.AUDIT_COLUMNS["communications"]:
        assert comm[col].notna().any(), col
    for col in set(schema.TABLES["communications"].column_names) - set(loader.AUDIT_COLUMNS["communications"]):
        assert comm[col].notna().any(), col
    return frames


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_audit_columns_give_the_same_flags_skips_and_suppression(tmp_path, kit_root, synth_frames, fmt):
    from ownercomm_kit.audit import run_rules, suppression_list

    _write_store(tmp_path / "d", synth_frames, fmt)
    params = _params(tmp_path / "d", kit_root)
    whole = loader.load_dealer(params, strict=True)
    pruned = loader.load_dealer(params, strict=True, columns=loader.AUDIT_COLUMNS)
    unread = [
        c for c in schema.TABLES["communications"].column_names if c not in loader.AUDIT_COLUMNS["communications"]
    ]
    assert unread and not set(unread) & set(pruned["communications"].columns)
    assert pruned.missing_columns == whole.missing_columns
    assert all(pruned.has("communications", c) for c in unread)
    assert pruned.as_of == whole.as_of
    for name in schema.TABLES:
        if name != "communications":
            pd.testing.assert_frame_equal(pruned[name], whole[name])
    pd.testing.assert_frame_equal(pruned["communications"], whole["communications"].drop(columns=unread))
    flags_w, skipped_w = run_rules(whole, params)
    flags_p, skipped_p = run_rules(pruned, params)
    assert len(flags_w) > 50 and flags_w["rule"].nunique() >= 12
    pd.testing.assert_frame_equal(flags_p, flags_w)
    assert skipped_p == skipped_w
    pd.testing.assert_frame_equal(suppression_list(pruned, params), suppression_list(whole, params))


def test_audit_columns_with_rules_that_skip(tmp_path, kit_root, synth_frames):
    """Optional message columns absent from the file: the same rules are skipped, for the same reasons."""
    from ownercomm_kit.audit import run_rules

    frames = dict(synth_frames)
    frames["communications"] = frames["communications"].drop(columns=["campaign_id", "unsubscribed", "opened_at"])
    frames.pop("leads")
    _write_store(tmp_path / "d", frames, "parquet")
    params = _params(tmp_path / "d", kit_root)
    whole = loader.load_dealer(params, strict=True)
    pruned = loader.load_dealer(params, strict=True, columns=loader.AUDIT_COLUMNS)
    assert pruned.missing_columns == whole.missing_columns
    flags_w, skipped_w = run_rules(whole, params)
    flags_p, skipped_p = run_rules(pruned, params)
    assert "duplicate_campaign" in skipped_w and "after_opt_out" in skipped_w
    pd.testing.assert_frame_equal(flags_p, flags_w)
    assert skipped_p == skipped_w


def test_unread_columns_still_have_their_headers_checked(tmp_path, kit_root, synth_frames):
    """Two headers for one unread column block the table as before; a missing required column
    is still missing; a mapping to an unread column is no problem."""
    comm = synth_frames["communications"].copy()
    comm["Opened At"] = comm["opened_at"]
    _write_store(tmp_path / "d", {**synth_frames, "communications": comm}, "parquet")
    params = _params(tmp_path / "d", kit_root)
    errors = [str(p) for p in loader.load_dealer(params, strict=False).errors]
    assert errors
    assert [str(p) for p in loader.load_dealer(params, strict=False, columns=loader.AUDIT_COLUMNS).errors] == errors

    comm = (
        synth_frames["communications"].rename(columns={"status": "Delivery", "sent_at": "when"}).drop(columns="sender")
    )
    _write_store(tmp_path / "e", {**synth_frames, "communications": comm}, "parquet")
    params = _params(tmp_path / "e", kit_root, mapping={"communications": {"Delivery": "status", "when": "sent_at"}})
    whole = loader.load_with_info(params, strict=False)
    pruned = loader.load_with_info(params, strict=False, columns=loader.AUDIT_COLUMNS)
    assert [str(p) for p in pruned[0].problems if p.level == "error"] == [str(p) for p in whole[0].errors]
    assert any("sender" in str(p) for p in whole[0].errors)
    assert [(i.columns, i.ignored_columns, i.rows_read) for i in pruned[1]] == [
        (i.columns, i.ignored_columns, i.rows_read) for i in whole[1]
    ]


def test_read_raw_columns_of_a_parquet_file(tmp_path):
    df = pd.DataFrame({" a ": [1, 2, 3], "b": ["x", None, "z"], "c": [True, False, None]}, index=[7, 8, 9])
    df.index.name = "idx"
    df.to_parquet(tmp_path / "t.parquet")  # the index is written as a column
    assert formats.parquet_headers(tmp_path / "t.parquet") == ["a", "b", "c"]
    whole = formats.read_raw(tmp_path / "t.parquet")
    part = formats.read_raw(tmp_path / "t.parquet", columns=["a", "c"])
    assert whole.headers is None and part.headers == ["a", "b", "c"]
    pd.testing.assert_frame_equal(part.frame, whole.frame[["a", "c"]])
    assert part.rows.tolist() == whole.rows.tolist() == [2, 3, 4]


# --- typed time stamps and dates -----------------------------------------------------------


def _general(fn, s, tz):
    """What the parser gives without its typed fast path."""
    saved = parsers._typed_ns
    parsers._typed_ns = lambda s: None
    try:
        return fn(s, tz)
    finally:
        parsers._typed_ns = saved


def _typed_cases():
    rng = np.random.default_rng(3)
    n = 400
    base = np.datetime64("2026-03-08T00:00:00", "s")
    secs = base + rng.integers(-86400 * 400, 86400 * 400, n).astype("timedelta64[s]")
    # DST edges of Chicago: the skipped hour and the repeated one, to the second
    edges = np.array(
        ["2026-03-08T02:00:00", "2026-03-08T02:30:00", "2026-03-08T01:59:59", "2026-11-01T01:30:00"],
        dtype="datetime64[s]",
    )
    secs = np.concatenate([secs, edges])
    nat = rng.random(len(secs)) < 0.1
    cases = {}
    for unit in ("s", "ms", "us", "ns"):
        naive = pd.Series(secs.astype(f"datetime64[{unit}]"))
        naive[nat] = pd.NaT
        cases[f"naive-{unit}"] = naive
        cases[f"utc-{unit}"] = naive.dt.tz_localize("UTC")
        cases[f"tokyo-{unit}"] = naive.dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo")
    far = pd.Series(np.array(["1600-01-01", "2026-01-01", "NaT", "9999-12-31"], dtype="datetime64[s]"))
    cases["out-of-ns-range"] = far
    cases["out-of-ns-range-aware"] = far.dt.tz_localize("UTC")
    cases["edge-1677"] = pd.Series(np.array(["1677-12-31T23:00:00", "2000-01-01"], dtype="datetime64[s]"))
    cases["empty"] = pd.Series(np.array([], dtype="datetime64[ns]"))
    cases["all-na"] = pd.Series(np.array(["NaT"] * 3, dtype="datetime64[ns]"))
    cases["all-na-aware"] = cases["all-na"].dt.tz_localize("UTC")
    cases["one"] = pd.Series(np.array(["2026-11-01T01:30:00"], dtype="datetime64[ns]"))
    return cases


@pytest.mark.parametrize("case", list(_typed_cases()))
@pytest.mark.parametrize("tz", ["America/Chicago", "Australia/Lord_Howe", "UTC"])
def test_typed_time_stamps_and_dates_equal_the_general_parser(case, tz):
    s = _typed_cases()[case]
    for fn in (formats.parse_timestamps, formats.parse_dates):
        fast, fast_bad = fn(s, tz)
        slow, slow_bad = _general(fn, s, tz)
        pd.testing.assert_series_equal(fast, slow)
        assert fast_bad.to_numpy(bool).tolist() == slow_bad.to_numpy(bool).tolist()


def test_typed_time_stamps_from_chunked_parquet_columns(tmp_path):
    t = pd.Series(pd.date_range("2026-01-01", periods=5000, freq="37min", tz=ZONE))
    pq.write_table(pa.table({"t": t, "n": t.dt.tz_localize(None)}), tmp_path / "x.parquet", row_group_size=700)
    raw = formats.read_raw(tmp_path / "x.parquet")
    for col in ("t", "n"):
        fast = formats.parse_timestamps(raw.frame[col], ZONE)
        slow = _general(formats.parse_timestamps, raw.frame[col], ZONE)
        pd.testing.assert_series_equal(fast[0], slow[0])


def _year_based(parsed: pd.Series) -> np.ndarray:
    year = parsed.dt.year
    return ((year < 1900) | (year > 2200)).fillna(False).to_numpy(bool)


@pytest.mark.parametrize(
    "tz", [None, "UTC", "America/Chicago", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata"]
)
def test_placeholder_dates_by_integers_equal_the_local_year(tz):
    rng = np.random.default_rng(11)
    bounds = [pd.Timestamp("1900-01-01"), pd.Timestamp("2201-01-01")]
    near = [b + pd.Timedelta(minutes=int(m)) for b in bounds for m in rng.integers(-3000, 3000, 200)]
    wide = list(pd.to_datetime(rng.integers(-(2**62), 2**62, 200), unit="ns"))
    values = pd.Series(pd.DatetimeIndex(near + wide + [pd.NaT, pd.Timestamp("1899-12-31 23:59:59.999999999")]))
    values = values.astype("datetime64[ns]")
    if tz is not None:
        values = values.dt.tz_localize("UTC").dt.tz_convert(tz)
    got = loader._placeholder_values(values)
    assert got.tolist() == _year_based(values).tolist()
    assert got.any() and not got.all()
    assert loader._placeholder_values(values.iloc[:0]).tolist() == []


# --- ids checked distinct -----------------------------------------------------------------


def _hash_set_distinct(arr) -> bool:
    distinct = pc.unique(arr)
    return len(distinct) - (1 if distinct.null_count else 0) == len(arr) - arr.null_count


def _id_cases():
    rng = np.random.default_rng(5)
    n = 3000
    short = [f"M{i}" for i in rng.permutation(n)]
    nine = [f"M{i:08d}" for i in range(n)]
    long = [f"MESSAGE-{i:020d}" for i in range(n)]
    accents = [f"é{i}" for i in range(n)]
    cases = {
        "short": short,
        "short-dup": short[:-1] + [short[0]],
        "nine": nine,
        "nine-dup": nine + [nine[17]],
        "sixteen": [f"{i:016d}" for i in range(n)],
        "mixed-8-16": short + [f"{i:016d}" for i in range(n)],
        "long": long,
        "long-dup": long + [long[3]],
        "accents": accents,
        "accents-dup": accents + [accents[5]],
        "nulls": short[:100] + [None] * 50 + short[100:],
        "nulls-dup": short + [None, short[9]],
        "space-padded-twin": ["A", "A "] + short,  # distinct, although padding makes them look alike
        "empty-string": ["", "x"] + short,
        "empty": [],
        "one": ["M1"],
        "all-null": [None, None],
    }
    return cases


@pytest.mark.parametrize("case", list(_id_cases()))
@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("chunks", [1, 3])
def test_ids_distinct_by_words_equal_arrows_hash_set(case, large, chunks, monkeypatch):
    monkeypatch.setattr(loader, "DISTINCT_BY_WORDS_ROWS", 0)
    values = _id_cases()[case]
    typ = pa.large_string() if large else pa.string()
    cut = np.array_split(np.arange(len(values)), chunks)
    arr = pa.chunked_array([pa.array([values[i] for i in part], type=typ) for part in cut], type=typ)
    expected = _hash_set_distinct(arr)
    series = pd.Series(pd.arrays.ArrowStringArray(arr))
    assert loader._all_distinct(series) == expected
    if loader._distinct_by_words(arr):  # "surely distinct" is never wrong
        assert expected
    sliced = arr.combine_chunks().slice(1) if len(values) > 1 else arr.combine_chunks()
    if loader._distinct_by_words(sliced):
        assert _hash_set_distinct(sliced)


def test_duplicate_ids_still_found_by_the_loader(tmp_path, kit_root, synth_frames, monkeypatch):
    monkeypatch.setattr(loader, "DISTINCT_BY_WORDS_ROWS", 0)
    comm = synth_frames["communications"].copy()
    comm.loc[len(comm) // 2, "message_id"] = comm.loc[3, "message_id"]
    _write_store(tmp_path / "d", {**synth_frames, "communications": comm}, "parquet")
    data = loader.load_dealer(_params(tmp_path / "d", kit_root), strict=False)
    assert any(p.column == "message_id" and "duplicate" in p.message for p in data.errors)
    assert len(data["communications"]) == len(comm) - 1


# --- object cells (parquet dates and nullable booleans) -------------------------------------


def _object_cases():
    import datetime as dt

    rng = np.random.default_rng(9)
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(-4000, 4000, 300)]
    edges = [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1678, 1, 1), dt.date(1677, 12, 31), dt.date(2261, 12, 31)]
    edges += [dt.date(2262, 1, 1), dt.date(1899, 12, 31), dt.date(2201, 1, 1)]
    others = [None, np.nan, pd.NaT, dt.datetime(2026, 3, 8, 2, 30), dt.datetime(2026, 5, 1, 9, tzinfo=dt.timezone.utc)]
    others += ["2026-06-18", " 06/18/2026 ", "not a date", 45826.4375, 45826, True]
    return {
        "dates": dates,
        "dates-and-nulls": dates[:50] + [None, np.nan, None] + dates[50:],
        "dates-and-edges": dates + edges,
        "mixed": dates[:40] + edges + others,
        "no-dates": others,
        "one": [dt.date(2026, 1, 1)],
        "empty": [],
        "all-null": [None, None],
    }


@pytest.mark.parametrize("case", list(_object_cases()))
def test_object_dates_in_bulk_equal_one_by_one(case, monkeypatch):
    s = pd.Series(_object_cases()[case], dtype=object)
    fast = [fn(s, ZONE) for fn in (formats.parse_dates, formats.parse_timestamps)]
    fast_place = loader.placeholder_dates(s, fast[0][0], fast[0][1])
    monkeypatch.setattr(parsers, "_plain_dates_in_range", lambda values: None)
    slow = [fn(s, ZONE) for fn in (formats.parse_dates, formats.parse_timestamps)]
    for (fv, fb), (sv, sb) in zip(fast, slow):
        pd.testing.assert_series_equal(fv, sv)
        pd.testing.assert_series_equal(fb, sb)
    assert fast_place.tolist() == loader.placeholder_dates(s, slow[0][0], slow[0][1]).tolist()


@pytest.mark.parametrize(
    "cells",
    [
        [True, False, None, np.nan, True],
        [np.True_, np.False_, None],
        [True, "Y", None],  # not only booleans: the general path
        [True, 1, 0.0],
        [None, None],
        [],
        [False],
    ],
)
def test_object_booleans_in_bulk_equal_the_general_path(cells, monkeypatch):
    s = pd.Series(cells, dtype=object)
    fast = formats.parse_bools(s)
    monkeypatch.setattr(parsers, "_object_bools", lambda s: None)
    slow = formats.parse_bools(s)
    pd.testing.assert_series_equal(fast[0], slow[0])
    assert fast[1].tolist() == slow[1].tolist()


def test_parquet_dates_and_nullable_booleans_load_as_before(tmp_path, monkeypatch):
    import datetime as dt

    df = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "birth_date": [dt.date(1980, 2, 29), None, dt.date(1, 1, 1), dt.date(9999, 12, 31)],
            "sms_consent": [True, None, False, True],
        }
    )
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "customers.parquet")
    raw = formats.read_raw(tmp_path / "customers.parquet")
    assert raw.frame["birth_date"].dtype == object and raw.frame["sms_consent"].dtype == object
    fast = loader.load_table("customers", raw, ZONE, {}, {})
    monkeypatch.setattr(parsers, "_plain_dates_in_range", lambda values: None)
    monkeypatch.setattr(parsers, "_object_bools", lambda s: None)
    slow = loader.load_table("customers", raw, ZONE, {}, {})
    pd.testing.assert_frame_equal(fast[0], slow[0])
    assert [str(p) for p in fast[3]] == [str(p) for p in slow[3]]
    assert any("placeholder" in str(p) for p in fast[3])


@pytest.mark.parametrize(
    "cells",
    [
        ["email", "sms", None, "email"],
        ["email", "SMS", None],
        ["Email ", "text", "e-mail"],
        [None, None],
        [],
        ["phone"],
        ["é-mail", "mail"],
    ],
)
@pytest.mark.parametrize("storage", ["arrow", "python", "chunked"])
def test_canonical_values_by_distinct_values_equal_the_cell_lookup(cells, storage):
    if storage == "chunked":
        half = len(cells) // 2
        arr = pa.chunked_array([pa.array(cells[:half], pa.large_string()), pa.array(cells[half:], pa.large_string())])
        s = pd.Series(pd.arrays.ArrowStringArray(arr))
    else:
        s = pd.Series(cells, dtype="string[pyarrow]" if storage == "arrow" else "string[python]")
    allowed = schema.CHANNELS
    got = loader.canonical_values(s, allowed)
    lookup = bool((s.isna() | s.isin(allowed)).all())
    assert loader._only_allowed(s, allowed) == lookup
    if lookup:
        pd.testing.assert_series_equal(got[0], loader._as_text(s))
        assert not got[1].any()
