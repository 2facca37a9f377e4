"""A whole folder recognised: tables, columns, values, the columns nothing reads (with their
best guess), and what needs the consultant's decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import schema, shapes
from ..shapes import CONTENT_MIN
from .columns import ColumnMatch, FIRST_NAMES, _Profiles, _fits, _hint, _note, _plain_text, recognise_columns
from .sources import Source, _excel_like, header_row_hint
from .tables import TableMatch, looks_like, recognise_tables, recognise_tables_by_values
from .values import ValueMatch, recognise_values


@dataclass(frozen=True)
class UnusedColumn:
    """A column of an export that no canonical column reads, with what it may be."""

    table: str
    source: str  # the export (Source.ref)
    header: str
    guess: str  # "a preferred channel (customers.preferred_channel)", or what its values look like

    @property
    def text(self) -> str:
        return f"{self.source}: column {self.header!r} is not used; {self.guess}"


SHAPE_WORDS = (  # what a column's values look like, in words, when no column fits it
    ("email", "e-mail addresses"),
    ("phone", "phone numbers"),
    ("vin", "VINs"),
    ("tz", "time zones"),
    ("state", "US states"),
    ("zip", "ZIP codes"),
    ("yes_no", "yes/no values"),
    ("timestamp", "date and time"),
    ("date", "dates"),
    ("year", "years"),
    ("money", "amounts"),
    ("integer", "whole numbers"),
)


def _unused_columns(tm: "TableMatch", frame: pd.DataFrame, found: list[ColumnMatch], known: dict) -> list[UnusedColumn]:
    """Every header of the export that no column reads, with the best guess of what it holds:
    the columns of its table its values fit (and its name points at), else its values' shape."""
    taken = {c.source for c in found if c.source is not None}
    spec = schema.TABLES[tm.table]
    profiles = _Profiles(frame)
    out = []
    for header in map(str, frame.columns):
        if header in taken:
            continue
        p = profiles[header]
        if p.empty:
            out.append(UnusedColumn(tm.table, tm.source, header, "it is empty"))
            continue
        fits = [c.name for c in spec.columns if _fits(tm.table, c, header, frame, profiles, known)]
        named = sorted(((_hint(tm.table, c, header), c) for c in spec.column_names), reverse=True)
        mapped = {c.column: c.source for c in found if c.source is not None}
        if fits:
            fits.sort(key=lambda c: (c in mapped, [-x for x in _hint(tm.table, c, header)]))
            best = fits[0]
            more = f" (or {', '.join(fits[1:3])})" if len(fits) > 1 else ""
            already = f", already read from {mapped[best]!r}" if best in mapped else ""
            guess = (
                f"its values look like {tm.table}.{best}{more}{already}; to use it, map "
                f"{{{header!r}: {best}}} in mapping.{tm.table}"
            )
        elif named and named[0][0][0] > 0:
            guess = f"its name suggests {tm.table}.{named[0][1]}, but its values do not fit; check the export"
        else:
            what = next((words for attr, words in SHAPE_WORDS if getattr(p, attr)), "text")
            kinds = ("id",) if p.id_like and p.digits else ("str", "list")
            if kinds == ("id",):
                what = "ids"
            open_text = [c.name for c in spec.columns if c.kind in kinds and c.name not in mapped]
            if what in ("text", "ids") and open_text:
                guess = (
                    f"it holds {what}; if it is the {_either(open_text)}, map it in mapping.{tm.table} "
                    f"(e.g. {{{header!r}: {open_text[0]}}})"
                )
            else:
                guess = f"it holds {what}, which no column of {tm.table} takes"
        out.append(UnusedColumn(tm.table, tm.source, header, guess))
    return out


def _models_across_tables(tables, by_ref, columns):
    """Model names have no shape, but the same models are sold, owned and offered: a text column
    no column reads, whose values are (nearly all) another table's models or its twin's, is the model."""
    open_tables = {c.table for c in columns if c.column == "model" and c.source is None}
    if not open_tables:
        return columns
    source = {t.table: t.source for t in tables}
    taken = {(c.table, c.source) for c in columns if c.source is not None}

    def distinct(table, header):
        return frozenset(shapes.sample(by_ref[source[table]].frame[header]).str.casefold().unique().tolist())

    cands = {
        t.table: [
            (h, distinct(t.table, h))
            for h in map(str, by_ref[t.source].frame.columns)
            if (t.table, h) not in taken and _plain_text(shapes.profile(by_ref[t.source].frame[h]))
        ]
        for t in tables
        if "model" in schema.TABLES[t.table].column_names
    }
    known = {c.table: distinct(c.table, c.source) for c in columns if c.column == "model" and c.source is not None}

    def known_models(table):
        return [v for t, v in known.items() if t != table]

    picked: dict[str, str] = {}
    for table in open_tables:
        # the other tables' models together: a store services models it never sold, and sells some it never offered
        models = frozenset().union(*known_models(table))
        hits = [h for h, v in cands.get(table, []) if v and len(v & models) >= CONTENT_MIN * len(v)]
        if not hits:  # no other table's model column is known: a text column of another table's candidates
            others = [v for t, cs in cands.items() if t != table for _, v in cs]
            hits = [
                h for h, v in cands.get(table, []) if v and any(len(v & o) >= CONTENT_MIN * len(v) for o in others if o)
            ]
        if len(hits) == 1:
            picked[table] = hits[0]
    return [
        ColumnMatch(c.table, c.column, picked[c.table], "content", _note(c.table, c.column, picked[c.table], "content"))
        if c.column == "model" and c.table in picked
        else c
        for c in columns
    ]


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


@dataclass
class Onboarding:
    """What onboarding recognised in a data folder."""

    tables: list[TableMatch]
    columns: list[ColumnMatch]
    values: list[ValueMatch]
    unused_sources: list[str] = field(default_factory=list)
    unused_like: dict[str, str] = field(default_factory=dict)  # left-over source -> table it looks like
    decisions: list[str] = field(default_factory=list)  # manual decisions, in plain words
    unused_columns: list[UnusedColumn] = field(default_factory=list)  # read from no column

    def files_block(self) -> dict[str, str]:
        """table -> source, only where the loader would not find it by its own name."""
        refs = [m.source for m in self.tables] + self.unused_sources
        return {m.table: m.source for m in self.tables if not _is_default_file(m.table, m.source, refs)}

    def mapping_block(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for c in self.columns:
            if c.source is not None and not _loader_matches(c.source, c.column):
                out.setdefault(c.table, {})[c.source] = c.column
        return out

    def values_block(self) -> dict[str, dict[str, str]]:
        """canonical column -> {their value: canonical value} (the dealer file's ``values:``)."""
        out: dict[str, dict[str, str]] = {}
        for v in self.values:
            if v.ours is not None:
                ours = {"true": True, "false": False}.get(v.ours, v.ours) if isinstance(v.ours, str) else v.ours
                out.setdefault(v.column, {})[v.theirs] = ours
        return out


def _loader_matches(header: str, column: str) -> bool:
    """The loader takes a header equal to the canonical name, case and punctuation ignored."""
    from ..formats import normalize_header

    return normalize_header(header) == normalize_header(column)


def _is_default_file(table: str, ref: str, refs: list[str]) -> bool:
    """The loader finds ``Customers.csv`` for customers by itself, unless two files look alike."""
    file, _, sheet = ref.partition("#")
    if sheet or not _loader_matches(Path(file).stem, table):
        return False
    return sum(_loader_matches(Path(r.partition("#")[0]).stem, table) for r in refs) == 1


def recognise(sources: list[Source], manual: dict | None = None) -> Onboarding:
    """Tables, columns and values of a folder's exports. ``manual``: an existing dealer file's
    ``files``/``mapping``/``values`` blocks, which win over guesses."""
    manual = manual or {}
    by_ref = {s.ref: s for s in sources}
    guessed = recognise_tables(sources)
    guessed += recognise_tables_by_values(sources, guessed)
    guessed = [m for t in schema.TABLES for m in guessed if m.table == t]
    tables = _tables_with_manual(guessed, manual.get("files") or {}, by_ref)
    columns: list[ColumnMatch] = []
    values: list[ValueMatch] = []
    hints: list[str] = []
    manual_values = manual.get("values") or {}
    known: dict[str, frozenset[str]] = {}
    unused_columns: list[UnusedColumn] = []
    for tm in tables:
        frame = by_ref[tm.source].frame
        found = recognise_columns(tm.table, frame, (manual.get("mapping") or {}).get(tm.table), known)
        columns += found
        key = schema.TABLES[tm.table].key
        keyed = next((c.source for c in found if c.column == key and c.source in frame.columns), None)
        if keyed is not None:
            known[f"{tm.table}.{key}"] = frozenset(shapes.sample(frame[keyed]))
        first = next((c.source for c in found if c.column == "first_name" and c.source in frame.columns), None)
        if tm.table == "customers" and first is not None:
            known[FIRST_NAMES] = frozenset(shapes.sample(frame[first]).str.casefold())
        hints += [h for cm in found if (h := _date_only_hint(cm, frame))]
        for cm in found:
            col = schema.TABLES[tm.table].column(cm.column)
            if col.kind not in ("enum", "bool") or cm.source is None or cm.source not in frame.columns:
                continue
            for vm in recognise_values(tm.table, cm.column, frame[cm.source]):
                given = manual_values.get(cm.column) or {}
                if vm.theirs in given:  # the consultant's word wins (kept as written: true, not "true")
                    vm = ValueMatch(vm.table, vm.column, vm.theirs, given[vm.theirs])
                values.append(vm)
    columns = _models_across_tables(tables, by_ref, columns)
    for tm in tables:
        unused_columns += _unused_columns(
            tm, by_ref[tm.source].frame, [c for c in columns if c.table == tm.table], known
        )
    used = {t.source for t in tables}
    onb = Onboarding(tables, columns, values, [s.ref for s in sources if s.ref not in used])
    onb.unused_columns = unused_columns
    onb.unused_like = {s.ref: t for s in sources if s.ref not in used and (t := looks_like(s))}
    # a title line above the header: only where the header row named (almost) no column
    recognised = {tm.source for tm in tables if sum(c.table == tm.table and c.source is not None for c in columns) >= 2}
    onb.decisions = (
        [hint for s in sources if s.ref not in recognised and (hint := header_row_hint(s))] + hints + _decisions(onb)
    )
    return onb


TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}")
TIME_ONLY = re.compile(r"^\s*\d{1,2}:\d{2}(:\d{2})?\s*([AaPp][Mm])?\s*$")


def _date_only_hint(cm: ColumnMatch, frame: pd.DataFrame) -> str | None:
    """A time stamp column holding dates only: rules that need the hour (quiet_hours) and
    same-day order would read every time as midnight. DMS exports often split a time stamp
    into a date column and a time column; the loader reads one column, so say so."""
    col = schema.TABLES[cm.table].column(cm.column)
    if col.kind != "timestamp" or cm.source is None or cm.source not in frame.columns:
        return None
    sample = shapes.sample(frame[cm.source])
    if sample.empty or sample.str.contains(TIME_OF_DAY).mean() > 0.05 or _excel_like(sample):
        return None
    times = [
        str(h)
        for h in frame.columns
        if str(h) != cm.source and shapes.sample(frame[h]).str.match(TIME_ONLY).mean() >= 0.9
    ]
    where = f" {times[0]!r} seems to hold the time of day:" if times else ""
    why = " (quiet hours cannot be checked)" if cm.column == "sent_at" else ""
    return (
        f"{cm.table}.{cm.column}: {cm.source!r} holds dates without a time of day, so times read as "
        f"midnight{why}.{where} put date and time in one column (e.g. 06/18/2026 10:30 PM) in the export"
    )


def _tables_with_manual(guessed: list[TableMatch], files: dict, by_ref: dict) -> list[TableMatch]:
    """The consultant's files block wins; a source they assigned is not guessed for another table."""
    lower = {ref.lower(): ref for ref in by_ref}
    mine = {}
    for table, spec in files.items():
        ref = lower.get(_ref_text(spec).lower())
        if ref is None and "#" not in _ref_text(spec):  # a workbook named without its sheet: the first one
            ref = next((r for r in by_ref if r.lower().startswith(_ref_text(spec).lower() + "#")), None)
        if ref is not None:
            mine[table] = TableMatch(table, ref, "yours", 0.0)
    taken = {m.source for m in mine.values()}
    out = dict(mine)
    for m in guessed:
        if m.table not in out and m.source not in taken:
            out[m.table] = m
    return [out[t] for t in schema.TABLES if t in out]


def _ref_text(spec) -> str:
    """A files entry as "file" or "file#sheet" (the loader also takes {file: ..., sheet: ...})."""
    if isinstance(spec, dict):
        return f"{spec.get('file')}#{spec['sheet']}" if spec.get("sheet") else str(spec.get("file"))
    return str(spec)


def _decisions(onb: Onboarding) -> list[str]:
    """What onboarding could not settle, in plain words, each with what to edit."""
    return _missing_decisions(onb) + _value_decisions(onb.values) + _source_decisions(onb)


def _missing_decisions(onb: Onboarding) -> list[str]:
    found = {m.table for m in onb.tables}
    out = [
        f"Required table {t} not found: name its file in files.{t}" for t in schema.REQUIRED_TABLES if t not in found
    ]
    for c in onb.columns:
        if c.how == "not found" and (c.note.startswith("NEEDS") or schema.TABLES[c.table].column(c.column).required):
            out.append(f"{c.table}.{c.column}: {c.note}")
    return out


def _value_decisions(values: list[ValueMatch]) -> list[str]:
    out = []
    by_word: dict[tuple[str, str], dict[str, object]] = {}
    for v in values:
        if v.ours is None:
            allowed = schema.TABLES[v.table].column(v.column).allowed or ("true", "false")
            out.append(
                f"{v.table}.{v.column}: value {v.theirs!r} not recognised; add it to values.{v.column} "
                f"as one of {', '.join(allowed)}"
            )
        else:
            by_word.setdefault((v.column, v.theirs), {})[v.table] = v.ours
    for (col, theirs), by_table in sorted(by_word.items()):
        if len(set(map(str, by_table.values()))) > 1:  # values: is per column name, not per table
            means = " but ".join(f"{ours} in {table}" for table, ours in by_table.items())
            out.append(
                f"values.{col}: {theirs!r} means {means}; values: applies to the {col} column of every "
                f"table, so change the word in one of the exports"
            )
    return out


def _source_decisions(onb: Onboarding) -> list[str]:
    out = []
    read_from = {m.table: m.source for m in onb.tables}
    for ref in onb.unused_sources:
        like = onb.unused_like.get(ref)
        if like in read_from:
            out.append(
                f"{ref} also looks like {like}, already read from {read_from[like]}: the kit reads one file "
                f"per table, so combine them into one (or name the right one in files.{like})"
            )
        else:
            out.append(f"{ref}: not recognised as any table; name it in files: if it is one")
    return out


def recognise_folder(sources: list[Source], existing: dict | None = None) -> Onboarding:
    """:func:`recognise` with an existing dealer file's blocks winning, each entry labelled
    with how sure the guess is when the entry is just what onboarding would guess anyway."""
    guessed = recognise(sources)
    if not existing or not any(existing.values()):
        return guessed
    onb = recognise(sources, existing)
    guess_of = {(c.table, c.column): c for c in guessed.columns}
    table_guess = {t.table: t for t in guessed.tables}
    onb.columns = [
        guess_of[(c.table, c.column)]
        if c.how == "yours" and guess_of.get((c.table, c.column), c).source == c.source
        else c
        for c in onb.columns
    ]
    onb.tables = [
        table_guess[t.table] if t.how == "yours" and table_guess.get(t.table, t).source == t.source else t
        for t in onb.tables
    ]
    return onb
