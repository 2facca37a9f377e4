"""Load a dealer's data folder into a typed DealerData (SPEC §2-3).

Steps, per table: find its file (the ``files`` block, else ``<table>.csv|.xlsx|.parquet`` in
any case, else a sheet named like the table in a workbook), read it as text
(formats.read_raw), rename their columns (``mapping``, then headers equal to a canonical
name once case, spacing and punctuation are ignored), translate values (``values``), coerce
each column to its canonical dtype, and collect every problem (validation.py).

``strict=True`` raises DataError when anything blocks; ``strict=False`` returns the data with
``data.problems`` and without the blocking rows (their number is said), so ``ownercomm
validate`` and the reports' data-quality sections can still show the rest.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Mapping

import numpy as np
import pandas as pd

from . import datafolder, formats, schema, validation
from .arrays import string_offsets
from .data import (
    DataError,
    DealerData,
    Problem,
    dtype_of,
    empty_table,
    event_date_range,
    event_dates,
    last_event_date,
)
from .formats import FormatError, RawTable, normalize_header
from .params import parse_as_of
from .procs import freed_memory_kept


@dataclass
class TableInfo:
    """How one table was read, for ``ownercomm validate`` and the onboarding notebook."""

    table: str
    file: str | None = None  # display name: "customers.csv" or "export.xlsx[Customers]"
    encoding: str | None = None
    separator: str | None = None
    rows_read: int = 0
    rows_kept: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> their header
    ignored_columns: list[str] = field(default_factory=list)  # their headers not used


@dataclass
class Source:
    path: Path
    sheet: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path.name}[{self.sheet}]" if self.sheet else self.path.name


def load_dealer(params: Mapping, *, strict: bool = True, columns: Mapping | None = None) -> DealerData:
    """The dealer of a resolved params dict (params.resolve); see the module docstring.

    ``columns`` (table -> canonical column names, e.g. ``AUDIT_COLUMNS``): read only these
    columns of the tables it names (and always their required, key, reference and event-date
    columns, see ``kept_columns``). A column left unread is in no frame and is not missing
    (``data.has`` says True): only for a caller that never looks at it. Every other check, on
    headers, required columns, keys and relations, is the same as without ``columns``.
    """
    if columns is None:
        return load_with_info(params, strict=strict)[0]
    return load_with_info(params, strict=strict, columns=columns)[0]


def load_data_dir(
    data_dir,
    *,
    timezone: str,
    dealer_id: str | None = None,
    dealer_name: str | None = None,
    files: Mapping | None = None,
    mapping: Mapping | None = None,
    values: Mapping | None = None,
    as_of=None,
    strict: bool = True,
) -> DealerData:
    """A data folder without a dealer file (the dealer id defaults to the folder's name)."""
    params = {
        "dealer_id": dealer_id or Path(data_dir).name,
        "dealer_name": dealer_name,
        "data_dir": str(data_dir),
        "timezone": timezone,
        "files": files or {},
        "mapping": mapping or {},
        "values": values or {},
        "as_of": as_of,
    }
    return load_dealer(params, strict=strict)


def load_with_info(
    params: Mapping, *, strict: bool = False, columns: Mapping | None = None
) -> tuple[DealerData, list[TableInfo]]:
    """Like load_dealer, also returning how each table was read.

    One big step for the C allocator (``procs.freed_memory_kept``): the readers' freed buffers
    serve the next ones, and what is free at the end goes back to the system."""
    with freed_memory_kept():
        return _load_with_info(params, strict=strict, columns=columns)


def _load_with_info(params: Mapping, *, strict: bool, columns: Mapping | None) -> tuple[DealerData, list[TableInfo]]:
    problems: list[Problem] = []
    dealer_id = str(params.get("dealer_id") or "dealer")
    tz = params.get("timezone")
    if not tz or not _valid_timezone(str(tz)):
        problems.append(
            Problem(
                "error",
                None,
                None,
                None,
                None,
                None if not tz else str(tz),
                "timezone is not an IANA time zone name (e.g. America/Los_Angeles); "
                "set `timezone:` in the dealer file or pass --timezone",
            )
        )
        tz = "UTC"  # go on, so every other problem is found too
    tz = str(tz)
    data_dir = Path(str(params.get("data_dir") or ""))
    as_of = _as_of(params.get("as_of"), problems)
    tables: dict[str, pd.DataFrame] = {}
    rows: dict[str, np.ndarray] = {}
    infos: list[TableInfo] = []
    missing_tables: list[str] = []
    missing_columns: dict[str, list[str]] = {}
    sources_seen: dict[str, str] = {}

    if not data_dir.is_dir():
        problems.append(
            Problem(
                "error",
                None,
                str(data_dir),
                None,
                None,
                None,
                "data folder not found (check `data_dir:` in the dealer file)",
            )
        )
        sources: dict[str, Source] = {}
        listing: list[str] = []
    else:
        sources, listing, found_problems = find_sources(data_dir, params.get("files") or {})
        problems += found_problems
    for name, table in schema.TABLES.items():
        src = sources.get(name)
        info = TableInfo(name, src.name if src else None)
        infos.append(info)
        df = None
        if src is not None:
            keep = None if columns is None else columns.get(name)
            df, kept_rows, absent, table_problems = _read_table(name, src, tz, params, info, keep)
            problems += table_problems
            if df is not None:
                sources_seen[name] = src.name
        if df is None:
            if table.required and src is None and data_dir.is_dir():
                problems.append(validation.missing_table(name, str(data_dir), listing))
            df, kept_rows, absent = empty_table(name, tz), np.zeros(0, dtype=np.int64), table.column_names
            missing_tables.append(name)
        tables[name] = df
        rows[name] = kept_rows
        missing_columns[name] = absent
    today = run_date(tz)
    local = event_dates(tables, tz)  # each event column's local dates, once
    span = event_date_range(tables, tz, local)
    if as_of is not None and span is not None:  # the last date that is not in the future
        problems += _check_as_of(
            as_of, (span[0], min(span[1], last_event_date(tables, tz, not_after=today, local=local)))
        )
    data = DealerData(
        dealer_id=dealer_id,
        dealer_name=str(params.get("dealer_name") or dealer_id),
        timezone=tz,
        as_of=as_of or last_event_date(tables, tz, not_after=today, local=local),
        tables=tables,
        missing_tables=missing_tables,
        missing_columns=missing_columns,
        sources=sources_seen,
    )
    problems += validation.check_relations(data, rows, sources_seen, today=today, local=local)
    data.problems = problems
    if strict and data.errors:
        raise DataError(problems)
    return data, infos


def _read_table(name: str, src: Source, tz: str, params: Mapping, info: TableInfo, keep=None):
    """(frame or None, row numbers, absent columns, problems) of one table's file."""
    required = schema.TABLES[name].required
    mapping = (params.get("mapping") or {}).get(name) or {}

    def said(level: str, message: str, **extra) -> Problem:  # a problem of the whole file
        return Problem(level, name, src.name, None, None, None, message, **extra)

    try:
        raw = formats.read_raw(
            src.path,
            src.sheet,
            columns=_file_columns(name, src, mapping, keep),
            dictionary=_enum_headers(name, src, mapping),
        )
    except formats.EmptyFileError as e:
        if required:
            what = EMPTY_REQUIRED.get(name, f"no {name} in the data")
            return None, None, None, [said("error", f"unreadable file: {e} (0 bytes or blank lines only): {what}")]
        message = "the file is empty (0 bytes or blank lines only); the table is treated as missing and what needs it is skipped"
        return None, None, None, [said("warning", message)]
    except FormatError as e:
        public = "unreadable file (ownercomm validate says why)"
        return None, None, None, [said("error", f"unreadable file: {e}", public=public)]
    if len(raw.frame) == 0:  # a header row and nothing else
        if required:  # read (its columns are checked), said plainly; the reports show zeros
            what = EMPTY_REQUIRED.get(name, f"no {name} in the data")
            df, kept, absent, found = load_table(name, raw, tz, mapping, params.get("values") or {}, info, keep)
            message = (
                f"{what}: the file has a header row and no data rows; the reports say so and show no figures from it"
            )
            return df, kept, absent, found + [said("warning", message)]
        message = (
            "the file has a header row and no data rows; the table is treated as missing and what needs it is skipped"
        )
        return None, None, None, [said("warning", message)]
    return load_table(name, raw, tz, mapping, params.get("values") or {}, info, keep, release=True)


# The columns ``ownercomm audit`` reads (its rules and suppression list; ``load_dealer(...,
# columns=AUDIT_COLUMNS)``): the message columns the audit never looks at (delivery status,
# opens, clicks, responses) are left in the file. Tables not named are read whole.
# tests/test_load_columns.py runs every rule with and without it and gets the same flags.
AUDIT_COLUMNS = {
    "communications": (
        "message_id",
        "customer_id",
        "sent_at",
        "channel",
        "sender",
        "category",
        "campaign_id",
        "vin",
        "model",
        "offer_price",
        "unsubscribed",
    ),
}


def kept_columns(name: str, keep: Collection[str]) -> set[str]:
    """``keep`` and what the load itself looks at: required, key, reference and event-date columns."""
    table = schema.TABLES[name]
    out = set(keep) | set(table.required_columns) | set(table.references)
    out |= {c for c in (table.key, schema.EVENT_DATE_COLUMN.get(name)) if c}
    return out


def _file_columns(name: str, src: Source, mapping: Mapping, keep) -> list[str] | None:
    """The headers of a parquet file that hold the kept columns (read only those); None: read
    every column (no ``keep``, not parquet, duplicate headers, or none of them found)."""
    if keep is None or src.path.suffix.lower() not in formats.PARQUET_SUFFIXES:
        return None
    try:
        headers = formats.parquet_headers(src.path)
    except Exception:  # read_raw says why
        return None
    if len(set(headers)) < len(headers):
        return None
    found, _, _ = resolve_columns(name, headers, mapping)
    kept = kept_columns(name, keep)
    wanted = {h for c, hs in found.items() if c in kept for h in hs}
    return [h for h in headers if h in wanted] or None


def _enum_headers(name: str, src: Source, mapping: Mapping) -> list[str] | None:
    """The headers of a parquet file that hold enum columns (read as dictionaries: their few
    distinct values come without a pass over the cells); None: not parquet, or none."""
    if src.path.suffix.lower() not in formats.PARQUET_SUFFIXES:
        return None
    try:
        headers = formats.parquet_headers(src.path)
    except Exception:  # read_raw says why
        return None
    found, _, _ = resolve_columns(name, headers, mapping)
    kinds = {c.name: c.kind for c in schema.TABLES[name].columns}
    return [h for c, hs in found.items() if kinds.get(c) == "enum" for h in hs] or None


# A required table with a header and no rows is read and said plainly (a warning): the audit of a
# store that sent no message reports zero messages rather than stopping.
EMPTY_REQUIRED = {"communications": "no messages in the data", "customers": "no customers in the data"}


def _valid_timezone(tz: str) -> bool:
    return tz in _zones()


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def run_date(tz: str) -> dt.date:
    """The run's own date ("today") in the dealer's time zone."""
    return dt.datetime.now(zoneinfo.ZoneInfo(tz)).date()


# An explicit as_of this far after the data's last date reports on a period with no data.
AS_OF_MAX_DAYS_AFTER_DATA = 365


def _check_as_of(as_of: dt.date, span: tuple[dt.date, dt.date]) -> list[Problem]:
    first, last = span
    if as_of < first:
        return [
            Problem(
                "error",
                None,
                None,
                None,
                "as_of",
                as_of.isoformat(),
                f"as_of {as_of} is before the first date in the data ({first}): the report "
                f"would cover no data; give a date between {first} and {last}, or leave as_of empty",
            )
        ]
    if (as_of - last).days > AS_OF_MAX_DAYS_AFTER_DATA:
        return [
            Problem(
                "error",
                None,
                None,
                None,
                "as_of",
                as_of.isoformat(),
                f"as_of {as_of} is more than a year after the last date in the data ({last}): "
                f"every figure would be about a period with no data; give a date up to "
                f"{last + dt.timedelta(days=AS_OF_MAX_DAYS_AFTER_DATA)}, or leave as_of empty",
            )
        ]
    return []


def _as_of(value, problems: list[Problem]) -> dt.date | None:
    """``params.parse_as_of``, with a bad value as a Problem rather than an exception."""
    try:
        return parse_as_of(value)
    except ValueError:
        problems.append(Problem("error", None, None, None, "as_of", str(value), "as_of is not a date (YYYY-MM-DD)"))
        return None


# --- finding the files ---------------------------------------------------------------------


def find_sources(data_dir: Path, files: Mapping) -> tuple[dict[str, Source], list[str], list[Problem]]:
    """table -> Source, the folder's file names, and problems (unknown or ambiguous files)."""
    problems: list[Problem] = []
    listing = datafolder.data_files(data_dir)
    # A store reads only its own folder (SPEC §8), links included: a file that is, or goes
    # through, a link out of the folder is a blocking problem and is never opened.
    outside = [p for p in listing if not _inside(p, data_dir)]
    for p in outside:
        table = next((t for t in schema.TABLES if normalize_header(t) == normalize_header(p.stem)), None)
        problems.append(
            Problem(
                "error",
                table,
                p.name,
                None,
                None,
                None,
                f"{p.name} is a link to a file outside the dealer's data folder {data_dir}; "
                "it is not read (a store reads only its own folder): copy the file in, "
                "or remove the link",
            )
        )
    listing = [p for p in listing if p not in outside]
    names = [p.name for p in listing]
    by_lower = {p.name.lower(): p for p in listing}
    out: dict[str, Source] = {}
    used: set[Path] = set()
    for table, spec in files.items():
        file, sheet = _file_spec(spec)
        path = Path(file) if Path(file).is_absolute() else data_dir / file
        # A store reads only its own folder (SPEC §8): no absolute path, ".." or link out of it.
        if not _inside(path, data_dir):
            problems.append(
                Problem(
                    "error",
                    table,
                    str(file),
                    None,
                    None,
                    None,
                    f"`files:` names {file!r} for {table}, which is outside the dealer's "
                    f"data folder {data_dir}; a store reads only its own folder",
                )
            )
            continue
        if not path.is_file():
            path = by_lower.get(str(file).lower(), path)
        if not path.is_file():
            problems.append(
                Problem(
                    "error",
                    table,
                    str(file),
                    None,
                    None,
                    None,
                    f"`files:` names {file!r} for {table}, which is not in {data_dir}",
                )
            )
            continue
        out[table] = Source(path, sheet)
        used.add(path)
    data_files = [p for p in listing if p.suffix.lower() in formats.SUFFIXES and p not in used]
    for table in schema.TABLES:
        if table in out:
            continue
        key = normalize_header(table)
        matches = [p for p in data_files if normalize_header(p.stem) == key]
        if len(matches) > 1:
            problems.append(
                Problem(
                    "error",
                    table,
                    None,
                    None,
                    None,
                    None,
                    f"several files could hold {table}: {', '.join(p.name for p in matches)}; "
                    f"keep one, or name it with `files: {{{table}: <file name>}}`",
                )
            )
            used.update(matches)
            continue
        if matches:
            path = matches[0]
            sheets = _sheets(path, problems)
            named = [s for s in sheets if normalize_header(s) == key]
            out[table] = Source(path, named[0] if named else None)
            used.add(path)
    # Workbooks holding several tables, one sheet each.
    taken = {(s.path, s.sheet) for s in out.values()}
    for path in listing:
        if path.suffix.lower() not in formats.EXCEL_SUFFIXES:
            continue
        for sheet in _sheets(path, problems):
            table = next((t for t in schema.TABLES if normalize_header(t) == normalize_header(sheet)), None)
            if table and table not in out and (path, sheet) not in taken:
                out[table] = Source(path, sheet)
                used.add(path)
    ignored = [p.name for p in listing if p not in used]
    if ignored:
        problems.append(
            Problem(
                "warning",
                None,
                None,
                None,
                None,
                None,
                f"files not recognised as a table, ignored: {', '.join(ignored)} (tables are named "
                f"{', '.join(schema.TABLES)}; name another file in `files:` of the dealer file)",
                count=len(ignored),
            )
        )
    return out, names, problems


def _inside(path: Path, data_dir: Path) -> bool:
    """``path`` resolves (links followed) to somewhere inside ``data_dir``."""
    try:
        return path.resolve().is_relative_to(data_dir.resolve())
    except (OSError, RuntimeError):  # a link loop
        return False


def _file_spec(spec) -> tuple[str, str | None]:
    """``"x.csv"``, ``"book.xlsx#Sheet"`` or ``{file: book.xlsx, sheet: Sheet}``."""
    if isinstance(spec, Mapping):
        sheet = spec.get("sheet")
        return str(spec.get("file")), (None if sheet is None else str(sheet))
    file, _, sheet = str(spec).partition("#")
    return file, sheet or None


def _sheets(path: Path, problems: list[Problem]) -> list[str]:
    try:
        return formats.sheet_names(path)
    except FormatError:
        return []  # read_raw says why, when the file is used as a table


# --- one table -----------------------------------------------------------------------------


def resolve_columns(
    table: str, headers: list[str], mapping: Mapping
) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """canonical -> their headers (several = a conflict), unused headers, mapping entries not found.

    ``mapping`` (their header -> canonical; matched exactly, else case, spacing and punctuation
    ignored) wins: a header that merely looks like a canonical column the mapping already
    fills is left unused. A header mapped to null is ignored on purpose.
    """
    names = schema.TABLES[table].column_names
    canonical_by_norm = {normalize_header(c): c for c in names}
    # Keys match a header exactly; a key no header matches exactly, by its normalised name.
    loose = {normalize_header(k): v for k, v in mapping.items() if k not in headers}
    explicit: dict[str, str | None] = {}
    for h in headers:
        if h in mapping:
            explicit[h] = mapping[h]
        elif normalize_header(h) in loose:
            explicit[h] = loose[normalize_header(h)]
    found: dict[str, list[str]] = {}
    for h, target in explicit.items():
        if target in names:
            found.setdefault(target, []).append(h)
    taken = set(found)  # canonical columns the mapping fills
    for h in headers:
        target = None if h in explicit else canonical_by_norm.get(normalize_header(h))
        if target is not None and target not in taken:
            found.setdefault(target, []).append(h)
    used = {h for hs in found.values() for h in hs}
    unused = [h for h in headers if h not in used]
    not_found = [
        k for k in mapping if k not in headers and normalize_header(k) not in {normalize_header(h) for h in explicit}
    ]
    return found, unused, not_found


def load_table(
    name: str,
    raw: RawTable,
    tz: str,
    mapping: Mapping,
    values: Mapping,
    info: TableInfo | None = None,
    keep: Collection[str] | None = None,
    *,
    release: bool = False,
) -> tuple[pd.DataFrame | None, np.ndarray, list[str], list[Problem]]:
    """One raw table to canonical columns: (frame or None when unusable, row numbers, absent columns, problems).

    ``keep``: the only canonical columns to coerce (besides those ``kept_columns`` always
    adds); another column the file has is left out of the frame, and is not absent. None: all.
    ``release``: ``raw`` is the caller's to give up: its frame is emptied, and each column is
    let go of as soon as it is coerced (a big table's raw dates are not held to the end).
    """
    table = schema.TABLES[name]
    file = raw.name
    headers = [str(c) for c in raw.frame.columns] if raw.headers is None else list(raw.headers)
    keep = None if keep is None else kept_columns(name, keep)
    found, unused, not_found = resolve_columns(name, headers, mapping)
    problems: list[Problem] = []
    problems += validation.check_duplicate_columns(name, file, found)
    for k in not_found:
        problems.append(
            Problem("warning", name, file, 1, None, k, f"`mapping:` names column {k!r}, which is not in the file")
        )
    for k, v in mapping.items():
        if v is not None and v not in table.column_names:
            problems.append(
                Problem(
                    "warning",
                    name,
                    file,
                    1,
                    None,
                    k,
                    f"`mapping:` maps {k!r} to {v!r}, which is not a column of {name}; ignored",
                )
            )
    missing_required = [c for c in table.required_columns if c not in found]
    problems += validation.check_required_columns(name, file, headers, missing_required, unused)
    n = len(raw.frame)
    rows = raw.rows
    blocking = np.zeros(n, dtype=bool)
    out: dict[str, pd.Series] = {}
    absent = []
    positions = {h: i for i, h in reversed(list(enumerate(str(c) for c in raw.frame.columns)))}
    present = [col for col in table.columns if found.get(col.name) and (keep is None or col.name in keep)]
    cells = {col.name: raw.frame.iloc[:, positions[found[col.name][0]]] for col in present}
    if release:  # each raw column is let go of once coerced (a copy: dates, numbers, flags)
        raw.frame = raw.frame.iloc[:, :0]

    def coerced(col: schema.Column):
        cell = (cells.pop(col.name) if release else cells[col.name]).reset_index(drop=True)
        known = (raw.distinct or {}).get(found[col.name][0])
        series, bad_block, col_problems = coerce(name, file, col, cell, rows, tz, values, distinct=known)
        del cell
        series = _one_chunk(series)
        # the key's uniqueness is looked at here, on the column's own thread, while the other
        # thread coerces the other columns (Arrow's hash set of 10M ids takes seconds)
        distinct = _all_distinct(series) if col.name == table.key else None
        return series, bad_block, col_problems, distinct

    unread = [col.name for col in table.columns if found.get(col.name) and keep is not None and col.name not in keep]
    # columns are independent; Arrow and numpy release the GIL, so a big table's columns are
    # coerced on two threads (results are taken back in column order: same problems, same order)
    if n >= PARALLEL_ROWS and len(present) > 1:
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = dict(zip((c.name for c in present), pool.map(coerced, present)))
    else:
        done = {c.name: coerced(c) for c in present}
    key_distinct = None
    for col in table.columns:
        if col.name in unread:  # in the file, not read: neither loaded nor absent
            continue
        if col.name not in done:
            absent.append(col.name)
            out[col.name] = empty_column(n, col, tz)
            continue
        series, bad_block, col_problems, distinct = done[col.name]
        if distinct is not None:
            key_distinct = distinct
        problems += col_problems
        blocking |= bad_block
        out[col.name] = series
    if info is not None:
        info.encoding, info.separator = raw.encoding, raw.separator
        info.rows_read = n
        info.columns = {c: h[0] for c, h in found.items()}
        info.ignored_columns = unused
    if missing_required or any(len(h) > 1 for h in found.values()):
        problems.append(
            Problem(
                "error",
                name,
                file,
                None,
                None,
                None,
                f"{name} cannot be used until the problems above are fixed; its {n} rows are left out",
            )
        )
        return None, np.zeros(0, dtype=np.int64), table.column_names, problems
    df = pd.DataFrame(out)
    if table.key:
        later = (
            np.zeros(len(df), bool)
            if key_distinct
            else (df[table.key].notna() & df[table.key].duplicated(keep="first")).to_numpy(bool)
        )
        if later.any():  # ids are unique in nearly every export: one hashing pass then
            problems += validation.check_duplicates(name, file, table.key, df[table.key], rows)
            blocking |= later
    if blocking.any():
        problems.append(
            Problem(
                "warning",
                name,
                file,
                None,
                None,
                None,
                f"{int(blocking.sum())} of {n} rows with blocking problems are left out of the reports",
                count=int(blocking.sum()),
            )
        )
        df = df[~blocking].reset_index(drop=True)
        rows = rows[~blocking]
    if info is not None:
        info.rows_kept = len(df)
    return df, rows, absent, problems


def coerce(
    name: str,
    file: str,
    col: schema.Column,
    cell: pd.Series,
    rows: np.ndarray,
    tz: str,
    values: Mapping,
    distinct: list[str] | None = None,
) -> tuple[pd.Series, np.ndarray, list[Problem]]:
    """One column to its canonical dtype: (series, rows that block, problems). ``distinct``: the
    cells' distinct values (nulls left out), when the reader knows them (``RawTable.distinct``)."""
    n = len(cell)
    level = "error" if col.required else "warning"
    problems: list[Problem] = []
    bad = np.zeros(n, dtype=bool)
    if col.kind in ("date", "timestamp"):
        parse = formats.parse_timestamps if col.kind == "timestamp" else formats.parse_dates
        series, bad_s = parse(cell, tz)
        what = "time stamp" if col.kind == "timestamp" else "date"
        placeholder = placeholder_dates(cell, series, bad_s)
        if placeholder.any():
            series = series.mask(placeholder)
        bad = bad_s.to_numpy(bool) & ~placeholder
        problems += validation.cell_problems(
            level,
            name,
            file,
            col.name,
            cell,
            rows,
            bad,
            f"unparseable {what} (expected e.g. 2026-06-18{' 10:30' if col.kind == 'timestamp' else ''}, "
            f"06/18/2026{' 10:30 PM' if col.kind == 'timestamp' else ''} or an Excel date)"
            + ("" if col.required else "; the cell is left empty"),
        )
        problems += validation.cell_problems(
            level,
            name,
            file,
            col.name,
            cell,
            rows,
            placeholder,
            f"placeholder date (before {PLACEHOLDER_BEFORE.year} or after {PLACEHOLDER_AFTER.year}, "
            "like 0001-01-01 or 9999-12-31): not a real date" + ("" if col.required else "; the cell is left empty"),
        )
        bad = bad | placeholder
    elif col.kind == "bool":
        series, bad_s = formats.parse_bools(_apply_values(cell, values.get(col.name)))
        bad = bad_s.to_numpy(bool)
        problems += validation.cell_problems(
            level,
            name,
            file,
            col.name,
            cell,
            rows,
            bad,
            "not a yes/no value (expected Y/N, Yes/No, 1/0, TRUE/FALSE, T/F); the cell is left empty",
        )
    elif col.kind in ("int", "float"):
        series, bad_s = (formats.parse_ints if col.kind == "int" else formats.parse_numbers)(cell)
        bad = bad_s.to_numpy(bool)
        what = "whole number" if col.kind == "int" else "number"
        problems += validation.cell_problems(
            level,
            name,
            file,
            col.name,
            cell,
            rows,
            bad,
            f"not a {what}" + ("" if col.required else "; the cell is left empty"),
        )
    elif col.kind == "enum" and _already_canonical(cell, distinct, values.get(col.name), col.allowed):
        series = cell  # every filled cell is an allowed value as it is: nothing to trim, map or report
    elif col.kind == "enum":
        # A value that the `values:` block mapped is reported as mapped (a typo in the block shows).
        text = _as_text(cell)
        mapped = _apply_values(text, values.get(col.name))
        series, bad_s = canonical_values(mapped, col.allowed, trimmed=mapped is text)
        bad = bad_s.to_numpy(bool)
        problems += validation.check_enum(name, file, col.name, mapped, rows, bad, col.allowed, col.required)
    else:
        series = _as_text(cell)
        if col.kind == "id":
            risky = _starts_with(series, FORMULA_START)
            problems += validation.cell_problems(
                "warning",
                name,
                file,
                col.name,
                cell,
                rows,
                risky,
                "id starts with = + - or @: in the CSV files the kit writes (flags, suppression, call lists) "
                "it is written with one apostrophe in front ('=A1), so no spreadsheet runs it as a formula; "
                "remove that one leading apostrophe when importing into the CRM",
            )
        if col.kind == "tz":
            unknown = series.notna() & ~series.isin(list(_zones()))
            bad = unknown.to_numpy(bool)
            problems += validation.cell_problems(
                "warning",
                name,
                file,
                col.name,
                cell,
                rows,
                bad,
                "not an IANA time zone name (e.g. America/Chicago); the dealer's time zone is used",
            )
            series = series.mask(unknown)
    series = series.astype(dtype_of(col, tz))
    if not col.required:
        if n and bad.sum() < n and series.isna().all():
            problems += validation.check_empty_column(name, file, col.name, n)
        return series.mask(bad) if bad.any() else series, np.zeros(n, dtype=bool), problems
    empty = (series.isna().to_numpy(bool)) & ~bad
    problems += validation.cell_problems(
        "error", name, file, col.name, cell, rows, empty, f"required value is empty ({col.name} is needed on every row)"
    )
    return series, bad | empty, problems


# Tables at least this long have their columns coerced on two threads.
PARALLEL_ROWS = 200_000

# Cell starts that a spreadsheet runs as a formula (outputs.FORMULA_PREFIXES, printable ones).
FORMULA_START = ("=", "+", "-", "@")

# Dates outside these years are stand-ins ("never", "unknown"), not events.
PLACEHOLDER_BEFORE = pd.Timestamp("1900-01-01")
PLACEHOLDER_AFTER = pd.Timestamp("2200-12-31")
_YEAR_FIRST = r"^\s*(\d{4})[-/.]\d{1,2}[-/.]\d{1,2}(?:\b|T)"
_YEAR_LAST = r"^\s*\d{1,2}[-/.]\d{1,2}[-/.](\d{4})\b"


def placeholder_dates(cell: pd.Series, parsed: pd.Series, bad: pd.Series) -> np.ndarray:
    """Cells holding a date before 1900 or after 2200 (0001-01-01, 9999-12-31): parsed ones
    by their value, the ones too far out for pandas to hold by the year written."""
    out = _placeholder_values(parsed)
    bad = bad.to_numpy(bool)
    if bad.any():
        text = cell[bad].astype("string")
        y = text.str.extract(_YEAR_FIRST, expand=False).fillna(text.str.extract(_YEAR_LAST, expand=False))
        y = pd.to_numeric(y, errors="coerce")
        far = ((y < PLACEHOLDER_BEFORE.year) | (y > PLACEHOLDER_AFTER.year)).fillna(False).to_numpy(bool)
        out[np.flatnonzero(bad)[far]] = True
    return out


def _placeholder_values(parsed: pd.Series) -> np.ndarray:
    """Parsed values whose (local) year is before 1900 or after 2200. By their integers: a naive
    value against the two bounds; an aware one against the bounds read as UTC, a zone's offset
    being under a day, so only values within a day of a bound need their local year."""
    values = parsed.array.asi8
    lo = pd.Timestamp(PLACEHOLDER_BEFORE.year, 1, 1).as_unit("ns")._value
    hi = pd.Timestamp(PLACEHOLDER_AFTER.year + 1, 1, 1).as_unit("ns")._value
    filled = values != np.iinfo(np.int64).min
    out = filled & ((values < lo) | (values >= hi))
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        day = 86_400 * 10**9
        # comparisons only: no 64-bit temporary the size of the column (10M rows)
        near = filled & (((values >= lo - day) & (values <= lo + day)) | ((values >= hi - day) & (values <= hi + day)))
        if near.any():
            year = parsed[near].dt.year.to_numpy()
            out[near] = (year < PLACEHOLDER_BEFORE.year) | (year > PLACEHOLDER_AFTER.year)
    return out


def _starts_with(series: pd.Series, chars: tuple[str, ...]) -> np.ndarray:
    """Cells starting with one of the single ASCII ``chars`` (NA: False): the first byte of
    each cell of an Arrow string column, read in place (no string per cell)."""
    arr = series.array
    if not (isinstance(arr, pd.arrays.ArrowStringArray) and all(len(c) == 1 and ord(c) < 128 for c in chars)):
        return series.str.startswith(chars).fillna(False).to_numpy(bool)
    table = np.zeros(256, bool)
    table[[ord(c) for c in chars]] = True
    parts = [table[first] & filled & valid for first, _, filled, valid in formats.cell_ends(arr._pa_array)]
    return np.concatenate(parts) if parts else np.zeros(0, bool)


def _all_distinct(series: pd.Series) -> bool:
    """No filled value occurs twice (Arrow's hash set of an Arrow string column; False when
    not sure, and the caller then looks for the duplicates)."""
    arr = series.array
    if not isinstance(arr, pd.arrays.ArrowStringArray):
        return False
    import pyarrow.compute as pc

    values = arr._pa_array
    if len(values) >= DISTINCT_BY_WORDS_ROWS and _distinct_by_words(values):
        return True
    distinct = pc.unique(values)
    return len(distinct) - (1 if distinct.null_count else 0) == len(values) - values.null_count


# From this many ids, ``_distinct_by_words`` is tried before Arrow's hash set.
DISTINCT_BY_WORDS_ROWS = 100_000


def _distinct_by_words(values) -> bool:
    """True when the filled ids of an Arrow string column are surely all distinct: ids of at most
    16 bytes, padded to 8 or 16, read as one or two 64-bit words, mixed into one 64-bit number
    per id and sorted (a radix sort: a fraction of a second for 10M ids); no two numbers equal
    means no two ids equal. False means "not sure" (longer ids, or two equal numbers, which
    equal ids and, rarely, different ones give): the caller asks Arrow's hash set."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if values.null_count:
        values = pc.drop_null(values)
    n = len(values)
    if n < 2:
        return True
    lengths = pc.binary_length(values)
    longest = pc.max(lengths).as_py()
    if longest is None or longest > 16:
        return False
    width = 8 if longest <= 8 else 16
    if pc.min(lengths).as_py() == longest:
        data = _same_length_rows(values, longest, width)
    else:
        padded = pc.utf8_rpad(values, width=width, padding=" ")
        offsets = string_offsets(padded)
        # rpad counts characters: a non-ASCII id comes out longer than ``width`` bytes
        if int(offsets[n]) - int(offsets[0]) != width * n:
            return False
        data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[int(offsets[0]) : int(offsets[0]) + width * n]
    words = data.view(np.uint64).reshape(n, width // 8)
    # ids in ascending order (many exports), as text or as numbers ("M9" before "M10"):
    # distinct without a sort
    if _increasing(words) or _increasing(words, lengths.to_numpy()):
        return True
    key = words[:, 0].copy()
    if width == 16:
        key *= np.uint64(0x9E3779B97F4A7C15)
        key ^= words[:, 1]
    key.sort()
    return not bool(np.any(key[1:] == key[:-1]))


def _same_length_rows(values, size: int, width: int) -> np.ndarray:
    """Ids that are all ``size`` bytes long, as rows of ``width`` bytes (their bytes, then
    spaces, as ``utf8_rpad`` would give ASCII ids), copied from Arrow's data buffer: no string
    array built. Two rows are equal exactly when their ids are (non-ASCII ids too)."""
    n = len(values)
    rows = np.full((n, width), ord(" "), dtype=np.uint8)
    if size == 0:  # every id empty (Arrow may hold no data buffer then)
        return rows.reshape(-1)
    start = int(string_offsets(values)[0])
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[start : start + size * n].reshape(n, size)
    rows[:, :size] = data
    return rows.reshape(-1)


# Rows of ids looked at per block by ``_increasing``.
INCREASING_BLOCK = 1 << 20


def _increasing(words: np.ndarray, lengths: np.ndarray | None = None) -> bool:
    """The padded ids (rows of 64-bit words, their bytes in the ids' order) are strictly
    increasing byte by byte, so no two are equal; with ``lengths`` (each id's length in
    bytes), increasing by length first, then byte by byte (no two ids of one length are
    equal). Looked at ``INCREASING_BLOCK`` rows at a time (no temporary the size of the
    column)."""
    n, block = len(words), INCREASING_BLOCK
    for a in range(0, n - 1, block):
        b = min(a + block + 1, n)  # one row of overlap with the next block
        hi = words[a:b, 0].byteswap()  # big-endian: integer order is byte order
        up = hi[1:] > hi[:-1]
        if words.shape[1] > 1:
            same = hi[1:] == hi[:-1]
            if same.any():
                lo = words[a:b, 1].byteswap()
                up |= same & (lo[1:] > lo[:-1])
        if lengths is not None:
            size = lengths[a:b]
            up = (size[1:] > size[:-1]) | ((size[1:] == size[:-1]) & up)
        if not up.all():
            return False
    return True


def _one_chunk(series: pd.Series) -> pd.Series:
    """An Arrow-backed text column as one contiguous array (``formats.one_chunk``; the readers
    already give parquet and CSV text so, as each column is read)."""
    return formats.one_chunk(series)


def empty_column(n: int, col: schema.Column, tz: str) -> pd.Series:
    """An all-missing column of the canonical dtype (an optional column absent from the data),
    built without a Python list of n Nones (10M-row tables)."""
    if col.kind in ("date", "timestamp"):
        s = pd.Series(np.full(n, np.datetime64("NaT", "ns")))
        return s if col.kind == "date" else s.dt.tz_localize(tz)
    if col.kind == "float":
        return pd.Series(np.full(n, np.nan))
    if col.kind == "int":
        return pd.Series(pd.arrays.IntegerArray(np.zeros(n, dtype="int64"), np.ones(n, dtype=bool)))
    if col.kind == "bool":
        return pd.Series(pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool)))
    return pd.Series(np.full(n, None, dtype=object)).astype("string")


def _as_text(cell: pd.Series) -> pd.Series:
    """Ids and text: trimmed strings, blank = NA; whole numbers from typed files without '.0'."""
    if pd.api.types.is_float_dtype(cell.dtype):
        whole = cell.isna() | ((cell == np.floor(cell)) & (cell.abs() < 2.0**53))
        if whole.all():
            cell = cell.astype("Int64")
    if pd.api.types.is_bool_dtype(cell.dtype) or pd.api.types.is_numeric_dtype(cell.dtype) or cell.dtype == object:
        cell = cell.astype("string")
    return formats._text(cell)


def _apply_values(cell: pd.Series, table: Mapping | None) -> pd.Series:
    """The dealer file's ``values:`` for one column: their value (trimmed, any case) -> canonical."""
    if not table:
        return cell
    lookup = {str(k).strip().casefold(): _value_text(v) for k, v in table.items()}
    text = _as_text(cell)
    codes, uniques = pd.factorize(text)
    mapped = np.array([lookup.get(str(u).casefold(), u) for u in uniques], dtype=object)
    out = np.where(codes >= 0, mapped[np.maximum(codes, 0)] if len(mapped) else None, None)
    return pd.Series(out, index=cell.index, dtype="string")


def _value_text(v) -> str:
    if isinstance(v, bool):  # YAML `Y: true` for a yes/no column
        return "true" if v else "false"
    return str(v)


def canonical_values(
    text: pd.Series, allowed: tuple[str, ...], *, trimmed: bool = False
) -> tuple[pd.Series, pd.Series]:
    """Their values to canonical ones, case, spacing and punctuation ignored ("No Show" -> no_show).
    ``trimmed``: ``text`` is already ``_as_text``'s (not done twice)."""
    if not trimmed:
        text = _as_text(text)
    if _only_allowed(text, allowed):  # the common case: already canonical
        return text, pd.Series(np.zeros(len(text), dtype=bool), index=text.index)
    codes, uniques = pd.factorize(text)
    by_norm = {normalize_header(a): a for a in allowed}
    mapped = np.array([by_norm.get(normalize_header(u)) for u in uniques], dtype=object)
    out = np.where(codes >= 0, mapped[np.maximum(codes, 0)] if len(mapped) else None, None)
    series = pd.Series(out, index=text.index, dtype="string")
    return series, (text.notna() & series.isna())


def _already_canonical(cell: pd.Series, distinct: list[str] | None, table: Mapping | None, allowed) -> bool:
    """An Arrow string column whose distinct values (read with it) are all allowed, with no
    ``values:`` for it: the general path would trim nothing, map nothing, report nothing and
    give the column back as it is."""
    return (
        distinct is not None
        and not table
        and isinstance(cell.array, pd.arrays.ArrowStringArray)
        and set(distinct) <= set(allowed)
    )


def _only_allowed(text: pd.Series, allowed: tuple[str, ...]) -> bool:
    """Every filled cell is one of ``allowed``: for an Arrow string column, by its distinct
    values (a handful, found by one hashing pass), not by a lookup per cell."""
    arr = text.array
    if isinstance(arr, pd.arrays.ArrowStringArray):
        import pyarrow.compute as pc

        distinct = pc.unique(arr._pa_array).drop_null().to_pylist()
        return set(distinct) <= set(allowed)
    return bool((text.isna() | text.isin(allowed)).all())


# --- describing what was read ---------------------------------------------------------------


def describe(data: DealerData, infos: list[TableInfo]) -> str:
    """A per-table summary (file, rows, columns found, date range) for ``ownercomm validate``."""
    lines = [f"Dealer {data.dealer_id} ({data.dealer_name}), time zone {data.timezone}, as_of {data.as_of}"]
    if not any(info.file for info in infos):
        return lines[0] + "\n  no table could be read"
    for info in infos:
        table = schema.TABLES[info.table]
        kind = "required" if table.required else "optional"
        if info.table in data.missing_tables and not info.rows_read and info.file:
            lines.append(f"  {info.table:<15} {info.file}: not used ({kind}; see the problems below)")
            continue
        if info.table in data.missing_tables and not info.rows_read:
            lines.append(
                f"  {info.table:<15} not found ({kind}){'' if table.required else ': sections that need it are skipped'}"
            )
            continue
        left_out = info.rows_read - len(data[info.table])
        rows = f"{info.rows_read} rows" + (f" ({left_out} left out)" if left_out else "")
        cols = f"{len(info.columns)}/{len(table.columns)} columns"
        lines.append(f"  {info.table:<15} {info.file}: {rows}, {cols}{_date_range(data, info.table)}")
        cell = validation._cell_text  # a header quoted as a cell at most
        mapped = [f"{cell(theirs)} -> {ours}" for ours, theirs in info.columns.items() if theirs != ours]
        if mapped:
            lines.append(f"  {'':<15} mapped: {', '.join(mapped)}")
        absent = [c for c in data.missing_columns.get(info.table, []) if info.table not in data.missing_tables]
        if absent:
            lines.append(f"  {'':<15} absent: {', '.join(absent)}")
        if info.ignored_columns:
            ignored = [cell(h) for h in info.ignored_columns[: validation.MAX_HEADERS_QUOTED]]
            more = len(info.ignored_columns) - len(ignored)
            lines.append(f"  {'':<15} ignored: {', '.join(ignored)}" + (f" and {more} more" if more > 0 else ""))
    return "\n".join(lines)


def _date_range(data: DealerData, table: str) -> str:
    col = schema.EVENT_DATE_COLUMN.get(table)
    df = data[table]
    if col is None or df.empty or df[col].isna().all():
        return ""
    s = df[col]
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert(data.timezone).dt.tz_localize(None)
    return f", {col} {s.min().date()} to {s.max().date()}"
