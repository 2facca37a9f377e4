"""What a column's values look like: the shapes onboarding recognises a column by when its
header is unknown (e-mails, phones, VINs, time zones, ZIP codes, US states, yes/no words,
money, model years, odometer readings, dates with or without a time of day).

Pure functions of a text column (every cell as a string, as onboarding reads exports); each
looks at a sample of the non-empty cells, vectorised, and says whether the column has the
shape (``CONTENT_MIN`` of the sample fits).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from functools import cache

import pandas as pd

SAMPLE_ROWS = 2000  # non-empty cells inspected per column
CONTENT_MIN = 0.9  # share of the sample that must fit a shape

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$", re.I)
PHONE = re.compile(r"^\+?1?[\s.\-]*\(?\d{3}\)?[\s.\-]*\d{3}[\s.\-]*\d{4}$")
ZIP = re.compile(r"^\d{5}(?:-\d{4})?$")
MONEY = re.compile(r"^\(?[-+]?\s*[$€£]?\s*[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?\)?$")
INTEGER = re.compile(r"^\d+(?:\.0+)?$")
DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|^\d{5}(?:\.\d+)?$")
TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}")
EXCEL_SERIAL = re.compile(r"^\d{5}\.\d+$")
ID_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-./#]{0,39}$")

US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP".split()
)


def sample(values: pd.Series) -> pd.Series:
    """The column's non-empty cells (trimmed text), at most ``SAMPLE_ROWS`` of them."""
    text = values.dropna().astype("string").str.strip()
    return text[text != ""].head(SAMPLE_ROWS)


def fill_rate(values: pd.Series) -> float:
    """Share of the column's cells that hold something."""
    if len(values) == 0:
        return 0.0
    text = values.astype("string").str.strip()
    return float((text.notna() & (text != "")).mean())


def _share(test: pd.Series) -> float:
    return float(test.fillna(False).astype(bool).mean()) if len(test) else 0.0


@dataclass(frozen=True)
class Profile:
    """The shapes one column has (each True when ``CONTENT_MIN`` of its sample fits)."""

    filled: float  # share of cells that hold something
    unique: bool  # every non-empty cell distinct (a key)
    email: bool = False
    phone: bool = False
    vin: bool = False
    tz: bool = False
    zip: bool = False
    state: bool = False
    yes_no: bool = False
    money: bool = False  # amounts: $, thousands separators or cents, or plain numbers
    integer: bool = False
    year: bool = False  # model years
    odometer: bool = False  # whole numbers reaching the thousands
    date: bool = False  # dates (with or without a time of day)
    timestamp: bool = False  # dates that mostly carry a time of day
    id_like: bool = False  # short tokens without spaces
    digits: bool = False  # nearly every value holds a digit (ids do, names and words do not)
    top_share: float = 1.0  # share of the commonest value (a constant column is no id)

    @property
    def empty(self) -> bool:
        return self.filled == 0.0


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def profile(values: pd.Series, yes_no_words: frozenset[str] = frozenset()) -> Profile:
    """The shapes of one text column. ``yes_no_words``: extra yes/no words (normalised lower
    case) beyond the loader's own."""
    from .formats import FALSE_WORDS, TRUE_WORDS, parse_timestamps

    s = sample(values)
    filled = fill_rate(values)
    if s.empty:
        return Profile(filled=filled, unique=False)
    distinct = s.drop_duplicates()
    fits = lambda rx: _share(s.str.match(rx)) >= CONTENT_MIN  # noqa: E731
    low = distinct.str.lower()
    yes_no = distinct.size <= 4 and _share(low.isin({*TRUE_WORDS, *FALSE_WORDS, *yes_no_words})) >= 1.0
    integer = fits(INTEGER)
    ints = pd.to_numeric(s.where(s.str.match(INTEGER)), errors="coerce") if integer else None
    year = bool(integer and ints.between(1950, 2040).mean() >= CONTENT_MIN)
    odometer = bool(integer and not year and ints.max() >= 1000 and ints.min() >= 0)
    date = timestamp = False
    if fits(DATE_LIKE):
        parsed, bad = parse_timestamps(s, "UTC")
        if _share(~bad & parsed.notna()) >= CONTENT_MIN:
            date = True
            timestamp = _share(s.str.contains(TIME_OF_DAY)) >= 0.5 or _share(s.str.match(EXCEL_SERIAL)) >= 0.5
    return Profile(
        filled=filled,
        unique=distinct.size == s.size,
        email=fits(EMAIL),
        phone=fits(PHONE) and not integer,
        vin=fits(VIN),
        tz=_share(s.isin(_zones())) >= CONTENT_MIN,
        zip=fits(ZIP) and not yes_no,
        state=_share(s.str.upper().isin(US_STATES)) >= CONTENT_MIN and distinct.size > 1,
        yes_no=bool(yes_no),
        money=fits(MONEY) and not yes_no and not date,
        integer=integer and not yes_no,
        year=year,
        odometer=odometer,
        date=date,
        timestamp=timestamp,
        id_like=fits(ID_LIKE) and not yes_no and not date,
        digits=_share(s.str.contains(r"\d")) >= CONTENT_MIN,
        top_share=float(s.value_counts().iloc[0] / s.size),
    )
