"""Small vectorised helpers on int days and int64 nanoseconds (wall-clock, naive).

Internally every date is an int (days since 1970-01-01) and every time stamp int64
nanoseconds of wall-clock time in the dealer's zone; frames get their canonical dtypes
only at the end. Per-customer lookups use one global ``searchsorted`` on the combined key
``customer * KEY + day`` instead of a loop over customers.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

NS_SECOND = 1_000_000_000
NS_HOUR = 3600 * NS_SECOND
NS_DAY = 24 * NS_HOUR
KEY = 1 << 20  # > any day number we use (year 4840)
NEVER = -(1 << 40)


def day_number(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def key(cust, day) -> np.ndarray:
    return np.asarray(cust, dtype=np.int64) * KEY + np.asarray(day, dtype=np.int64)


def at_hour(day, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """Wall-clock ns on ``day`` at a random second in [lo, hi) hours."""
    day = np.asarray(day, dtype=np.int64)
    sec = rng.integers(int(lo * 3600), int(hi * 3600), len(day))
    return day * NS_DAY + sec * NS_SECOND


def convert_wall(ns: np.ndarray, from_tz: str, to_tz: str) -> np.ndarray:
    """Wall-clock ns in ``from_tz`` to wall-clock ns in ``to_tz``."""
    if from_tz == to_tz or len(ns) == 0:
        return ns
    idx = pd.DatetimeIndex(ns.view("datetime64[ns]"))
    idx = idx.tz_localize(from_tz, ambiguous=np.zeros(len(ns), dtype=bool), nonexistent="shift_forward")
    return np.asarray(idx.tz_convert(to_tz).tz_localize(None).as_unit("ns").asi8, dtype=np.int64)


def aware(ns: np.ndarray, tz: str, valid: np.ndarray | None = None) -> pd.Series:
    """Wall-clock ns (NEVER or ``~valid`` = missing) to a ``datetime64[ns, tz]`` Series."""
    ns = np.asarray(ns, dtype=np.int64)
    missing = ns <= NEVER if valid is None else ~valid
    # Whole seconds: what a CSV export holds, so files load back to exactly these values.
    vals = np.where(missing, np.iinfo(np.int64).min, ns // NS_SECOND * NS_SECOND).view("datetime64[ns]")
    idx = pd.DatetimeIndex(vals)
    # As the loader reads wall-clock text (PEP 495 fold=0): a repeated autumn hour is the
    # first (summer) one, a skipped spring hour keeps the offset before the change.
    idx = idx.tz_localize(tz, ambiguous=np.ones(len(ns), dtype=bool), nonexistent=pd.Timedelta(hours=1))
    return pd.Series(idx, copy=False).astype(pd.DatetimeTZDtype("ns", tz))


def dates(day: np.ndarray, valid: np.ndarray | None = None) -> pd.Series:
    """int days (NEVER or ``~valid`` = missing) to naive midnight ``datetime64[ns]``."""
    day = np.asarray(day, dtype=np.int64)
    missing = day <= NEVER if valid is None else ~valid
    vals = np.where(missing, np.iinfo(np.int64).min, day * NS_DAY).view("datetime64[ns]")
    return pd.Series(vals, copy=False)


def last_index(q_cust, q_day, e_cust, e_day) -> np.ndarray:
    """Index (into the event arrays) of the customer's latest event on or before q_day, else -1."""
    return Events(e_cust, e_day).last(q_cust, q_day)


class Events:
    """A customer's dated events, sorted once, for many ``last``/``first`` look-ups."""

    def __init__(self, cust, day):
        cust, day = np.asarray(cust, dtype=np.int64), np.asarray(day, dtype=np.int64)
        self.order = np.lexsort((day, cust))
        self.keys = key(cust, day)[self.order]

    def _hit(self, q_cust, q, pos):
        out = np.full(len(q), -1, dtype=np.int64)
        ok = (pos >= 0) & (pos < len(self.keys))
        ok[ok] = (self.keys[pos[ok]] // KEY) == np.asarray(q_cust, dtype=np.int64)[ok]
        out[ok] = self.order[pos[ok]]
        return out

    def last(self, q_cust, q_day) -> np.ndarray:
        """Index of the customer's latest event on or before q_day, else -1."""
        q = key(q_cust, q_day)
        return self._hit(q_cust, q, np.searchsorted(self.keys, q, side="right") - 1)

    def first(self, q_cust, q_day) -> np.ndarray:
        """Index of the customer's first event on or after q_day, else -1."""
        q = key(q_cust, q_day)
        return self._hit(q_cust, q, np.searchsorted(self.keys, q, side="left"))


class Intervals:
    """A customer's day intervals [start, end], sorted once, for many ``holds`` look-ups."""

    def __init__(self, cust, start, end):
        cust = np.asarray(cust, dtype=np.int64)
        order = np.lexsort((start, cust))
        self.starts = key(cust[order], np.asarray(start)[order])
        # Running max of end keys: earlier customers' keys are always smaller, so it never leaks.
        self.ends = np.maximum.accumulate(key(cust[order], np.asarray(end)[order])) if len(cust) else self.starts

    def holds(self, q_cust, q_day) -> np.ndarray:
        q = key(q_cust, q_day)
        out = np.zeros(len(q), dtype=bool)
        if len(self.starts) == 0:
            return out
        pos = np.searchsorted(self.starts, q, side="right") - 1
        ok = pos >= 0
        out[ok] = self.ends[pos[ok]] >= q[ok]
        return out
