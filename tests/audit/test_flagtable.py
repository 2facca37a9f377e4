"""The flag table's fast paths (issue 12) against the general ones.

``FlagTable.write_csv`` (what ``ownercomm audit`` writes) must give the bytes of the general
writer on ``FlagTable.frame()`` and of pandas' ``to_csv`` (the writer before both), and the
frame's message columns must be the communications table's cells at the flags' rows, whatever
the data: hostile ids, unknown or missing enum values, a sent_at column in another zone than
the dealer's, fractions of seconds, Python-stored strings, no flags at all, chunks of one row.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ownercomm_kit import csv_arrow, outputs, schema
from ownercomm_kit.audit import FLAG_COLUMNS, flagtable, run_rules
from ownercomm_kit.audit.rules import run_rules_table
from ownercomm_kit.audit.windows import messages_of
from ownercomm_kit.data import DealerData
from ownercomm_kit.params import load_defaults
from ownercomm_kit.synth import generate_dealer

TZ = "America/Denver"
HOSTILE = ["=1+1", "+x", "-2", "@a", "'q", 'say "hi"', "a,b", "line\nbreak", "cr\rx", "\tt", "naïve 中文", "é,ü"]


def reference_csv(df: pd.DataFrame) -> bytes:
    """The writer before issue 12: neutralize, then pandas' to_csv with CRLF."""
    buf = io.StringIO()
    outputs.neutralize_formulas(df).to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue().encode("utf-8")


def synth(seed: int = 11, customers: int = 120) -> dict[str, pd.DataFrame]:
    frames, _ = generate_dealer("SYN", customers, seed, timezone=TZ)
    return frames


def dealer(frames: dict[str, pd.DataFrame], tz: str = TZ) -> DealerData:
    as_of = max(frames["communications"]["sent_at"]).date()
    return DealerData("SYN", "Synth Motors", tz, as_of, frames, [], {t: [] for t in schema.TABLES})


def params() -> dict:
    return load_defaults()


def hostile(frames: dict[str, pd.DataFrame], seed: int = 3) -> dict[str, pd.DataFrame]:
    """Hostile message and customer ids (the same in every table), unknown and missing enums."""
    rng = np.random.default_rng(seed)
    frames = {k: v.copy() for k, v in frames.items()}
    comm = frames["communications"]
    ids = pd.unique(frames["customers"]["customer_id"])
    new = {c: (HOSTILE[rng.integers(len(HOSTILE))] + c if rng.random() < 0.4 else c) for c in ids}
    for df in frames.values():
        if "customer_id" in df:
            df["customer_id"] = df["customer_id"].map(lambda v: new.get(v, v))
    mids = comm["message_id"].to_numpy(dtype=object).copy()
    pick = rng.random(len(mids)) < 0.3
    mids[pick] = [HOSTILE[i] + m for i, m in zip(rng.integers(len(HOSTILE), size=pick.sum()), mids[pick])]
    comm["message_id"] = pd.array(mids, dtype=comm["message_id"].dtype)
    for col, odd in (("channel", "Fax"), ("sender", "=robot"), ("category", "misc,other")):
        values = comm[col].astype(object).to_numpy().copy()
        values[rng.random(len(values)) < 0.01] = odd
        values[rng.random(len(values)) < 0.01] = None
        comm[col] = pd.array(values, dtype="string")
    return frames


def check(data: DealerData, **kw) -> pd.DataFrame:
    table, _, _ = run_rules_table(data, params(), **kw)
    frame = table.frame()
    assert list(frame.columns) == FLAG_COLUMNS and len(frame) == len(table)
    expected = reference_csv(frame)
    assert csv_arrow.frame_bytes(frame) == expected
    for chunk in (1, 7, 1000):
        for threads in (1, 2):
            buf = io.BytesIO()
            table.write_csv(buf, chunk_rows=chunk, threads=threads)
            assert buf.getvalue() == expected, (chunk, threads)
    # the message's columns: the communications table's cells at the flags' rows, in a frame
    # built as the audit built it before the flag table (a take of each column)
    m = messages_of(data)
    comm = data["communications"]
    pos = m.order[table.rows]
    want = pd.DataFrame({c: comm[c].take(pos).array for c in FLAG_COLUMNS[:6]}, index=pd.RangeIndex(len(pos)))
    pd.testing.assert_frame_equal(frame[FLAG_COLUMNS[:6]], want)
    counts = frame["rule"].value_counts()
    assert table.rule_counts() == {k: int(v) for k, v in counts.items()}
    # each rule's sentences and related ids are its own: the same as when it runs alone, where
    # nothing is interleaved with other rules' flags
    if "rules" not in kw:
        for rule in frame["rule"].unique():
            alone = run_rules_table(data, params(), rules=[rule])[0].frame()
            mine = frame[frame["rule"] == rule].reset_index(drop=True)
            pd.testing.assert_frame_equal(mine, alone)
    return frame


def test_synthetic_dealer():
    data = dealer(synth())
    frame = check(data)
    assert len(frame) > 30 and frame["related_id"].notna().any()
    run_frame, _ = run_rules(data, params())
    pd.testing.assert_frame_equal(run_frame, frame)


def test_hostile_ids_and_enums():
    frame = check(dealer(hostile(synth(5))))
    text = reference_csv(frame)
    assert b"'=1+1" in text and b'"say ""hi""' in text


def test_sent_at_in_another_zone_than_the_dealer():
    frames = synth(7)
    frames["communications"]["sent_at"] = frames["communications"]["sent_at"].dt.tz_convert("Asia/Kolkata")
    check(dealer(frames))
    frames["communications"]["sent_at"] = frames["communications"]["sent_at"].dt.tz_convert("UTC")
    check(dealer(frames, tz="Australia/Lord_Howe"))


def test_fractions_of_seconds_and_python_strings_take_the_general_path():
    frames = synth(9, customers=60)
    comm = frames["communications"]
    comm.loc[3, "sent_at"] = comm.loc[3, "sent_at"] + pd.Timedelta(milliseconds=250)
    comm["message_id"] = comm["message_id"].astype("string[python]")
    comm["channel"] = comm["channel"].astype(object)
    check(dealer(frames))


def test_no_flags_one_flag_and_no_rule():
    frames = synth(13, customers=40)
    data = dealer(frames)
    assert len(check(data, rules=[])) == 0
    comm = frames["communications"]
    one = {**frames, "communications": comm.iloc[:1].reset_index(drop=True)}
    check(dealer(one))
    frame = check(data, rules=["quiet_hours"])
    assert set(frame["rule"]) <= {"quiet_hours"}


@pytest.mark.parametrize("tz", ["America/New_York", "Europe/London", "Australia/Lord_Howe"])
def test_daylight_saving_edges(tz):
    frames = synth(17, customers=50)
    comm = frames["communications"]
    edges = pd.to_datetime(["2026-03-08 07:30:00", "2026-11-01 05:59:59", "2026-03-29 01:00:00", "2026-10-04 15:30:00"])
    comm.loc[: len(edges) - 1, "sent_at"] = pd.Series(edges).dt.tz_localize("UTC").dt.tz_convert(comm["sent_at"].dt.tz)
    frames["communications"]["sent_at"] = comm["sent_at"].dt.tz_convert(tz)
    check(dealer(frames, tz=tz))


@pytest.mark.parametrize("seed", range(6))
def test_parted_strings_take_as_their_concatenation_would(seed):
    """FlagTable keeps the rules' detail and related arrays apart (Parted): any take equals
    the take of their concatenation, with empty arrays, nulls and repeated indices."""
    rng = np.random.default_rng(seed)
    arrays = []
    for _ in range(int(rng.integers(1, 7))):
        k = int(rng.choice([0, 1, 5, 40]))
        cells = [None if rng.random() < 0.2 else "x" * int(rng.integers(0, 4)) + str(i) for i in range(k)]
        arrays.append(pa.array(cells, pa.large_string()))
    whole = pa.concat_arrays(arrays)
    parted = flagtable.Parted(arrays)
    assert len(parted) == len(whole)
    for n in (0, 1, len(whole), 3 * len(whole)):
        if not len(whole) and n:
            continue
        idx = rng.integers(0, max(len(whole), 1), n) if len(whole) else np.zeros(0, np.int64)
        got = parted.take(idx)
        assert got.type == pa.large_string() and got.equals(whole.take(pa.array(idx, pa.int64())))
    assert flagtable.Parted([]).take(np.zeros(0, np.int64)).equals(pa.array([], pa.large_string()))
