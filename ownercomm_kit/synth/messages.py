"""The clean message history: breaks no rule of SPEC §4, by construction.

Each customer has a grid of *slots*, one every ``S`` days (the same local hours band each
day), and a message can only sit in a slot. ``S`` is the smallest spacing for which any
window of the caps and of ``multi_sender`` holds few enough slots and which exceeds the
default ``min_gap``: so caps, multi_sender and default gaps hold whatever fills the slots.
Slots are numbered into ``lanes`` (slot index modulo the lane count); a category with a
longer gap (service_reminder 14 days) or a channel with a tighter cap (phone 1 per 7 days,
mail 2 per 30 days) may only use lanes far enough apart. Everything is derived from the
rule parameters, so changing a threshold changes the grid, not the code.

Time windows that depend on events (purchases, visits, booked appointments, open leads,
unsubscribes) are masks on slots, each widened by a day so that time zones and the
date-versus-time-stamp reading of the rules cannot make a clean message borderline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import schema
from . import lives as lv
from .timeutil import NEVER, NS_DAY, NS_HOUR, NS_SECOND, Events, Intervals, convert_wall, last_index

CATS = schema.CATEGORIES
CAT = {c: i for i, c in enumerate(CATS)}
CHANNELS = schema.CHANNELS
CH = {c: i for i, c in enumerate(CHANNELS)}
SENDERS = schema.SENDERS
SND = {s: i for i, s in enumerate(SENDERS)}

# Lane a category or channel with a longer required spacing starts from (others use all).
HOME_LANE = {"service_reminder": 0, "offer": 1, "sales_promo": 3, "phone": 0, "mail": 1}
VEHICLE_CATEGORIES = ("service_reminder", "warranty", "recall", "transactional", "anniversary")
CAMPAIGN_CATEGORIES = (
    "service_reminder",
    "offer",
    "sales_promo",
    "conquest",
    "newsletter",
    "event",
    "recall",
    "referral",
    "warranty",
)

# Category mix per customer kind (owner, service-only, prospect); vehicle categories need a car.
_W = {
    #                  owner  svc   prospect
    "service_reminder": (0.09, 0.12, 0.0),
    "offer": (0.13, 0.12, 0.10),
    "sales_promo": (0.07, 0.10, 0.20),
    "conquest": (0.0, 0.0, 0.22),
    "birthday": (0.0, 0.0, 0.0),  # placed near birthdays, see below
    "anniversary": (0.02, 0.0, 0.0),
    "warranty": (0.05, 0.05, 0.0),
    "recall": (0.02, 0.02, 0.0),
    "survey": (0.10, 0.10, 0.05),
    "newsletter": (0.21, 0.22, 0.25),
    "referral": (0.05, 0.02, 0.0),
    "event": (0.10, 0.10, 0.18),
    "transactional": (0.11, 0.10, 0.0),
}
CAT_WEIGHTS = np.array([_W[c] for c in CATS]).T  # [kind, category]

# Who sends what (oem, sales, dealer, service, fi).
_S = {
    "service_reminder": (0.2, 0, 0, 0.8, 0),
    "offer": (0.5, 0, 0.3, 0, 0.2),
    "sales_promo": (0, 0.7, 0.3, 0, 0),
    "conquest": (0.5, 0.2, 0.3, 0, 0),
    "birthday": (0, 0.3, 0.7, 0, 0),
    "anniversary": (0, 0.7, 0.3, 0, 0),
    "warranty": (0.4, 0, 0, 0, 0.6),
    "recall": (0.8, 0, 0, 0.2, 0),
    "survey": (0.3, 0.2, 0.1, 0.4, 0),
    "newsletter": (0.4, 0, 0.6, 0, 0),
    "referral": (0, 0.4, 0.6, 0, 0),
    "event": (0, 0.2, 0.8, 0, 0),
    "transactional": (0, 0.2, 0, 0.6, 0.2),
}
SENDER_CUM = np.cumsum(np.array([_S[c] for c in CATS], dtype=float), axis=1)
SENDER_CUM /= SENDER_CUM[:, -1:]

# Channel mix per category (email, sms, phone, mail) before consent and lanes.
_C = {
    "service_reminder": (0.5, 0.4, 0.1, 0.05),
    "recall": (0.4, 0.05, 0.05, 0.5),
    "transactional": (0.5, 0.5, 0, 0),
    "survey": (0.8, 0.2, 0, 0),
    "birthday": (0.6, 0.2, 0, 0.2),
    "offer": (0.6, 0.15, 0.05, 0.2),
    "conquest": (0.7, 0.1, 0.05, 0.15),
    "warranty": (0.6, 0.1, 0.2, 0.1),
}
CHANNEL_WEIGHTS = np.array([_C.get(c, (0.7, 0.2, 0.03, 0.07)) for c in CATS], dtype=np.float32)


def _hours(text) -> float:
    h, _, m = str(text).partition(":")
    return int(h) + int(m or 0) / 60


def _n_max(window_days: float, gap: float) -> int:
    """Most slots, at least ``gap`` days apart, that fit a window (t - days, t] (conservative)."""
    return math.floor(window_days / gap) + 1


def _pow2(d: int) -> int:
    return 1 << (d - 1).bit_length()


@dataclass(frozen=True)
class Plan:
    spacing: int  # days between a customer's consecutive slots
    slack: float  # days: how much closer two slots can be (hours band + a DST hour)
    hour_lo: float  # local send hours [lo, hi)
    hour_hi: float
    lanes: int
    cat_ok: np.ndarray  # [lane, category]
    ch_ok: np.ndarray  # [lane, channel]

    def gap(self, slots: int) -> float:
        """Fewest days between two slots ``slots`` apart."""
        return slots * self.spacing - self.slack


def plan(params: dict) -> Plan:
    """The slot grid that makes caps, gaps and multi_sender hold for these parameters."""
    r = params["rules"]
    start, end = _hours(r["quiet_hours"]["start"]), _hours(r["quiet_hours"]["end"])
    lo, hi = math.ceil(start) + 1, math.floor(end) - 2
    # the stricter state windows (SPEC §4 State rules) hold for everyone: no clean message breaks one
    laws = [v for v in ((params.get("state_rules") or {}).get("states") or {}).values() if v and v.get("enabled", True)]
    if laws:
        lo = max(lo, max(math.ceil(_hours(v.get("start", "08:00"))) for v in laws))
        hi = min(hi, min(math.floor(_hours(v.get("end", "21:00"))) - 1 for v in laws))
    if hi - lo < 2:  # a narrow allowed band: use all of it
        lo, hi = math.ceil(start), math.floor(end)
    slack = (hi - lo + 1) / 24
    ms = r["multi_sender"]

    def grid_ok(g: float) -> bool:
        return (
            g > 0
            and all(_n_max(w["days"], g) <= w["max"] for w in r["cap_total"]["windows"])
            and _n_max(ms["window_days"], g) <= ms["max_senders"]
            and g >= r["min_gap"]["default_gap_days"]
        )

    spacing = next((s for s in range(1, 120) if grid_ok(s - slack)), None)
    if spacing is None:
        raise ValueError("synth: no message spacing satisfies cap_total, multi_sender and min_gap parameters")

    def slots_needed(ok) -> int:
        d = next((d for d in range(1, 400) if ok(d * spacing - slack)), None)
        if d is None:
            raise ValueError("synth: a cap or gap parameter cannot be met by any spacing")
        return _pow2(d)

    gaps = r["min_gap"]["gap_days"] or {}
    d_cat = {c: slots_needed(lambda g, c=c: g >= gaps.get(c, r["min_gap"]["default_gap_days"])) for c in CATS}
    wins = r["cap_channel"]["windows"] or {}
    d_ch = {
        ch: slots_needed(lambda g, ch=ch: all(_n_max(w["days"], g) <= w["max"] for w in wins.get(ch) or []))
        for ch in CHANNELS
    }
    lanes = max([*d_cat.values(), *d_ch.values()])
    lane = np.arange(lanes)[:, None]

    def ok_matrix(names, dist):
        home = np.array([HOME_LANE.get(n, 0) % lanes for n in names])
        d = np.array([dist[n] for n in names])
        return (lane - home[None, :]) % d[None, :] == 0

    return Plan(spacing, slack, lo, hi, lanes, ok_matrix(CATS, d_cat), ok_matrix(CHANNELS, d_ch))


def _choose(rng, cum: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw from cumulative weights [n, k]; -1 where a row's total is 0."""
    u = rng.random(len(cum), dtype=np.float32) * cum[:, -1]
    out = (cum <= u[:, None]).sum(axis=1)
    return np.where(cum[:, -1] > 0, np.minimum(out, cum.shape[1] - 1), -1)


def consent_ok(c: dict) -> np.ndarray:
    """[customer, channel]: may this customer be reached on this channel (SPEC §4 no_consent)?"""
    email = c["has_email"] & ~(c["email_opt_in_known"] & ~c["email_opt_in"])
    sms = c["has_phone"] & c["sms_consent_known"] & c["sms_consent"]
    phone = c["has_phone"] & ~(c["phone_dnc_known"] & c["phone_dnc"])
    mail = ~(c["mail_opt_out_known"] & c["mail_opt_out"])
    return np.stack([email, sms, phone, mail], axis=1)


def generate(rng, L: lv.Lives, params: dict, *, chunk: int = 40000) -> dict:
    """The clean messages of every customer, as arrays (cust, t wall-clock ns, channel, ...)."""
    p = plan(params)
    look = _lookups(L, params)
    parts = [
        _chunk(rng, L, params, p, look, lo, min(lo + chunk, len(L.cust["kind"])))
        for lo in range(0, len(L.cust["kind"]), chunk)
    ]
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


def _lookups(L: lv.Lives, params: dict) -> dict:
    """Event look-ups and conflict windows, sorted once for all chunks of customers."""
    r = params["rules"]
    v, vi, ap, s, le = L.vehicles, L.visits, L.appts, L.sales, L.leads
    booked_day = ap["booked"] // NS_DAY
    live = ap["status"] != 3  # cancelled appointments do not hold reminders back
    out = {
        "since": _since(L),
        "car": Events(v["cust"], v["acquired"]),
        "visit": Events(vi["cust"], vi["day"]),
        "sale": Events(s["cust"], s["day"]),
        "booking": Events(ap["cust"], booked_day),
        "booked_day": booked_day,
        "after_visit": Intervals(vi["cust"], vi["day"] - 1, vi["day"] + r["reminder_after_service"]["days"] + 1),
        "appt_open": Intervals(ap["cust"][live], booked_day[live] - 1, ap["sched"][live] // NS_DAY + 1),
    }
    for rule in ("promo_after_purchase", "better_offer_after_purchase"):
        out[rule] = Intervals(s["cust"], s["day"] - 1, s["day"] + r[rule]["days"] + 1)
    if len(le.get("cust", [])):
        close_day = np.where(le["closed"] > NEVER, le["closed"] // NS_DAY, L.as_of_day + 400)
        out["lead"] = Intervals(le["cust"], le["opened"] // NS_DAY - 1, close_day + 1)
    else:
        out["lead"] = Intervals(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    return out


def _since(L: lv.Lives) -> np.ndarray:
    """First day a customer may be messaged: a month before their first sale, car or lead."""
    n = len(L.cust["kind"])
    first = np.full(n, 1 << 30, dtype=np.int64)
    np.minimum.at(first, L.vehicles["cust"], L.vehicles["acquired"])
    if len(L.leads.get("cust", [])):
        np.minimum.at(first, L.leads["cust"], L.leads["opened"] // NS_DAY)
    return np.maximum(L.start_day, np.where(first < (1 << 30), first - 30, L.start_day))


def _chunk(rng, L: lv.Lives, params: dict, p: Plan, look: dict, c0: int, c1: int) -> dict:
    """Clean messages of customers c0..c1-1: slots, then what fills them, then what must go."""
    r = params["rules"]
    cust, day, j, lane = _slots(rng, L, p, look, c0, c1)
    cat, vidx, after_visit, after_sale = _categories(rng, L, p, look, cust, day, lane)
    sender = _senders(rng, r, look, cust, day, cat, after_visit, after_sale)
    channel = _channels(rng, L.cust, r, p, cust, lane, cat)
    keep = ~(_conflicts(r, look, cust, day, cat, L.cust["kind"][cust]) | (channel < 0))
    cust, day, j, cat, sender, channel, vidx = (a[keep] for a in (cust, day, j, cat, sender, channel, vidx))
    t = _send_times(rng, L, p, cust, day)
    # Small integer types: ten million rows are moved around several times.
    return dict(
        cust=cust.astype(np.int32),
        t=t,
        day=day.astype(np.int32),
        slot=j.astype(np.int16),
        cat=cat.astype(np.int8),
        sender=sender.astype(np.int8),
        channel=channel.astype(np.int8),
        vidx=vidx.astype(np.int32),
    )


def _slots(rng, L: lv.Lives, p: Plan, look: dict, c0: int, c1: int):
    """The occupied slots (customer, day, slot number, lane), from when each may be messaged."""
    c = L.cust
    n_slots = (L.as_of_day - L.start_day) // p.spacing + 1
    ncust = c1 - c0
    kind = c["kind"][c0:c1]
    occupancy = np.array([0.52, 0.46, 0.34])[kind] * c["activity"][c0:c1]
    phase = rng.integers(0, p.spacing, ncust)
    shift = rng.integers(0, p.lanes, ncust)
    occ = rng.random((ncust, n_slots), dtype=np.float32) < occupancy[:, None].astype(np.float32)
    ci, j = np.nonzero(occ)
    del occ
    cust = (ci + c0).astype(np.int64)
    day = L.start_day + phase[ci] + j.astype(np.int64) * p.spacing
    keep = (day <= L.as_of_day) & (day >= look["since"][cust])
    cust, day, j, ci = cust[keep], day[keep], j[keep], ci[keep]
    return cust, day, j, (j + shift[ci]) % p.lanes


def _categories(rng, L: lv.Lives, p: Plan, look: dict, cust, day, lane):
    """Category of each slot: the kind's mix that the lane allows, then life events' messages."""
    c = L.cust
    n = len(cust)
    kind = c["kind"][cust]
    cat = np.empty(n, dtype=np.int64)
    for k in range(3):
        for ln in range(p.lanes):
            m = (kind == k) & (lane == ln)
            w = CAT_WEIGHTS[k] * p.cat_ok[ln]
            cat[m] = np.searchsorted(np.cumsum(w) / w.sum(), rng.random(m.sum()), side="right")
    cat = np.minimum(cat, len(CATS) - 1)
    vidx = look["car"].last(cust, day)  # the car the message is about
    no_car = vidx < 0
    cat[no_car & np.isin(cat, [CAT[x] for x in VEHICLE_CATEGORIES])] = CAT["newsletter"]
    # Service reminders when service is due or just before the customer books (the KPI's story).
    last_visit = look["visit"].last(cust, day)
    since_visit = np.where(last_visit >= 0, day - L.visits["day"][np.maximum(last_visit, 0)], 10_000)
    nxt = look["booking"].first(cust, day)
    to_booking = np.where(nxt >= 0, look["booked_day"][np.maximum(nxt, 0)] - day, 10_000)
    due = (since_visit >= 150) | ((to_booking >= 1) & (to_booking <= 13))
    sr_lane = p.cat_ok[lane, CAT["service_reminder"]]
    cat[sr_lane & due & ~no_car & (rng.random(n) < 0.55)] = CAT["service_reminder"]
    # Birthday greetings in the week before the birthday.
    doy_gap = (_doy(c["birth_day"][cust]) - _doy(day)) % 365
    near = c["birth_known"][cust] & (doy_gap <= 7) & (kind != lv.PROSPECT)
    cat[near & p.cat_ok[lane, CAT["birthday"]] & (rng.random(n) < 0.8)] = CAT["birthday"]
    # Right after a visit the service department asks how it went; after a purchase, the
    # paperwork (delivery, registration, F&I documents) follows.
    after_visit = (since_visit >= 0) & (since_visit <= 4) & (rng.random(n) < 0.6)
    cat[after_visit & p.cat_ok[lane, CAT["survey"]]] = CAT["survey"]
    last_sale = look["sale"].last(cust, day)
    since_sale = np.where(last_sale >= 0, day - L.sales["day"][np.maximum(last_sale, 0)], 10_000)
    after_sale = (since_sale <= 10) & (rng.random(n) < 0.7) & p.cat_ok[lane, CAT["transactional"]]
    cat[after_sale] = CAT["transactional"]
    return cat, vidx, after_visit, after_sale


def _senders(rng, r: dict, look: dict, cust, day, cat, after_visit, after_sale):
    """Sender by category; while a lead is open, the sales team owns the promos."""
    n = len(cust)
    sender = np.minimum((SENDER_CUM[cat] <= rng.random(n)[:, None]).sum(axis=1), len(SENDERS) - 1)
    lead_cats = np.isin(cat, [CAT[x] for x in r["promo_during_open_lead"]["categories"]])
    sender[lead_cats & look["lead"].holds(cust, day)] = SND[r["promo_during_open_lead"]["owner_sender"]]
    sender[after_visit & (cat == CAT["survey"])] = SND["service"]
    sender[after_sale] = np.where(rng.random(after_sale.sum()) < 0.7, SND["sales"], SND["fi"])
    return sender


def _channels(rng, c: dict, r: dict, p: Plan, cust, lane, cat):
    """The preferred channel for marketing, else a consenting channel the lane allows (-1: none)."""
    ok = consent_ok(c)[cust] & p.ch_ok[lane]
    channel = _choose(rng, np.cumsum(CHANNEL_WEIGHTS[cat] * ok, axis=1))
    pref = c["pref"][cust]
    marketing = np.isin(cat, [CAT[x] for x in r["non_preferred_channel"]["categories"]])
    use_pref = marketing & (pref >= 0)
    channel[use_pref] = np.where(ok[use_pref, np.maximum(pref[use_pref], 0)], pref[use_pref], -1)
    return channel


def _conflicts(r: dict, look: dict, cust, day, cat, kind) -> np.ndarray:
    """Slots whose message would clash with a purchase, a visit, a booked appointment or a car."""
    drop = np.zeros(len(cust), dtype=bool)
    for rule in ("promo_after_purchase", "better_offer_after_purchase"):
        cats = np.isin(cat, [CAT[x] for x in r[rule]["categories"]])
        drop |= cats & look[rule].holds(cust, day)
    sr = cat == CAT["service_reminder"]
    drop |= sr & (look["after_visit"].holds(cust, day) | look["appt_open"].holds(cust, day))
    drop |= (cat == CAT["conquest"]) & (kind != lv.PROSPECT)
    return drop


def _send_times(rng, L: lv.Lives, p: Plan, cust, day) -> np.ndarray:
    """A local time inside the allowed band, in the customer's zone, as the dealer's wall clock."""
    t = day * NS_DAY + rng.integers(int(p.hour_lo * 3600), int(p.hour_hi * 3600), len(cust)) * NS_SECOND
    zone = L.cust["timezone"][cust]
    for z in sorted(z for z in pd.unique(zone) if z is not None and z != L.tz):
        m = zone == z
        t[m] = convert_wall(t[m], z, L.tz)
    return t


def _doy(day: np.ndarray) -> np.ndarray:
    """Day of year (0-364, Dec 31 of leap years folded) of int days."""
    d = np.asarray(day, dtype="int64").astype("datetime64[D]")
    years = d.astype("datetime64[Y]")
    return np.minimum((d - years).astype(np.int64), 364)


def outcomes(rng, msgs: dict, L: lv.Lives, params: dict) -> dict:
    """Delivery status, opens, clicks, responses (more for engaged customers) and a few unsubscribes.

    Messages after an unsubscribe on the same channel are removed, so after_opt_out holds.
    """
    n = len(msgs["cust"])
    e = L.cust["engagement"][msgs["cust"]]
    ch = msgs["channel"]
    u = rng.random(n)
    status = np.zeros(n, dtype=np.int8)  # delivered
    bounce_p = np.select([ch == CH["email"], ch == CH["sms"], ch == CH["phone"]], [0.03, 0.01, 0.02], 0.005)
    fail_p = np.select([ch == CH["phone"]], [0.25], 0.01)
    status[u < bounce_p] = 1
    status[(u >= bounce_p) & (u < bounce_p + fail_p)] = 2
    delivered = status == 0
    t = msgs["t"]
    opened = delivered & (ch == CH["email"]) & (rng.random(n) < 0.12 + 0.55 * e)
    t_open = _night_safe(t + (rng.lognormal(1.0, 1.4, n) * NS_HOUR).astype(np.int64))
    clicked = delivered & np.where(
        ch == CH["email"],
        opened & (rng.random(n) < 0.15 + 0.3 * e),
        (ch == CH["sms"]) & (rng.random(n) < 0.04 + 0.2 * e),
    )
    t_click = _night_safe(np.where(opened, t_open, t) + (rng.lognormal(0.0, 1.0, n) * 600 * NS_SECOND).astype(np.int64))
    resp_p = np.select([ch == CH["phone"], ch == CH["sms"]], [0.08 + 0.3 * e, 0.03 + 0.15 * e], 0.01 + 0.1 * e)
    responded = delivered & (rng.random(n) < resp_p)
    t_resp = _night_safe(np.maximum(t_click, t_open) + (rng.lognormal(1.5, 1.2, n) * NS_HOUR).astype(np.int64))
    end = (L.as_of_day + 1) * NS_DAY - NS_SECOND
    opened &= t_open <= end
    clicked &= t_click <= end
    responded &= t_resp <= end
    marketing = np.isin(msgs["cat"], [CAT[x] for x in CATS if x in schema.MARKETING_CATEGORIES])
    unsub = delivered & marketing & np.isin(ch, [CH["email"], CH["sms"]]) & (rng.random(n) < 0.0025)
    # Nothing more on that channel after the first unsubscribe (grace period or not).
    c4 = msgs["cust"].astype(np.int64) * 4 + ch
    ev_c4, ev_day = c4[unsub], msgs["day"][unsub]
    prior = last_index(c4, msgs["day"] - 1, ev_c4, ev_day) >= 0
    keep = ~prior
    out = dict(msgs)
    out.update(
        status=status,
        opened=np.where(opened, t_open, NEVER),
        clicked=np.where(clicked, t_click, NEVER),
        responded=np.where(responded, t_resp, NEVER),
        unsub=unsub,
    )
    return {k: v[keep] for k, v in out.items()}


def _night_safe(t: np.ndarray) -> np.ndarray:
    """Move reactions between midnight and 5 am to the morning (no daylight-saving repeated hours)."""
    hour = (t % NS_DAY) // NS_HOUR
    return np.where(hour < 5, t + (6 - hour) * NS_HOUR, t)
