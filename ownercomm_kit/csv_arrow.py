"""CSV text built column-wise with Arrow: the bytes pandas' ``to_csv`` wrote, at Arrow's speed.

``outputs.write_csv`` used to call ``DataFrame.to_csv``, which formats a time-zone-aware
column row by row (a ``Timestamp`` and its zone built per row: 25 s of a 37 s write at 787k
flags). Here every column becomes an Arrow string array in bulk, then rows are joined with
Arrow's element-wise join, a chunk of rows at a time:

- text (pandas string or object): formula cells neutralized like ``outputs.neutralize_cell``;
- time-zone-aware timestamps: the column's zone converted in one step (never a zone object per
  row), then ``YYYY-MM-DD HH:MM:SS+HH:MM`` written digit by digit into one byte buffer with
  numpy: pandas' own CSV text for such columns. A column with fractions of seconds or an
  offset with seconds goes through pandas (rare in exports);
- everything else (numbers, naive dates, booleans): pandas' own CSV formatting of the column
  (``get_values_for_csv``, vectorised for these dtypes), so formats cannot drift;
- quoting as Python's csv module with QUOTE_MINIMAL and CRLF line ends: a cell holding a
  comma, a double quote, CR or LF is quoted, its quotes doubled.

``tests/test_csv_arrow.py`` compares the bytes with ``to_csv`` on the sample and synthetic
dealers' outputs and on hostile cells.
"""

from __future__ import annotations

import os
from typing import IO, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrays import string_offsets
from .outputs import FORMULA_PREFIXES

CHUNK_ROWS = 262_144
NS = 1_000_000_000


def _L(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def write_frame(df: pd.DataFrame, f: IO[bytes], *, chunk_rows: int = CHUNK_ROWS) -> None:
    """``df`` as CSV (header, no index, CRLF, formula-safe) into the binary file ``f``."""
    f = Sink(f)
    f.write(header_bytes(df.columns))
    if df.shape[1] == 0:
        f.write(b"\r\n" * len(df))
        return
    # whole columns: pandas chooses some formats per column (a date-only column, fractions of
    # seconds); rows are then joined a chunk at a time
    cols = [render(df.iloc[:, i]) for i in range(df.shape[1])]
    for start in range(0, len(df), chunk_rows):
        part = [_quote(c.slice(start, chunk_rows), single=df.shape[1] == 1) for c in cols]
        lines = pc.binary_join_element_wise(*part, _L(","))
        lines = pc.binary_join_element_wise(lines, _L("\r\n"), _L(""))
        f.write(_concatenated(lines))


class Sink:
    """Writes views of Arrow buffers into a binary file; every ``DROP_BYTES`` it asks the
    kernel to start writing them to disk and to drop them from the page cache once written
    (``POSIX_FADV_DONTNEED``): a gigabyte of flags otherwise fills the cache and the final
    fsync waits for all of it (measured: 6 s against 2-3 s for 918 MB)."""

    DROP_BYTES = 64 << 20

    def __init__(self, f: IO[bytes]):
        self.f, self.done, self.pending = f, 0, 0
        try:
            self.fd = f.fileno() if hasattr(os, "posix_fadvise") else None
        except (AttributeError, OSError, ValueError):  # BytesIO and the like: nothing to drop
            self.fd = None

    def write(self, data) -> None:
        self.f.write(data)
        self.pending += len(data)
        if self.fd is not None and self.pending >= self.DROP_BYTES:
            self.f.flush()
            self.done += self.pending
            self.pending = 0
            try:
                os.posix_fadvise(self.fd, 0, self.done, os.POSIX_FADV_DONTNEED)
            except OSError:  # a pipe, or a file system that refuses: only a hint
                self.fd = None


def header_bytes(columns) -> bytes:
    """The header line of a CSV with these columns."""
    single = len(columns) == 1
    header = [_quote(pa.array([str(c)], pa.large_string()), single=single)[0].as_py() for c in columns]
    return (",".join(header) + "\r\n").encode("utf-8")


def _concatenated(arr: pa.Array) -> memoryview | bytes:
    """The values of a null-free large_string array, back to back: a view of its data buffer
    (no copy: copying a gigabyte of lines into a ``bytes`` costs more than building them)."""
    if len(arr) == 0:
        return b""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    offsets = string_offsets(arr)
    return memoryview(arr.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


def _quote(arr: pa.Array, *, single: bool) -> pa.Array:
    """Python csv's QUOTE_MINIMAL on rendered, null-free cells."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    needs = _cells_holding(arr, QUOTE_BYTES)
    if single:  # csv quotes an empty field when it is the row's only one
        needs |= _lengths(arr) == 0
    if not needs.any():
        return arr
    mask = pa.array(needs)
    quoted = pc.binary_join_element_wise(_L('"'), pc.replace_substring(arr.filter(mask), '"', '""'), _L('"'), _L(""))
    return pc.replace_with_mask(arr, mask, quoted)


def _lengths(arr: pa.Array) -> np.ndarray:
    return np.diff(string_offsets(arr))


def _value_bytes(arr: pa.Array) -> np.ndarray:
    buf = arr.buffers()[2]
    return np.zeros(0, np.uint8) if buf is None else np.frombuffer(buf, dtype=np.uint8)


def _cells_holding(arr: pa.Array, table: np.ndarray) -> np.ndarray:
    """True for each cell holding a byte that ``table`` (256 bools) marks: one pass over the
    column's bytes, no per-cell regular expression."""
    n = len(arr)
    if n == 0:
        return np.zeros(0, bool)
    offsets = string_offsets(arr)
    data = _value_bytes(arr)[int(offsets[0]) : int(offsets[-1])]
    at = np.flatnonzero(_marked(data, table))  # few: commas in sentences, quotes in hostile cells
    out = np.zeros(n, bool)
    if len(at):
        out[np.searchsorted(offsets - offsets[0], at, "right") - 1] = True
    return out


def _marked(data: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[data]``: for a few marked bytes, one vectorised comparison each, ORed in place
    (about twice as fast as a lookup per byte on hundreds of megabytes)."""
    marked = np.flatnonzero(table).astype(np.uint8)
    if len(marked) > 4 or len(marked) == 0:
        return table[data]
    out = data == marked[0]
    for byte in marked[1:]:
        out |= data == byte
    return out


def _first_byte_in(arr: pa.Array, table: np.ndarray) -> np.ndarray:
    """True for each non-empty cell whose first byte ``table`` marks."""
    offsets = string_offsets(arr)
    filled = offsets[1:] > offsets[:-1]
    out = np.zeros(len(arr), bool)
    if filled.any():
        out[filled] = table[_value_bytes(arr)[offsets[:-1][filled]]]
    return out


def _byte_table(chars) -> np.ndarray:
    table = np.zeros(256, bool)
    for c in chars:
        table[ord(c)] = True
    return table


QUOTE_BYTES = _byte_table(',"\r\n')
# Every prefix is one ASCII character, so the first byte of a cell decides.
FORMULA_BYTES = _byte_table(FORMULA_PREFIXES)
assert all(len(p) == 1 and ord(p) < 128 for p in FORMULA_PREFIXES), "FORMULA_BYTES reads single ASCII prefixes"


def render(s: pd.Series) -> pa.Array:
    """One column's cells as CSV text (large_string, no nulls), formulas neutralized."""
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        try:
            return _tz_text(s)
        except (OverflowError, pd.errors.OutOfBoundsDatetime):  # beyond 2262 in nanoseconds
            return _pandas_text(s)
    if isinstance(dtype, pd.StringDtype) or (dtype == object and _all_text(s)):
        if isinstance(dtype, pd.StringDtype):
            arr = pa.array(s.array)  # Arrow-backed strings: no copy
        else:
            arr = pa.array(s.to_numpy(dtype=object, na_value=None), type=pa.large_string(), from_pandas=True)
        return text_cells(arr)
    if dtype == object:
        from .outputs import neutralize_cell

        s = s.map(neutralize_cell)
    return _pandas_text(s)


def text_cells(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Text cells (Arrow strings, nulls allowed) as CSV text: NA -> '', formulas neutralized.
    Cell by cell: rendering distinct values then taking them gives the same text."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    arr = arr.cast(pa.large_string())
    arr = pc.fill_null(arr, _L(""))
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    risky = _first_byte_in(arr, FORMULA_BYTES)
    if not risky.any():
        return arr
    mask = pa.array(risky)
    return pc.replace_with_mask(arr, mask, pc.binary_join_element_wise(_L("'"), arr.filter(mask), _L("")))


def _all_text(s: pd.Series) -> bool:
    values = s.to_numpy(dtype=object)
    return bool(pd.isna(values).all()) or pd.api.types.infer_dtype(values, skipna=True) == "string"


def _pandas_text(s: pd.Series) -> pa.Array:
    """pandas' own CSV text of a column (what ``to_csv`` hands the csv module), then str()."""
    from pandas.core.indexes.base import get_values_for_csv

    values = get_values_for_csv(s.array, na_rep="", quoting=None, float_format=None, date_format=None, decimal=".")
    values = np.asarray(values)
    if values.dtype.kind in "iub":
        values = values.astype(str)
    if values.dtype.kind == "U":
        return pa.array(values, type=pa.large_string())
    return pa.array(
        [v if isinstance(v, str) else ("" if v is None else str(v)) for v in values], type=pa.large_string()
    )


def _tz_text(s: pd.Series) -> pa.Array:
    """``str(Timestamp)`` of every value of a time-zone-aware column, NaT -> ''."""
    values = s.array
    utc = np.asarray(values.asi8, dtype=np.int64)
    if values.unit != "ns":
        utc = utc * {"s": NS, "ms": 1_000_000, "us": 1_000}[values.unit]
    nat = np.asarray(s.isna())
    wall = np.asarray(s.dt.tz_localize(None).array.as_unit("ns").asi8, dtype=np.int64)
    ok = ~nat
    if ok.any():
        # whole seconds and whole-minute offsets only (nanoseconds since 1970 are four-digit
        # years): pandas' own text for the unusual rest (a fraction of a second is shown
        # column-wide or per value depending on the pandas version; a historic local mean
        # time has an offset with seconds)
        if np.any((wall - utc)[ok] % (60 * NS)) or np.any(wall[ok] % NS):
            return _pandas_text(s)
    wall = np.where(nat, 0, wall)
    out = _fixed_width_text(wall // NS, np.where(nat, 0, (wall - utc) // (60 * NS)))
    if nat.any():
        out = pc.if_else(pa.array(nat), _L(""), out)
    return out


def _fixed_width_text(secs: np.ndarray, minutes: np.ndarray, tail: bytes = b"") -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS+HH:MM`` (25 bytes, then ``tail``) of local wall seconds and UTC
    offsets in minutes, written two digits at a time into one byte buffer: no string per value."""
    n = len(secs)
    width = 25 + len(tail)
    days = secs // 86400
    sod = secs - days * 86400
    year, month, day = _civil(days)
    off = np.abs(minutes)
    rows = np.empty((width, n), dtype=np.uint8)  # one row per character: contiguous writes

    def pair(col: int, value: np.ndarray) -> None:
        v = value.astype(np.intp)
        rows[col] = _TENS[v]
        rows[col + 1] = _ONES[v]

    pair(0, year // 100)
    pair(2, year % 100)
    rows[4] = rows[7] = ord("-")
    pair(5, month)
    pair(8, day)
    rows[10] = ord(" ")
    pair(11, sod // 3600)
    rows[13] = rows[16] = rows[22] = ord(":")
    pair(14, sod // 60 % 60)
    pair(17, sod % 60)
    rows[19] = np.where(minutes < 0, ord("-"), ord("+"))
    pair(20, off // 60)
    pair(23, off % 60)
    for i, byte in enumerate(tail):
        rows[25 + i] = byte
    buf = np.ascontiguousarray(rows.T)
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.reshape(-1)))


_TENS = (48 + np.arange(100) // 10).astype(np.uint8)
_ONES = (48 + np.arange(100) % 10).astype(np.uint8)


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of days since 1970-01-01, proleptic Gregorian, in integer arithmetic
    (H. Hinnant's ``civil_from_days``; numpy's datetime64 unit casts are several times slower)."""
    z = days.astype(np.int64) + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def frame_bytes(df: pd.DataFrame, **kw) -> bytes:
    """The CSV of ``df`` as bytes (tests, small frames)."""
    import io

    buf = io.BytesIO()
    write_frame(df, buf, **kw)
    return buf.getvalue()


__all__: Iterable[str] = ("write_frame", "frame_bytes", "render")
