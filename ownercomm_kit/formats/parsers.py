"""Parsing the cells of real exports (SPEC §3): vectorised parsers, each returning
``(parsed, bad)``: the parsed Series and a boolean mask of the non-empty cells that could not
be parsed (the caller reports them; never a silent NaT).

Time stamps without an offset are wall-clock time in the dealer's zone. Daylight-saving
edges follow Python's PEP 495 ``fold=0`` rule, so a re-run always gives the same instant:
an *ambiguous* time (the repeated hour in autumn) is the first occurrence (summer time);
a *nonexistent* time (the skipped hour in spring) is read with the offset in force before
the change, i.e. 02:30 in a 02:00->03:00 gap becomes 03:30.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..arrays import string_offsets


# --- headers -------------------------------------------------------------------------------


def normalize_header(name) -> str:
    """Case, spacing, punctuation and accents ignored: "Cust No" / "CUST_NO" -> "custno"."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^0-9a-z]", "", text.lower())


# --- parsers -------------------------------------------------------------------------------


def _text(s: pd.Series) -> pd.Series:
    """Trimmed strings; blank -> NA."""
    t = s.astype("string")
    if isinstance(t.array, pd.arrays.ArrowStringArray) and _trimmed_and_filled(t.array._pa_array):
        return t  # every cell starts and ends with a visible ASCII character: nothing to trim
    t = t.str.strip()
    return t.mask(t == "")


def _trimmed_and_filled(arr) -> bool:
    """No non-null cell of an Arrow string array is empty or starts or ends with a byte
    outside visible ASCII (``!`` to ``~``): then stripping changes nothing and no cell is
    blank. One look at each cell's first and last byte, no string built (10M-row columns)."""
    for first, last, filled, valid in cell_ends(arr):
        if not (filled | ~valid).all():
            return False
        outside = (first < 0x21) | (first > 0x7E) | (last < 0x21) | (last > 0x7E)
        if np.any(outside & valid):
            return False
    return True


# Cells looked at per block by ``cell_ends`` (its arrays are this long, not the column's).
CELL_BLOCK = 1 << 18


def cell_ends(arr, block: int | None = None):
    """(first byte, last byte, non-empty, non-null) of the cells of an Arrow string array, as
    numpy arrays, ``block`` cells at a time: read in place from Arrow's buffers, with no
    temporary the size of the column (on a virtual machine, fresh pages cost more than the
    look itself). The bytes given for an empty or a null cell mean nothing."""
    import pyarrow as pa

    block = block or CELL_BLOCK
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    for c in chunks:
        n = len(c)
        if n == 0:
            continue
        offsets = string_offsets(c)
        data = c.buffers()[2]
        data = np.frombuffer(data, dtype=np.uint8) if data is not None and data.size else np.zeros(1, np.uint8)
        valid_all = np.asarray(c.is_valid()) if c.null_count else None
        for a in range(0, n, block):
            b = min(a + block, n)
            start, end = offsets[a:b], offsets[a + 1 : b + 1]
            valid = valid_all[a:b] if valid_all is not None else np.ones(b - a, dtype=bool)
            # clipped: an empty or null cell's offset may point just past the data
            first = data.take(start, mode="clip")
            last = data.take(end - 1, mode="clip")
            yield first, last, end > start, valid


# US and other non-ISO layouts, tried only on the cells ISO did not take.
US_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%m/%d/%y %I:%M:%S %p",
    "%m/%d/%y %I:%M %p",
    "%m/%d/%y %H:%M:%S",
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%d %I:%M:%S %p",
    "%Y-%m-%d %I:%M %p",
)
_OFFSET = r"(?:Z|[+-]\d\d(?::?\d\d)?)$"
_SERIAL = r"^\d+(?:\.\d+)?$"
# Excel 1900 date system (epoch 1899-12-30, right from serial 61 = 1900-03-01 on). Serials
# from 10000 (1927-05-18) only: a bare 4-digit number is far more likely a year than a
# 1920s date, and must not be silently read as one.
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
EXCEL_SERIAL_RANGE = (10000, 131000)  # up to 2258, within datetime64[ns]


def _parse(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Split a column into (naive wall-clock, aware UTC, bad mask), same index.

    Each filled cell is in exactly one of naive (no offset: local time), aware (it carried an
    offset or a zone) or bad.
    """
    idx = s.index
    naive = pd.Series(pd.NaT, index=idx, dtype="datetime64[ns]")
    aware = pd.Series(pd.NaT, index=idx, dtype="datetime64[ns, UTC]")
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        out = _ns(s.dt.tz_convert("UTC"))
        return naive, out, s.notna() & out.isna()
    if pd.api.types.is_datetime64_dtype(s.dtype):
        out = _ns(s)
        return out, aware, s.notna() & out.isna()
    if pd.api.types.is_bool_dtype(s.dtype):
        return naive, aware, s.notna()
    if pd.api.types.is_numeric_dtype(s.dtype):
        ok, serial = _from_serial(pd.to_numeric(s, errors="coerce").astype("float64"))
        return serial, aware, s.notna() & ~ok
    if s.dtype == object:
        s = _objects_to_text(s, naive, aware)
    text = _text(s)
    todo = text.notna()
    if todo.any():
        _parse_text(text, todo, naive, aware)
    bad = todo & naive.isna() & aware.isna()
    return naive, aware, bad


def _objects_to_text(s: pd.Series, naive: pd.Series, aware: pd.Series) -> pd.Series:
    """Python datetimes, dates and numbers in an object column (xlsx, parquet) taken as they are.

    The cells are sorted out in one pass and written into ``naive``/``aware`` at once: one
    ``.loc`` per cell cost 60 µs (a parquet date column of 244k cells: 16 s)."""
    texts: dict = {}
    naive_at, naive_ts, aware_at, aware_ts, serial_at, serial_v = [], [], [], [], [], []
    values = s.to_numpy(dtype=object)
    # Plain dates (a parquet date column) in bulk: one Arrow conversion, not a Timestamp each.
    days = _plain_dates_in_range(values)
    if days is not None:
        naive.iloc[np.flatnonzero(days.mask)] = days.values
    rest = range(len(values)) if days is None else np.flatnonzero(~days.mask).tolist()
    for pos in rest:
        v = values[pos]
        if isinstance(v, (dt.datetime, dt.date)) and not isinstance(v, bool):
            ts = pd.Timestamp(v)
            if not _NS_MIN <= (ts if ts.tzinfo is None else ts.tz_localize(None)) <= _NS_MAX:
                texts[pos] = v.isoformat()  # out of range: the text pass reports it, value shown
                continue
            if ts.tzinfo is None:
                naive_at.append(pos)
                naive_ts.append(ts)
            else:
                aware_at.append(pos)
                aware_ts.append(ts.tz_convert("UTC"))
        elif isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
            serial_at.append(pos)
            serial_v.append(float(v))
    if naive_at:
        naive.iloc[naive_at] = pd.DatetimeIndex(naive_ts).as_unit("ns")
    if aware_at:
        aware.iloc[aware_at] = pd.DatetimeIndex(aware_ts).tz_convert("UTC").as_unit("ns")
    if serial_at:
        ok, serial = _from_serial(pd.Series(serial_v, dtype="float64"))
        keep = ok.to_numpy(bool)
        if keep.any():
            naive.iloc[np.asarray(serial_at)[keep]] = serial.to_numpy()[keep]
    # the text cells as they are; every other cell (taken above, or no text) is empty
    is_text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
    out = np.full(len(values), None, dtype=object)
    out[is_text] = values[is_text]
    for pos, text in texts.items():
        out[pos] = text
    return pd.Series(out, index=s.index, dtype="string")


class _Days:
    def __init__(self, mask: np.ndarray, values: np.ndarray):
        self.mask, self.values = mask, values  # cells that are plain in-range dates; their datetime64[ns]


def _plain_dates_in_range(values: np.ndarray) -> _Days | None:
    """The cells of an object array that are ``datetime.date`` (not datetime) within
    ``datetime64[ns]``'s range, as midnight ``datetime64[ns]``; None when there is none."""
    is_date = np.fromiter((type(v) is dt.date for v in values), dtype=bool, count=len(values))
    if not is_date.any():
        return None
    import pyarrow as pa

    day = pa.array(values[is_date], type=pa.date32()).cast(pa.int32()).to_numpy().astype("int64")
    lo = (_NS_MIN.normalize() - pd.Timestamp("1970-01-01")).days
    hi = (_NS_MAX.normalize() - pd.Timestamp("1970-01-01")).days
    ok = (day >= lo) & (day <= hi)
    mask = np.zeros(len(values), dtype=bool)
    mask[np.flatnonzero(is_date)[ok]] = True
    return _Days(mask, (day[ok] * 86_400 * 10**9).astype("datetime64[ns]"))


def _parse_text(text: pd.Series, todo: pd.Series, naive: pd.Series, aware: pd.Series) -> None:
    """Fill naive/aware from trimmed strings: ISO on the whole column first, then the rest."""
    # A bare year or year-month is not a date: ISO would silently read "2026" as 1 January.
    iso_todo = todo & (text.str.len() >= 8)
    cand = text[iso_todo]
    try:
        iso = pd.to_datetime(cand, format="ISO8601", errors="coerce")
        if getattr(iso.dt, "tz", None) is None:
            naive.loc[iso.index] = _ns(iso)
        else:  # every ISO cell carried the same offset
            aware.loc[iso.index] = _ns(iso.dt.tz_convert("UTC"))
    except (ValueError, TypeError):  # offsets mixed with local times: split them
        has_offset = cand.str.contains(_OFFSET, regex=True) & cand.str.contains(r"\d[T ]\d", regex=True)
        off = pd.to_datetime(cand[has_offset], format="ISO8601", errors="coerce", utc=True)
        aware.loc[off.index] = _ns(off)
        loc = pd.to_datetime(cand[~has_offset], format="ISO8601", errors="coerce")
        naive.loc[loc.index] = _ns(loc)
    left = todo & naive.isna() & aware.isna()
    if not left.any():
        return
    # Excel serial numbers exported as text.
    serial_like = left & text.str.fullmatch(_SERIAL).fillna(False).astype(bool)
    if serial_like.any():
        ok, values = _from_serial(pd.to_numeric(text[serial_like], errors="coerce"))
        naive.loc[values.index[ok]] = values[ok]
        left = left & ~serial_like
    for fmt in US_FORMATS:
        if not left.any():
            break
        got = pd.to_datetime(text[left], format=fmt, errors="coerce")
        got = got[got.notna()]
        if not got.empty:
            naive.loc[got.index] = _ns(got)
            left.loc[got.index] = False


# What datetime64[ns] holds (years 1678-2261); a date outside (0001-01-01, 9999-12-31 used as
# "never") is reported as unparseable rather than overflowing.
_NS_MIN, _NS_MAX = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31 23:59:59")


def _ns(s: pd.Series) -> pd.Series:
    """A datetime Series of any unit as nanoseconds; out-of-range values become NaT."""
    tz = getattr(s.dt, "tz", None)
    lo, hi = (_NS_MIN, _NS_MAX) if tz is None else (_NS_MIN.tz_localize(tz), _NS_MAX.tz_localize(tz))
    s = s.where((s >= lo) & (s <= hi))
    return s.astype("datetime64[ns]" if tz is None else pd.DatetimeTZDtype("ns", tz))


def _from_serial(x: pd.Series) -> tuple[pd.Series, pd.Series]:
    lo, hi = EXCEL_SERIAL_RANGE
    ok = x.notna() & (x >= lo) & (x < hi)
    # Excel keeps milliseconds; rounding removes float noise (45826.4375 is exactly 10:30).
    delta = pd.to_timedelta((x.where(ok) * 86_400_000).round(), unit="ms")
    return ok.astype(bool), (EXCEL_EPOCH + delta).astype("datetime64[ns]")


def localize(naive: pd.Series, tz: str) -> pd.Series:
    """Wall-clock times in ``tz`` (PEP 495 fold=0 on DST edges, see the module docstring)."""
    fast = _localize_by_days(naive, tz)
    if fast is not None:
        return fast
    return _localize_each(naive, tz)


# From this many values, and this many values per distinct local day on average, ``localize``
# works per day (``_localize_by_days``).
LOCALIZE_BY_DAYS_ROWS = 50_000
LOCALIZE_VALUES_PER_DAY = 100
# Wall-clock probes per day (every 15 minutes, both midnights included).
_PROBE_STEP = 15 * 60 * 10**9
_DAY_NS = 86_400 * 10**9


def _localize_by_days(naive: pd.Series, tz: str) -> pd.Series | None:
    """``_localize_each``'s values, found per distinct local day: pandas localizes a probe every
    15 minutes of each day that occurs (midnight to midnight); a day whose probes all exist,
    are unambiguous and share one UTC offset is plain, and its values are shifted by that
    offset in bulk. The values of other days (DST edges, a zone's changes) go through
    ``_localize_each``. None: not worth it (short column, many distinct days, not ns)."""
    if len(naive) < LOCALIZE_BY_DAYS_ROWS or naive.dtype != np.dtype("datetime64[ns]"):
        return None
    values = naive.array.asi8
    nat = np.iinfo(np.int64).min
    filled = values != nat
    if not filled.any():
        return None
    day = values // _DAY_NS  # each value's day, a row of the tables below (few big arrays: 10M rows)
    every = bool(filled.all())
    first, last = int((day if every else day[filled]).min()), int(day.max())  # NaT's day is the least
    if last - first > 400_000:
        return None
    day -= first
    np.clip(day, 0, last - first, out=day)  # NaT's row: any; it stays NaT
    seen = np.zeros(last - first + 1, dtype=bool)
    seen[day] = True
    days = np.flatnonzero(seen)
    if len(days) * LOCALIZE_VALUES_PER_DAY > len(values):  # probing would cost about as much
        return None
    probes = (days + first)[:, None] * _DAY_NS + np.arange(0, _DAY_NS + 1, _PROBE_STEP)[None, :]
    try:
        local = (
            pd.DatetimeIndex(probes.ravel().view("datetime64[ns]"))
            .tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            .asi8.reshape(probes.shape)
        )
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return None
    offset = probes - local
    plain = np.zeros(len(seen), dtype=bool)
    plain[days] = (local != nat).all(axis=1) & (offset == offset[:, :1]).all(axis=1)
    shift = np.zeros(len(seen), dtype=np.int64)
    shift[days] = offset[:, 0]
    rest = None if plain[days].all() else ~plain[day]  # the values of days that are not plain
    utc = shift.take(day)
    del day
    np.subtract(values, utc, out=utc)
    if not every:
        utc[~filled] = nat
        if rest is not None:
            rest &= filled
    if rest is not None and rest.any():
        utc[rest] = _localize_each(naive[rest], tz).array.asi8
    out = pd.Series(utc.view("datetime64[ns]"), index=naive.index, name=naive.name, copy=False)
    return out.dt.tz_localize("UTC").dt.tz_convert(tz)


def _localize_each(naive: pd.Series, tz: str) -> pd.Series:
    """pandas' ``tz_localize`` of every value, then the DST edges it leaves empty by ``zoneinfo``."""
    out = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    edge = naive.notna() & out.isna()
    if edge.any():
        zone = ZoneInfo(tz)
        fixed = [
            pd.Timestamp(v.to_pydatetime().replace(tzinfo=zone).astimezone(dt.timezone.utc)).tz_convert(tz)
            for v in naive[edge]
        ]
        out = out.copy()
        out.loc[edge] = pd.Series(fixed, index=naive.index[edge], dtype=out.dtype)
    return out


def _typed_ns(s: pd.Series) -> pd.Series | None:
    """A typed datetime column (parquet) whose every value is in ``datetime64[ns]``'s range, as
    nanoseconds (aware ones in UTC); None otherwise (then ``_parse`` takes it, and says which
    values are out of range). Same values as ``_parse``, without its two all-NaT columns and
    its masked copies (10M-row columns)."""
    if not (isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype)):
        return None
    arr = s.array
    unit = arr.unit
    values = arr.asi8  # UTC for an aware column, wall clock for a naive one
    lo, hi = _NS_MIN.as_unit(unit)._value, _NS_MAX.as_unit(unit)._value
    filled = values != np.iinfo(np.int64).min
    if np.any(filled & ((values < lo) | (values > hi))):
        return None
    aware = isinstance(s.dtype, pd.DatetimeTZDtype)
    out = s.dt.tz_convert("UTC") if aware else s
    return out if unit == "ns" else out.astype(pd.DatetimeTZDtype("ns", "UTC") if aware else "datetime64[ns]")


def parse_timestamps(s: pd.Series, tz: str) -> tuple[pd.Series, pd.Series]:
    """Cells to ``datetime64[ns, tz]``: ISO (offsets converted), US, Excel serials; no offset = local."""
    typed = _typed_ns(s)
    if typed is not None:  # a typed column: nothing to parse, nothing bad
        no_bad = pd.Series(np.zeros(len(s), dtype=bool), index=s.index)
        if isinstance(typed.dtype, pd.DatetimeTZDtype):
            return typed.dt.tz_convert(tz), no_bad
        if not typed.notna().any():
            return typed.dt.tz_localize("UTC").dt.tz_convert(tz), no_bad
        return localize(typed, tz).astype(pd.DatetimeTZDtype("ns", tz)), no_bad
    naive, aware, bad = _parse(s)
    if not naive.notna().any():  # every cell carried its offset or zone (typed files): no wall clock to place
        return aware.dt.tz_convert(tz).astype(pd.DatetimeTZDtype("ns", tz)), bad
    out = localize(naive, tz).astype(pd.DatetimeTZDtype("ns", tz))
    has_aware = aware.notna()
    if has_aware.any():
        out = out.mask(has_aware, aware.dt.tz_convert(tz))
    return out.astype(pd.DatetimeTZDtype("ns", tz)), bad


def parse_dates(s: pd.Series, tz: str) -> tuple[pd.Series, pd.Series]:
    """Cells to naive midnight ``datetime64[ns]``: a time stamp with offset takes its date in ``tz``."""
    typed = _typed_ns(s)
    if typed is not None:  # a typed column: nothing to parse, nothing bad
        no_bad = pd.Series(np.zeros(len(s), dtype=bool), index=s.index)
        if isinstance(typed.dtype, pd.DatetimeTZDtype):
            typed = typed.dt.tz_convert(tz).dt.tz_localize(None)
        return typed.dt.normalize().astype("datetime64[ns]"), no_bad
    naive, aware, bad = _parse(s)
    out = naive
    has_aware = aware.notna()
    if has_aware.any():
        out = out.mask(has_aware, aware.dt.tz_convert(tz).dt.tz_localize(None))
    return out.dt.normalize().astype("datetime64[ns]"), bad


TRUE_WORDS = ("y", "yes", "1", "true", "t", "1.0")
FALSE_WORDS = ("n", "no", "0", "false", "f", "0.0")


def parse_bools(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Y/N, Yes/No, 1/0, TRUE/FALSE, T/F (any case, trimmed) to nullable ``boolean``."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean"), pd.Series(False, index=s.index)
    if pd.api.types.is_numeric_dtype(s.dtype):
        ok = s.isna() | s.isin([0, 1])
        return s.where(ok).astype("Float64").astype("boolean"), ~ok
    if s.dtype == object:
        typed = _object_bools(s)
        if typed is not None:
            return typed
        s = s.map(lambda v: str(v) if isinstance(v, (bool, int, float)) and not pd.isna(v) else v)
    low = _text(s).str.lower()
    yes, no = low.isin(TRUE_WORDS), low.isin(FALSE_WORDS)
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[yes.fillna(False).astype(bool)] = True
    out[no.fillna(False).astype(bool)] = False
    bad = low.notna() & ~yes & ~no
    return out, bad.fillna(False).astype(bool)


def _object_bools(s: pd.Series) -> tuple[pd.Series, pd.Series] | None:
    """An object column of booleans and empty cells only (parquet booleans with nulls), as
    ``parse_bools`` reads them (True, False, NA; nothing bad); None for any other column."""
    values = s.to_numpy(dtype=object)
    is_bool = np.fromiter((type(v) is bool or type(v) is np.bool_ for v in values), dtype=bool, count=len(values))
    empty = ~is_bool
    if empty.any() and not pd.isna(values[empty]).all():
        return None
    flags = np.zeros(len(values), dtype=bool)
    flags[is_bool] = values[is_bool].astype(bool)
    no_bad = pd.Series(np.zeros(len(values), dtype=bool), index=s.index)
    return pd.Series(pd.arrays.BooleanArray(flags, empty), index=s.index), no_bad


_CURRENCY = r"[\s\u00a0$€£¥]|USD|EUR|CAD|GBP"


def parse_numbers(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``$31,000.00``, ``31000``, ``(1,200.50)`` (negative), ``€ 9``, ``-5`` to float64."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return pd.Series(np.nan, index=s.index), s.notna()
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64"), pd.Series(False, index=s.index)
    if s.dtype == object:
        s = s.map(
            lambda v: repr(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and not pd.isna(v) else v
        )
    text = _text(s)
    filled = text.notna()
    # Fast path: plain numbers (most cells of most exports); only the rest is cleaned.
    num = pd.to_numeric(text, errors="coerce").astype("float64")
    num = num.where(np.isfinite(num))  # "inf" is no amount
    rest = filled & num.isna()
    if rest.any():
        num = num.copy()
        num[rest] = _clean_numbers(text[rest])
    bad = filled & num.isna()
    return num, bad.astype(bool)


def _clean_numbers(text: pd.Series) -> pd.Series:
    t = text.str.replace(_CURRENCY, "", regex=True)
    negative = t.str.fullmatch(r"\(.*\)").fillna(False).astype(bool)
    t = t.str.replace(r"^\((.*)\)$", r"\1", regex=True)
    # Thousands separators only where they sit between digit groups of three.
    grouped = t.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?").fillna(False).astype(bool)
    t = t.mask(grouped, t.str.replace(",", "", regex=False))
    plain = t.str.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?").fillna(False).astype(bool)
    num = pd.to_numeric(t.where(plain), errors="coerce").astype("float64")
    return num.where(~negative, -num)


def parse_ints(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Whole numbers (``12,345``, ``2021``, ``2021.0``) to ``Int64``; fractions are unparseable."""
    num, bad = parse_numbers(s)
    # Whole and exactly representable (|x| < 2**53): a 20-digit "number" is an id, not a count.
    whole = num.isna() | ((num == np.floor(num)) & (num.abs() < 2.0**53))
    out = num.where(whole).round().astype("Int64")
    return out, bad | ~whole
