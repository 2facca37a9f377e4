"""Header names: normalising them, the synonym tables (``assets/synonyms.yaml``) and the telling words of a header."""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path
from typing import Literal

import yaml

from .. import schema


SYNONYMS_FILE = Path(__file__).resolve().parents[1] / "assets" / "synonyms.yaml"
Sureness = Literal["yours", "exact", "synonym", "fuzzy", "content", "words", "not found"]


def name_key(name: object) -> str:
    """A header, file name or value compared ignoring case, spaces, accents and punctuation.

    "#", "number", "nbr" and "num" read as "no" and "&" as "and": "Cust #", "Cust No" and
    "Cust Nbr" are one header, and "F&I" is "F and I".
    """
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = text.lower().replace("#", " no ").replace("&", " and ")
    text = NUMBER_WORDS.sub("no", text)  # "RO Number", "RO Nbr", "RO Num" and "RO #" are one header
    return re.sub(r"[^a-z0-9]+", "", text)


NUMBER_WORDS = re.compile(r"(?<![a-z])(?:number|nbr|num)(?![a-z])")


@functools.cache
def synonyms() -> dict:
    """The synonym tables, keys normalised with :func:`name_key`, order kept (earlier wins)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
    doc = yaml.load(SYNONYMS_FILE.read_text(encoding="utf-8"), Loader=loader)
    common = doc.get("common", {})
    columns: dict[str, dict[str, list[str]]] = {}
    for tname, table in schema.TABLES.items():
        own = doc["columns"].get(tname, {})
        columns[tname] = {}
        for col in table.column_names:
            names = [col, *own.get(col, []), *common.get(col, [])]
            columns[tname][col] = _unique(name_key(n) for n in names)
    negated = {
        t: {c: _unique(name_key(n) for n in names) for c, names in cols.items()}
        for t, cols in (doc.get("negated") or {}).items()
    }
    values = {}
    for ref, canon in doc["values"].items():
        values[ref] = {c: _unique(name_key(v) for v in [c, *names]) for c, names in canon.items()}
    tables = {t: _unique(name_key(n) for n in [t, *names]) for t, names in doc["tables"].items()}
    booleans = {word: value == "true" for value, words in doc["booleans"].items() for word in map(name_key, words)}
    whole_name = _unique(name_key(n) for n in doc.get("whole_name", []))
    # word stems of every name of a column, for the name hint of a header no list knows
    words = {
        tname: {
            col: frozenset(
                w
                for n in [col, *doc["columns"].get(tname, {}).get(col, []), *common.get(col, [])]
                for w in name_stems(n)
            )
            for col in table.column_names
        }
        for tname, table in schema.TABLES.items()
    }
    return {
        "tables": tables,
        "columns": columns,
        "negated": negated,
        "values": values,
        "booleans": booleans,
        "whole_name": whole_name,
        "words": words,
    }


# Words too common in headers to tell columns apart ("Date", "No", "Customer").
GENERIC_WORDS = frozenset(
    {
        "date",
        "dt",
        "time",
        "stamp",
        "no",
        "id",
        "num",
        "number",
        "nbr",
        "code",
        "key",
        "the",
        "of",
        "at",
        "on",
        "by",
        "cust",
        "customer",
        "custo",
        "owner",
        "buyer",
        "client",
        "contact",
        "vehicle",
        "veh",
        "and",
        "or",
        "to",
        "is",
        "flag",
        "ind",
        "indicator",
        "value",
        "amt",
        "type",
        "status",
        "name",
        "s",
    }
)
# Words that turn a yes/no column around ("Do Not Text", "Opted Out", "DNC").
NEGATION_WORDS = frozenset(
    {
        "not",
        "no",
        "dont",
        "out",
        "optout",
        "unsub",
        "unsubscribe",
        "unsubscribed",
        "dnc",
        "dne",
        "dnt",
        "block",
        "blocked",
        "stop",
        "decline",
        "declined",
        "refuse",
        "refused",
        "revoke",
        "revoked",
        "never",
        "suppress",
        "suppressed",
    }
)


def header_words(name: object) -> list[str]:
    """A header's words: camelCase and punctuation split, lower case ("OptInSMS" -> opt, in, sms)."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name)).replace("#", " no ").replace("&", " and ")
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def name_stems(name: object) -> set[str]:
    """Stems (first four letters) of a header's telling words: "Texting Permitted" ~ "Text OK"."""
    return {w[:4] for w in header_words(name) if w not in GENERIC_WORDS}


def _unique(keys) -> list[str]:
    return list(dict.fromkeys(k for k in keys if k))
