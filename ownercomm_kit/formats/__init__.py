"""Real DMS/CRM exports (SPEC §3), in two jobs: ``readers`` (a file's bytes to a table of
cells: encodings, separators, xlsx, parquet) and ``parsers`` (cells to values: dates and time
stamps, yes/no, money, whole numbers). Used by the loader and by onboarding; this module only
names the public API.
"""

from .parsers import (
    EXCEL_EPOCH,
    EXCEL_SERIAL_RANGE,
    FALSE_WORDS,
    TRUE_WORDS,
    US_FORMATS,
    _text,  # the loader's trimmed-text step, shared with the parsers
    cell_ends,
    localize,
    normalize_header,
    parse_bools,
    parse_dates,
    parse_ints,
    parse_numbers,
    parse_timestamps,
)
from .readers import (
    CSV_SUFFIXES,
    EXCEL_SUFFIXES,
    PARQUET_SUFFIXES,
    SEPARATORS,
    SUFFIXES,
    EmptyFileError,
    FormatError,
    RawTable,
    detect_encoding,
    known_codes,
    parquet_headers,
    ragged_message,
    one_chunk,
    read_raw,
    sheet_names,
    sniff_separator,
)

__all__ = [
    "CSV_SUFFIXES",
    "EXCEL_EPOCH",
    "EXCEL_SERIAL_RANGE",
    "EXCEL_SUFFIXES",
    "FALSE_WORDS",
    "PARQUET_SUFFIXES",
    "SEPARATORS",
    "SUFFIXES",
    "TRUE_WORDS",
    "US_FORMATS",
    "EmptyFileError",
    "FormatError",
    "RawTable",
    "_text",
    "cell_ends",
    "detect_encoding",
    "known_codes",
    "localize",
    "normalize_header",
    "parse_bools",
    "parse_dates",
    "parse_ints",
    "parse_numbers",
    "parse_timestamps",
    "parquet_headers",
    "ragged_message",
    "one_chunk",
    "read_raw",
    "sheet_names",
    "sniff_separator",
]
