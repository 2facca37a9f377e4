"""The table ``ownercomm onboard`` prints: each canonical column, what was found, how sure,
what to edit; then values, decisions and unused columns.
"""

from __future__ import annotations


import yaml

from .. import schema
from .document import Result


def summary(result: Result) -> str:
    """The table the command prints: each canonical column, what was found, how sure, what to edit."""
    onb = result.onboarding
    lines = [f"Wrote {result.out}", _counts(result), ""]
    width = (15, 22, 28, 10)
    head = ("table", "column", "found as", "how sure")
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, width)) + "  if it guessed wrong")
    lines.append("  ".join("-" * w for w in width) + "  " + "-" * 20)
    found = {t.table: t for t in onb.tables}
    for table in schema.TABLES:
        if table not in found:
            need = "REQUIRED: " if table in schema.REQUIRED_TABLES else ""
            lines.append(f"{table.ljust(width[0])}  (no file found){' ' * 30}{need}name its file in files.{table}")
            continue
        tm = found[table]
        lines.append(f"{table.ljust(width[0])}  <- {tm.source}  ({tm.how})")
        for c in onb.columns:
            if c.table != table:
                continue
            cells = ("", c.column, c.source if c.source is not None else "not found", c.how)
            cells = tuple(_cut(str(v), w) for v, w in zip(cells, width))
            lines.append("  ".join(v.ljust(w) for v, w in zip(cells, width)) + "  " + c.note)
    if onb.values:
        lines += ["", "Values (written into values: where they differ from the canonical ones):"]
        for v in onb.values:
            lines.append(f"  {v.table}.{v.column}: {v.theirs!r} -> {'NOT RECOGNISED' if v.ours is None else v.ours}")
    notes = list(onb.decisions) + result.unreadable
    if result.timezone_guessed:
        notes.append(f"timezone: guessed {yaml.safe_load(result.text).get('timezone')}; give --timezone or edit it")
    if notes:
        lines += ["", "Needs a manual decision:"] + [f"  - {n}" for n in notes]
    if onb.unused_columns:
        lines += ["", "Columns read into no canonical column (map one in mapping: if the kit should use it):"]
        lines += [f"  - {u.text}" for u in onb.unused_columns]
    lines += [
        "",
        f"Next: ownercomm validate --params {result.out}   (then the data-quality notebook, "
        "notebooks/data_quality.ipynb, with the same file)",
    ]
    return "\n".join(lines)


def _counts(result: Result) -> str:
    """One line to read first: how much was recognised and how surely. An export column read
    into nothing is a thing to decide (map it, or leave it), so never "0 things to decide"
    while some went unused."""
    onb = result.onboarding
    cols = [c for c in onb.columns if c.source is not None]
    how = {h: sum(c.how == h for c in cols) for h in ("yours", "exact", "synonym", "fuzzy", "content", "words")}
    detail = ", ".join(f"{n} {h}" for h, n in how.items() if n)
    decisions = len(onb.decisions) + len(result.unreadable) + int(result.timezone_guessed)
    unused = len(onb.unused_columns)
    translated = sum(v.ours is not None for v in onb.values)
    return (
        f"Recognised {len(onb.tables)} of {len(schema.TABLES)} tables and {len(cols)} of {len(onb.columns)} "
        f"columns in them ({detail}); {_count(translated, 'value')} translated; "
        + (
            f"{_count(decisions + unused, 'thing')} to decide, of which {_count(unused, 'export column')} not used."
            if unused
            else f"{_count(decisions, 'thing')} to decide; 0 export columns not used."
        )
    )


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
