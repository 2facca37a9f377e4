"""Reading what real DMS/CRM exports look like (SPEC §3), and parsing their cells.

Used by the loader and by the onboarding helper. Two halves:

- ``read_raw(path)``: a ``.csv``/``.txt``, ``.xlsx`` or ``.parquet`` file as a DataFrame of
  cells *as the user sees them* (strings; an empty cell is NA; no "NA"/"null" guessing),
  with how it was read (encoding, separator, sheet) and each row's spreadsheet row number
  (header = row 1). Parquet keeps its typed columns; the parsers accept both.
- Vectorised parsers, each returning ``(parsed, bad)``: the parsed Series and a boolean mask
  of the non-empty cells that could not be parsed (the caller reports them; never a silent NaT).

Time stamps without an offset are wall-clock time in the dealer's zone. Daylight-saving
edges follow Python's PEP 495 ``fold=0`` rule, so a re-run always gives the same instant:
an *ambiguous* time (the repeated hour in autumn) is the first occurrence (summer time);
a *nonexistent* time (the skipped hour in spring) is read with the offset in force before
the change, i.e. 02:30 in a 02:00->03:00 gap becomes 03:30.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet", ".pq")
SUFFIXES = (*CSV_SUFFIXES, *EXCEL_SUFFIXES, *PARQUET_SUFFIXES)
SEPARATORS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 64 * 1024


class FormatError(Exception):
    """A file that cannot be read at all (the message says why, for the user)."""


class EmptyFileError(FormatError):
    """A file with no bytes, or only blank lines: an optional table in it counts as missing."""


@dataclass
class RawTable:
    """One table as read from a file, before any mapping or typing."""

    frame: pd.DataFrame  # RangeIndex; cells as strings (csv, xlsx) or typed (parquet)
    rows: np.ndarray  # spreadsheet row number of each frame row (header = row 1)
    path: Path
    format: str  # csv | xlsx | parquet
    encoding: str | None = None
    separator: str | None = None
    sheet: str | None = None

    @property
    def name(self) -> str:
        """How messages name the file: ``customers.csv`` or ``export.xlsx[Customers]``."""
        return f"{self.path.name}[{self.sheet}]" if self.sheet else self.path.name


def read_raw(path: str | Path, sheet: str | None = None) -> RawTable:
    """Read one file (for a workbook: ``sheet``, else the first sheet). Raises FormatError."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: file not found")
    suffix = path.suffix.lower()
    from .filekind import mismatch

    wrong = mismatch(path)  # a PDF, a web page or a workbook named .csv: say what it is
    if wrong:
        raise FormatError(f"{path.name}: {wrong}")
    try:
        if suffix in CSV_SUFFIXES:
            return _read_csv(path)
        if suffix in EXCEL_SUFFIXES:
            return _read_xlsx(path, sheet)
        if suffix in PARQUET_SUFFIXES:
            return _read_parquet(path)
    except FormatError:
        raise
    except Exception as e:  # a corrupt or foreign file: say so, no traceback (and none of its content)
        raise FormatError(f"{path.name}: cannot be read as {suffix[1:]} ({type(e).__name__}); "
                          f"is it a damaged or unfinished export?") from None
    if suffix == ".xls":
        raise FormatError(f"{path.name}: old Excel .xls is not supported; save it as .xlsx or .csv")
    raise FormatError(f"{path.name}: unknown file type {suffix!r} (expected {', '.join(SUFFIXES)})")


def sheet_names(path: str | Path) -> list[str]:
    """The sheets of a workbook (empty list for other files)."""
    path = Path(path)
    if path.suffix.lower() not in EXCEL_SUFFIXES:
        return []
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True)
    except Exception as e:
        raise FormatError(f"{path.name}: cannot be read as xlsx ({type(e).__name__}: {e})") from None
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


# --- CSV -----------------------------------------------------------------------------------


def detect_encoding(data: bytes) -> str:
    """utf-16 (by BOM), utf-8-sig / utf-8 (strict decode), else cp1252, else a best guess.

    A strict UTF-8 decode is more reliable than statistical detection on short exports:
    cp1252 text with accents is almost never valid UTF-8, so "Cára" cannot become mojibake.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _is_utf8(data):
        return "utf-8"
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 4 * _SAMPLE_BYTES]).best()
    return best.encoding if best is not None else "latin-1"


def _is_utf8(data: bytes) -> bool:
    if data.isascii():  # fast path: most exports are plain ASCII
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    step = 16 * 1024 * 1024  # in chunks, so a large file is not copied as one str
    try:
        for start in range(0, len(view), step):
            decoder.decode(view[start : start + step], final=start + step >= len(view))
    except UnicodeDecodeError:
        return False
    return True


def sniff_separator(text: str) -> str:
    """The field separator of a CSV sample: csv.Sniffer, checked; else by counting."""
    lines = _sample_records(text)
    try:
        sep = csv.Sniffer().sniff(text, delimiters="".join(SEPARATORS)).delimiter
        if sep in SEPARATORS and _consistent(lines, sep) > 1:
            return sep
    except csv.Error:
        pass
    scores = {sep: _consistent(lines, sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda s: (scores[s], -SEPARATORS.index(s)))
    return best if scores[best] > 1 else ","


def _sample_records(text: str) -> str:
    # Drop the possibly cut last line of the sample.
    return text if len(text) < _SAMPLE_BYTES // 2 else text[: text.rfind("\n") + 1]


def _consistent(text: str, sep: str) -> int:
    """Fields per record when every sample record agrees (quotes respected), else 0."""
    try:
        counts = {len(r) for r in csv.reader(io.StringIO(text), delimiter=sep) if r}
    except csv.Error:
        return 0
    return counts.pop() if len(counts) == 1 else 0


def _read_csv(path: Path) -> RawTable:
    data = path.read_bytes()
    encoding = detect_encoding(data)
    if encoding not in ("utf-8", "utf-8-sig"):
        data = data.decode(encoding).encode("utf-8")  # pyarrow reads UTF-8 only
    sample = data[:_SAMPLE_BYTES].decode("utf-8", errors="ignore").lstrip("\ufeff")
    if not sample.strip():
        raise EmptyFileError(f"{path.name}: the file is empty")
    sep = sniff_separator(sample)
    header = next(csv.reader(io.StringIO(sample), delimiter=sep), [])
    if not any(h.strip() for h in header):
        raise FormatError(f"{path.name}: the first row must hold the column names, and it is empty")
    names = _unique_names([h.strip() for h in header])
    end = len(data)
    while end and data[end - 1] in b"\r\n":  # blank lines at the very end shift nothing
        end -= 1
    if data.find(b"\n\n", 0, end) >= 0 or data.find(b"\n\r\n", 0, end) >= 0:
        # Blank lines are rows in a spreadsheet; pyarrow would skip them and shift row numbers.
        frame = _read_csv_pandas(path, data, sep, names)
    else:
        frame = _read_csv_arrow(path, data, sep, names)
    frame.columns = _original_names(names)
    rows = np.arange(2, len(frame) + 2)
    blank = _blank_rows(frame)
    if blank.any():  # blank lines and ",,,," lines are no records
        frame, rows = frame[~blank].reset_index(drop=True), rows[~blank]
    return RawTable(frame, rows, path, "csv", encoding=encoding, separator=sep)


def _read_csv_arrow(path: Path, data: bytes, sep: str, names: list[str]) -> pd.DataFrame:
    """The fast reader (multi-threaded, 10M rows in seconds)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            # Embedded newlines in quoted cells are common in notes fields.
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:
        raise FormatError(ragged_message(path, data, sep, len(names))) from None
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}.get)


def _read_csv_pandas(path: Path, data: bytes, sep: str, names: list[str]) -> pd.DataFrame:
    """The reader that keeps blank lines as (empty) rows, so row numbers match a spreadsheet."""
    try:
        return pd.read_csv(
            io.BytesIO(data), sep=sep, header=0, names=names, dtype="string", encoding="utf-8-sig",
            keep_default_na=False, na_values=[""], skip_blank_lines=False,
        )
    except (pd.errors.ParserError, ValueError):
        raise FormatError(ragged_message(path, data, sep, len(names))) from None


def ragged_message(path: Path, data: bytes, sep: str, width: int) -> str:
    """Which spreadsheet row has a different number of cells than the header (no content quoted)."""
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    shown = {"\t": "tab"}.get(sep, repr(sep))
    try:
        next(reader, None)
        row = 1
        for record in reader:
            row += 1
            if record and len(record) != width and any(c.strip() for c in record):
                return (f"{path.name}: row {row} has {len(record)} cells where the header row has {width} "
                        f"(separator {shown}); check that row for a stray separator or an unclosed quote")
    except csv.Error:
        return f"{path.name}: row {reader.line_num} is not well-formed (separator {shown}): an unclosed quote?"
    return f"{path.name}: not a well-formed table (separator {shown})"


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    if frame.shape[1] == 0 or frame.empty:
        return np.zeros(len(frame), dtype=bool)
    first_empty = frame.iloc[:, 0].isna().to_numpy(bool)
    if not first_empty.any():  # the common case: nothing to check row by row
        return first_empty
    blank = first_empty.copy()
    blank[first_empty] = frame[first_empty].isna().all(axis=1).to_numpy(bool)
    return blank


_DUP = "\x00dup"


def _unique_names(names: list[str]) -> list[str]:
    """pyarrow needs distinct names to type columns; duplicates are restored afterwards."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}{_DUP}{k}")
    return out


def _original_names(names: list[str]) -> list[str]:
    return [n.split(_DUP)[0] for n in names]


# --- Excel and parquet ---------------------------------------------------------------------


def _read_xlsx(path: Path, sheet: str | None) -> RawTable:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            raise FormatError(f"{path.name}: no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})")
        it = ws.iter_rows(values_only=True)
        header = next(it, None)
        if header is None:
            raise FormatError(f"{path.name}[{ws.title}]: the sheet is empty")
        width = len(header)
        while width and _cell_text(header[width - 1]) is None:  # trailing unnamed columns
            width -= 1
        names = [(_cell_text(h) or "").strip() for h in header[:width]]
        cells: list[list[str | None]] = []
        rows: list[int] = []
        for number, values in enumerate(it, start=2):
            texts = [_cell_text(v) for v in values[:width]]
            if all(t is None for t in texts):  # blank spreadsheet rows are not records
                continue
            texts += [None] * (width - len(texts))
            cells.append(texts)
            rows.append(number)
        title = ws.title
    finally:
        wb.close()
    columns = list(zip(*cells)) if cells else [() for _ in names]
    frame = pd.DataFrame({i: pd.array(list(col), dtype="string") for i, col in enumerate(columns)})
    frame.columns = names
    return RawTable(frame, np.array(rows, dtype=np.int64), path, "xlsx", sheet=title)


def _cell_text(v) -> str | None:
    """An Excel cell as the user sees it: dates as ISO text, whole numbers without '.0'."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep="T")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    text = str(v)
    return text if text.strip() else None


def _read_parquet(path: Path) -> RawTable:
    frame = pd.read_parquet(path).reset_index(drop=True)
    for c in frame.columns:
        dtype = frame[c].dtype
        # Text columns to the kit's string dtype; other typed columns stay as they are.
        if isinstance(dtype, pd.StringDtype) or (
            dtype == object and pd.api.types.infer_dtype(frame[c], skipna=True) in ("string", "empty")
        ):
            frame[c] = frame[c].astype("string")
    frame.columns = [str(c).strip() for c in frame.columns]
    return RawTable(frame, np.arange(2, len(frame) + 2), path, "parquet")


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
    import pyarrow as pa

    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    for c in chunks:
        if len(c) == c.null_count:
            continue
        wide = pa.types.is_large_string(c.type)
        offsets = np.frombuffer(c.buffers()[1], dtype=np.int64 if wide else np.int32)[c.offset:c.offset + len(c) + 1]
        start, end = offsets[:-1], offsets[1:]
        if c.null_count:
            valid = np.asarray(c.is_valid())
            start, end = start[valid], end[valid]
        if not len(start):
            continue
        if np.any(end <= start):
            return False
        data = np.frombuffer(c.buffers()[2], dtype=np.uint8)
        first, last = data[start], data[end - 1]
        if np.any((first < 0x21) | (first > 0x7E) | (last < 0x21) | (last > 0x7E)):
            return False
    return True


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
    """Python datetimes, dates and numbers in an object column (xlsx, parquet) taken as they are."""
    texts: dict = {}
    for i, v in s.items():
        if isinstance(v, (dt.datetime, dt.date)) and not isinstance(v, bool):
            ts = pd.Timestamp(v)
            if not _NS_MIN <= (ts if ts.tzinfo is None else ts.tz_localize(None)) <= _NS_MAX:
                texts[i] = v.isoformat()  # out of range: the text pass reports it, value shown
                continue
            if ts.tzinfo is None:
                naive.loc[i] = ts
            else:
                aware.loc[i] = ts.tz_convert("UTC")
        elif isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
            ok, serial = _from_serial(pd.Series([float(v)]))
            if ok.iloc[0]:
                naive.loc[i] = serial.iloc[0]
    taken = naive.notna() | aware.notna()
    out = s.where(~taken, None).map(lambda v: v if isinstance(v, str) else None)
    for i, text in texts.items():
        out.loc[i] = text
    return out.astype("string")


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


def parse_timestamps(s: pd.Series, tz: str) -> tuple[pd.Series, pd.Series]:
    """Cells to ``datetime64[ns, tz]``: ISO (offsets converted), US, Excel serials; no offset = local."""
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
        s = s.map(lambda v: str(v) if isinstance(v, (bool, int, float)) and not pd.isna(v) else v)
    low = _text(s).str.lower()
    yes, no = low.isin(TRUE_WORDS), low.isin(FALSE_WORDS)
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[yes.fillna(False).astype(bool)] = True
    out[no.fillna(False).astype(bool)] = False
    bad = low.notna() & ~yes & ~no
    return out, bad.fillna(False).astype(bool)


_CURRENCY = r"[\s\u00a0$€£¥]|USD|EUR|CAD|GBP"


def parse_numbers(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``$31,000.00``, ``31000``, ``(1,200.50)`` (negative), ``€ 9``, ``-5`` to float64."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return pd.Series(np.nan, index=s.index), s.notna()
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64"), pd.Series(False, index=s.index)
    if s.dtype == object:
        s = s.map(lambda v: repr(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and not pd.isna(v) else v)
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
