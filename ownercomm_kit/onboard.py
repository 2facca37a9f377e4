"""Consultant onboarding (SPEC §3, issue 7): recognise a dealer's own exports and write
the dealer file's ``files``, ``mapping`` and ``values`` blocks.

Recognition works on the raw exports read as text (``formats.read_raw``) and says how
sure each guess is:
- tables by file (or sheet) name, then by which canonical columns their headers match;
- columns by header: the canonical name, then a synonym of ``assets/synonyms.yaml``
  (case, spaces and punctuation ignored), then a close spelling (fuzzy), then by content
  (emails, VINs, IANA time zones, enum values); a generic header ("Type") goes where its
  values fit;
- enum values and yes/no words by the same synonym tables, written into ``values:`` only
  where the loader would not take them as they are.

Never guessed, reported as a decision with the edit to make: columns meaning the opposite
of a consent ("Do Not Email"), whole-name columns, unknown values, a word meaning two
values in two tables, a second export of one table, title lines above a header.

The dealer file is rewritten whole, the same bytes for the same input: the consultant's
own files/mapping/values entries win over guesses and are kept with their comments, as are
the file's other keys (dealer_name, rule overrides).
"""
from __future__ import annotations

import difflib
import functools
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml

from . import outputs, paths, schema, shapes
from .datafolder import data_files
from .dealer_file import BLOCKS, OWN_COMMENT, merge_block, read_comments, render_dealer_file
from .shapes import CONTENT_MIN

SYNONYMS_FILE = Path(__file__).resolve().parent / "assets" / "synonyms.yaml"
Sureness = Literal["yours", "exact", "synonym", "fuzzy", "content", "words", "not found"]

FUZZY_MIN = 0.86      # difflib ratio of normalised headers; below it a header is no match
HEADER_SCAN_ROWS = 20  # rows searched for a header pushed down by report title lines


# --------------------------------------------------------------------------- names


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
            col: frozenset(w for n in [col, *doc["columns"].get(tname, {}).get(col, []), *common.get(col, [])]
                           for w in name_stems(n))
            for col in table.column_names
        }
        for tname, table in schema.TABLES.items()
    }
    return {"tables": tables, "columns": columns, "negated": negated, "values": values, "booleans": booleans,
            "whole_name": whole_name, "words": words}


# Words too common in headers to tell columns apart ("Date", "No", "Customer").
GENERIC_WORDS = frozenset({
    "date", "dt", "time", "stamp", "no", "id", "num", "number", "nbr", "code", "key", "the", "of", "at", "on",
    "by", "cust", "customer", "custo", "owner", "buyer", "client", "contact", "vehicle", "veh", "and", "or",
    "to", "is", "flag", "ind", "indicator", "value", "amt", "type", "status", "name", "s",
})
# Words that turn a yes/no column around ("Do Not Text", "Opted Out", "DNC").
NEGATION_WORDS = frozenset({"not", "no", "dont", "out", "optout", "unsub", "unsubscribe", "unsubscribed",
                            "dnc", "dne", "dnt", "block", "blocked", "stop", "decline", "declined", "refuse",
                            "refused", "revoke", "revoked", "never", "suppress", "suppressed"})


def header_words(name: object) -> list[str]:
    """A header's words: camelCase and punctuation split, lower case ("OptInSMS" -> opt, in, sms)."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name)).replace("#", " no ").replace("&", " and ")
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def name_stems(name: object) -> set[str]:
    """Stems (first four letters) of a header's telling words: "Texting Permitted" ~ "Text OK"."""
    return {w[:4] for w in header_words(name) if w not in GENERIC_WORDS}


def _unique(keys) -> list[str]:
    return list(dict.fromkeys(k for k in keys if k))


# --------------------------------------------------------------------------- sources


@dataclass
class Source:
    """One table-shaped export: a file, or one sheet of a workbook."""

    ref: str            # as written in the dealer file's files block: "x.csv" or "x.xlsx#Sheet"
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
    from . import formats

    data_dir = Path(data_dir)
    out: list[Source] = []
    unreadable: list[str] = []
    for path in data_files(data_dir):  # hidden files and Office lock files are no data
        if not path.resolve().is_relative_to(data_dir.resolve()):  # a link out of the folder: never read
            unreadable.append(f"{path.name}: a link to a file outside the data folder; not read "
                              "(a store reads only its own folder: copy the file in)")
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


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class TableMatch:
    table: str
    source: str         # Source.ref
    how: str            # "file name", "file name and content" or "content"
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


# --------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class ColumnMatch:
    table: str
    column: str                 # canonical column
    source: str | None          # their header, None when not found
    how: Sureness
    note: str = ""              # what to check or edit


def recognise_columns(
    table: str, frame: pd.DataFrame, manual: dict[str, str] | None = None, known: dict | None = None
) -> list[ColumnMatch]:
    """Canonical columns of ``table`` found among ``frame``'s headers (and values).

    ``manual`` is the consultant's own mapping for the table ({their column: canonical}):
    it wins over every guess. ``known``: ids of tables recognised before ("customers.customer_id"
    -> their values), which give away the columns referring to them.
    """
    spec = schema.TABLES[table]
    headers = [str(h) for h in frame.columns]
    found: dict[str, tuple[str, Sureness]] = {}
    used: set[str] = set()
    for theirs, ours in (manual or {}).items():
        if ours in spec.column_names and ours not in found:
            found[ours] = (str(theirs), "yours")
            used.add(str(theirs))

    negated = synonyms()["negated"].get(table, {})
    # a header naming the opposite of a consent is kept for the manual decision, never guessed
    opposites = {h for h in headers if any(name_key(h) in keys for keys in negated.values())}
    used |= opposites - {t for t, _ in found.values()}
    ranked = _by_synonym(table, headers)
    _assign(ranked, found, used)
    if _check_enum_values(table, frame, found):
        _assign(ranked, found, used)  # the column it left may have another synonym
    profiles = _Profiles(frame)
    spelled = [c for c in _by_spelling(table, headers, found, used)
               if not _contradicts(table, spec.column(c[3]), c[4], frame, profiles, known or {})]
    _assign(spelled, found, used)
    _by_content(table, frame, found, used, known, profiles)

    used -= opposites - {theirs for theirs, how in found.values() if how == "yours"}
    out = []
    for col in spec.column_names:
        if col in found:
            theirs, how = found[col]
            out.append(ColumnMatch(table, col, theirs, how, _note(table, col, theirs, how)))
            continue
        opposite = [h for h in headers if h not in used and name_key(h) in negated.get(col, [])]
        whole = [h for h in headers if h not in used and name_key(h) in synonyms()["whole_name"]]
        if opposite:
            out.append(ColumnMatch(table, col, None, "not found", _negated_note(table, col, opposite[0])))
        elif whole and col in ("first_name", "last_name") and table == "customers":
            out.append(ColumnMatch(table, col, None, "not found", _whole_name_note(whole[0])))
        else:
            out.append(ColumnMatch(table, col, None, "not found", _missing_note(table, col)))
    return out


def _by_synonym(table: str, headers: list[str]) -> list[tuple]:
    """(rank, ...) candidates: the canonical name (rank 0, "exact") then synonyms in their order."""
    ranked = []
    for ci, (col, keys) in enumerate(synonyms()["columns"][table].items()):
        for hi, h in enumerate(headers):
            k = name_key(h)
            if k in keys:
                rank = keys.index(k)
                ranked.append((rank, ci, hi, col, h, "exact" if rank == 0 else "synonym"))
    return sorted(ranked)


def _check_enum_values(table: str, frame: pd.DataFrame, found: dict) -> bool:
    """A generic header ("Type", "Status") taken for one enum column whose values are another's
    ("Service Reminder" is a category, not a channel) moves to the column its values fit.
    True when one moved."""
    enums = [c.name for c in schema.TABLES[table].columns if c.kind == "enum"]
    moved = False
    for col in enums:
        header, how = found.get(col, (None, None))
        if how != "synonym" or header not in frame.columns or _fit(frame[header], table, col) >= 0.5:
            continue
        better = [o for o in enums if o not in found and _fit(frame[header], table, o) >= CONTENT_MIN]
        if better:
            del found[col]
            found[better[0]] = (header, "content")
            moved = True
    return moved


def _fit(values: pd.Series, table: str, column: str) -> float:
    """Share of a column's distinct values that are (or translate to) values of ``column``."""
    distinct = values.dropna().astype("string").str.strip().unique().tolist()
    distinct = [v for v in distinct if v]
    if not distinct:
        return 1.0  # nothing says otherwise
    allowed = schema.TABLES[table].column(column).allowed
    lookup = _value_lookup(table, column)
    return sum(_loader_accepts(v, allowed) or name_key(v) in lookup for v in distinct) / len(distinct)


def _by_spelling(table: str, headers: list[str], found: dict, used: set) -> list[tuple]:
    """Close spellings ("Custmer Number") of a synonym of a column still missing, best first."""
    fuzzy = []
    for ci, (col, keys) in enumerate(synonyms()["columns"][table].items()):
        if col in found:
            continue
        for hi, h in enumerate(headers):
            if h in used or len(name_key(h)) < 4:
                continue
            ratio = max(difflib.SequenceMatcher(None, name_key(h), k).ratio() for k in keys)
            if ratio >= FUZZY_MIN:
                fuzzy.append((-ratio, ci, hi, col, h, "fuzzy"))
    return sorted(fuzzy)


def _by_content(
    table: str, frame: pd.DataFrame, found: dict, used: set, known: dict | None = None, profiles=None
) -> None:
    """Columns still missing whose values give them away, when no header name did.

    A column is taken by content when its values have the column's shape (an e-mail, a VIN,
    channel words, a ZIP code, money, dates, ids of the customers table ...) and it is the only
    such column, or the only one whose name shares a telling word with the column's names
    ("Texting Permitted" ~ "Text OK"). Yes/no columns are never taken against their meaning
    ("Do Not Text" is no sms_consent). What stays open is listed as an unused column.
    """
    spec = schema.TABLES[table]
    profiles = profiles if profiles is not None else _Profiles(frame)
    missing = [c for c in spec.columns if c.name not in found]
    free = [str(h) for h in frame.columns if str(h) not in used]
    cands = {c.name: [h for h in free if _fits(table, c, h, frame, profiles, known or {})] for c in missing}
    _by_elimination(table, missing, cands, found, used, "content")
    _by_order(table, frame, found, used, cands, profiles)
    _by_elimination(table, missing, cands, found, used, "content")
    # Shapes that leave no doubt about their column (e-mails, VINs, zones, channel words) took
    # the first such column before this pass existed; a second e-mail column still does not
    # make the first one less of an e-mail.
    for c in missing:
        if c.name not in found and _unmistakable(c):
            h = next((h for h in cands[c.name] if h not in used), None)
            if h is not None:
                found[c.name] = (h, "content")
                used.add(h)
    # Text columns (names, models, sources) have no shape: a header whose telling words are a
    # column's own ("Given" ~ "given name") and whose values have no other shape is taken.
    text = [c for c in missing if c.name not in found and c.kind in ("str", "list", "id")]
    words = {c.name: [h for h in free if h not in used and _plain_text(profiles[h])
                      and profiles[h].digits == (c.kind == "id") and _hint(table, c.name, h)[0]]
             for c in text}
    _by_elimination(table, text, words, found, used, "words", by_hint_only=True)


def _by_elimination(table: str, missing, cands: dict, found: dict, used: set, how: str, by_hint_only=False) -> None:
    """Take a column's only candidate header that is no other open column's candidate, or the
    one whose name points at it; repeat while that settles more."""
    changed = True
    while changed:
        changed = False
        open_cols = [c.name for c in missing if c.name not in found]
        for col in open_cols:
            hs = [h for h in cands[col] if h not in used]
            if not hs:
                continue
            rivals = {h: [c for c in open_cols if h in cands[c] and c not in found] for h in hs}
            if not by_hint_only and len(hs) == 1 and rivals[hs[0]] == [col]:
                pick_h = hs[0]
            else:
                pick_h = _by_hint(table, col, hs, rivals)
            if pick_h is not None:
                found[col] = (pick_h, how)
                used.add(pick_h)
                changed = True


def _plain_text(p) -> bool:
    """Values of no recognisable shape (names, models, free text)."""
    return not p.empty and not any((p.email, p.phone, p.vin, p.tz, p.zip, p.yes_no, p.money, p.date, p.integer))


def _contradicts(table: str, col: schema.Column, header: str, frame: pd.DataFrame, profiles, known: dict) -> bool:
    """A close spelling whose values cannot be the column's ("Invoice" amounts are no RO number)."""
    p = profiles[header]
    if p.empty:
        return False
    if col.kind in ("date", "timestamp", "bool", "float") or col.name in ("email", "phone", "vin", "mileage",
                                                                           "model_year", "postal_code"):
        return not _fits(table, col, header, frame, profiles, known)
    if col.kind == "enum":
        return _fit(frame[header], table, col.name) < 0.5
    if col.kind == "id":
        target = _id_target(table, col.name)
        if target is not None and known.get(target):
            return _overlap(frame[header], known[target]) < 0.5
        if col.name == schema.TABLES[table].key:
            return not p.unique or (p.money and not p.integer) or p.date or _refers(frame[header], known)
    return False


class _Profiles(dict):
    """Each header's :class:`shapes.Profile`, computed once when first asked."""

    def __init__(self, frame: pd.DataFrame):
        super().__init__()
        self.frame = frame

    def __missing__(self, header: str):
        extra = frozenset(k for k in synonyms()["booleans"])
        self[header] = p = shapes.profile(self.frame[header], extra)
        return p


def _unmistakable(col: schema.Column) -> bool:
    return col.name in ("email", "referred_email", "phone", "referred_phone", "vin") or col.kind in ("tz", "enum")


POSITIVE_CONSENT = ("email_opt_in", "sms_consent")


def _fits(table: str, col: schema.Column, header: str, frame: pd.DataFrame, profiles, known: dict) -> bool:
    """True when the values of ``header`` have the shape of canonical ``col``."""
    p = profiles[header]
    if p.empty:
        return False
    name = col.name
    if name in ("email", "referred_email"):
        return p.email
    if name in ("phone", "referred_phone"):
        return p.phone
    if name == "vin":
        return p.vin
    if col.kind == "tz":
        return p.tz
    if name == "postal_code":
        return p.zip
    if name == "state":
        return p.state
    if col.kind == "enum":
        return _enum_fits(frame[header], table, col)
    if col.kind == "bool":
        negated = bool(set(header_words(header)) & NEGATION_WORDS)
        return p.yes_no and negated == (name not in POSITIVE_CONSENT)
    if col.kind in ("date", "timestamp"):
        return p.date
    if col.kind == "float":
        return p.money and not p.year and not _refers(frame[header], known)
    if name == "model_year":
        return p.year
    if name in ("salesperson", "referred_name"):
        return _person_names(frame[header], known.get(FIRST_NAMES, frozenset()))
    if name == "mileage":
        return p.odometer and not _refers(frame[header], known)
    if col.kind == "id":
        target = _id_target(table, name)
        if target is not None:
            ids = known.get(target)
            return bool(ids) and p.id_like and _overlap(frame[header], ids) >= CONTENT_MIN
        other_shape = p.vin or p.email or p.phone or p.date or p.yes_no or p.zip or _any_enum(frame[header], table)
        if other_shape or not (p.id_like and p.digits) or _refers(frame[header], known):
            return False
        if name == schema.TABLES[table].key:
            return p.unique and p.filled >= 1.0
        # a grouping id (campaign, household): many values, none on most rows (a store number is no campaign)
        return p.top_share < 0.5
    return False


FIRST_NAMES = "customers.first_name"  # in ``known``: the customers' first names, case folded
PERSON_NAME = re.compile(r"^[^\W\d_][\w'.-]*(?:\s+[^\W\d_][\w'.-]*){1,3}$")


@functools.cache
def _common_first_names() -> frozenset[str]:
    """First names common in the US (faker's en_US and es_MX name lists), case folded."""
    from faker.providers.person.en_US import Provider as English
    from faker.providers.person.es_MX import Provider as Spanish

    names = set()
    for provider in (English, Spanish):
        for attr in ("first_names", "first_names_male", "first_names_female"):
            names.update(getattr(provider, attr, ()) or ())
    return frozenset(n.casefold() for n in names)


def _person_names(values: pd.Series, first_names: frozenset[str]) -> bool:
    """Whole names of people ("Dana Whitfield"): two to four words without digits, the first
    word of most of them a first name, common in the US or one of the store's customers'
    (a salesperson, a referred friend; "Grand Cherokee" is a model)."""
    s = shapes.sample(values)
    if s.empty:
        return False
    shaped = s.str.match(PERSON_NAME).fillna(False).astype(bool)
    if shaped.mean() < CONTENT_MIN:
        return False
    first = s[shaped].str.split().str[0].str.casefold().drop_duplicates()
    return bool(first.isin(first_names | _common_first_names()).mean() >= 0.5)


def _id_target(table: str, column: str) -> str | None:
    """The key a reference column holds ids of ("customers.customer_id")."""
    if column in ("customer_id", "referrer_id", "referred_customer_id") and table != "customers":
        return "customers.customer_id"
    if table == "declined_work" and column == "ro_id":  # work declined on a repair order of the service visits
        return "service_visits.ro_id"
    return schema.TABLES[table].references.get(column)


def _overlap(values: pd.Series, ids: frozenset[str]) -> float:
    s = shapes.sample(values)
    return float(s.isin(ids).mean()) if len(s) else 0.0


def _refers(values: pd.Series, known: dict) -> bool:
    """A column of ids of another table (numeric ids look like amounts and odometers)."""
    return any(_overlap(values, ids) >= CONTENT_MIN for ids in known.values() if ids)


def _any_enum(values: pd.Series, table: str) -> bool:
    """The values are one of the table's enum columns' words (a status, not a key)."""
    return any(_enum_fits(values, table, c) for c in schema.TABLES[table].columns if c.kind == "enum")


def _enum_fits(values: pd.Series, table: str, col: schema.Column) -> bool:
    """Channel, category, status ... words: at least two distinct, nearly all recognised."""
    sample = shapes.sample(values)
    known = _value_lookup(table, col.name)
    distinct = sample.drop_duplicates()
    # a two-value column of "Y"/"N" is no enum; ask for real enum words
    if distinct.size < 2:
        return False
    test = distinct.map(lambda v: name_key(v) in known or _loader_accepts(v, col.allowed))
    return bool(test.mean() >= CONTENT_MIN)


def _hint(table: str, col: str, header: str) -> tuple[int, float]:
    """How many telling words ``header`` shares with the names of ``col``, and what share of the
    header's words that is ("Family" points at last_name more than "Family Unit" does)."""
    stems = name_stems(header)
    hits = len(stems & synonyms()["words"][table][col])
    return (hits, hits / len(stems)) if stems else (0, 0.0)


def _by_hint(table: str, col: str, headers: list[str], rivals: dict[str, list[str]]) -> str | None:
    """The one header among several of the right shape whose name points at ``col`` (and at no
    other column it could also be)."""
    scored = sorted(((_hint(table, col, h), h) for h in headers), reverse=True)
    best, h = scored[0]
    if best[0] == 0 or (len(scored) > 1 and scored[1][0] == best):
        return None
    if any(_hint(table, other, h) >= best for other in rivals[h] if other != col):
        return None
    return h


# Time stamps a row always has, beside ones it may have (a message is sent, maybe opened).
ALWAYS_FILLED = {"communications": "sent_at", "leads": "opened_at", "referrals": "referred_at"}


def _by_order(table: str, frame: pd.DataFrame, found: dict, used: set, cands: dict, profiles) -> None:
    """Date columns of one shape told apart by how rows fill them: the time stamp every row has
    is the event itself (sent_at), and a booking comes before the appointment."""
    col = ALWAYS_FILLED.get(table)
    if col and col not in found:
        full = [h for h in cands.get(col, []) if h not in used and profiles[h].filled >= 1.0]
        if len(full) == 1:
            found[col] = (full[0], "content")
            used.add(full[0])
    if table == "appointments" and "booked_at" not in found and "scheduled_for" not in found:
        hs = [h for h in cands.get("booked_at", []) if h not in used and profiles[h].filled >= 1.0]
        if len(hs) == 2:
            a, b = (pd.to_datetime(frame[h], errors="coerce", format="mixed") for h in hs)
            both = a.notna() & b.notna()
            if both.any():
                first = (a[both] <= b[both]).mean()
                if first >= CONTENT_MIN or first <= 1 - CONTENT_MIN:
                    early, late = hs if first >= 0.5 else hs[::-1]
                    found["booked_at"], found["scheduled_for"] = (early, "content"), (late, "content")
                    used.update(hs)


def _assign(ranked, found: dict, used: set) -> None:
    for *_, col, header, how in ranked:
        if col not in found and header not in used:
            found[col] = (header, how)
            used.add(header)


def _note(table: str, col: str, theirs: str, how: Sureness) -> str:
    if how == "yours":
        return "your mapping, kept on a re-run"
    if how == "exact":
        return ""
    where = f"mapping.{table}"
    if how == "content":
        return f"guessed from the values; if wrong, remove {theirs!r} from {where}"
    if how == "fuzzy":
        return f"close spelling; if wrong, remove {theirs!r} from {where}"
    if how == "words":
        return f"a word of its name; if wrong, remove {theirs!r} from {where}"
    return f"if wrong, edit {theirs!r} in {where}"


def _missing_note(table: str, col: str) -> str:
    spec = schema.TABLES[table].column(col)
    need = "REQUIRED: " if spec.required else ""
    return f'{need}add {{"<their column>": {col}}} to mapping.{table}'


def _whole_name_note(header: str) -> str:
    return (f"{header!r} seems to hold whole names; split it into first and last name columns in the export "
            "(names only show in call lists)")


def _negated_note(table: str, col: str, header: str) -> str:
    return (
        f"NEEDS A MANUAL DECISION: {header!r} looks like the opposite of {col}; not mapped. "
        f'If so, map {{{header!r}: {col}}} in mapping.{table} and invert its values in values.{col} '
        f"(e.g. {{Y: false, N: true}})"
    )


# --------------------------------------------------------------------------- values


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
    from .formats import FALSE_WORDS, TRUE_WORDS

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
    from .formats import normalize_header

    return normalize_header(value) in {normalize_header(a) for a in allowed}


# --------------------------------------------------------------------------- the whole folder


@dataclass(frozen=True)
class UnusedColumn:
    """A column of an export that no canonical column reads, with what it may be."""

    table: str
    source: str              # the export (Source.ref)
    header: str
    guess: str               # "a preferred channel (customers.preferred_channel)", or what its values look like

    @property
    def text(self) -> str:
        return f"{self.source}: column {self.header!r} is not used; {self.guess}"


SHAPE_WORDS = (  # what a column's values look like, in words, when no column fits it
    ("email", "e-mail addresses"), ("phone", "phone numbers"), ("vin", "VINs"), ("tz", "time zones"),
    ("state", "US states"), ("zip", "ZIP codes"), ("yes_no", "yes/no values"), ("timestamp", "date and time"),
    ("date", "dates"), ("year", "years"), ("money", "amounts"), ("integer", "whole numbers"),
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
            guess = (f"its values look like {tm.table}.{best}{more}{already}; to use it, map "
                     f"{{{header!r}: {best}}} in mapping.{tm.table}")
        elif named and named[0][0][0] > 0:
            guess = f"its name suggests {tm.table}.{named[0][1]}, but its values do not fit; check the export"
        else:
            what = next((words for attr, words in SHAPE_WORDS if getattr(p, attr)), "text")
            kinds = ("id",) if p.id_like and p.digits else ("str", "list")
            if kinds == ("id",):
                what = "ids"
            open_text = [c.name for c in spec.columns if c.kind in kinds and c.name not in mapped]
            if what in ("text", "ids") and open_text:
                guess = (f"it holds {what}; if it is the {_either(open_text)}, map it in mapping.{tm.table} "
                         f"(e.g. {{{header!r}: {open_text[0]}}})")
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
        t.table: [(h, distinct(t.table, h)) for h in map(str, by_ref[t.source].frame.columns)
                  if (t.table, h) not in taken and _plain_text(shapes.profile(by_ref[t.source].frame[h]))]
        for t in tables if "model" in schema.TABLES[t.table].column_names
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
            hits = [h for h, v in cands.get(table, []) if v and any(len(v & o) >= CONTENT_MIN * len(v) for o in others if o)]
        if len(hits) == 1:
            picked[table] = hits[0]
    return [ColumnMatch(c.table, c.column, picked[c.table], "content", _note(c.table, c.column, picked[c.table], "content"))
            if c.column == "model" and c.table in picked else c for c in columns]


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
    from .formats import normalize_header

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
                given = (manual_values.get(cm.column) or {})
                if vm.theirs in given:  # the consultant's word wins (kept as written: true, not "true")
                    vm = ValueMatch(vm.table, vm.column, vm.theirs, given[vm.theirs])
                values.append(vm)
    columns = _models_across_tables(tables, by_ref, columns)
    for tm in tables:
        unused_columns += _unused_columns(tm, by_ref[tm.source].frame, [c for c in columns if c.table == tm.table], known)
    used = {t.source for t in tables}
    onb = Onboarding(tables, columns, values, [s.ref for s in sources if s.ref not in used])
    onb.unused_columns = unused_columns
    onb.unused_like = {s.ref: t for s in sources if s.ref not in used and (t := looks_like(s))}
    # a title line above the header: only where the header row named (almost) no column
    recognised = {tm.source for tm in tables
                  if sum(c.table == tm.table and c.source is not None for c in columns) >= 2}
    onb.decisions = ([hint for s in sources if s.ref not in recognised and (hint := header_row_hint(s))]
                     + hints + _decisions(onb))
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
    times = [str(h) for h in frame.columns if str(h) != cm.source and shapes.sample(frame[h]).str.match(TIME_ONLY).mean() >= 0.9]
    where = f" {times[0]!r} seems to hold the time of day:" if times else ""
    why = " (quiet hours cannot be checked)" if cm.column == "sent_at" else ""
    return (f"{cm.table}.{cm.column}: {cm.source!r} holds dates without a time of day, so times read as "
            f"midnight{why}.{where} put date and time in one column (e.g. 06/18/2026 10:30 PM) in the export")


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
                return (f"{src.ref}: the header seems to be on row {row} ({shown}, ...); delete the "
                        f"{row - 1} line(s) above it in the export, then run onboard again")
    return None


def _known_headers(fields: list[str]) -> int:
    """How many of ``fields`` are a known name of some canonical column."""
    known = _all_column_keys()
    return sum(name_key(f) in known for f in fields if f)


@functools.cache
def _all_column_keys() -> frozenset[str]:
    return frozenset(k for cols in synonyms()["columns"].values() for keys in cols.values() for k in keys)


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
    out = [f"Required table {t} not found: name its file in files.{t}" for t in schema.REQUIRED_TABLES if t not in found]
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
            out.append(f"{v.table}.{v.column}: value {v.theirs!r} not recognised; add it to values.{v.column} "
                       f"as one of {', '.join(allowed)}")
        else:
            by_word.setdefault((v.column, v.theirs), {})[v.table] = v.ours
    for (col, theirs), by_table in sorted(by_word.items()):
        if len(set(map(str, by_table.values()))) > 1:  # values: is per column name, not per table
            means = " but ".join(f"{ours} in {table}" for table, ours in by_table.items())
            out.append(f"values.{col}: {theirs!r} means {means}; values: applies to the {col} column of every "
                       f"table, so change the word in one of the exports")
    return out


def _source_decisions(onb: Onboarding) -> list[str]:
    out = []
    read_from = {m.table: m.source for m in onb.tables}
    for ref in onb.unused_sources:
        like = onb.unused_like.get(ref)
        if like in read_from:
            out.append(f"{ref} also looks like {like}, already read from {read_from[like]}: the kit reads one file "
                       f"per table, so combine them into one (or name the right one in files.{like})")
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


# --------------------------------------------------------------------------- the dealer file


def _own_comment(how: str) -> str | None:
    """The comment onboard puts on a guessed entry (none on the consultant's own)."""
    return {
        "synonym": f"{OWN_COMMENT} synonym",
        "fuzzy": f"{OWN_COMMENT} fuzzy, check",
        "content": f"{OWN_COMMENT} by content, check",
        "words": f"{OWN_COMMENT} by a word of its name, check",
        "file name": f"{OWN_COMMENT} by file name",
        "file name and content": f"{OWN_COMMENT} by file name and content",
    }.get(how)


def dealer_document(
    onb: Onboarding, *, dealer_id: str, timezone: str, data_dir: str, existing: dict | None = None
) -> tuple[dict, dict[tuple, str]]:
    """The dealer file's content and onboard's own line comments.

    An existing file's other keys (dealer_name, rule overrides, ...) are kept as they are;
    its files, mapping and values entries win over guesses and are all kept, even those
    the data no longer shows (a consultant may be preparing the next export).
    """
    existing = dict(existing or {})
    doc = {
        "dealer_id": dealer_id,
        "dealer_name": existing.pop("dealer_name", None) or dealer_id,
        "data_dir": data_dir,
        "timezone": timezone,
    }
    comments: dict[tuple, str] = {}
    files = onb.files_block()
    for t in onb.tables:
        if t.table in files and _own_comment(t.how):
            comments[("files", t.table)] = _own_comment(t.how)
    mapping = onb.mapping_block()
    for c in onb.columns:
        if c.source is not None and c.source != c.column and _own_comment(c.how):
            comments[("mapping", c.table, c.source)] = _own_comment(c.how)
    blocks = {"files": files, "mapping": mapping, "values": onb.values_block()}
    for name in BLOCKS:
        blocks[name] = merge_block(blocks[name], existing.pop(name, None) or {}, nested=name != "files")
    for k in ("dealer_id", "data_dir", "timezone"):
        existing.pop(k, None)
    doc.update({k: blocks[k] for k in BLOCKS})
    doc.update(existing)  # the consultant's other keys, in their order
    return doc, comments


# --------------------------------------------------------------------------- one call


# A dealer id names its dealer file and report folder: no separators, no "..", nothing hidden
# (the same rule as the runner's).
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class OnboardError(Exception):
    """A problem with the command's own input (folder, time zone): a message, no traceback."""


@dataclass
class Result:
    onboarding: Onboarding
    out: Path
    text: str           # the dealer file written
    timezone_guessed: bool
    unreadable: list[str]


def onboard(
    data_dir: str | Path,
    dealer_id: str,
    *,
    timezone: str | None = None,
    out: str | Path | None = None,
    root: str | Path | None = None,
) -> Result:
    """Recognise ``data_dir``'s exports and write the dealer file ``out``
    (default ``<root>/params/dealers/<dealer_id>.yaml``); an existing file's own entries win.

    The file is written whole or not at all (temporary name, then renamed).
    """
    from .params import ParamsError, read_yaml

    if not SAFE_ID.match(str(dealer_id)):
        raise OnboardError(f"--dealer-id {dealer_id!r}: use letters, digits, '.', '_' or '-' (it names files and folders)")
    data_dir = Path(data_dir).expanduser().resolve()
    if not data_dir.is_dir():
        raise OnboardError(f"{data_dir}: no such folder")
    root = Path(root) if root else None
    out = Path(out) if out else (root or paths.kit_root()) / "params" / "dealers" / f"{dealer_id}.yaml"
    root = root or paths.root_of_params_file(out) or paths.kit_root()
    existing, old_text = {}, ""
    if out.is_file():
        try:
            existing = read_yaml(out)
        except ParamsError as e:
            raise OnboardError("\n".join(e.problems)) from None
        old_text = out.read_text(encoding="utf-8-sig")
    sources, unreadable = read_sources(data_dir)
    if not sources:
        raise OnboardError(f"{data_dir}: no readable export (.csv, .txt, .tsv, .xlsx or .parquet)" +
                           "".join(f"\n  {m}" for m in unreadable))
    onb = recognise_folder(sources, {k: existing.get(k) for k in BLOCKS})
    onb.decisions += _existing_problems(existing, out)
    tz, guessed = _timezone(timezone, existing, old_text, onb, sources)
    doc, comments = dealer_document(
        onb, dealer_id=str(dealer_id), timezone=tz, data_dir=_data_dir_text(data_dir, root), existing=existing
    )
    if guessed:
        comments[("timezone",)] = f"{OWN_COMMENT} guessed, check"
    comments = {**comments, **read_comments(old_text)}
    text = render_dealer_file(doc, comments)
    with outputs.atomic_open(out, "w", newline="\n") as f:  # whole or not at all
        f.write(text)
    return Result(onb, out, text, guessed, unreadable)


def _existing_problems(existing: dict, out: Path) -> list[str]:
    """Typos the consultant made in the file (a mapping to no column, an unknown key): kept as
    they are, since they are theirs, but said now rather than at the first run."""
    from .params import check_layer, load_defaults

    return check_layer(existing, str(out), "dealer", load_defaults()) if existing else []


def _timezone(
    given: str | None, existing: dict, old_text: str, onb: Onboarding, sources: list[Source]
) -> tuple[str, bool]:
    """The dealer's zone and whether it is a guess: given, else the existing file's (still a
    guess while onboard's "guessed" comment is on its line), else the customers' most common."""
    if given:
        if given not in zoneinfo.available_timezones():
            raise OnboardError(f"--timezone {given!r} is not an IANA time zone (e.g. America/Chicago)")
        return given, False
    if existing.get("timezone"):
        still = re.search(rf"^timezone:.*{re.escape(OWN_COMMENT)} guessed", old_text, flags=re.M)
        return str(existing["timezone"]), bool(still)
    col = next((c for c in onb.columns if c.table == "customers" and c.column == "timezone" and c.source), None)
    if col is not None:
        src = next(s for s in sources if s.ref == next(t.source for t in onb.tables if t.table == "customers"))
        if col.source in src.frame.columns:
            zones = src.frame[col.source].dropna().astype(str).str.strip()
            zones = zones[zones.isin(zoneinfo.available_timezones())]
            if not zones.empty:
                return str(zones.value_counts().sort_index().idxmax()), True
    return "America/New_York", True


def _data_dir_text(data_dir: Path, root: Path) -> str:
    """Relative to the kit root when inside it (the dealer file then travels with the kit)."""
    try:
        return data_dir.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(data_dir)


# --------------------------------------------------------------------------- the printed table


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
    lines += ["", f"Next: ownercomm validate --params {result.out}   (then the data-quality notebook, "
                  "notebooks/data_quality.ipynb, with the same file)"]
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
    return (f"Recognised {len(onb.tables)} of {len(schema.TABLES)} tables and {len(cols)} of {len(onb.columns)} "
            f"columns in them ({detail}); {_count(translated, 'value')} translated; "
            + (f"{_count(decisions + unused, 'thing')} to decide, of which {_count(unused, 'export column')} not used."
               if unused else f"{_count(decisions, 'thing')} to decide; 0 export columns not used."))


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
