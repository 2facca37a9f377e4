"""Fake people from faker, drawn once per seed as small pools and then sampled with numpy.

faker is slow per call (tens of microseconds), so 100,000 customers would take seconds;
a pool of a few thousand names per locale, sampled with the dealer's generator, keeps the
variety (including non-ASCII names) at numpy speed.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import numpy as np
from faker import Faker

# Mostly US English names, with Spanish, Vietnamese, German, French and Polish ones so that
# accents and non-ASCII letters travel through every file and report.
LOCALES = ("en_US", "es_MX", "vi_VN", "de_DE", "fr_FR", "pl_PL")
LOCALE_WEIGHTS = np.array([0.78, 0.09, 0.04, 0.03, 0.03, 0.03])
NAMES_PER_LOCALE = 400
EMAIL_DOMAINS_SAMPLE = 40

# A few real area codes around each sample dealer's zone (phones look local).
AREA_CODES = {
    "America/Los_Angeles": (714, 949, 657, 562, 909, 213, 310),
    "America/Chicago": (312, 630, 708, 773, 815, 847),
    "America/New_York": (212, 718, 914, 845, 516, 631),
    "America/Denver": (303, 720, 970),
    "America/Phoenix": (480, 602, 623),
}
STATE_OF_ZONE = {
    "America/Los_Angeles": "CA",
    "America/Chicago": "IL",
    "America/New_York": "NY",
    "America/Denver": "CO",
    "America/Phoenix": "AZ",
}


@dataclass(frozen=True)
class Pool:
    first: tuple[np.ndarray, ...]  # per locale
    last: tuple[np.ndarray, ...]
    email_domains: np.ndarray
    salespeople: np.ndarray
    postcodes: dict  # state -> array of zip codes
    street_words: np.ndarray


def ascii_slug(text: str) -> str:
    """``Nguyễn Đức`` -> ``nguyenduc``: emails are ASCII even when names are not."""
    text = text.replace("Đ", "D").replace("đ", "d").replace("ł", "l").replace("Ł", "L").replace("ß", "ss")
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in norm.lower() if ch.isalnum())


@functools.lru_cache(maxsize=8)
def pool(seed: int) -> Pool:
    """The fake identities of one seed (same seed, same pool)."""
    first, last = [], []
    for i, loc in enumerate(LOCALES):
        fk = Faker(loc)
        fk.seed_instance(seed * 7919 + i)
        first.append(np.array(sorted({fk.first_name() for _ in range(NAMES_PER_LOCALE)}), dtype=object))
        last.append(np.array(sorted({fk.last_name() for _ in range(NAMES_PER_LOCALE)}), dtype=object))
    us = Faker("en_US")
    us.seed_instance(seed)
    domains = np.array(sorted({us.free_email_domain() for _ in range(EMAIL_DOMAINS_SAMPLE)}), dtype=object)
    sales = np.array(sorted({us.name() for _ in range(80)}), dtype=object)  # each store picks its own team
    zips = {}
    for state in sorted(set(STATE_OF_ZONE.values())):
        zips[state] = np.array(sorted({us.zipcode_in_state(state) for _ in range(150)}), dtype=object)
    words = np.array(sorted({us.last_name() for _ in range(60)}), dtype=object)
    return Pool(tuple(first), tuple(last), domains, sales, zips, words)


def people(rng: np.random.Generator, n: int, seed: int, timezone: str) -> dict[str, np.ndarray]:
    """n fake people: first/last names, emails, phones, postal codes (object arrays)."""
    p = pool(seed)
    loc = rng.choice(len(LOCALES), size=n, p=LOCALE_WEIGHTS / LOCALE_WEIGHTS.sum())
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    for i in range(len(LOCALES)):
        m = loc == i
        k = int(m.sum())
        first[m] = p.first[i][rng.integers(0, len(p.first[i]), k)]
        last[m] = p.last[i][rng.integers(0, len(p.last[i]), k)]
    dom = p.email_domains[rng.integers(0, len(p.email_domains), n)]
    style = rng.integers(0, 4, n)
    num = rng.integers(1, 999, n)
    emails = np.empty(n, dtype=object)
    for i in range(n):
        f, la = ascii_slug(first[i]) or "owner", ascii_slug(last[i]) or "mail"
        s = style[i]
        user = f"{f}.{la}" if s == 0 else f"{f[0]}{la}{num[i]}" if s == 1 else f"{f}{num[i]}" if s == 2 else f"{la}.{f}"
        emails[i] = f"{user}@{dom[i]}"
    codes = AREA_CODES.get(timezone, AREA_CODES["America/New_York"])
    area = np.asarray(codes)[rng.integers(0, len(codes), n)]
    exch = rng.integers(201, 999, n)
    line = rng.integers(0, 10000, n)
    phones = np.array([f"({a}) {e:03d}-{x:04d}" for a, e, x in zip(area, exch, line)], dtype=object)
    zips = p.postcodes[STATE_OF_ZONE.get(timezone, "NY")]
    postal = zips[rng.integers(0, len(zips), n)]
    return {"first_name": first, "last_name": last, "email": emails, "phone": phones, "postal_code": postal}


# Customers living in states with stricter contact laws (SPEC §4 State rules): their zone, and a
# few real area codes. ZIP codes come from faker's zipcode_in_state.
LAW_STATES = {
    "FL": ("America/New_York", (305, 407, 813, 954, 561, 904)),
    "OK": ("America/Chicago", (405, 918, 580)),
    "MD": ("America/New_York", (410, 443, 301, 240)),
}


@functools.lru_cache(maxsize=8)
def law_state_zips(seed: int) -> dict:
    """ZIP codes of the LAW_STATES (a Faker of its own: the seed's other pools stay as they were)."""
    fk = Faker("en_US")
    fk.seed_instance(seed * 104729 + 15)
    return {
        st: np.array(sorted({fk.zipcode_in_state(st) for _ in range(60)}), dtype=object) for st in sorted(LAW_STATES)
    }


def with_states(rng: np.random.Generator, people: dict, timezone: str, seed: int) -> dict:
    """Where people live, SPEC §2 customers.state: about 8% in a state with its own contact law
    (FL, OK, MD: their ZIP, area code and often their zone), the rest in the dealer's state. The
    state column is filled for about half (some in lower case or with spaces, as exports have
    it); of the others some have no ZIP (their state comes from the phone's area code) and a few
    neither (no state at all). Returns state, postal_code, phone and zone (None = unchanged)."""
    n = len(people["postal_code"])
    home = STATE_OF_ZONE.get(timezone)
    states = sorted(LAW_STATES)
    lives_in = np.where(rng.random(n) < 0.08, rng.integers(0, len(states), n), -1)
    postal, phone = people["postal_code"].copy(), people["phone"].copy()
    zone = np.full(n, None, dtype=object)
    state = np.full(n, home, dtype=object)
    zips = law_state_zips(seed)
    for i, st in enumerate(states):
        m = np.flatnonzero(lives_in == i)
        if not len(m):
            continue
        z, codes = LAW_STATES[st]
        state[m] = st
        postal[m] = zips[st][rng.integers(0, len(zips[st]), len(m))]
        area = np.asarray(codes)[rng.integers(0, len(codes), len(m))]
        phone[m] = np.array([f"({a}){p[5:]}" for a, p in zip(area, phone[m])], dtype=object)
        zone[m[rng.random(len(m)) < 0.7]] = z
    u = rng.random(n)
    column = np.where(u < 0.5, state, None)
    no_zip = (u >= 0.5) & (rng.random(n) < 0.12)
    postal[no_zip] = None
    return {"state": column, "postal_code": postal, "phone": phone, "zone": zone}
