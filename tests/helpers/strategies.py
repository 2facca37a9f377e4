"""Hypothesis strategies: valid canonical dealers (SPEC §2) that are degenerate on purpose.

``dealers()`` builds a ``DealerData`` through ``data.from_frames`` (the same coercion as every
in-code dealer): every table of ``schema.TABLES`` with 0-N rows, each optional table absent,
header-only or with rows, each optional column absent, all null, all true/false (booleans)
or filled; required columns always filled (a blank required value is a blocking error, so
not "valid"). Ids are unique per table, so the data passes ``validate``; orphan rows, dates
after ``as_of`` and unknown time-zone names are warnings, hence valid, and are generated too.

Dates crowd the edges of the rules' and KPIs' windows (as_of, 7/14/30/90 days, 12/24/36
months back) and the daylight-saving changes of the dealer's zone; times crowd quiet hours'
edges and the wall-clock hours that do not exist or happen twice on a DST day. A dealer can
be "single day" (every event on one date), have one customer, no customer at all, or send
only exempt categories.

The generator is generic over ``schema.TABLES``: a table or column added to the schema is
generated too (with a generic value of its kind) without touching this file.
"""

from __future__ import annotations

import copy
import datetime as dt

import pandas as pd
from hypothesis import strategies as st

from ownercomm_kit import schema
from ownercomm_kit.data import from_frames
from ownercomm_kit.params import resolve

BASE_PARAMS = resolve({"dealer_id": "T", "data_dir": "."})

# Dealer zones and their 2026 clock changes (the windows of rules and KPIs cross them).
DST_DAYS = {
    "America/New_York": [dt.date(2026, 3, 8), dt.date(2026, 11, 1)],
    "America/Los_Angeles": [dt.date(2026, 3, 8), dt.date(2026, 11, 1)],
    "Europe/Berlin": [dt.date(2026, 3, 29), dt.date(2026, 10, 25)],
    "Australia/Lord_Howe": [dt.date(2026, 4, 5), dt.date(2026, 10, 4)],  # a 30-minute change
    "UTC": [dt.date(2026, 6, 18)],
}
CUSTOMER_ZONES = ["America/Chicago", "Pacific/Honolulu", "Asia/Kolkata", "Europe/London", "Mars/Olympus_Mons"]
# Local wall-clock times: quiet hours' edges, midnight, and 01:30 / 02:30 (happen twice / never on DST days).
LOCAL_TIMES = [
    dt.time(0, 0),
    dt.time(1, 30),
    dt.time(2, 30),
    dt.time(7, 59, 59),
    dt.time(8, 0),
    dt.time(12, 0),
    dt.time(20, 59, 59),
    dt.time(21, 0),
    dt.time(23, 59, 59),
]
# Day offsets from as_of: window edges either side (and a few after as_of: a warning, still valid).
DAY_OFFSETS = [
    0,
    -1,
    -2,
    -3,
    -4,
    -6,
    -7,
    -8,
    -11,
    -13,
    -14,
    -15,
    -29,
    -30,
    -31,
    -76,
    -89,
    -90,
    -91,
    -180,
    -364,
    -365,
    -366,
    -729,
    -730,
    -731,
    -1095,
    -1096,
    -1400,
    1,
    2,
    40,
]
KEY_PREFIX = {
    "customers": "C",
    "vehicles": "V",
    "sales": "S",
    "service_visits": "R",
    "appointments": "A",
    "communications": "M",
    "leads": "L",
    "referrals": "F",
}
MODELS = ["Camry", "camry ", "RAV4"]
BOOL_MODES = ("absent", "null", "true", "false", "mixed")
VALUE_MODES = ("absent", "null", "values", "values")


def day_text(d: dt.date) -> str:
    return d.isoformat()


def stamp_text(d: dt.date, t: dt.time) -> str:
    return f"{d.isoformat()} {t.isoformat()}"


@st.composite
def _column_values(draw, table: str, col: schema.Column, n: int, ctx: dict) -> list | None:
    """n values of an optional column, or None when the column is absent from the data."""
    if col.kind == "bool":
        mode = draw(st.sampled_from(BOOL_MODES))
    else:
        mode = draw(st.sampled_from(VALUE_MODES))
    if mode == "absent":
        return None
    if mode == "null":
        return [None] * n
    if mode in ("true", "false"):
        return [mode == "true"] * n
    return [draw(st.one_of(st.none(), _value(table, col, ctx))) for _ in range(n)]


def _value(table: str, col: schema.Column, ctx: dict) -> st.SearchStrategy:
    """One non-null value of a column (ids refer to the dealer's own keys where they can)."""
    name, kind = col.name, col.kind
    if name in ("customer_id", "referrer_id", "referred_customer_id"):
        return st.sampled_from(ctx["customer_pool"])
    if name == "vin":
        return st.sampled_from(["V1", "V2", "V3"])
    if name == "sale_id":
        return st.sampled_from(ctx["sale_ids"] or ["S9"])
    if name == "campaign_id":
        return st.sampled_from(["K1", "K2"])
    if name == "model":
        return st.sampled_from(MODELS)
    if name in ("email", "referred_email"):
        return st.sampled_from(["ann@example.com", "bo@example.com", " ANN@example.com"])
    if name in ("phone", "referred_phone"):
        return st.sampled_from(["(714) 555-0101", "714-555-0102"])
    if name == "postal_code":
        return st.sampled_from(["92780", "33101"])
    if kind == "enum":
        return st.sampled_from(col.allowed)
    if kind == "tz":
        return st.sampled_from(CUSTOMER_ZONES)
    if kind == "date":
        return ctx["day"].map(day_text)
    if kind == "timestamp":
        return st.builds(stamp_text, ctx["day"], st.sampled_from(LOCAL_TIMES))
    if kind == "bool":
        return st.booleans()
    if kind == "int":
        return st.integers(0, 2030 if name == "model_year" else 120_000)
    if kind == "float":
        return st.sampled_from([0.0, 99.5, 18_000.0, 30_000.0, 31_000.0])
    if kind == "list":
        return st.sampled_from(["gap", "gap;tires"])
    return st.sampled_from(["Ann", "Bo", "x"])


@st.composite
def _table(draw, name: str, n: int, ctx: dict, categories: list[str]) -> pd.DataFrame:
    table = schema.TABLES[name]
    cols: dict[str, list] = {}
    for col in table.columns:
        if col.name == table.key:
            cols[col.name] = [f"{KEY_PREFIX.get(name, name[:1].upper())}{i:02d}" for i in range(n)]
        elif col.required:
            if name == "communications" and col.name == "category":
                strat = st.sampled_from(categories)
            elif col.name == "customer_id" or col.name == "referrer_id":
                strat = st.sampled_from(ctx["customer_pool"])
            else:
                strat = _value(name, col, ctx)
            cols[col.name] = [draw(strat) for _ in range(n)]
        else:
            values = draw(_column_values(name, col, n, ctx))
            if values is not None:
                cols[col.name] = values
    return pd.DataFrame(cols, columns=list(cols))


@st.composite
def dealers(draw, max_rows: int = 6, max_messages: int = 14):
    """A valid, possibly degenerate dealer (see the module docstring)."""
    tz = draw(st.sampled_from(sorted(DST_DAYS)))
    as_of = draw(st.sampled_from(DST_DAYS[tz])) + dt.timedelta(days=draw(st.integers(-2, 8)))
    single_day = draw(st.booleans())
    offsets = [0] if single_day else DAY_OFFSETS
    day = st.sampled_from(offsets).map(lambda k: as_of + dt.timedelta(days=k))
    n_customers = draw(st.integers(0, 4))
    customer_ids = [f"C{i:02d}" for i in range(n_customers)]
    orphans = draw(st.booleans())
    pool = customer_ids + (["X99"] if orphans or not customer_ids else [])
    ctx = {"customer_pool": pool, "day": day, "sale_ids": []}
    categories = draw(
        st.sampled_from(
            [
                list(schema.CATEGORIES),
                list(schema.EXEMPT_CATEGORIES),  # only exempt messages
                ["recall"],  # every message a recall
                ["service_reminder", "offer", "conquest", "recall"],
            ]
        )
    )
    frames: dict[str, pd.DataFrame] = {}
    frames["customers"] = draw(_table("customers", n_customers, ctx, categories))
    for name in schema.TABLES:
        if name in ("customers", "communications") or schema.TABLES[name].required:
            continue
        mode = draw(st.sampled_from(["absent", "header", "rows", "rows"]))
        if mode == "absent":
            continue
        n = 0 if mode == "header" else draw(st.integers(1, max_rows))
        frames[name] = draw(_table(name, n, ctx, categories))
        if name == "sales":
            ctx["sale_ids"] = list(frames[name]["sale_id"])
    n_messages = draw(st.integers(0, max_messages))
    frames["communications"] = draw(_table("communications", n_messages, ctx, categories))
    for name, table in schema.TABLES.items():  # other required tables a later schema may add
        if table.required and name not in frames:
            frames[name] = draw(_table(name, draw(st.integers(0, max_rows)), ctx, categories))
    return from_frames(frames, timezone=tz, as_of=as_of, dealer_id="HYP")


@st.composite
def params(draw) -> dict:
    """The default parameters with thresholds and severities varied (each rule's severity is
    drawn, so "severity matches params" is a real check; caps of 1 make the caps fire)."""
    p = copy.deepcopy(BASE_PARAMS)
    for _name, rule in p["rules"].items():
        rule["severity"] = draw(st.sampled_from(["high", "medium", "low"]))
    p["rules"]["cap_total"]["windows"][0]["max"] = draw(st.sampled_from([1, 5]))
    p["rules"]["cap_channel"]["windows"]["email"][0]["max"] = draw(st.sampled_from([0, 1, 3]))
    p["rules"]["after_opt_out"]["grace_business_days"] = draw(st.sampled_from([0, 1, 10]))
    p["rules"]["multi_sender"]["max_senders"] = draw(st.sampled_from([1, 2]))
    return p
