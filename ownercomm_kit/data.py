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

import pandas as pd

from . import schema


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

    def __str__(self) -> str:
        where = [self.file or self.table or "data"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        value = f" value {self.value!r}:" if self.value is not None else ""
        more = f" ({self.count} rows)" if self.count > 1 else ""
        return f"{self.level.upper()} {', '.join(where)}:{value} {self.message}{more}"


class DataError(Exception):
    """Blocking data problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.level == "error"]
        super().__init__(f"{len(errors)} blocking data problem(s)\n" + "\n".join(str(p) for p in errors))


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
