"""Reading what real DMS/CRM exports look like (SPEC §3): bytes to a table of cells.

``read_raw(path)``: a ``.csv``/``.txt``, ``.xlsx`` or ``.parquet`` file as a DataFrame of
cells *as the user sees them* (strings; an empty cell is NA; no "NA"/"null" guessing),
with how it was read (encoding, separator, sheet) and each row's spreadsheet row number
(header = row 1). Parquet keeps its typed columns; the parsers (``formats.parsers``) accept
both.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..arrays import small_codes

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
    # Every header of the file, when ``frame`` holds only some of its columns (read_raw's
    # ``columns``); None: ``frame`` holds them all.
    headers: list[str] | None = None
    # header -> the distinct values (nulls left out) of a text column read as a parquet dictionary
    # (read_raw's ``dictionary``), in no set order; columns not so read are not in it.
    distinct: dict[str, list[str]] | None = None

    @property
    def name(self) -> str:
        """How messages name the file: ``customers.csv`` or ``export.xlsx[Customers]``."""
        return f"{self.path.name}[{self.sheet}]" if self.sheet else self.path.name


def read_raw(
    path: str | Path, sheet: str | None = None, columns: list[str] | None = None, dictionary: list[str] | None = None
) -> RawTable:
    """Read one file (for a workbook: ``sheet``, else the first sheet). Raises FormatError.

    ``columns`` (headers as ``parquet_headers`` gives them): a parquet file's only columns to
    read (the others are never decoded); ``RawTable.headers`` then lists them all. Other
    files are read whole. ``dictionary`` (headers likewise): a parquet file's text columns
    of few distinct values (enums), decoded as dictionaries: the same cells, and their
    distinct values in ``RawTable.distinct`` without a pass over the cells."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: file not found")
    suffix = path.suffix.lower()
    from ..filekind import mismatch

    wrong = mismatch(path)  # a PDF, a web page or a workbook named .csv: say what it is
    if wrong:
        raise FormatError(f"{path.name}: {wrong}")
    try:
        if suffix in CSV_SUFFIXES:
            return _read_csv(path)
        if suffix in EXCEL_SUFFIXES:
            return _read_xlsx(path, sheet)
        if suffix in PARQUET_SUFFIXES:
            return _read_parquet(path, columns, dictionary)
    except FormatError:
        raise
    except Exception as e:  # a corrupt or foreign file: say so, no traceback (and none of its content)
        raise FormatError(
            f"{path.name}: cannot be read as {suffix[1:]} ({type(e).__name__}); is it a damaged or unfinished export?"
        ) from None
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
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}.get)
    del table  # the frame's columns share its chunks: each is joined into one, the chunks dropped
    for c in frame.columns:
        frame[c] = one_chunk(frame[c])
    return frame


def _read_csv_pandas(path: Path, data: bytes, sep: str, names: list[str]) -> pd.DataFrame:
    """The reader that keeps blank lines as (empty) rows, so row numbers match a spreadsheet."""
    try:
        return pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            header=0,
            names=names,
            dtype="string",
            encoding="utf-8-sig",
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
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
                return (
                    f"{path.name}: row {row} has {len(record)} cells where the header row has {width} "
                    f"(separator {shown}); check that row for a stray separator or an unclosed quote"
                )
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


def parquet_headers(path: str | Path) -> list[str]:
    """A parquet file's headers, as ``read_raw`` names its columns (from the file's schema)."""
    return [str(c).strip() for c in _parquet_fields(path)]


def _parquet_fields(path) -> list[str]:
    """The file's columns, less those pandas wrote as the frame's index (``read_raw`` drops them)."""
    import pyarrow.parquet as pq

    return _fields_of(pq.read_schema(path))


def _fields_of(schema) -> list[str]:
    import json

    try:
        index = json.loads((schema.metadata or {})[b"pandas"]).get("index_columns", [])
    except (KeyError, ValueError, AttributeError):
        index = []
    return [c for c in schema.names if c not in {i for i in index if isinstance(i, str)}]


# Arrow's table to pandas: one block per column (a column can be let go of alone, see
# ``loader.load_table``) and each Arrow column freed as soon as it is converted (the table
# and the frame are not held whole together). Same values and dtypes.
_TO_PANDAS = {"split_blocks": True, "self_destruct": True}

# Tables at least this long have their text columns joined on two threads.
PARALLEL_JOIN_ROWS = 200_000


def _read_parquet(path: Path, columns: list[str] | None = None, dictionary: list[str] | None = None) -> RawTable:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    fields = _fields_of(schema)
    headers = None
    if columns is not None:
        headers = [str(c).strip() for c in fields]
        wanted = set(columns)
        fields = [c for c in fields if str(c).strip() in wanted]
    coded = _dictionary_names(schema, fields, dictionary) if dictionary else []
    to_pandas = _arrow_table_to_pandas()
    if to_pandas is None or len(set(schema.names)) < len(schema.names):
        # pandas' own read, as before: a pandas without that conversion, or a file whose names
        # repeat exactly (which pandas refuses, and the user is told so as before)
        chosen = fields if columns is not None else None
        frame, distinct = pd.read_parquet(path, columns=chosen, to_pandas_kwargs=_TO_PANDAS).reset_index(drop=True), {}
    else:
        frame, distinct = _read_parquet_once(path, schema, columns, fields, coded, to_pandas)
    texts = []
    for c in frame.columns:
        dtype = frame[c].dtype
        # Text columns to the kit's string dtype; other typed columns stay as they are.
        if isinstance(dtype, pd.StringDtype) or (
            dtype == object and pd.api.types.infer_dtype(frame[c], skipna=True) in ("string", "empty")
        ):
            texts.append(c)

    def text(c):
        return one_chunk(frame[c].astype("string"))

    if len(frame) >= PARALLEL_JOIN_ROWS and len(texts) > 1:
        # Arrow joins chunks without the GIL: two columns at a time
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=2) as pool:
            for c, series in zip(texts, pool.map(text, texts)):
                frame[c] = series
    else:
        for c in texts:
            frame[c] = text(c)
    frame.columns = [str(c).strip() for c in frame.columns]
    distinct = {str(c).strip(): values for c, values in distinct.items()} or None
    return RawTable(frame, np.arange(2, len(frame) + 2), path, "parquet", headers=headers, distinct=distinct)


def _arrow_table_to_pandas():
    """pandas' own conversion of an Arrow table (what ``pd.read_parquet`` calls: the same dtypes,
    string and time zone options included); None in a pandas that has no such function."""
    import inspect

    try:
        from pandas.io._util import arrow_table_to_pandas
    except ImportError:
        return None
    return arrow_table_to_pandas if "to_pandas_kwargs" in inspect.signature(arrow_table_to_pandas).parameters else None


def _read_parquet_once(path: Path, schema, columns, fields: list[str], coded: list[str], to_pandas) -> tuple:
    """(frame, distinct) read in one pass over the file: the enum columns ``coded`` come as
    parquet dictionaries and are decoded on two threads while pandas converts the other
    columns (all in Arrow's C++, without the GIL)."""
    import warnings

    import pyarrow.parquet as pq

    with pq.ParquetFile(path, read_dictionary=coded or None) as file:
        table = file.read(columns=fields if columns is not None or coded else None, use_pandas_metadata=True)
    if not coded:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # pandas' own make_block notice
            return to_pandas(table, to_pandas_kwargs=_TO_PANDAS).reset_index(drop=True), {}
    from concurrent.futures import ThreadPoolExecutor

    types = {c: schema.field(c).type for c in coded}  # the file's own (text) types
    parts = {c: table.column(c) for c in coded}
    table = table.drop_columns(coded)

    def decode(c):  # each frees its coded column once decoded
        return _decoded(parts.pop(c), types[c])

    # two decoding threads: pandas' conversion is done long before four enum columns are, and
    # one thread alone left a core idle for a second and more on 10M rows
    with ThreadPoolExecutor(max_workers=2) as pool:
        decoding = {c: pool.submit(decode, c) for c in coded}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            frame = to_pandas(table, to_pandas_kwargs=_TO_PANDAS).reset_index(drop=True)
        del table
        decoded = {c: f.result() for c, f in decoding.items()}
    for c in coded:  # in the file's order, each where it stands
        series, _ = decoded[c]
        frame.insert(fields.index(c), c, series.set_axis(frame.index))
    return frame, {c: values for c, (_, values) in decoded.items()}


def _dictionary_names(schema, fields: list[str], dictionary: list[str]) -> list[str]:
    """The ``fields`` named in ``dictionary`` whose file type is text, to read as parquet
    dictionaries; none when the file's names repeat (also once trimmed: " status" and "status"
    are one header, whose values would be told from the wrong column), or when no other column
    is left to read (the frame's rows come from those)."""
    import pyarrow as pa

    trimmed = [str(c).strip() for c in schema.names]
    if len(set(trimmed)) < len(trimmed) or len({str(c).strip() for c in fields}) < len(fields):
        return []
    wanted = set(dictionary)
    text = {
        f.name
        for f in schema
        if f.name in fields
        and str(f.name).strip() in wanted
        and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    }
    names = [c for c in fields if c in text]
    if not names or len(names) == len(fields):
        return []
    return names


def _decoded(column, value_type) -> tuple:
    """(a one-chunk Arrow string Series of a dictionary-coded column's cells, its distinct values
    in use, nulls left out). The cells are the dictionary's values taken by index; its codes are
    kept with the column (``known_codes``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.unify_dictionaries()
    if column.num_chunks:
        coded = column.combine_chunks()
    else:
        coded = pa.array([], pa.dictionary(pa.int32(), value_type))
    del column
    dictionary, indices = coded.dictionary, coded.indices
    if not pa.types.is_large_string(dictionary.type):  # pandas holds text as large_string: cast the
        dictionary = dictionary.cast(pa.large_string())  # few values, not the cells (and keep this array)
    dense = pa.chunked_array([dictionary.take(indices)])
    codes = (pc.fill_null(indices, -1) if indices.null_count else indices).to_numpy(zero_copy_only=False)
    codes = small_codes(codes, len(dictionary))
    codes.flags.writeable = False  # shared by every audit of this load: nobody may write to it
    values = dictionary.take(pc.unique(indices).drop_null()).to_pylist()  # in use (hashing int32 indices)
    _remember_codes(dense, codes, tuple(dictionary.to_pylist()))
    series = pd.Series(pd.arrays.ArrowStringArray(dense), copy=False)
    return series, values


# A text column decoded from a parquet dictionary keeps its codes: id of its Arrow array ->
# (a weak reference to that array, the codes, the dictionary's values). The audit's messages
# factorize channel, sender and category again otherwise (hashing 10M strings each). An entry
# goes with its array; the identity check keeps a reused id from ever matching.
_CODES: dict[int, tuple] = {}


def _remember_codes(array, codes: np.ndarray, values: tuple) -> None:
    key = id(array)
    _CODES[key] = (weakref.ref(array, lambda _, key=key: _CODES.pop(key, None)), codes, values)


def known_codes(series: pd.Series) -> tuple[np.ndarray, tuple] | None:
    """(codes, values) of a text column that is, unchanged, the one a parquet dictionary was
    decoded into: ``values[codes]`` are its cells, code -1 a null (both read-only: shared by
    every audit of the load); ``values`` may hold values no cell has, or hold one twice. None
    for any other column (changed, taken, copied or not so read): then factorize it."""
    array = getattr(series.array, "_pa_array", None)
    found = _CODES.get(id(array)) if array is not None else None
    if found is None or found[0]() is not array:
        return None
    return found[1], found[2]


def one_chunk(series: pd.Series) -> pd.Series:
    """An Arrow-backed text column as one contiguous array. A parquet file comes in row
    groups (and a big CSV in blocks), one chunk each; Arrow's ``take`` of a chunked string
    column (the audit takes messages by customer, flags by message) joins the chunks on
    every call. Done as each column is read, the chunked copy is dropped at once (a 10M-row
    table's text is then never held twice)."""
    arr = series.array
    if isinstance(arr, pd.arrays.ArrowStringArray) and arr._pa_array.num_chunks > 1:
        import pyarrow as pa

        one = pa.chunked_array([arr._pa_array.combine_chunks()])
        return pd.Series(
            pd.arrays.ArrowStringArray(one, dtype=arr.dtype), index=series.index, name=series.name, copy=False
        )
    return series
