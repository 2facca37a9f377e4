"""Enum values and yes/no words of an export in canonical terms (written into ``values:``
only where the loader would not take them as they are).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import schema
from .names import name_key, synonyms


def _value_lookup(table: str, column: str) -> dict[str, str]:
    """Normalised vendor value -> canonical value for one enum column."""
    canon = synonyms()["values"].get(f"{table}.{column}", {})
    lookup: dict[str, str] = {}
    for value, keys in canon.items():
        for k in keys:
            lookup.setdefault(k, value)
    return lookup


@dataclass(frozen=True)
class ValueMatch:
    table: str
    column: str
    theirs: str
    ours: str | bool | None  # None: not recognised, a manual decision


def recognise_values(table: str, column: str, values: pd.Series) -> list[ValueMatch]:
    """Distinct values of one enum or yes/no column that the loader would not take as they
    are, each with the canonical value recognised (None when not recognised)."""
    from ..formats import FALSE_WORDS, TRUE_WORDS

    col = schema.TABLES[table].column(column)
    if col.kind == "bool":
        accepts = lambda v: v.strip().lower() in (*TRUE_WORDS, *FALSE_WORDS)  # noqa: E731
        lookup = {k: ("true" if v else "false") for k, v in synonyms()["booleans"].items()}
    else:
        accepts = lambda v: _loader_accepts(v, col.allowed)  # noqa: E731
        lookup = _value_lookup(table, column)
    text = values.dropna().astype("string").str.strip().unique()  # vectorised: exports have millions of rows
    distinct = sorted(set(text.tolist()) - {""})
    return [ValueMatch(table, column, v, lookup.get(name_key(v))) for v in distinct if not accepts(v)]


def _loader_accepts(value: str, allowed: tuple[str, ...]) -> bool:
    """True when the loader takes the value as it is: it ignores case, spaces and punctuation
    ("No Show" is no_show), so only other words need a ``values:`` entry."""
    from ..formats import normalize_header

    return normalize_header(value) in {normalize_header(a) for a in allowed}
