"""Which export is which canonical table: by file or sheet name, by headers, and by values."""

from __future__ import annotations

from dataclasses import dataclass


from .. import schema
from .columns import recognise_columns
from .names import name_key, synonyms
from .sources import Source


@dataclass(frozen=True)
class TableMatch:
    table: str
    source: str  # Source.ref
    how: str  # "file name", "file name and content" or "content"
    score: float


def _name_score(stem: str, table: str) -> float:
    """How well a file or sheet name names a table: the longest table synonym it contains,
    and on a tie the one nearer the end ("customer vehicles" are vehicles, "vehicle sales" sales)."""
    key = name_key(stem)
    best = (0, 0)
    for syn in synonyms()["tables"][table]:
        if key == syn:
            return 2.0
        at = key.rfind(syn)
        if at >= 0:
            best = max(best, (len(syn), at + len(syn)))
    return 1.0 + best[0] / 100 + best[1] / 10_000 if best[0] >= 3 else 0.0


def _header_hits(headers: list[str], table: str) -> tuple[int, int]:
    """(required columns found, columns found) among a file's headers, by exact synonym."""
    keys = {name_key(h) for h in headers}
    found = [c for c, syns in synonyms()["columns"][table].items() if keys.intersection(syns)]
    required = schema.TABLES[table].required_columns
    return sum(c in found for c in required), len(found)


def recognise_tables(sources: list[Source]) -> list[TableMatch]:
    """Each canonical table to at most one source: name first, content to decide and confirm.

    A source qualifies for a table by its name, or by its headers holding every required
    column of the table when that table is the one its headers match best (every export
    carries a customer id: a sales file is no customers table). The best scores are
    assigned first, one table per source.
    """
    candidates = [c for i, src in enumerate(sources) for c in _candidates(i, src)]
    chosen: dict[str, TableMatch] = {}
    used: set[str] = set()
    for score, _, table, ref, how in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if table in chosen or ref in used:
            continue
        chosen[table] = TableMatch(table, ref, how, round(score, 3))
        used.add(ref)
    return [chosen[t] for t in schema.TABLES if t in chosen]


def _candidates(i: int, src: Source) -> list[tuple[float, int, str, str, str]]:
    """(score, source index, table, ref, how) of each table one source qualifies for."""
    headers = [str(h) for h in src.frame.columns]
    content = {}
    for table, spec in schema.TABLES.items():
        req, found = _header_hits(headers, table)
        n_req = len(spec.required_columns)
        content[table] = (req == n_req, req / n_req * 2 + found / len(spec.columns))
    best = max(score for _, score in content.values())
    out = []
    for table in schema.TABLES:
        by_name = _name_score(src.stem, table)
        complete, by_content = content[table]
        if not by_name and not (complete and by_content == best):
            continue
        how = "file name and content" if by_name and complete else "file name" if by_name else "content"
        # a name alone is weaker than full required columns; both together win
        out.append((by_name + by_content, i, table, src.ref, how))
    return out


TABLE_BY_VALUES_MIN = 0.5  # share of a table's columns its values must show to be taken for it


def recognise_tables_by_values(sources: list[Source], matched: list[TableMatch]) -> list[TableMatch]:
    """Tables still missing, found among sources neither name nor headers gave to a table
    ("Cust Export" with "Owner Acct", "Cust Email Addr"...): the table whose columns the
    source's values show best, with every required column among them and at least
    TABLE_BY_VALUES_MIN of its columns. One table per source, the best fits first."""
    taken = {m.source for m in matched}
    missing = [t for t in schema.TABLES if t not in {m.table for m in matched}]
    candidates = []
    for i, src in enumerate(sources):
        if src.ref in taken or not len(src.frame.columns):
            continue
        for table in missing:
            spec = schema.TABLES[table]
            got = {c.column for c in recognise_columns(table, src.frame) if c.source is not None}
            share = len(got) / len(spec.columns)
            if set(spec.required_columns) <= got and share >= TABLE_BY_VALUES_MIN:
                candidates.append((share, len(got), i, table, src.ref))
    out = []
    for share, _, _, table, ref in sorted(candidates, key=lambda c: (-c[0], -c[1], c[2], c[3])):
        if table in {m.table for m in out} or ref in {m.source for m in out}:
            continue
        out.append(TableMatch(table, ref, "content", round(share, 3)))
    return out


def looks_like(src: Source) -> str | None:
    """The table a source would be taken for on its own (for one left over: a second export
    of a table already read from another file)."""
    best = sorted(_candidates(0, src), key=lambda c: (-c[0], c[2]))
    return best[0][2] if best else None
