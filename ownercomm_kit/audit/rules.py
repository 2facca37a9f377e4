"""The SPEC §4 rules: one function per rule, registered with the data it needs.

A rule is ``f(data, params) -> flags`` (columns ``FLAG_COLUMNS``, index = the message's row in
the sorted messages, see ``windows.Messages``); thresholds come from ``params["rules"][name]``,
exemptions from ``params["audit"]["exempt_categories"]``. Adding a rule = one function here
with ``@rule(...)`` (which registers it in the rule catalog, ``audit.catalog``, with its title,
its definition built from the parameters, an example of its detail sentence and the data it
needs), its block in ``params/defaults.yaml``, its method of ``synth.inject.Injector`` and its
tests; then ``ownercomm docs``. Every page reads its wording from the catalog.

Readings of SPEC §4 that the tests pin:
- a customer's messages are ordered by (sent_at, message_id); windows are (t - N x 24 h, t];
- exempt messages (recall, transactional) are flagged by quiet_hours only; they are not counted
  by the caps, min_gap and multi_sender, but they still happened: an exempt message carrying a
  campaign makes a later one a duplicate, and an unsubscribe recorded on one is an opt-out;
- "message date" is sent_at's date in the dealer's timezone; sale and visit dates are dates;
- after_opt_out: the grace ends N business days (Mon-Fri) after the unsubscribe date, counted
  from the next business day (``np.busday_offset(date, N, roll="backward")``: an unsubscribe on
  a Saturday counts like one on the Friday before, but the grace never ends before the
  unsubscribe date itself); messages dated after that day are flagged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema
from ..arrays import find_sorted, first_occurrence, take
from ..data import DealerData
from ..procs import freed_memory_kept
from . import catalog
from . import text as tx
from .catalog import Rule, Support
from .catalog import upper_first as _up
from .catalog import caps as _caps, days as _days, clock as _clock, category_words as _cat, or_list as _or
from .flagtable import FLAG_COLUMNS, FlagTable, Lean, Part, concat as concat_flags  # noqa: F401  (FLAG_COLUMNS re-exported)
from .windows import (
    DAY,
    Messages,
    RelatedRows,
    asof_latest,
    containing_interval,
    day_of_date,
    first_of_keys,
    first_true_at_or_after,
    pick,
    local_ns,
    messages_of,
    ns_utc,
    prefix,
)

I64_MAX = np.iinfo(np.int64).max
I64_MIN = np.iinfo(np.int64).min


RULES = catalog.RULES  # name -> catalog.Rule, in the order they run (state rules last)


def rule(
    name: str,
    *,
    needs=(),
    needs_any=(),
    family="other",
    partial=None,
    title: str,
    define,
    example: str = "",
    support=(),
    exempt_applies: bool = True,
    scope: str = "store",
):
    """Register a rule function under its SPEC name, with everything a reader sees of it
    (``catalog.Rule``: title, definition from the parameters, an example detail, its injector)."""

    def register(func):
        catalog.register(
            Rule(
                name,
                func,
                tuple(needs),
                tuple(needs_any),
                family,
                partial,
                title=title,
                define=define,
                example=example,
                injector=f"synth.inject.Injector.{name}",
                scope=scope,
                support=tuple(support),
                exempt_applies=exempt_applies,
            )
        )
        return func

    return register


# ---------------------------------------------------------------- helpers


def exempt_mask(m: Messages, params: dict) -> np.ndarray:
    return m.in_categories(params.get("audit", {}).get("exempt_categories", schema.EXEMPT_CATEGORIES))


def make_flags(data, m: Messages, name: str, params: dict, rows, detail, related=None) -> Lean:
    """The flags of one rule for sorted rows ``rows`` (one row per message): its detail
    sentences and related ids (``m.related(rows)`` for a message's id, else text), as one
    ``flagtable.Part``; ``run_rules_timed`` puts every rule's parts in order and adds the
    message's columns once (``flagtable.FlagTable``)."""
    rows = np.asarray(rows, dtype=np.int64)
    n = len(rows)
    text = tx.s(detail).array._pa_array if n else pa.array([], pa.large_string())
    if isinstance(related, RelatedRows):
        return Lean([Part(rows, text, related_rows=related.rows)])
    rel = None if related is None else tx.s(related).array._pa_array
    return Lean([Part(rows, text, related=rel)])


def empty_flags(data: DealerData) -> Lean:
    """No flags, as a rule returns them."""
    return Lean()


def customer_bool(data: DealerData, m: Messages, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Per customer code: (is true, is false) of a customers boolean column (unknown: both False)."""
    cust = data["customers"]
    codes = table_codes(data, m, "customers")
    ok = codes >= 0
    vals = cust[column].astype("boolean")
    is_true = np.zeros(len(m.customers), bool)
    is_false = np.zeros(len(m.customers), bool)
    is_true[codes[ok]] = vals.fillna(False).to_numpy(bool)[ok]
    is_false[codes[ok]] = (~vals).fillna(False).to_numpy(bool)[ok]
    return is_true, is_false


def customer_values(data: DealerData, m: Messages, column: str) -> pd.Series:
    """Per customer code: a customers column's value (NA for customers not in the table)."""
    cust = data["customers"]
    codes = table_codes(data, m, "customers")
    ok = codes >= 0
    out = pd.Series(pd.NA, index=range(len(m.customers)), dtype=cust[column].dtype)
    out.iloc[codes[ok]] = cust[column].to_numpy()[ok]
    return out


def table_codes(data: DealerData, m: Messages, table: str) -> np.ndarray:
    """Codes of a table's customer_id (``Messages.customer_codes``), found once per table
    object for every rule that asks (the cache holds the table: its id is not reused)."""
    frame = data[table]
    held, codes = m.cached(("table_codes", table, id(frame)), lambda: (frame, m.customer_codes(frame["customer_id"])))
    return codes if held is frame else m.customer_codes(frame["customer_id"])


def related_ids(data: DealerData, table: str, column: str, pos: np.ndarray) -> pd.Series:
    return data[table][column].take(pos).reset_index(drop=True)


def local_days_of(ts: pd.Series, tz: str) -> np.ndarray:
    t = ns_utc(ts)
    out = np.full(len(t), I64_MIN)
    ok = t != I64_MIN
    out[ok] = np.floor_divide(local_ns(t[ok], tz), DAY)
    return out


def sales_model_text(data: DealerData, pos: np.ndarray) -> pd.Series:
    """'buying a Camry' or 'a purchase' per matched sale."""
    model = data["sales"]["model"].take(pos).reset_index(drop=True)
    return ("buying " + tx.with_article(model)).fillna("a purchase")


# ---------------------------------------------------------------- volume and cadence


@rule(
    "cap_total",
    family="windows",
    title="Too many messages",
    define=lambda p: f"The customer got {_caps(p['rules']['cap_total']['windows'])}, counting this message.",
    example="6th message in 7 days (cap 5)",
)
def cap_total(data: DealerData, params: dict) -> pd.DataFrame:
    rp, m = params["rules"]["cap_total"], messages_of(data)
    counted = ~exempt_mask(m, params)
    rows, count, label, start = _over_caps(m, counted, rp["windows"])
    detail = tx.join(tx.ordinal(count), " message in ", label)
    related = m.related(first_true_at_or_after(counted, start))
    return make_flags(data, m, "cap_total", params, rows, detail, related)


def _over_caps(m: Messages, counted: np.ndarray, windows: list[dict]):
    """Counted rows whose count of counted rows in a trailing window exceeds its cap.

    Returns the rows, their count, '7 days (cap 5)' and the window's first row; the first
    window (in parameter order) that a row exceeds is the one reported.
    """
    rows = np.flatnonzero(counted)
    hit = np.zeros(len(rows), bool)
    count, which, start = (np.zeros(len(rows), np.int64) for _ in range(3))
    psum = prefix(counted)
    upto = psum[rows + 1]  # counted rows up to each row: the same for every window
    for i, w in enumerate(windows):
        j = m.window_start(w["days"])[rows]
        c = upto - psum[j]
        new = (c > w["max"]) & ~hit
        hit |= new
        count[new], which[new], start[new] = c[new], i, j[new]
    labels = np.array([f"{w['days']:g} days (cap {w['max']})" for w in windows] + [""], dtype=object)
    return rows[hit], count[hit], tx.pick_words(labels, which[hit]), start[hit]


@rule(
    "cap_channel",
    family="windows",
    title="Too many on one channel",
    define=lambda p: (
        "The same on one channel: "
        + "; ".join(
            f"{catalog.CHANNEL_PLURAL.get(ch, ch)} {_caps(ws)}"
            for ch, ws in (p["rules"]["cap_channel"]["windows"] or {}).items()
        )
        + "."
    ),
    example="3rd text in 7 days (cap 2)",
)
def cap_channel(data: DealerData, params: dict) -> pd.DataFrame:
    rp, m = params["rules"]["cap_channel"], messages_of(data)
    counted = ~exempt_mask(m, params)
    parts = []
    for channel, windows in (rp.get("windows") or {}).items():
        on = counted & (m.channel == schema.CHANNELS.index(channel))
        rows, count, label, start = _over_caps(m, on, windows or [])
        detail = tx.join(tx.ordinal(count), f" {tx.NOUN[channel]} in ", label)
        related = m.related(first_true_at_or_after(on, start))
        parts.append(make_flags(data, m, "cap_channel", params, rows, detail, related))
    return concat_flags(parts)


@rule(
    "min_gap",
    family="windows",
    title="Same kind of message too soon",
    define=lambda p: (
        "The previous message of the same kind came too recently: "
        + ", ".join(f"{_cat(k)} {_days(v)}" for k, v in (p["rules"]["min_gap"]["gap_days"] or {}).items())
        + f", any other kind {_days(p['rules']['min_gap']['default_gap_days'])}."
    ),
    example="An offer 2 days after the previous one (minimum gap 7 days)",
)
def min_gap(data: DealerData, params: dict) -> pd.DataFrame:
    rp, m = params["rules"]["min_gap"], messages_of(data)
    gaps = rp.get("gap_days") or {}
    lut = np.array(
        [gaps.get(c, rp["default_gap_days"]) for c in schema.CATEGORIES] + [rp["default_gap_days"]], dtype=float
    )
    lut = (lut * DAY).astype(np.int64)
    counted = ~exempt_mask(m, params)
    # one category at a time (unknown first, then in code order): its rows are still in
    # (customer, time) order, and picked in increasing order (no gather of scattered rows)
    found = []
    for code in range(-1, len(schema.CATEGORIES)):
        o = np.flatnonzero(counted & (m.category == code))
        cust, t = m.cust[o], m.t[o]
        gap = t[1:] - t[:-1]
        close = (cust[1:] == cust[:-1]) & (gap < lut[code])
        found.append((o[1:][close], o[:-1][close], gap[close]))
    rows, prev, gap = (np.concatenate([f[i] for f in found]) for i in range(3))
    need = lut[m.category[rows]]
    detail = tx.join(
        tx.capital(tx.lookup(m.category[rows], schema.CATEGORIES, tx.CATEGORY)),
        " ",
        tx.duration(gap),
        " after the previous one (minimum gap ",
        tx.duration(need),
        ")",
    )
    return make_flags(data, m, "min_gap", params, rows, detail, m.related(prev))


@rule(
    "multi_sender",
    family="windows",
    title="Too many different senders",
    define=lambda p: (
        f"More than {p['rules']['multi_sender']['max_senders']} different senders reached the customer "
        f"within {_days(p['rules']['multi_sender']['window_days'])}, and this sender is one too many."
    ),
    example="3rd sender in 7 days (OEM, sales, service; max 2)",
)
def multi_sender(data: DealerData, params: dict) -> pd.DataFrame:
    rp, m = params["rules"]["multi_sender"], messages_of(data)
    counted = ~exempt_mask(m, params)
    rows = np.flatnonzero(counted)
    j = m.window_start(rp["window_days"])[rows]
    distinct = np.zeros(len(rows), np.int8)
    heard = np.zeros(len(rows), np.int16)  # bit s: sender s reached the customer in the window
    own = np.zeros(len(rows), np.int32)
    # made once, not per sender: on millions of rows each fresh array costs more than its arithmetic
    after, sender = rows + 1, m.sender[rows]
    for code in range(len(schema.SENDERS)):
        psum = prefix(counted & (m.sender == code))
        c = psum[after]
        c -= psum[j]
        some = c > 0
        distinct += some
        heard |= some.astype(np.int16) << code
        np.copyto(own, c, where=sender == code)
    # own == 1: this message is its sender's first in the window
    flag = (distinct > rp["max_senders"]) & (own == 1)
    rows, j, distinct, heard = rows[flag], j[flag], distinct[flag], heard[flag]
    names = np.array(
        [
            ", ".join(tx.SENDER_SHORT[s] for b, s in enumerate(schema.SENDERS) if mask >> b & 1)
            for mask in range(1 << len(schema.SENDERS))
        ],
        dtype=object,
    )
    detail = tx.join(
        tx.ordinal(distinct),
        f" sender in {rp['window_days']:g} days (",
        tx.pick_words(names, heard),
        f"; max {rp['max_senders']})",
    )
    related = m.related(first_true_at_or_after(counted, j))
    return make_flags(data, m, "multi_sender", params, rows, detail, related)


@rule(
    "duplicate_campaign",
    needs=[("communications", "campaign_id")],
    family="windows",
    title="Same campaign twice",
    define=lambda p: "The customer had already received this campaign on this channel.",
    example="Campaign SPRING24 sent again by email (first sent 2026-03-02)",
)
def duplicate_campaign(data: DealerData, params: dict) -> pd.DataFrame:
    m = messages_of(data)
    codes, uniques = m.codes(data, "campaign_id")
    # an exempt message is never flagged, but it still is a campaign the customer already got
    rows = np.flatnonzero(codes >= 0)
    key = (m.cust[rows] * (len(uniques) + 1) + codes[rows]) * (len(schema.CHANNELS) + 1) + (m.channel[rows] + 1)
    # rows are in (customer, sent_at, message_id) order, so a group's first row is its first send
    at = first_occurrence(key)
    dup = (at != np.arange(len(rows))) & ~exempt_mask(m, params)[rows]
    rows, first = rows[dup], rows[at[dup]]
    detail = tx.join(
        "Campaign ",
        m.values(data, "campaign_id", rows),
        " sent again by ",
        tx.lookup(m.channel[rows], schema.CHANNELS, tx.BY),
        " (first sent ",
        tx.day_text(m.local_day()[first]),
        ")",
    )
    return make_flags(data, m, "duplicate_campaign", params, rows, detail, m.related(first))


# ---------------------------------------------------------------- purchases and service


@rule(
    "promo_after_purchase",
    needs=[("sales", None)],
    family="purchase",
    title="Promotion right after a purchase",
    define=lambda p: (
        f"{_up(_or([_cat(c) for c in p['rules']['promo_after_purchase']['categories']]))} "
        f"within {_days(p['rules']['promo_after_purchase']['days'])} after the customer bought a vehicle."
    ),
    example="Emailed an offer 2 days after buying a Camry on 2026-05-01 (cool-down 30 days)",
)
def promo_after_purchase(data: DealerData, params: dict) -> pd.DataFrame:
    rp, m = params["rules"]["promo_after_purchase"], messages_of(data)
    rows = np.flatnonzero(~exempt_mask(m, params) & m.in_categories(rp["categories"]))
    sales = data["sales"]
    sc, sd = table_codes(data, m, "sales"), day_of_date(sales["sale_date"])
    ok = np.flatnonzero((sc >= 0) & (sd != I64_MIN))
    day = m.local_day()[rows]
    hit = asof_latest(m.cust[rows], day, sc[ok], sd[ok])
    diff = day - pick(sd[ok], hit, 0)
    flag = (hit >= 0) & (diff <= rp["days"])
    rows, sale, diff = rows[flag], ok[hit[flag]], diff[flag]
    detail = tx.join(
        tx.lookup(m.channel[rows], schema.CHANNELS, tx.VERB_WHAT),
        " ",
        tx.lookup(m.category[rows], schema.CATEGORIES, tx.CATEGORY),
        " ",
        tx.days_after(diff),
        sales_model_text(data, sale),
        " on ",
        tx.day_text(sd[sale]),
        " (cool-down ",
        str(rp["days"]),
        " days)",
    )
    return make_flags(
        data, m, "promo_after_purchase", params, rows, detail, related_ids(data, "sales", "sale_id", sale)
    )


@rule(
    "better_offer_after_purchase",
    needs=[
        ("sales", None),
        ("sales", "model"),
        ("sales", "price"),
        ("communications", "model"),
        ("communications", "offer_price"),
    ],
    family="purchase",
    title="Better offer right after the customer bought",
    define=lambda p: (
        f"{_up(_or([_cat(c) for c in p['rules']['better_offer_after_purchase']['categories']]))} "
        f"on the model the customer bought, within {_days(p['rules']['better_offer_after_purchase']['days'])} of buying, "
        "at a lower price than they paid."
    ),
    example="Offered a Camry at $27,900 12 days after the customer paid $29,500 for one",
)
def better_offer_after_purchase(data: DealerData, params: dict) -> pd.DataFrame:
    rp, m = params["rules"]["better_offer_after_purchase"], messages_of(data)
    sales = data["sales"]
    priced = sales["model"].notna() & sales["price"].notna()
    # only customers with a priced purchase can be offered a better deal: filter before strings
    rows = np.flatnonzero(
        ~exempt_mask(m, params)
        & m.in_categories(rp["categories"])
        & m.with_codes(table_codes(data, m, "sales")[priced.to_numpy(bool)])
    )
    rows = rows[
        m.values(data, "model", rows).notna().to_numpy() & m.values(data, "offer_price", rows).notna().to_numpy()
    ]
    model, price = m.values(data, "model", rows), m.values(data, "offer_price", rows).to_numpy(float)
    sc, sd = table_codes(data, m, "sales"), day_of_date(sales["sale_date"])
    ok = np.flatnonzero(
        (sc >= 0) & (sd != I64_MIN) & sales["model"].notna().to_numpy() & sales["price"].notna().to_numpy()
    )
    both = pd.concat([model, sales["model"].take(ok)], ignore_index=True).str.strip().str.lower()
    mcodes, _ = pd.factorize(both)
    left = pd.DataFrame(
        {
            "row": rows,
            "k": m.cust[rows] * (mcodes.max(initial=0) + 1) + mcodes[: len(rows)],
            "day": m.local_day()[rows],
            "offer": price,
            "i": np.arange(len(rows)),
        }
    )
    right = pd.DataFrame(
        {
            "sale": ok,
            "k": sc[ok] * (mcodes.max(initial=0) + 1) + mcodes[len(rows) :],
            "sale_day": sd[ok],
            "paid": sales["price"].to_numpy(float)[ok],
        }
    )
    j = left.merge(right, on="k")  # per customer and model: a handful of sales, never a cartesian blow-up
    j = j[(j["day"] >= j["sale_day"]) & (j["day"] - j["sale_day"] <= rp["days"]) & (j["offer"] < j["paid"])]
    j = j.sort_values(["row", "sale_day", "sale"]).drop_duplicates("row", keep="last")  # the latest such sale
    rows, sale = j["row"].to_numpy(), j["sale"].to_numpy()
    diff = j["day"].to_numpy() - j["sale_day"].to_numpy()
    detail = tx.join(
        tx.lookup(m.channel[rows], schema.CHANNELS, tx.VERB_WHAT),
        " ",
        tx.lookup(m.category[rows], schema.CATEGORIES, tx.CATEGORY),
        " for ",
        tx.with_article(model.take(j["i"].to_numpy()).str.strip()),
        " at ",
        tx.money(j["offer"]),
        " ",
        tx.days_after(diff),
        "buying one for ",
        tx.money(j["paid"]),
    )
    return make_flags(
        data, m, "better_offer_after_purchase", params, rows, detail, related_ids(data, "sales", "sale_id", sale)
    )


def _reminder_partial(data: DealerData) -> str | None:
    if not data.has("service_visits"):
        return "checked only against appointments: the service_visits table is missing"
    if not data.has("appointments"):
        return "checked only against service visits: the appointments table is missing"
    return None


@rule(
    "reminder_after_service",
    needs_any=[("service_visits", None), ("appointments", None)],
    family="service",
    partial=_reminder_partial,
    title="Service reminder right after a visit",
    define=lambda p: (
        f"A service reminder within {_days(p['rules']['reminder_after_service']['days'])} after a service "
        "visit (of the same vehicle when both name one), or while an appointment is already booked and not yet due."
    ),
    example="Service reminder 3 days after the service visit of 2026-06-02 (repair order RO123)",
    support=[
        Support("against service visits", ("service_visits",), "reminders are checked against appointments only"),
        Support("against booked appointments", ("appointments",), "reminders are checked against visits only"),
    ],
)
def reminder_after_service(data: DealerData, params: dict) -> pd.DataFrame:
    rp, m = params["rules"]["reminder_after_service"], messages_of(data)
    known = np.zeros(len(m), bool)
    for table in ("service_visits", "appointments"):
        if data.has(table):
            known |= m.with_codes(table_codes(data, m, table))
    rows = np.flatnonzero(~exempt_mask(m, params) & m.in_categories(["service_reminder"]) & known)
    day = m.local_day()[rows]
    visit = _recent_visit(data, m, rows, day) if data.has("service_visits") else np.full(len(rows), -1)
    vdays = day_of_date(data["service_visits"]["visit_date"])
    by_visit = (visit >= 0) & (day - pick(vdays, visit, 0) <= rp["days"])
    appt = np.full(len(rows), -1)
    if data.has("appointments"):
        ap = data["appointments"]
        live = np.flatnonzero((ap["status"] != "cancelled").fillna(True).to_numpy(bool))
        ac = table_codes(data, m, "appointments")[live]
        booked, due = ns_utc(ap["booked_at"])[live], ns_utc(ap["scheduled_for"])[live]
        ok = (ac >= 0) & (booked != I64_MIN) & (due != I64_MIN)
        pos = containing_interval(m.cust[rows], m.t[rows], ac[ok], booked[ok], due[ok])
        appt = pick(live[ok], pos)
    flag = by_visit | (appt >= 0)
    v_rows, a_rows = rows[by_visit], rows[flag & ~by_visit]
    v_pos, a_pos = visit[by_visit], appt[flag & ~by_visit]
    v_detail = tx.join(
        "Service reminder ",
        tx.days_after(day[by_visit] - vdays[v_pos]),
        "a service visit on ",
        tx.day_text(vdays[v_pos]),
        " (repair order ",
        related_ids(data, "service_visits", "ro_id", v_pos),
        ")",
    )
    tz = data.timezone
    a_detail = tx.join(
        "Service reminder while an appointment booked on ",
        tx.day_text(local_days_of(data["appointments"]["booked_at"].take(a_pos), tz)),
        " is due on ",
        tx.day_text(local_days_of(data["appointments"]["scheduled_for"].take(a_pos), tz)),
    )
    return concat_flags(
        [
            make_flags(
                data,
                m,
                "reminder_after_service",
                params,
                v_rows,
                v_detail,
                related_ids(data, "service_visits", "ro_id", v_pos),
            ),
            make_flags(
                data,
                m,
                "reminder_after_service",
                params,
                a_rows,
                a_detail,
                related_ids(data, "appointments", "appointment_id", a_pos),
            ),
        ]
    )


def _recent_visit(data: DealerData, m: Messages, rows: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Latest visit on or before the message date; same vin when message and visit both carry one."""
    sv = data["service_visits"]
    vc, vd = table_codes(data, m, "service_visits"), day_of_date(sv["visit_date"])
    mvin = m.values(data, "vin", rows)
    vins, _ = pd.factorize(pd.concat([mvin, sv["vin"]], ignore_index=True))
    mv, vv = vins[: len(rows)].astype(np.int64), vins[len(rows) :].astype(np.int64)
    ok = (vc >= 0) & (vd != I64_MIN)
    cust = m.cust[rows]
    nv = int(vins.max(initial=0)) + 1
    candidates = [
        _asof_subset(cust, day, vc, vd, ok & (vv < 0)),  # visits without a vin match any reminder
        _asof_subset(np.where(mv < 0, cust, -1), day, vc, vd, ok),  # reminders without a vin match any visit
        _asof_subset(np.where(mv >= 0, cust * nv + mv, -1), day, vc * nv + vv, vd, ok & (vv >= 0)),  # same vin
    ]
    best = np.full(len(rows), -1)
    for c in candidates:
        better = (c >= 0) & ((best < 0) | (pick(vd, c, 0) > pick(vd, best, 0)))
        best = np.where(better, c, best)
    return best


def _asof_subset(left_group, left_val, right_group, right_val, keep) -> np.ndarray:
    idx = np.flatnonzero(keep)
    pos = asof_latest(left_group, left_val, right_group[idx], right_val[idx])
    return pick(idx, pos)


@rule(
    "conquest_to_owner",
    needs_any=[("sales", None), ("vehicles", None)],
    family="purchase",
    title="'Switch to us' offer to an existing owner",
    define=lambda p: (
        "A conquest offer (a message meant to win customers from other brands) sent to someone who already "
        "owns a vehicle on record here or bought from this dealer on or before that day."
    ),
    example="Conquest offer to a customer who bought here on 2025-11-20",
)
def conquest_to_owner(data: DealerData, params: dict) -> pd.DataFrame:
    m = messages_of(data)
    rows = np.flatnonzero(~exempt_mask(m, params) & m.in_categories(["conquest"]))
    day = m.local_day()[rows]
    sale = np.full(len(rows), -1)
    if data.has("sales"):
        sc, sd = table_codes(data, m, "sales"), day_of_date(data["sales"]["sale_date"])
        sale = _asof_subset(m.cust[rows], day, sc, sd, (sc >= 0) & (sd != I64_MIN))
    owned = np.full(len(rows), -1)
    if data.has("vehicles"):
        vc = table_codes(data, m, "vehicles")
        first = np.full(len(m.customers), -1)
        ok = np.flatnonzero(vc >= 0)
        first[vc[ok][::-1]] = ok[::-1]  # the first vehicle row of each customer
        owned = first[m.cust[rows]]
    by_sale, by_vehicle = sale >= 0, (sale < 0) & (owned >= 0)
    s_rows, v_rows = rows[by_sale], rows[by_vehicle]
    s_pos, v_pos = sale[by_sale], owned[by_vehicle]
    s_detail = "Conquest offer to a customer who bought here on " + tx.day_text(
        day_of_date(data["sales"]["sale_date"])[s_pos]
    )
    v_vin = related_ids(data, "vehicles", "vin", v_pos)
    v_detail = "Conquest offer to a customer who owns vehicle " + v_vin
    return concat_flags(
        [
            make_flags(
                data, m, "conquest_to_owner", params, s_rows, s_detail, related_ids(data, "sales", "sale_id", s_pos)
            ),
            make_flags(data, m, "conquest_to_owner", params, v_rows, v_detail, v_vin),
        ]
    )


@rule(
    "promo_during_open_lead",
    needs=[("leads", None)],
    family="purchase",
    title="Marketing while sales works a lead",
    define=lambda p: (
        f"{_up(_or([_cat(c) for c in p['rules']['promo_during_open_lead']['categories']]))} from "
        f"anyone other than {catalog.SENDER_WORDS.get(p['rules']['promo_during_open_lead']['owner_sender'], p['rules']['promo_during_open_lead']['owner_sender'])} "
        "while a sales lead of the customer is open."
    ),
    example="A newsletter from the OEM while a lead opened on 2026-04-10 is still open with sales",
)
def promo_during_open_lead(data: DealerData, params: dict) -> pd.DataFrame:
    rp, m = params["rules"]["promo_during_open_lead"], messages_of(data)
    owner = schema.SENDERS.index(rp["owner_sender"]) if rp["owner_sender"] in schema.SENDERS else -2
    leads, lc = data["leads"], table_codes(data, m, "leads")
    rows = np.flatnonzero(
        ~exempt_mask(m, params) & m.in_categories(rp["categories"]) & (m.sender != owner) & m.with_codes(lc)
    )
    opened, closed = ns_utc(leads["opened_at"]), ns_utc(leads["closed_at"])
    closed = np.where(closed == I64_MIN, I64_MAX, closed)  # still open
    ok = np.flatnonzero((lc >= 0) & (opened != I64_MIN))
    pos = containing_interval(m.cust[rows], m.t[rows], lc[ok], opened[ok], closed[ok])
    flag = pos >= 0
    rows, lead = rows[flag], ok[pos[flag]]
    owner_word = tx.SENDER.get(rp["owner_sender"], rp["owner_sender"])
    detail = tx.join(
        tx.capital(tx.lookup(m.category[rows], schema.CATEGORIES, tx.CATEGORY)),
        " from ",
        tx.lookup(m.sender[rows], schema.SENDERS, tx.SENDER),
        " while a lead opened on ",
        tx.day_text(local_days_of(leads["opened_at"].take(lead), data.timezone)),
        f" is still open with {owner_word}",
    )
    return make_flags(
        data, m, "promo_during_open_lead", params, rows, detail, related_ids(data, "leads", "lead_id", lead)
    )


# ---------------------------------------------------------------- consent and timing

CONSENT = {  # channel: (customers column, the value that forbids, sentence)
    "sms": ("sms_consent", "not true", "Texted without SMS consent"),
    "email": ("email_opt_in", False, "Emailed a customer who opted out of email"),
    "phone": ("phone_dnc", True, "Called a customer on the do-not-call list"),
    "mail": ("mail_opt_out", True, "Mailed a customer who opted out of mail"),
}


def _consent_partial(data: DealerData) -> str | None:
    absent = [
        f"{ch} (customers.{col} missing)" for ch, (col, _, _) in CONSENT.items() if not data.has("customers", col)
    ]
    return f"not checked for {', '.join(absent)}" if absent else None


@rule(
    "no_consent",
    needs_any=[("customers", col) for col, _, _ in CONSENT.values()],
    family="consent",
    partial=_consent_partial,
    title="No consent for the channel",
    define=lambda p: (
        "A text without recorded consent, an email to someone who opted out of email, a call to a number "
        "on the do-not-call list, or mail to someone who opted out of mail."
    ),
    example="Texted without SMS consent (no consent recorded)",
    support=[
        Support(what, (f"customers.{CONSENT[ch][0]}",), without)
        for ch, what, without in (
            ("sms", "text consent", "texts are not checked for consent"),
            ("email", "email opt-outs", "emails are not checked for opt-outs"),
            ("phone", "the do-not-call list", "calls are not checked against do-not-call"),
            ("mail", "mail opt-outs", "mailings are not checked for opt-outs"),
        )
    ],
)
def no_consent(data: DealerData, params: dict) -> pd.DataFrame:
    m = messages_of(data)
    counted = ~exempt_mask(m, params)
    parts = []
    for channel, (col, forbid, sentence) in CONSENT.items():
        if not data.has("customers", col):
            continue
        is_true, is_false = customer_bool(data, m, col)
        bad = ~is_true if forbid == "not true" else (is_true if forbid else is_false)
        rows = np.flatnonzero(counted & (m.channel == schema.CHANNELS.index(channel)) & bad[m.cust])
        detail = tx.pick_words([sentence], np.zeros(len(rows), np.int64))
        if forbid == "not true":  # say whether consent was refused or simply never recorded
            detail = tx.join(
                detail, tx.pick_words((" (no consent recorded)", " (consent refused)"), is_false[m.cust[rows]])
            )
        parts.append(make_flags(data, m, "no_consent", params, rows, detail))
    return concat_flags(parts)


@rule(
    "after_opt_out",
    needs=[("communications", "unsubscribed")],
    family="consent",
    title="Messaged after unsubscribing",
    define=lambda p: (
        "A message on a channel the customer unsubscribed from, more than "
        f"{p['rules']['after_opt_out']['grace_business_days']} business days (Monday to Friday) after unsubscribing."
    ),
    example="Emailed on 2026-05-20, after the customer unsubscribed on 2026-05-01 (grace of 10 business days ended 2026-05-15)",
)
def after_opt_out(data: DealerData, params: dict) -> pd.DataFrame:
    rp, m = params["rules"]["after_opt_out"], messages_of(data)
    width = len(schema.CHANNELS) + 1

    def key(rows: np.ndarray) -> np.ndarray:
        return m.cust[rows] * width + (m.channel[rows] + 1)

    # the first unsubscribe per (customer, channel): rows are in time order per customer;
    # any category counts, an opt-out is the customer's wish whatever the message was
    u_rows = np.flatnonzero(m.flag(data, "unsubscribed"))
    u_keys, first = first_of_keys(key(u_rows))
    u_first = u_rows[first]
    u_day = m.local_day()[u_first]
    grace_end = np.busday_offset(u_day.astype("datetime64[D]"), rp["grace_business_days"], roll="backward")
    # Never before the unsubscribe day itself: with a grace of 0 a weekend unsubscribe would
    # otherwise roll back to Friday and flag that weekend's earlier messages too.
    grace_end = np.maximum(grace_end.astype(np.int64), u_day)
    # only the messages of customers who ever unsubscribed can break it: most stores have few
    rows = np.flatnonzero(m.with_codes(m.cust[u_rows]) & ~exempt_mask(m, params))
    at = find_sorted(u_keys, key(rows))  # -1: no unsubscribe on this channel (nobody may have one)
    flag = (at >= 0) & (m.local_day()[rows] > take(grace_end, at, I64_MAX))
    rows, at = rows[flag], at[flag]
    detail = tx.join(
        tx.lookup(m.channel[rows], schema.CHANNELS, tx.VERB),
        " on ",
        tx.day_text(m.local_day()[rows]),
        ", after the customer unsubscribed on ",
        tx.day_text(u_day[at]),
        " (grace of ",
        str(rp["grace_business_days"]),
        " business days ended ",
        tx.day_text(grace_end[at]),
        ")",
    )
    return make_flags(data, m, "after_opt_out", params, rows, detail, m.related(u_first[at]))


def _zones_partial(data: DealerData) -> str | None:
    if not data.has("customers", "timezone"):
        return "customers.timezone is missing: every message was read in the dealer's time zone"
    return None


@rule(
    "quiet_hours",
    family="timing",
    partial=_zones_partial,
    title="Texts or calls at night",
    define=lambda p: (
        f"{_up(_or([catalog.CHANNEL_WORDS.get(c, c) for c in p['rules']['quiet_hours']['channels']]))} "
        f"before {_clock(p['rules']['quiet_hours']['start'])} or from {_clock(p['rules']['quiet_hours']['end'])} on, in "
        "the customer's local time (the dealer's when the customer's time zone is unknown). Every kind of message counts."
    ),
    example="Texted at 9:42 PM customer's time (quiet from 9 PM to 8 AM)",
    support=[
        Support(
            "in each customer's own time zone",
            ("customers.timezone",),
            "quiet hours use the dealer's time zone for everyone",
        )
    ],
    exempt_applies=False,
)
def quiet_hours(data: DealerData, params: dict) -> pd.DataFrame:
    """Applies to exempt categories too (SPEC §4)."""
    rp, m = params["rules"]["quiet_hours"], messages_of(data)
    codes = [schema.CHANNELS.index(c) for c in rp["channels"] if c in schema.CHANNELS]
    rows = np.flatnonzero(np.isin(m.channel, codes))
    local, own_zone = customer_local(data, m, rows)
    tod = np.mod(local, DAY)
    start, end = _tod(rp["start"]), _tod(rp["end"])
    quiet = (tod < start) | (tod >= end) if start <= end else (tod < start) & (tod >= end)
    rows, tod, own_zone = rows[quiet], tod[quiet], own_zone[quiet]
    detail = tx.join(
        tx.lookup(m.channel[rows], schema.CHANNELS, tx.VERB),
        " at ",
        tx.clock(tod),
        tx.pick_words((" dealer's time", " customer's time"), own_zone),
        f" (quiet from {tx.clock_param(rp['end'])} to {tx.clock_param(rp['start'])})",
    )
    return make_flags(data, m, "quiet_hours", params, rows, detail)


def customer_local(data: DealerData, m: Messages, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock ns of sorted rows in the customer's timezone (else the dealer's), and
    whether the customer's own zone was used. One conversion per timezone group."""
    if data.has("customers", "timezone"):
        zones = customer_values(data, m, "timezone")
    else:
        zones = pd.Series(pd.NA, index=range(len(m.customers)), dtype="string")
    zone_codes, zone_names = pd.factorize(zones)
    zc = zone_codes[m.cust[rows]]
    local = np.zeros(len(rows), np.int64)
    own_zone = np.zeros(len(rows), bool)
    for code in np.flatnonzero(np.bincount(zc + 1, minlength=1)) - 1:  # the distinct codes, sorted
        sel = zc == code
        tz = zone_names[code] if code >= 0 else data.timezone
        try:
            # the dealer's zone: the sorted messages' wall clock, converted once per store
            local[sel] = m.local_ns()[rows[sel]] if tz == m.timezone else local_ns(m.t[rows[sel]], tz)
        except Exception:  # an unknown zone name (validation warns about it): the dealer's zone
            local[sel], code = local_ns(m.t[rows[sel]], data.timezone), -1
        own_zone[sel] = code >= 0
    return local, own_zone


def _tod(hhmm: str) -> int:
    h, mi = (int(x) for x in str(hhmm).split(":")[:2])
    return (h * 60 + mi) * 60 * 10**9


@rule(
    "non_preferred_channel",
    needs=[("customers", "preferred_channel")],
    family="consent",
    title="Not the customer's preferred channel",
    define=lambda p: (
        f"A marketing message ({_or([_cat(c) for c in p['rules']['non_preferred_channel']['categories']])}) "
        "on a channel other than the one the customer prefers."
    ),
    example="Emailed an offer; the customer prefers texts",
)
def non_preferred_channel(data: DealerData, params: dict) -> pd.DataFrame:
    rp, m = params["rules"]["non_preferred_channel"], messages_of(data)
    pref = customer_values(data, m, "preferred_channel")
    pref_code = np.append(pd.Index(schema.CHANNELS).get_indexer(pd.Index(pref.str.lower())), -1)
    pc = pref_code[m.cust]
    rows = np.flatnonzero(~exempt_mask(m, params) & m.in_categories(rp["categories"]) & (pc >= 0) & (pc != m.channel))
    detail = tx.join(
        tx.lookup(m.channel[rows], schema.CHANNELS, tx.VERB_WHAT),
        " ",
        tx.lookup(m.category[rows], schema.CATEGORIES, tx.CATEGORY),
        "; the customer prefers ",
        tx.lookup(pc[rows], schema.CHANNELS, {"email": "email", "sms": "texts", "phone": "calls", "mail": "mail"}),
    )
    return make_flags(data, m, "non_preferred_channel", params, rows, detail)


# ---------------------------------------------------------------- running them


def up_to_as_of(data: DealerData) -> DealerData:
    """The dealer as of its report date: messages dated after ``as_of`` (dealer's calendar)
    are left out, so an earlier ``as_of`` rebuilds the audit as it stood then (SPEC §3)."""
    comm = data["communications"]
    end = pd.Timestamp(data.as_of + dt.timedelta(days=1)).tz_localize(
        data.timezone, nonexistent="shift_forward", ambiguous=False
    )
    later = (comm["sent_at"] >= end).to_numpy(dtype=bool, na_value=False)  # a missing sent_at stays: it is a DataError
    if not later.any():
        return data
    return dataclasses.replace(data, tables={**data.tables, "communications": comm[~later].reset_index(drop=True)})


def run_rules(data: DealerData, params: dict, rules=None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Flags of the chosen rules (default all enabled) and why any rule was skipped or partial.

    Flags are ordered by customer, sent_at, message_id, then rule (registry order).
    """
    flags, skipped, _ = run_rules_timed(data, params, rules)
    return flags, skipped


def run_rules_timed(data: DealerData, params: dict, rules=None, workers: int | None = None):
    """As ``run_rules``, plus seconds spent per rule (for the benchmark)."""
    with freed_memory_kept():  # the flags' frame too (see run_rules_table)
        table, skipped, seconds = run_rules_table(data, params, rules, workers)
        return table.frame(), skipped, seconds


def run_rules_table(data: DealerData, params: dict, rules=None, workers: int | None = None):
    """As ``run_rules_timed``, the flags as a ``flagtable.FlagTable`` (written to CSV without
    building the frame: ``ownercomm audit``).

    Rules run on ``workers`` threads (default: up to 2, the cores DuckDB would use too); numpy
    and Arrow release the GIL in sorts, searches and array arithmetic. The result does not
    depend on the threads: flags are put back in rule order.

    The sort and the rules make and drop many arrays of the messages' length: their memory is
    reused while they run, and handed back after (``procs.freed_memory_kept``; in a kernel,
    the 100k-customer store's audit cell 12.4-12.7 -> 10.6-10.7 s, its peak 3.37 -> 3.40-3.50 GB).
    """
    with freed_memory_kept():
        return _run_rules_table(data, params, rules, workers)


def _run_rules_table(data: DealerData, params: dict, rules, workers: int | None):
    data = up_to_as_of(data)
    chosen = list(RULES) if rules is None else list(rules)
    skipped, runnable = {}, []
    for name in chosen:
        r = RULES[name]
        if not params["rules"].get(name, {}).get("enabled", True):
            skipped[name] = "turned off in the parameters"
            continue
        why = r.missing(data)
        if why:
            skipped[name] = why
            continue
        note = r.partial(data) if r.partial else None
        if note:
            skipped[name] = "partly: " + note
        runnable.append(r)
    messages_of(data)  # sorted once, before the threads share it
    seconds: dict[str, float] = {}

    def run_one(r: Rule) -> pd.DataFrame:
        t0 = time.perf_counter()
        out = r.func(data, params)
        seconds[r.name] = time.perf_counter() - t0
        return out

    workers = workers or min(2, os.cpu_count() or 1)
    if workers > 1 and len(runnable) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(run_one, runnable))
    else:
        parts = [run_one(r) for r in runnable]
    seconds = {r.name: seconds[r.name] for r in runnable}  # registry order, whatever the threads did
    names = list(RULES)
    severity = [params["rules"].get(n, {}).get("severity", "") for n in names]
    table = FlagTable(
        data, messages_of(data), names, severity, [(names.index(r.name), p) for r, p in zip(runnable, parts)]
    )
    return table, skipped, seconds
