"""The loaded dealer: one typed container of canonical DataFrames (SPEC §2).

Conventions every module relies on:
- every table of ``schema.TABLES`` is present; a table absent from the data folder is an
  empty frame with the canonical columns, listed in ``missing_tables``;
- every canonical column is present; an optional column absent from the file is all-NA,
  listed in ``missing_columns[table]``: rules that need it are skipped and say so;
- ids, strings and enums: pandas ``string`` dtype (enums hold canonical lowercase values);
  booleans: nullable ``boolean``; ints: ``Int64``; floats: ``float64``;
- dates: naive ``datetime64[ns]`` at midnight (a calendar date);
- timestamps: ``datetime64[ns, <dealer timezone>]`` (no offset in the file = dealer's zone).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from . import schema
from .errors import DataError  # noqa: F401  (defined with the kit's other errors)


@dataclass(frozen=True)
class Problem:
    """One data problem, as the user sees it in a spreadsheet (header = row 1)."""

    level: Literal["error", "warning"]
    table: str | None
    file: str | None
    row: int | None
    column: str | None
    value: str | None
    message: str
    count: int = 1  # warnings of one kind are counted, with the first row as the example
    # The message with nothing read from the data (no cell value, no header), for what leaves
    # the store (a batch's manifest, the group index); None: ``message`` quotes nothing read.
    public: str | None = None

    def __str__(self) -> str:
        where = [self.file or self.table or "data"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        value = f" value {self.value!r}:" if self.value is not None else ""
        more = f" ({self.count} rows)" if self.count > 1 else ""
        return f"{self.level.upper()} {', '.join(where)}:{value} {self.message}{more}"


@dataclass
class DealerData:
    dealer_id: str
    dealer_name: str
    timezone: str
    as_of: dt.date
    tables: dict[str, pd.DataFrame]
    missing_tables: list[str] = field(default_factory=list)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # table -> file it was read from

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.tables[table]

    def has(self, table: str, column: str | None = None) -> bool:
        """True when the table (and column) came from the data, not filled in as empty."""
        if table in self.missing_tables:
            return False
        return column is None or column not in self.missing_columns.get(table, [])

    @property
    def as_of_ts(self) -> pd.Timestamp:
        """as_of as a naive midnight Timestamp, comparable with date columns."""
        return pd.Timestamp(self.as_of)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


def empty_table(name: str, timezone: str) -> pd.DataFrame:
    """A table with no rows and the canonical columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series(dtype=dtype_of(c, timezone)) for c in schema.TABLES[name].columns})


def dtype_of(column: schema.Column, timezone: str):
    if column.kind == "date":
        return "datetime64[ns]"
    if column.kind == "timestamp":
        return pd.DatetimeTZDtype("ns", timezone)
    return schema.PANDAS_DTYPE[column.kind]


def from_frames(
    frames: dict[str, pd.DataFrame | list[dict]],
    *,
    timezone: str = "America/New_York",
    as_of=None,
    dealer_id: str = "TEST",
    dealer_name: str | None = None,
) -> DealerData:
    """A DealerData from clean in-code tables (lists of dicts or DataFrames).

    Each column goes through the loader's coercion (``loader.coerce``), so a cell means the
    same in code as in a file; a cell the loader cannot read is left empty, as the loader leaves
    it (no row is dropped and no problem recorded: the tables are the test's own). Columns not
    given are filled as missing (all-NA) and tables not given as empty, exactly as the loader
    records them, so a test can say "this optional column is absent".
    ``as_of`` empty: the last event date in the data.
    """
    from . import loader  # the loader imports this module

    tables: dict[str, pd.DataFrame] = {}
    missing_tables: list[str] = []
    missing_columns: dict[str, list[str]] = {}
    for name, table in schema.TABLES.items():
        given = frames.get(name)
        if given is None:
            tables[name] = empty_table(name, timezone)
            missing_tables.append(name)
            missing_columns[name] = table.column_names
            continue
        df = pd.DataFrame(given) if not isinstance(given, pd.DataFrame) else given
        n = len(df)
        rows = np.arange(2, n + 2)  # as a spreadsheet numbers them (header = row 1)
        out = {}
        absent = []
        for col in table.columns:
            if col.name in df.columns:
                # The loader's own coercion: in-code tables read exactly as the same cells in a file.
                out[col.name], _, _ = loader.coerce(
                    name, "in-code table", col, df[col.name].reset_index(drop=True), rows, timezone, {}
                )
            else:
                absent.append(col.name)
                out[col.name] = loader.empty_column(n, col, timezone)
        tables[name] = pd.DataFrame(out)
        missing_columns[name] = absent
    if as_of is None:
        as_of = last_event_date(tables, timezone)
    elif not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        as_of = pd.Timestamp(as_of).date()
    return DealerData(
        dealer_id=dealer_id,
        dealer_name=dealer_name or dealer_id,
        timezone=timezone,
        as_of=as_of,
        tables=tables,
        missing_tables=missing_tables,
        missing_columns=missing_columns,
    )


def event_dates(tables: dict[str, pd.DataFrame], timezone: str) -> dict[str, pd.Series]:
    """table -> the local date (naive midnight) of each row's event column, for the tables that
    have rows: computed once for the load's several looks at them (10M-row tables)."""
    out = {}
    for name, col in schema.EVENT_DATE_COLUMN.items():
        df = tables.get(name)
        if df is None or df.empty or col not in df:
            continue
        out[name] = _local_dates(df[col], timezone)
    return out


def last_event_date(
    tables: dict[str, pd.DataFrame],
    timezone: str,
    not_after: dt.date | None = None,
    local: dict[str, pd.Series] | None = None,
) -> dt.date:
    """The last date seen in the data's event columns (SPEC §3: as_of left empty); with
    ``not_after`` (the run's own date), the last one not in its future. ``local``: the
    tables' ``event_dates``, when already computed."""
    last = None
    for name, col in schema.EVENT_DATE_COLUMN.items():
        df = tables.get(name)
        if df is None or df.empty or col not in df:
            continue
        s = df[col]
        if not_after is not None:
            days = local[name] if local is not None else _local_dates(s, timezone)
            s = s[days <= pd.Timestamp(not_after)]
        m = s.max()
        if m is pd.NaT or pd.isna(m):
            continue
        d = m.tz_convert(timezone).date() if getattr(m, "tzinfo", None) else m.date()
        last = d if last is None or d > last else last
    return last or not_after or dt.date.today()


def event_date_range(
    tables: dict[str, pd.DataFrame], timezone: str, local: dict[str, pd.Series] | None = None
) -> tuple[dt.date, dt.date] | None:
    """(first, last) date of the data's event columns, or None when there is none."""
    lo = hi = None
    for name, col in schema.EVENT_DATE_COLUMN.items():
        df = tables.get(name)
        if df is None or df.empty or col not in df:
            continue
        d = local[name] if local is not None else _local_dates(df[col], timezone)
        first, last = d.min(), d.max()
        if pd.isna(first):
            continue
        lo = first if lo is None or first < lo else lo
        hi = last if hi is None or last > hi else hi
    return None if lo is None else (lo.date(), hi.date())


def _local_dates(s: pd.Series, timezone: str) -> pd.Series:
    """Midnight of each value's date in the dealer's zone (naive), for date comparisons."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert(timezone).dt.tz_localize(None)
    return s.dt.normalize()
