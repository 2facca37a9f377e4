"""Reading a data folder's exports as text (every readable file and sheet), and spotting
title lines above a header.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..words import plural
from ..datafolder import data_files
from .names import name_key, synonyms


HEADER_SCAN_ROWS = 20  # rows searched for a header pushed down by report title lines


@dataclass
class Source:
    """One table-shaped export: a file, or one sheet of a workbook."""

    ref: str  # as written in the dealer file's files block: "x.csv" or "x.xlsx#Sheet"
    frame: pd.DataFrame  # every value as text, headers as in the file
    rows: list[int] | None = None  # spreadsheet row of each frame row (header = 1), when known

    @property
    def stem(self) -> str:
        file, _, sheet = self.ref.partition("#")
        return sheet or Path(file).stem


# Exports the kit cannot read but a dealer may send: say what to do instead of skipping them.
OTHER_EXPORTS = {
    ".xls": "old Excel .xls is not read; open it in Excel and save it as .xlsx or .csv",
    ".xlsb": "binary Excel .xlsb is not read; save it as .xlsx or .csv",
    ".ods": "OpenDocument .ods is not read; save it as .xlsx or .csv",
    ".zip": "a zip archive: unzip it into this folder",
}


def read_sources(data_dir: str | Path) -> tuple[list[Source], list[str]]:
    """Every readable export of a data folder, sorted by name (so a re-run is identical),
    and a message for each file that could not be read (onboarding goes on without it)."""
    from .. import formats

    data_dir = Path(data_dir)
    out: list[Source] = []
    unreadable: list[str] = []
    for path in data_files(data_dir):  # hidden files and Office lock files are no data
        if not path.resolve().is_relative_to(data_dir.resolve()):  # a link out of the folder: never read
            unreadable.append(
                f"{path.name}: a link to a file outside the data folder; not read "
                "(a store reads only its own folder: copy the file in)"
            )
            continue
        if path.suffix.lower() in OTHER_EXPORTS:
            unreadable.append(f"{path.name}: {OTHER_EXPORTS[path.suffix.lower()]}")
            continue
        if path.suffix.lower() not in formats.SUFFIXES:  # documentation, PDFs: not data
            continue
        try:
            sheets = formats.sheet_names(path) or [None]
            for sheet in sheets:
                raw = formats.read_raw(path, sheet)
                ref = f"{path.name}#{sheet}" if len(sheets) > 1 else path.name
                if len(raw.frame.columns):
                    out.append(Source(ref, raw.frame, [int(r) for r in raw.rows[:HEADER_SCAN_ROWS]]))
        except formats.FormatError as e:
            if not str(e).endswith("the sheet is empty"):  # a blank extra sheet is no problem
                unreadable.append(str(e))
    return out, unreadable


def _excel_like(sample: pd.Series) -> bool:
    """Excel serial time stamps (46191.4375) carry the time in the fraction."""
    return bool(sample.str.fullmatch(r"\d+\.\d+").mean() > 0.5)


def header_row_hint(src: Source) -> str | None:
    """DMS reports often print title lines above the header ("Customer List - printed 06/18").
    When the first row names no known column but a later one does, say which row to keep."""
    if _known_headers([str(h) for h in src.frame.columns]) >= 2:
        return None
    head = src.frame.head(HEADER_SCAN_ROWS)
    for i, cells in enumerate(head.itertuples(index=False, name=None)):
        line = ",".join("" if pd.isna(c) else str(c) for c in cells)
        for sep in (",", ";", "\t", "|"):
            fields = [f.strip() for f in line.split(sep)]
            if _known_headers(fields) >= 2:
                row = src.rows[i] if src.rows and i < len(src.rows) else i + 2
                shown = ", ".join(repr(f) for f in fields[:3] if f)
                return (
                    f"{src.ref}: the header seems to be on row {row} ({shown}, ...); delete the "
                    f"{plural(row - 1, 'line')} above it in the export, then run onboard again"
                )
    return None


def _known_headers(fields: list[str]) -> int:
    """How many of ``fields`` are a known name of some canonical column."""
    known = _all_column_keys()
    return sum(name_key(f) in known for f in fields if f)


@functools.cache
def _all_column_keys() -> frozenset[str]:
    return frozenset(k for cols in synonyms()["columns"].values() for keys in cols.values() for k in keys)
