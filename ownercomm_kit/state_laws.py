"""State contact laws (SPEC §4 "State rules"): the versioned rule table and each customer's state.

Two things live here, both free of the audit engine:

- ``state_table(params)``: the ``state_rules`` block of the parameters (defaults < group file <
  dealer file, merged by state code) read into one ``StateRule`` per state; ``check_table`` lists
  every problem of the block (``params.resolve`` calls it, so ``validate`` finds them too).
- ``customer_states(customers)``: each customer's two-letter state and how it was found:
  ``state`` (the customers.state column), else ``zip`` (the 3-digit prefix of postal_code, from
  ``assets/zip3_states.csv``), else ``area_code`` (the phone's area code, from
  ``assets/area_code_states.csv``), else ``none``. Vectorised: string operations over the
  column, look-ups per distinct value.

These are risk flags, not legal advice: the table says what the kit checks, with citations.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import schema

ASSETS = Path(__file__).resolve().parent / "assets"
ZIP3_FILE = ASSETS / "zip3_states.csv"
AREA_CODE_FILE = ASSETS / "area_code_states.csv"

US_STATES = schema.US_STATES  # what customers.state accepts
METHODS = ("state", "zip", "area_code", "none")
METHOD_WORDS = {
    "state": "from the customer's state column",
    "zip": "from the ZIP code (first 3 digits)",
    "area_code": "from the phone's area code",
    "none": "no state found (no state rule applies)",
}
RULE_KEYS = (
    "law",
    "citation",
    "effective",
    "start",
    "end",
    "cap",
    "cap_hours",
    "subject",
    "channels",
    "exempt_categories",
    "enabled",
)
SUBJECTS = ("category",)  # what counts as one subject for the cap: the message category
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class StateRule:
    state: str
    law: str
    citation: str
    effective: str  # YYYY-MM-DD
    start: str  # "08:00": the window is [start, end) in the customer's local time
    end: str
    cap: int | None  # at most this many per cap window on one subject (None: no cap)
    cap_hours: float
    subject: str
    channels: tuple[str, ...]
    exempt_categories: tuple[str, ...]  # beyond the audit's exempt categories

    @property
    def window_text(self) -> str:
        return f"{self.start}-{self.end}"


def _tod(hhmm: str) -> int:
    h, m = (int(x) for x in str(hhmm).split(":")[:2])
    return (h * 60 + m) * 60 * 10**9


def start_ns(rule: StateRule) -> int:
    return _tod(rule.start)


def end_ns(rule: StateRule) -> int:
    return _tod(rule.end)


# ------------------------------------------------------------------ the table


def check_table(block: Any, where: str = "state_rules") -> list[str]:
    """Every problem of a merged ``state_rules`` block (empty list: fine)."""
    if block is None:
        return []
    if not isinstance(block, Mapping):
        return [f"{where}: must be a mapping with version and states"]
    problems = []
    for key in block:
        if key not in ("version", "states"):
            problems.append(f"{where}: unknown key {key!r} (allowed: version, states)")
    if not str(block.get("version") or "").strip():
        problems.append(f"{where}.version: give the table a version (e.g. the date it was last checked)")
    states = block.get("states") or {}
    if not isinstance(states, Mapping):
        return problems + [f"{where}.states: must be a mapping of two-letter state codes to rules"]
    for code, rule in states.items():
        at = f"{where}.states.{code}"
        if str(code).upper() not in US_STATES:
            problems.append(f"{at}: {code!r} is not a two-letter US state code (e.g. FL, OK, MD)")
            continue
        if rule is None:
            continue  # a dealer file may switch a state off with `XX: null`
        if not isinstance(rule, Mapping):
            problems.append(f"{at}: must be a mapping (start, end, cap, citation, ...)")
            continue
        for key in rule:
            if key not in RULE_KEYS:
                problems.append(f"{at}: unknown key {key!r} (allowed: {', '.join(RULE_KEYS)})")
        for key in ("start", "end"):
            if not _HHMM.match(str(rule.get(key, ""))):
                problems.append(f'{at}.{key}: {rule.get(key)!r} is not a time of day HH:MM (e.g. "08:00")')
        if _HHMM.match(str(rule.get("start", ""))) and _HHMM.match(str(rule.get("end", ""))):
            if _tod(rule["start"]) >= _tod(rule["end"]):
                problems.append(f"{at}: start {rule['start']} must come before end {rule['end']}")
        cap = rule.get("cap")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            problems.append(f"{at}.cap: {cap!r} must be a whole number of at least 1 (or empty: no cap)")
        hours = rule.get("cap_hours", 24)
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= 24 * 400:
            problems.append(f"{at}.cap_hours: {hours!r} must be a number of hours above 0")
        if str(rule.get("subject", "category")) not in SUBJECTS:
            problems.append(f"{at}.subject: {rule.get('subject')!r} (allowed: {', '.join(SUBJECTS)})")
        for key, allowed in (("channels", schema.CHANNELS), ("exempt_categories", schema.CATEGORIES)):
            vals = rule.get(key, [] if key == "exempt_categories" else None)
            if key == "channels" and vals is None:
                continue
            if not isinstance(vals, (list, tuple)):
                problems.append(f"{at}.{key}: must be a list (allowed values: {', '.join(allowed)})")
                continue
            for v in vals:
                if v not in allowed:
                    problems.append(f"{at}.{key}: {v!r} is not one of {', '.join(allowed)}")
        for key in ("citation", "effective"):
            if not str(rule.get(key) or "").strip():
                problems.append(f"{at}.{key}: every state rule needs its {key}")
        if str(rule.get("effective") or "").strip() and not re.match(
            r"^\d{4}-\d{2}-\d{2}$", str(rule["effective"]).strip()
        ):
            problems.append(f"{at}.effective: {rule['effective']!r} is not a date (YYYY-MM-DD)")
        if rule.get("enabled", True) not in (True, False):
            problems.append(f"{at}.enabled: {rule.get('enabled')!r} must be true or false")
    return problems


def state_table(params: Mapping) -> dict[str, StateRule]:
    """The enabled state rules of these parameters, by state code (upper case)."""
    block = params.get("state_rules") or {}
    out = {}
    for code, rule in (block.get("states") or {}).items():
        if not rule or not rule.get("enabled", True):
            continue
        code = str(code).upper()
        cap = rule.get("cap")
        out[code] = StateRule(
            state=code,
            law=str(rule.get("law") or ""),
            citation=str(rule.get("citation") or ""),
            effective=str(rule.get("effective") or ""),
            start=str(rule.get("start", "08:00")),
            end=str(rule.get("end", "21:00")),
            cap=None if cap is None else int(cap),
            cap_hours=float(rule.get("cap_hours", 24)),
            subject=str(rule.get("subject", "category")),
            channels=tuple(rule.get("channels") or ("sms", "phone")),
            exempt_categories=tuple(rule.get("exempt_categories") or ()),
        )
    return out


def table_version(params: Mapping) -> str:
    return str((params.get("state_rules") or {}).get("version") or "")


def table_frame(params: Mapping) -> pd.DataFrame:
    """The rules applied, one row per state (for the report)."""
    rows = [
        {
            "state": r.state,
            "law": r.law,
            "citation": r.citation,
            "effective": r.effective,
            "window": f"{r.start} to {r.end}",
            "cap": "" if r.cap is None else f"{r.cap} per {r.cap_hours:g} hours per {r.subject}",
            "channels": ", ".join(r.channels),
            "also_exempt": ", ".join(r.exempt_categories),
        }
        for r in state_table(params).values()
    ]
    cols = ["state", "law", "citation", "effective", "window", "cap", "channels", "also_exempt"]
    return pd.DataFrame(rows, columns=cols)


# ------------------------------------------------------------------ each customer's state


@functools.lru_cache(maxsize=1)
def zip3_states() -> dict[str, str]:
    t = pd.read_csv(ZIP3_FILE, comment="#", dtype=str)
    return dict(zip(t["zip3"], t["state"]))


@functools.lru_cache(maxsize=1)
def area_code_states() -> dict[str, str]:
    t = pd.read_csv(AREA_CODE_FILE, comment="#", dtype=str)
    return dict(zip(t["area_code"], t["state"]))


def _lookup(keys: pd.Series, table: dict[str, str]) -> pd.Series:
    """``table[key]`` per row, NA where the key is NA or unknown (one look-up per distinct key)."""
    codes, uniques = pd.factorize(keys)
    found = np.array([table.get(str(u)) for u in uniques] + [None], dtype=object)
    return pd.Series(found[codes], index=keys.index, dtype="string")  # code -1 picks the appended None


def normalize_states(values: pd.Series) -> pd.Series:
    """Two-letter codes, trimmed and upper-cased ("fl", " Fl. "), or a full name ("Florida"); anything
    else NA. (The loader already turned a dealer's values into codes and warned about the rest.)"""
    # one normalisation per distinct text (a store has a few dozen spellings, not 100k)
    codes, uniques = pd.factorize(values.astype("string"))
    text = pd.Series(uniques, dtype="string").str.strip().str.upper()
    code = text.str.replace(r"[\s.]", "", regex=True)
    named = _lookup(text.str.replace(r"[^A-Z ]", "", regex=True).str.replace(r"\s+", " ", regex=True), _NAMES)
    found = np.append(code.where(code.isin(US_STATES), named).astype("string").to_numpy(object), pd.NA)
    return pd.Series(found[codes], index=values.index, dtype="string")  # code -1 (NA) picks the NA


# Every state and territory by its USPS code: what a dealer's export may spell out.
STATE_NAMES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "PR": "Puerto Rico",
    "VI": "Virgin Islands",
    "GU": "Guam",
    "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}
_NAMES = {n.upper(): c for c, n in STATE_NAMES.items()}
# How a sentence names the few whose name wants an article ("Maryland's", "the District of Columbia's").
_IN_A_SENTENCE = {
    "DC": "the District of Columbia",
    "VI": "the U.S. Virgin Islands",
    "MP": "the Northern Mariana Islands",
}


def state_name(code: str) -> str:
    """The state's name as a sentence says it; an unknown code as itself."""
    return _IN_A_SENTENCE.get(code) or STATE_NAMES.get(code, code)


def zip_states(postal: pd.Series) -> pd.Series:
    """State of a US ZIP (5 digits, ZIP+4, or a 4-digit ZIP whose leading 0 a spreadsheet dropped)."""
    text = postal.astype("string").str.strip().str.replace(r"\.0+$", "", regex=True)  # 33101.0 from a typed file
    digits = text.str.extract(r"^(\d{3,5})(?:\s*-?\s*\d{4})?$", expand=False)
    # 4 digits: a ZIP read as a number lost its leading zero (New England, New Jersey, Puerto Rico)
    digits = digits.where(digits.str.len() != 4, "0" + digits)
    digits = digits.where(digits.str.len() == 5)
    return _lookup(digits.str.slice(0, 3), zip3_states())


def area_code_of(phone: pd.Series) -> pd.Series:
    """The area code of a North American number: 10 digits, or 11 starting with 1 ("+1 (305) ...")."""
    digits = phone.astype("string").str.strip().str.replace(r"\.0+$", "", regex=True)  # 3055550100.0
    digits = digits.str.replace(r"(?i)\s*(x|ext\.?|extension)\s*\d+$", "", regex=True)
    digits = digits.str.replace(r"\D", "", regex=True)
    digits = digits.where(~((digits.str.len() == 11) & digits.str.startswith("1")), digits.str.slice(1))
    return digits.where(digits.str.len() == 10).str.slice(0, 3)


def phone_states(phone: pd.Series) -> pd.Series:
    return _lookup(area_code_of(phone), area_code_states())


def customer_states(customers: pd.DataFrame, available=lambda col: True) -> pd.DataFrame:
    """customer_id, state, state_method (one of METHODS) for every row of ``customers``.

    ``available(col)`` says whether an optional column is in the data (absent columns are all NA
    anyway; the callable only saves work).
    """
    n = len(customers)
    state = pd.Series(pd.NA, index=customers.index, dtype="string")
    method = np.full(n, "none", dtype=object)
    for how, col, fn in (
        ("state", "state", normalize_states),
        ("zip", "postal_code", zip_states),
        ("area_code", "phone", phone_states),
    ):
        if col not in customers.columns or not available(col):
            continue
        todo = state.isna().to_numpy(bool)
        if not todo.any():
            break
        found = fn(customers[col][todo])
        got = found.notna().to_numpy(bool)
        idx = np.flatnonzero(todo)[got]
        state.iloc[idx] = found[got].to_numpy()
        method[idx] = how
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype("string").to_numpy(),
            "state": state.to_numpy(),
            "state_method": pd.array(method, dtype="string"),
        }
    ).astype({"state": "string"})


def method_counts(states: pd.DataFrame) -> pd.DataFrame:
    """Customers per way their state was found (every method listed, zeros included)."""
    counts = states["state_method"].value_counts()
    n = len(states)
    out = pd.DataFrame({"method": list(METHODS), "customers": [int(counts.get(m, 0)) for m in METHODS]})
    out["share"] = out["customers"] / n if n else np.nan
    return out
