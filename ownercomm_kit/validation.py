"""Data problems, every one at once (SPEC §2): what is wrong, where, and how to fix it.

Each ``check_*`` function returns a list of ``Problem`` (data.py) and is used by the loader
while it reads a table; ``check_relations`` runs on loaded data (orphans, dates after as_of)
and ``check`` runs every cross-table check on any DealerData (also one built in code).

Blocking problems (level "error") are listed cell by cell up to ``MAX_EXAMPLES`` per kind and
column, then summed up in one counted line; warnings are one counted line per kind with the
first row as the example. Row numbers are spreadsheet rows (header = row 1).
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from . import schema
from .data import DealerData, Problem
from .formats import normalize_header

# How many cells of one kind a message lists one by one; all are counted.
MAX_EXAMPLES = 20
# How many row numbers a counted line quotes.
MAX_ROWS_QUOTED = 10


def _rows_text(rows, total: int | None = None) -> str:
    total = len(rows) if total is None else total
    shown = ", ".join(str(int(r)) for r in list(rows[:MAX_ROWS_QUOTED]))
    return shown + (f", ... ({total} rows)" if total > MAX_ROWS_QUOTED else "")


def _val(v) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):  # a loaded date or time stamp, shown as a person writes it
        return v.strftime("%Y-%m-%d %H:%M:%S" if v != v.normalize() else "%Y-%m-%d")
    return str(v)


def cell_problems(
    level: str,
    table: str,
    file: str | None,
    column: str,
    raw: pd.Series,
    rows: np.ndarray,
    mask: pd.Series | np.ndarray,
    message: str,
    *,
    max_examples: int = MAX_EXAMPLES,
) -> list[Problem]:
    """Problems for the cells of ``raw`` selected by ``mask`` (positions aligned with ``rows``)."""
    where = np.flatnonzero(np.asarray(mask, dtype=bool))
    if where.size == 0:
        return []
    if level == "warning":
        first = where[0]
        return [
            Problem(
                "warning",
                table,
                file,
                int(rows[first]),
                column,
                _val(raw.iloc[first]),
                f"{message} (rows {_rows_text(rows[where])})" if where.size > 1 else message,
                count=int(where.size),
            )
        ]
    out = [
        Problem("error", table, file, int(rows[i]), column, _val(v), message)
        for i, v in zip(where[:max_examples], raw.iloc[where[:max_examples]])
    ]
    rest = where[max_examples:]
    if rest.size:
        out.append(
            Problem(
                "error",
                table,
                file,
                int(rows[rest[0]]),
                column,
                _val(raw.iloc[rest[0]]),
                f"{message}; {rest.size} more cells like this (rows {_rows_text(rows[rest])})",
                count=int(rest.size),
            )
        )
    return out


def missing_table(table: str, data_dir: str, files_seen: list[str]) -> Problem:
    seen = ", ".join(files_seen) if files_seen else "none"
    return Problem(
        "error",
        table,
        None,
        None,
        None,
        None,
        f"required table {table!r} not found in {data_dir}: expected {table}.csv, {table}.xlsx or "
        f"{table}.parquet (any case), or a sheet named {table} in a workbook, or a line "
        f"`files: {{{table}: <file name>}}` in the dealer file. Files seen: {seen}",
    )


def check_required_columns(
    table: str, file: str, found: list[str], missing: list[str], unused: list[str]
) -> list[Problem]:
    """A required column absent: name the columns found and suggest a ``mapping:`` line."""
    out = []
    shown = [_cell_text(h) for h in found[:MAX_HEADERS_QUOTED]]
    if len(found) > MAX_HEADERS_QUOTED:
        shown.append(f"... ({len(found)} columns)")
    for col in missing:
        close = suggest_columns(col, unused)
        theirs = close[0] if close and len(close[0]) <= MAX_HEADER_CHARS else "<their column>"
        hint = f"Closest: {', '.join(repr(_cell_text(c)) for c in close)}. " if close else ""
        out.append(
            Problem(
                "error",
                table,
                file,
                1,
                col,
                None,
                f"required column {col!r} not found. Columns found: {', '.join(shown) or 'none'}. "
                f"{hint}If it is named differently, add to the dealer file: "
                f"mapping: {{{table}: {{{_yaml_str(theirs)}: {col}}}}}",
                public=f"required column {col!r} not found; if it is named differently, add a mapping: "
                "line to the dealer file (ownercomm validate names the columns found)",
            )
        )
    return out


# A header is quoted as a cell at most: a garbage file's first line is not echoed whole.
MAX_HEADER_CHARS = 40
MAX_HEADERS_QUOTED = 40


def _cell_text(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_HEADER_CHARS else text[: MAX_HEADER_CHARS - 3] + "..."


def suggest_columns(column: str, candidates: list[str], n: int = 3) -> list[str]:
    """Their headers that look like a canonical column (case, spacing, punctuation ignored)."""
    key = normalize_header(column)
    by_norm: dict[str, str] = {}
    for c in candidates:
        by_norm.setdefault(normalize_header(c), c)
    close = difflib.get_close_matches(key, list(by_norm), n=n, cutoff=0.5)
    # "Customer" for customer_id, "Visit" for visit_date: a shared word counts too.
    words = [w for w in column.split("_") if len(w) > 2 and w not in ("id", "at")]
    for norm in by_norm:
        if norm not in close and any(w in norm for w in words):
            close.append(norm)
    return [by_norm[c] for c in close[:n]]


def _yaml_str(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_duplicate_columns(table: str, file: str, sources: dict[str, list[str]]) -> list[Problem]:
    """Several of their columns land on one canonical column."""
    return [
        Problem(
            "error",
            table,
            file,
            1,
            col,
            None,
            f"columns {', '.join(repr(s) for s in theirs)} all map to {col!r}; keep one: map it "
            f"explicitly, or ignore the others, e.g. mapping: {{{table}: {{{_yaml_str(theirs[-1])}: null}}}}",
            public=f"{len(theirs)} columns all map to {col!r}; keep one (ownercomm validate names them)",
        )
        for col, theirs in sources.items()
        if len(theirs) > 1
    ]


def check_duplicates(table: str, file: str | None, column: str, ids: pd.Series, rows: np.ndarray) -> list[Problem]:
    """Every duplicated id value with all its rows (ids must be unique)."""
    dup = ids.notna() & ids.duplicated(keep=False)
    if not dup.any():
        return []
    d = pd.DataFrame({"v": ids[dup].to_numpy(), "r": rows[np.asarray(dup)]})
    groups = d.groupby("v", sort=False)["r"]
    out = []
    for i, (value, rs) in enumerate(groups):
        if i == MAX_EXAMPLES:
            rest = groups.ngroups - MAX_EXAMPLES
            out.append(
                Problem("error", table, file, None, column, None, f"{rest} more duplicated {column} values", count=rest)
            )
            break
        rs = rs.to_list()
        out.append(
            Problem(
                "error",
                table,
                file,
                int(rs[0]),
                column,
                _val(value),
                f"duplicate {column}: the same id appears in rows {_rows_text(rs)}; ids must be unique",
            )
        )
    return out


def check_enum(
    table: str,
    file: str | None,
    column: str,
    raw: pd.Series,
    rows: np.ndarray,
    mask: pd.Series,
    allowed: tuple[str, ...],
    required: bool,
    values_key: str | None = None,
) -> list[Problem]:
    """Values outside the allowed set: one problem per distinct value, with a ``values:`` line."""
    where = np.flatnonzero(np.asarray(mask, dtype=bool))
    if where.size == 0:
        return []
    level = "error" if required else "warning"
    key = values_key or column
    text = raw.iloc[where].astype("string").str.strip()
    d = pd.DataFrame({"v": text.to_numpy(), "r": rows[where]})
    out = []
    groups = d.groupby("v", sort=False)["r"]
    sizes = groups.size()  # same order as the groups: first appearance
    for i, (value, rs) in enumerate(groups):
        if i == MAX_EXAMPLES:
            rest = int(sizes.iloc[MAX_EXAMPLES:].sum())
            out.append(
                Problem(
                    level, table, file, None, column, None, f"more unknown {column} values in {rest} rows", count=rest
                )
            )
            break
        rs = rs.to_list()
        close = difflib.get_close_matches(
            normalize_header(value), [normalize_header(a) for a in allowed], n=1, cutoff=0.6
        )
        target = (
            allowed[[normalize_header(a) for a in allowed].index(close[0])]
            if close
            else f"<one of {', '.join(allowed)}>"
        )
        consequence = "" if required else "; the cell is left empty"
        msg = (
            f"{value!r} is not an allowed {column} (allowed: {', '.join(allowed)}); if it means one of "
            f"them, add to the dealer file: values: {{{key}: {{{_yaml_str(value)}: {target}}}}}{consequence}"
        )
        msg += f" (rows {_rows_text(rs)})" if len(rs) > 1 else ""
        public = (
            f"not an allowed {column} (allowed: {', '.join(allowed)}); if it means one of them, add a "
            f"values: line to the dealer file (ownercomm validate shows it){consequence}"
        )
        out.append(Problem(level, table, file, int(rs[0]), column, str(value), msg, count=len(rs), public=public))
    return out


def check_empty_column(table: str, file: str | None, column: str, n_rows: int) -> list[Problem]:
    return [
        Problem(
            "warning",
            table,
            file,
            1,
            column,
            None,
            f"optional column {column!r} is present but empty in all {n_rows} rows; what needs it is skipped",
        )
    ]


def check_relations(
    data: DealerData,
    rows: dict[str, np.ndarray] | None = None,
    files: dict[str, str] | None = None,
    today=None,
    local: dict | None = None,
) -> list[Problem]:
    """Orphan rows (unknown customer or sale), event dates after as_of and (given the run's own
    date ``today``) dates in the future, as counted warnings. ``local``: the tables'
    ``data.event_dates``, when already computed."""
    return check_orphans(data, rows, files) + check_after_as_of(data, rows, files, today=today, local=local)


def _rows_of(data: DealerData, table: str, rows: dict[str, np.ndarray] | None) -> np.ndarray:
    if rows and table in rows:
        return rows[table]
    return np.arange(2, len(data[table]) + 2)


def check_orphans(data: DealerData, rows=None, files=None) -> list[Problem]:
    files = files or data.sources
    out = []
    for name, table in schema.TABLES.items():
        df = data[name]
        if name in data.missing_tables or df.empty:
            continue
        for col, target in table.references.items():
            ref_table, ref_col = target.split(".")
            if ref_table in data.missing_tables or not data.has(name, col):
                continue
            known = data[ref_table][ref_col].dropna().unique()
            if isinstance(df[col].array, pd.arrays.ArrowStringArray) and isinstance(known, pd.arrays.ArrowStringArray):
                # Arrow's hash lookup; pandas' isin would first walk the known ids in Python
                import pyarrow.compute as pc

                found = pc.is_in(
                    df[col].array._pa_array,
                    value_set=known._pa_array.combine_chunks().cast(df[col].array._pa_array.type),
                )
                orphan = df[col].notna() & ~pd.Series(found.to_numpy(zero_copy_only=False), index=df.index).fillna(
                    False
                ).astype(bool)
            else:
                orphan = df[col].notna() & ~df[col].isin(known)
            what = "customer" if ref_table == "customers" else ref_table.rstrip("s")
            out += cell_problems(
                "warning",
                name,
                files.get(name),
                col,
                df[col],
                _rows_of(data, name, rows),
                orphan.to_numpy(bool),
                f"orphan row: {col} is not a known {what} in {ref_table} (the row is kept, but no {what} details)",
            )
    return out


def check_after_as_of(data: DealerData, rows=None, files=None, today=None, local=None) -> list[Problem]:
    """Rows dated after as_of; with ``today`` (the run's date), rows in the future are said apart."""
    files = files or data.sources
    out = []
    for name, col in schema.EVENT_DATE_COLUMN.items():
        df = data[name]
        if name in data.missing_tables or df.empty:
            continue
        s = df[col]
        if local is not None and name in local:
            day = local[name]
        else:
            dates = (
                s.dt.tz_convert(data.timezone).dt.tz_localize(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else s
            )
            day = dates.dt.normalize()
        after = (day > data.as_of_ts).fillna(False).to_numpy(bool)
        future = np.zeros(len(s), dtype=bool)
        if today is not None:
            future = (day > pd.Timestamp(today)).fillna(False).to_numpy(bool)
            after = after & ~future
            out += cell_problems(
                "warning",
                name,
                files.get(name),
                col,
                s,
                _rows_of(data, name, rows),
                future,
                f"dated after the run date {today.isoformat()} (in the future): outside the report "
                f"period; check the export's dates",
            )
        out += cell_problems(
            "warning",
            name,
            files.get(name),
            col,
            s,
            _rows_of(data, name, rows),
            after,
            f"date after as_of {data.as_of.isoformat()}: the row is outside the report period",
        )
    return out


def check(data: DealerData) -> list[Problem]:
    """Cross-table checks on any loaded DealerData (orphans, dates after as_of, duplicate ids)."""
    out = []
    for name, table in schema.TABLES.items():
        if table.key and name not in data.missing_tables:
            ids = data[name][table.key]
            out += check_duplicates(name, data.sources.get(name), table.key, ids, np.arange(2, len(ids) + 2))
    return out + check_relations(data)


# --- presenting ----------------------------------------------------------------------------

SUMMARY_COLUMNS = ["level", "table", "file", "row", "column", "value", "message", "count"]


def summary_frame(problems: list[Problem]) -> pd.DataFrame:
    """One row per problem, errors first (for the reports' data-quality sections)."""
    df = pd.DataFrame([{c: getattr(p, c) for c in SUMMARY_COLUMNS} for p in problems], columns=SUMMARY_COLUMNS)
    df = df.astype(
        {
            "level": "string",
            "table": "string",
            "file": "string",
            "row": "Int64",
            "column": "string",
            "value": "string",
            "message": "string",
            "count": "int64",
        }
    )
    order = df["level"].map({"error": 0, "warning": 1}).astype("int64")
    return df.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def format_problems(problems: list[Problem]) -> str:
    """Every problem, one per line, errors first then warnings, with a closing count."""
    errors = [p for p in problems if p.level == "error"]
    warnings = [p for p in problems if p.level == "warning"]
    lines = []
    if errors:
        lines.append(f"Blocking problems ({sum(p.count for p in errors)}):")
        lines += [f"  {p}" for p in errors]
    if warnings:
        lines.append(f"Warnings ({sum(p.count for p in warnings)}):")
        lines += [f"  {p}" for p in warnings]
    if not problems:
        lines.append("No problems found.")
    return "\n".join(lines)
