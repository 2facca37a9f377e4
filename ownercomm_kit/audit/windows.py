"""Shared fast machinery of the audit: messages sorted once, windowed counts, as-of joins.

Everything works on int64 nanoseconds (UTC) and small int codes. The communications table is
sorted once by (customer, sent_at, message_id) into ``Messages``; a windowed count per customer
is then a difference of prefix sums between a row and the start of its window, found by one
global ``searchsorted`` on a combined key ``customer_code * span + time`` (no loop over
customers). A window of N days is N x 24 hours of elapsed time (across a daylight-saving
change a 7-day window is still 168 hours). Ties of identical ``sent_at`` for one customer are
ordered by ``message_id``, so "the 6th message" and "the duplicate" are deterministic: the
later message_id comes later, and a message counts those tied with it that come before it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import formats, schema
from ..arrays import first_true_at_or_after, max_or, min_or, take  # noqa: F401  (re-exported)
from ..arrays import factorize_sorted, searchsorted_sorted, small_codes, sorted_with_order
from ..data import DataError, DealerData, Problem

SECOND = 1_000_000_000
DAY = 86_400 * SECOND
_CACHE_ATTR = "_audit_messages"
MARGIN_DAYS = 400


def codes_of(values: pd.Series, allowed: tuple[str, ...]) -> np.ndarray:
    """int8 codes of an enum column into ``allowed`` (-1 for NA or unknown)."""
    lut, own, _ = _enum_codes(values, allowed)
    return lut[own]  # own == -1 (NA) picks the appended -1


def _enum_codes(values: pd.Series, allowed: tuple[str, ...]):
    """(the lookup from the column's own codes to int8 codes into ``allowed``, a -1 appended
    for NA; the column's own codes (-1 for NA); its distinct values): the own codes give the
    column's text back by a take from a few values (``flagtable``). A column read from a
    parquet dictionary comes with its codes (``formats.known_codes``): no hashing."""
    known = formats.known_codes(values)
    if known is not None:
        own, uniques = known
    else:
        codes, uniques = pd.factorize(values)
        own = small_codes(codes, len(uniques))
    lut = np.append(pd.Index(allowed).get_indexer(pd.Index(uniques)), -1).astype(np.int8)
    return lut, own, uniques


def ns_utc(values: pd.Series) -> np.ndarray:
    """int64 UTC nanoseconds of a tz-aware timestamp column (NaT -> INT64 min)."""
    return np.asarray(values.dt.as_unit("ns").array.asi8, dtype=np.int64)


def day_of_date(values: pd.Series) -> np.ndarray:
    """int64 days since 1970-01-01 of a naive date column (NaT -> INT64 min)."""
    a = values.astype("datetime64[ns]").to_numpy().view(np.int64)
    nat = a == np.iinfo(np.int64).min
    out = np.floor_divide(a, DAY)
    out[nat] = np.iinfo(np.int64).min
    return out


def local_ns(t_utc: np.ndarray, tz: str) -> np.ndarray:
    """Wall-clock nanoseconds (as if UTC) of UTC instants in ``tz``."""
    idx = pd.DatetimeIndex(t_utc.view("datetime64[ns]")).tz_localize("UTC").tz_convert(tz).tz_localize(None)
    return idx.asi8


@dataclass
class Messages:
    """communications sorted by (customer, sent_at, message_id), as arrays.

    ``order[i]`` is the position in ``data["communications"]`` of sorted row ``i``; every
    other array is in sorted order.
    """

    order: np.ndarray
    cust: np.ndarray  # int64 code into ``customers`` (sorted customer ids)
    t: np.ndarray  # int64 ns UTC
    channel: np.ndarray  # int8 code into schema.CHANNELS
    sender: np.ndarray  # int8 code into schema.SENDERS
    category: np.ndarray  # int8 code into schema.CATEGORIES
    customers: pd.Index
    key: np.ndarray  # combined sort key, non-decreasing
    span: int
    unit: int
    tmin: int
    uniq_t: np.ndarray | None  # rank mode only (sub-unit timestamps)
    timezone: str
    raw: dict = field(default_factory=dict, repr=False)  # enum column -> (own codes, sorted order; distinct values)
    _cache: dict = field(default_factory=dict, repr=False)

    _locks: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.order)

    def cached(self, key, compute):
        """``compute()`` once per key, also when rules run on several threads (the second
        caller waits for the first instead of doing the same work)."""
        if key in self._cache:
            return self._cache[key]
        lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._cache:
                self._cache[key] = compute()
        return self._cache[key]

    def window_start(self, days: float) -> np.ndarray:
        """For each row, the first sorted row of the same customer with t > t_row - days."""

        def compute():
            width = int(days * DAY)
            if self.uniq_t is None and width % self.unit == 0 and width <= MARGIN_DAYS * DAY:
                lo = self.key - (width // self.unit - 1)  # t > t_row - width, in key units
            elif self.uniq_t is None and width % self.unit == 0:
                lo = np.maximum(self.key - (width // self.unit - 1), self.cust * self.span)
            else:
                lo = self.lo_key(self.cust, self.t - width)
            return searchsorted_sorted(self.key, lo, "left")  # lo is non-decreasing, as key

        return self.cached(("start", days), compute)

    def lo_key(self, cust: np.ndarray, bound: np.ndarray) -> np.ndarray:
        """Combined key of "the first time strictly after ``bound``" for customer ``cust``."""
        if self.uniq_t is None:
            rel = np.floor_divide(bound - self.tmin, self.unit) + 1
        else:
            rel = np.searchsorted(self.uniq_t, bound, "right")
        return cust * self.span + np.clip(rel, 0, self.span)

    def in_categories(self, categories) -> np.ndarray:
        """True for rows whose category is one of ``categories`` (cached per set)."""
        codes = [schema.CATEGORIES.index(c) for c in categories if c in schema.CATEGORIES]
        lut = np.isin(np.arange(len(schema.CATEGORIES) + 1), codes)
        return self.cached(("cats", tuple(sorted(codes))), lambda: lut[self.category])  # -1: last, False

    def with_codes(self, codes: np.ndarray) -> np.ndarray:
        """True for rows whose customer is among ``codes`` (``customer_codes``, -1 ignored)."""
        present = np.zeros(len(self.customers) + 1, bool)
        present[codes] = True
        present[-1] = False  # code -1: not a messaged customer
        return present[self.cust]

    def local_day(self) -> np.ndarray:
        """The message date in the dealer's timezone, as int64 days since 1970-01-01."""
        return self.cached("local_day", lambda: np.floor_divide(self.local_ns(), DAY))

    def local_ns(self) -> np.ndarray:
        """Wall-clock ns (as if UTC) of every sorted row in the dealer's timezone."""
        return self.cached("local_ns", lambda: local_ns(self.t, self.timezone))

    def customer_codes(self, ids: pd.Series) -> np.ndarray:
        """Codes of another table's customer_id (-1 for customers never messaged)."""
        return self.customers.get_indexer(pd.Index(ids.astype("string")))

    def codes(self, data: DealerData, name: str) -> tuple[np.ndarray, pd.Index]:
        """A communications column factorized (in file order, then permuted): codes in sorted
        order (-1 for NA) and the distinct values. Cheaper than moving 10M strings around."""

        def compute():
            codes, uniques = pd.factorize(data["communications"][name])
            return codes[self.order], pd.Index(uniques)

        return self.cached(("codes", name), compute)

    def flag(self, data: DealerData, name: str) -> np.ndarray:
        """A boolean communications column in sorted order (NA -> False)."""
        return data["communications"][name].fillna(False).to_numpy(bool)[self.order]

    def values(self, data: DealerData, name: str, rows: np.ndarray) -> pd.Series:
        """A communications column at some sorted rows (index 0..len(rows)-1)."""
        return data["communications"][name].take(self.order[rows]).reset_index(drop=True)

    def message_ids(self, data: DealerData, rows: np.ndarray) -> pd.Series:
        return data["communications"]["message_id"].take(self.order[rows]).reset_index(drop=True)

    def related(self, rows: np.ndarray) -> "RelatedRows":
        """The message_id of sorted ``rows`` as a flag's related_id, kept as row numbers until
        the flags are written (``message_ids`` would move millions of strings twice)."""
        return RelatedRows(np.asarray(rows, dtype=np.int64))


@dataclass
class RelatedRows:
    """Sorted rows whose message_id is a flag's related_id (``Messages.related``)."""

    rows: np.ndarray


def messages_of(data: DealerData) -> Messages:
    """The sorted messages of ``data``, built once and cached on the object."""
    m = messages_if_built(data)
    if m is not None:
        return m
    comm = data["communications"]
    m = _build(comm, data.timezone)
    setattr(data, _CACHE_ATTR, (comm, m))
    return m


def messages_if_built(data: DealerData) -> Messages | None:
    """The sorted messages of ``data`` when ``messages_of`` has built them for its current
    communications table, else None (a figure that only counts never sorts for it)."""
    cached = getattr(data, _CACHE_ATTR, None)
    return cached[1] if cached is not None and cached[0] is data["communications"] else None


def _build(comm: pd.DataFrame, timezone: str) -> Messages:
    # the columns' encodings are independent: two threads (Arrow and numpy release the GIL)
    with ThreadPoolExecutor(max_workers=2) as pool:
        enums = {
            col: pool.submit(_enum_codes, comm[col], allowed)
            for col, allowed in (
                ("channel", schema.CHANNELS),
                ("sender", schema.SENDERS),
                ("category", schema.CATEGORIES),
            )
        }
        cust_codes, customers = factorize_sorted(comm["customer_id"])  # two threads on a long column
        enums = {col: f.result() for col, f in enums.items()}
    cust = cust_codes.astype(np.int64, copy=False)  # already int64 (intp): no copy of 10M codes
    if not cust.flags.writeable:  # made into the key in place below
        cust = cust.copy()
    t = ns_utc(comm["sent_at"])
    _require(comm, cust < 0, "customer_id")
    _require(comm, t == np.iinfo(np.int64).min, "sent_at")
    n = len(t)
    tmin = int(min_or(t, 0))
    # Arrays of n are worked on in place where they are this function's own (the codes, rel):
    # on a virtual machine the first touch of each fresh array costs more than the arithmetic.
    rel = t - tmin
    uniq_t = None
    unit = SECOND if n and _all_whole_seconds(rel) else 1
    # the margin between customers' key ranges lets a window of up to MARGIN_DAYS start at
    # key - width without ever reaching into the previous customer's range
    span = int(max_or(rel, 0) // unit) + 2 + MARGIN_DAYS * DAY // unit
    if len(customers) * span >= 2**62:  # sub-second stamps over a long span: rank the times
        uniq_t = uniq(t)
        rel, unit, span = np.searchsorted(uniq_t, t).astype(np.int64), 1, len(uniq_t) + 1
    elif unit != 1:
        rel //= unit
    key = np.multiply(cust, span, out=cust)  # cust * span + rel: the codes are this function's own
    key += rel
    del rel, cust
    customers = pd.Index(customers.astype("string"))
    customers.get_indexer(customers[:1])  # build its hash table now, not in two threads at once
    order, sorted_key = sorted_with_order(key)  # one np.sort of packed integers (see arrays)
    order = _break_ties(order, sorted_key, key, comm["message_id"])
    key = sorted_key
    # customer and time come back from the sorted key (no gathers of 10M rows): the key is
    # cust * span + rel // unit with 0 <= rel // unit < span, and rel a multiple of unit
    cust = key // span
    if uniq_t is not None:
        t = t[order]
    else:  # (key - cust * span) * unit + tmin, in one new array
        t = np.multiply(cust, span)
        np.subtract(key, t, out=t)
        t *= unit
        t += tmin
    # an enum's own codes are gathered once; its codes into the allowed values are a lookup
    raw = {col: (own[order], uniques) for col, (_, own, uniques) in enums.items()}
    coded = {col: lut[raw[col][0]] for col, (lut, _, _) in enums.items()}
    return Messages(
        order=order,
        cust=cust,
        t=t,
        channel=coded["channel"],
        sender=coded["sender"],
        category=coded["category"],
        customers=customers,
        key=key,
        span=span,
        unit=unit,
        tmin=tmin,
        uniq_t=uniq_t,
        timezone=timezone,
        raw=raw,
    )


def _all_whole_seconds(rel: np.ndarray, block: int = 1 << 20) -> bool:
    """Every value a whole number of seconds (looked at a block at a time: no array of n)."""
    return not any(np.any(rel[a : a + block] % SECOND) for a in range(0, len(rel), block))


def _require(comm: pd.DataFrame, empty: np.ndarray, column: str) -> None:
    """The loader blocks empty required values; data built otherwise gets the same message."""
    from ..words import plural

    if empty.any():
        first = int(np.flatnonzero(empty)[0])
        raise DataError(
            [
                Problem(
                    "error",
                    "communications",
                    None,
                    first + 2,
                    column,
                    None,
                    f"{plural(int(empty.sum()), 'message')} without a {column}: the audit needs one on every message",
                )
            ]
        )


def _break_ties(order: np.ndarray, ks: np.ndarray, key: np.ndarray, message_id: pd.Series) -> np.ndarray:
    """Order rows of identical (customer, sent_at) by message_id (rare: only those rows move);
    ``ks`` is ``key[order]``."""
    same = ks[1:] == ks[:-1]
    if not same.any():
        return order
    tied = np.zeros(len(ks), bool)
    tied[1:] |= same
    tied[:-1] |= same
    slots = np.flatnonzero(tied)
    sub = order[slots]
    frame = pd.DataFrame({"k": key[sub], "m": message_id.take(sub).to_numpy(dtype=object), "p": sub})
    order = order.copy()
    order[slots] = frame.sort_values(["k", "m"], kind="stable")["p"].to_numpy()
    return order


def uniq(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values. (numpy 2's ``np.unique`` hashes first, which is several times
    slower than a sort on millions of int64 keys.)"""
    a = np.sort(np.asarray(x))
    keep = np.ones(len(a), bool)
    keep[1:] = a[1:] != a[:-1]
    return a[keep]


def first_of_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (sorted) and the position of each one's first occurrence."""
    o, k = sorted_with_order(keys)  # the sorted keys come with the order: no gather
    start = _run_begins(k)
    return k[start], o[start]


def runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a non-decreasing key: the start of each run of equal keys, and each row's run number."""
    new = _run_begins(sorted_keys)
    return np.flatnonzero(new), np.cumsum(new) - 1


def run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """``runs``' starts alone (no run number per row)."""
    return np.flatnonzero(_run_begins(sorted_keys))


def _run_begins(sorted_keys: np.ndarray) -> np.ndarray:
    new = np.ones(len(sorted_keys), bool)
    new[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return new


pick = take  # values[pos] where pos >= 0, else fill (empty-safe; see ownercomm_kit.arrays)


def prefix(mask: np.ndarray) -> np.ndarray:
    """Exclusive prefix sums: count of mask in rows [j, i] is P[i + 1] - P[j]."""
    out = np.zeros(len(mask) + 1, np.int32)
    np.cumsum(mask, out=out[1:])
    return out


def asof_latest(
    left_group: np.ndarray, left_val: np.ndarray, right_group: np.ndarray, right_val: np.ndarray
) -> np.ndarray:
    """For each left row, the right row of the same group with the largest value <= left value.

    Groups and values are int64 (groups >= 0); returns right positions, -1 when none. One sort
    of the right side and one searchsorted: no cartesian join.
    """
    if len(right_group) == 0 or len(left_group) == 0:
        return np.full(len(left_group), -1, np.int64)
    # ranks of values among the right side's distinct values keep the combined key small
    values = uniq(right_val)
    span = len(values) + 1
    rkey = right_group.astype(np.int64) * span + np.searchsorted(values, right_val, "left") + 1
    rorder = np.argsort(rkey, kind="stable")
    rkey = rkey[rorder]
    lkey = left_group.astype(np.int64) * span + np.searchsorted(values, left_val, "right")
    pos = searchsorted_sorted(rkey, lkey, "right") - 1  # lkey is sorted when the left rows are
    ok = (pos >= 0) & (left_group >= 0)
    ok[ok] = right_group[rorder[pos[ok]]] == left_group[ok]
    return np.where(ok, rorder[np.maximum(pos, 0)], -1)


def containing_interval(
    left_group: np.ndarray, left_t: np.ndarray, right_group: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """For each left row, a right interval [start, end) of the same group containing left_t.

    Returns the position of the interval with the latest end among those started at or before
    left_t (it contains left_t when any does), -1 when none. ``end`` may be INT64 max (open).
    """
    if len(right_group) == 0 or len(left_group) == 0:
        return np.full(len(left_group), -1, np.int64)
    ro = np.lexsort((start, right_group))
    g, s, e = right_group[ro], start[ro], end[ro]
    # running max of end within each group, and which interval holds it
    first = np.ones(len(g), bool)
    first[1:] = g[1:] != g[:-1]
    run = pd.Series(e).groupby(np.cumsum(first)).cummax().to_numpy()
    record = first | (e >= run)
    holder = np.maximum.accumulate(np.where(record, np.arange(len(g)), 0))
    # the last interval started at or before left_t (per group): as-of on start
    pos = asof_latest(left_group, left_t, g, s)
    ok = pos >= 0
    ok[ok] = run[pos[ok]] > left_t[ok]
    return np.where(ok, ro[holder[np.maximum(pos, 0)]], -1)


def grace_end_day(day: np.ndarray, business_days: int) -> np.ndarray:
    """The last day of an opt-out's grace (SPEC §4 after_opt_out, as the audit reads it): N
    business days (Mon-Fri) after ``day``, counted from the next business day (a Saturday
    counts like the Friday before), never before ``day`` itself. int64 day numbers."""
    day = np.asarray(day, dtype=np.int64)
    end = np.busday_offset(day.astype("datetime64[D]"), business_days, roll="backward").astype(np.int64)
    return np.maximum(end, day)
