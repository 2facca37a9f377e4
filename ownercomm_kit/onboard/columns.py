"""Which export column is which canonical column: by header (canonical name, synonym, close
spelling), then by content (the shape of the values, ids of tables read before, the words
of the header), never against a yes/no column's meaning.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

import pandas as pd

from .. import schema, shapes
from ..shapes import CONTENT_MIN
from .names import NEGATION_WORDS, Sureness, header_words, name_key, name_stems, synonyms
from .values import _loader_accepts, _value_lookup


FUZZY_MIN = 0.86  # difflib ratio of normalised headers; below it a header is no match


@dataclass(frozen=True)
class ColumnMatch:
    table: str
    column: str  # canonical column
    source: str | None  # their header, None when not found
    how: Sureness
    note: str = ""  # what to check or edit


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
    spelled = [
        c
        for c in _by_spelling(table, headers, found, used)
        if not _contradicts(table, spec.column(c[3]), c[4], frame, profiles, known or {})
    ]
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
    words = {
        c.name: [
            h
            for h in free
            if h not in used
            and _plain_text(profiles[h])
            and profiles[h].digits == (c.kind == "id")
            and _hint(table, c.name, h)[0]
        ]
        for c in text
    }
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
    if col.kind in ("date", "timestamp", "bool", "float") or col.name in (
        "email",
        "phone",
        "vin",
        "mileage",
        "model_year",
        "postal_code",
    ):
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
    return (
        f"{header!r} seems to hold whole names; split it into first and last name columns in the export "
        "(names only show in call lists)"
    )


def _negated_note(table: str, col: str, header: str) -> str:
    return (
        f"NEEDS A MANUAL DECISION: {header!r} looks like the opposite of {col}; not mapped. "
        f"If so, map {{{header!r}: {col}}} in mapping.{table} and invert its values in values.{col} "
        f"(e.g. {{Y: false, N: true}})"
    )
