"""``parsers.localize`` per distinct local day gives exactly what pandas plus zoneinfo give
value by value (``_localize_each``), on DST edges of many zones."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ownercomm_kit.formats import parsers

NAT = np.iinfo(np.int64).min

# northern and southern DST, Lord Howe's 30-minute shift, midnight changes (Havana, old Sao
# Paulo), Chatham's :45 offset, zones that changed their rules (Moscow, Casablanca, Apia skipped
# a day, Troll's 2-hour DST), no DST at all, UTC
ZONES = [
    "America/Chicago",
    "America/Los_Angeles",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "America/Santiago",
    "America/Havana",
    "America/St_Johns",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Moscow",
    "Africa/Casablanca",
    "Pacific/Apia",
    "Pacific/Chatham",
    "Antarctica/Troll",
    "Asia/Kolkata",
    "Asia/Tehran",
    "UTC",
]


def _ns(text: str) -> int:
    return int(pd.Timestamp(text).as_unit("ns")._value)


def _both(values: np.ndarray, tz: str, monkeypatch) -> tuple[pd.Series, pd.Series]:
    monkeypatch.setattr(parsers, "LOCALIZE_BY_DAYS_ROWS", 1)
    monkeypatch.setattr(parsers, "LOCALIZE_VALUES_PER_DAY", 0)
    s = pd.Series(values.astype(np.int64).view("datetime64[ns]"), index=pd.RangeIndex(len(values)) * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nanoseconds dropped on DST edges, as before
        assert parsers._localize_by_days(s, tz) is not None or not (values != NAT).any()
        return parsers.localize(s, tz), parsers._localize_each(s, tz)


def _same(a: pd.Series, b: pd.Series) -> None:
    assert a.dtype == b.dtype
    assert a.index.equals(b.index)
    assert np.array_equal(a.array.asi8, b.array.asi8)


@pytest.mark.parametrize("tz", ZONES)
def test_every_seven_minutes_of_two_years(tz, monkeypatch):
    step = 7 * 60 * 10**9 + 13  # drifts over every minute of the day and keeps nanoseconds
    values = np.arange(_ns("2010-01-01"), _ns("2012-01-01"), step)
    _same(*_both(values, tz, monkeypatch))


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("seed", range(2))
def test_random_times_with_missing_ones(tz, seed, monkeypatch):
    rng = np.random.default_rng(seed)
    years = [_ns(f"{y}-01-01") for y in rng.integers(1900, 2100, 6)]
    values = np.concatenate([rng.integers(y, y + 366 * 86_400 * 10**9, 3000) for y in years])
    values[rng.random(len(values)) < 0.05] = NAT
    minutes = rng.random(len(values)) < 0.5
    values[minutes & (values != NAT)] //= 60 * 10**9
    values[minutes & (values != NAT)] *= 60 * 10**9
    _same(*_both(values, tz, monkeypatch))


@pytest.mark.parametrize("tz", ["America/Chicago", "Australia/Lord_Howe", "Europe/London"])
def test_dst_edges_to_the_second(tz, monkeypatch):
    days = ["2026-03-08", "2026-11-01", "2026-04-05", "2026-10-04", "2026-03-29", "2026-10-25"]
    values = np.concatenate([np.arange(_ns(d), _ns(d) + 86_400 * 10**9, 10**9) for d in days])
    _same(*_both(values, tz, monkeypatch))


@pytest.mark.parametrize(
    "values",
    [
        np.array([], dtype=np.int64),
        np.array([NAT, NAT]),
        np.array([_ns("2026-03-08 02:30")]),
        np.array([_ns("2026-11-01 01:30"), NAT]),
        np.array([_ns("1678-01-01"), _ns("2261-12-31 23:59:59")]),
    ],
)
@pytest.mark.parametrize("tz", ["America/Chicago", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_edge_inputs(values, tz, monkeypatch):
    a, b = _both(values, tz, monkeypatch)
    _same(a, b)


def test_the_day_path_is_taken_for_a_big_column_and_not_for_a_small_one():
    values = np.arange(_ns("2026-01-01"), _ns("2026-03-01"), 60 * 10**9)
    s = pd.Series(values.view("datetime64[ns]"))
    assert parsers._localize_by_days(s, "America/Chicago") is not None
    assert parsers._localize_by_days(s[:100], "America/Chicago") is None
    _same(parsers.localize(s, "America/Chicago"), parsers._localize_each(s, "America/Chicago"))
