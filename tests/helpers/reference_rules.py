"""An independent, deliberately plain reading of the sixteen audit rules of SPEC §4 (the fourteen and the two state rules).

Used only in tests, to check ``ownercomm_kit.audit.run_rules``. It was written from the SPEC
text before reading the engine's rule code: plain Python loops over each customer's messages,
no vectorisation, no shared helpers with the engine. Slow (quadratic per customer) on purpose:
it is meant to be read, not to scale.

Conventions (SPEC §4 read word by word):
- a customer's messages are ordered by (sent_at, message_id); "earlier", "previous" and "not yet"
  follow that order, so of two messages sent in the same second the one with the smaller id comes
  first (the engine's documented order for ties);
- the window "(t − window, t], this one included" holds this message and the messages before it
  in that order whose sent_at is after t − window; "N days" is N × 24 hours (absolute time);
- "message date" is sent_at's calendar date in the dealer's timezone;
- exempt categories (recall, transactional) are never flagged except by quiet_hours, and are not
  counted where a rule counts messages (caps, min_gap, multi_sender); they still are facts for
  duplicate_campaign ("already got this campaign") and after_opt_out ("recorded unsubscribed");
- a rule whose optional input column is absent from the data is skipped (for no_consent, the
  channel whose consent column is absent).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

RULE_NAMES = (
    "cap_total",
    "cap_channel",
    "min_gap",
    "multi_sender",
    "duplicate_campaign",
    "promo_after_purchase",
    "better_offer_after_purchase",
    "reminder_after_service",
    "conquest_to_owner",
    "promo_during_open_lead",
    "no_consent",
    "after_opt_out",
    "quiet_hours",
    "non_preferred_channel",
    "state_quiet_hours",
    "state_contact_cap",
)


def _val(v):
    """A cell as a plain Python value, None for any kind of missing."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


def _rows(df: pd.DataFrame) -> list[dict]:
    return [{c: _val(r[c]) for c in df.columns} for _, r in df.iterrows()]


def _date_of(ts, tz: str) -> dt.date:
    """A timestamp's calendar date in the dealer's timezone; a date column stays a date."""
    ts = pd.Timestamp(ts)
    if ts.tzinfo is None:
        return ts.date()
    return ts.tz_convert(tz).date()


def _add_business_days(day: dt.date, n: int) -> dt.date:
    """The n-th Monday–Friday strictly after ``day`` (a Saturday + 1 business day is Monday)."""
    count = 0
    while count < n:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            count += 1
    return day


DAY = 86_400 * 10**9  # one day in nanoseconds: "N days" is N x 24 hours


def _ns(ts) -> int:
    """An instant as UTC nanoseconds (plain ints keep the loops below simple and quick)."""
    return pd.Timestamp(ts).value


def _hhmm(text: str) -> dt.time:
    h, m = str(text).split(":")[:2]
    return dt.time(int(h), int(m))


class _Messages:
    """Every message, with its customer's ordered list of messages."""

    def __init__(self, data):
        self.tz = data.timezone
        self.all = _rows(data["communications"])
        for m in self.all:
            m["date"] = _date_of(m["sent_at"], self.tz)
            m["t"] = _ns(m["sent_at"])
        self.by_customer: dict[str, list[dict]] = defaultdict(list)
        for m in sorted(self.all, key=lambda m: (m["t"], m["message_id"])):
            self.by_customer[m["customer_id"]].append(m)


def reference_flags(
    data, params: dict, rules=None
) -> tuple[set[tuple[str, str]], set[str], dict[tuple[str, str], str]]:
    """(message_id, rule) pairs, rules skipped for lack of data, and the severity of each pair;
    ``rules``: only these (default every enabled rule)."""
    rp = params["rules"]
    if rules is not None:
        rules = set(rules)
        assert rules <= set(RULE_NAMES), f"no such rule: {sorted(rules - set(RULE_NAMES))}"
    exempt = set(params["audit"]["exempt_categories"])
    msgs = _Messages(data)
    out: set[tuple[str, str]] = set()
    skipped: set[str] = set()

    def flag(m, rule):
        if rule == "quiet_hours" or m["category"] not in exempt:
            out.add((m["message_id"], rule))

    def enabled(rule):
        return (rules is None or rule in rules) and rp[rule].get("enabled", True)

    if enabled("cap_total"):
        _caps(msgs, exempt, lambda m: rp["cap_total"]["windows"], "cap_total", flag)
    if enabled("cap_channel"):
        _caps(msgs, exempt, lambda m: rp["cap_channel"]["windows"].get(m["channel"], []), "cap_channel", flag)
    if enabled("min_gap"):
        _min_gap(msgs, exempt, rp["min_gap"], flag)
    if enabled("multi_sender"):
        _multi_sender(msgs, exempt, rp["multi_sender"], flag)
    if enabled("duplicate_campaign"):
        if not data.has("communications", "campaign_id"):
            skipped.add("duplicate_campaign")
        else:
            _duplicate_campaign(msgs, flag)
    if enabled("promo_after_purchase"):
        _promo_after_purchase(data, msgs, rp["promo_after_purchase"], flag)
    if enabled("better_offer_after_purchase"):
        need = [("communications", "model"), ("communications", "offer_price"), ("sales", "model"), ("sales", "price")]
        if not all(data.has(t, c) for t, c in need):
            skipped.add("better_offer_after_purchase")
        else:
            _better_offer(data, msgs, rp["better_offer_after_purchase"], flag)
    if enabled("reminder_after_service"):
        _reminder_after_service(data, msgs, rp["reminder_after_service"], flag)
    if enabled("conquest_to_owner"):
        _conquest_to_owner(data, msgs, flag)
    if enabled("promo_during_open_lead"):
        _open_lead(data, msgs, rp["promo_during_open_lead"], flag)
    if enabled("no_consent"):
        _no_consent(data, msgs, flag)
    if enabled("after_opt_out"):
        if not data.has("communications", "unsubscribed"):
            skipped.add("after_opt_out")
        else:
            _after_opt_out(msgs, rp["after_opt_out"], flag)
    if enabled("quiet_hours"):
        _quiet_hours(data, msgs, rp["quiet_hours"], flag)
    if enabled("non_preferred_channel"):
        if not data.has("customers", "preferred_channel"):
            skipped.add("non_preferred_channel")
        else:
            _non_preferred(data, msgs, rp["non_preferred_channel"], flag)
    for rule in ("state_quiet_hours", "state_contact_cap"):
        if enabled(rule):
            if not any(data.has("customers", c) for c in ("state", "postal_code", "phone")):
                skipped.add(rule)
            else:
                _state_rules(data, msgs, params, rule, flag)
    severity = {(mid, rule): rp[rule]["severity"] for mid, rule in out}
    return out, skipped, severity


# --- frequency rules ------------------------------------------------------------------------------


def _caps(msgs, exempt, windows_of, rule, flag):
    for ordered in msgs.by_customer.values():
        for i, m in enumerate(ordered):
            if m["category"] in exempt:
                continue
            for w in windows_of(m):
                start = m["t"] - w["days"] * DAY
                n = 0
                for o in ordered[: i + 1]:  # this one and those before it (ties by message_id)
                    if o["category"] in exempt or o["t"] <= start:
                        continue
                    if rule == "cap_channel" and o["channel"] != m["channel"]:
                        continue
                    n += 1
                if n > w["max"]:
                    flag(m, rule)


def _min_gap(msgs, exempt, p, flag):
    for ordered in msgs.by_customer.values():
        for i, m in enumerate(ordered):
            if m["category"] in exempt:
                continue
            prev = [o for o in ordered[:i] if o["category"] == m["category"]]
            if not prev:
                continue
            gap = p["gap_days"].get(m["category"], p["default_gap_days"])
            if m["t"] - prev[-1]["t"] < gap * DAY:
                flag(m, "min_gap")


def _multi_sender(msgs, exempt, p, flag):
    for ordered in msgs.by_customer.values():
        for i, m in enumerate(ordered):
            if m["category"] in exempt:
                continue
            start = m["t"] - p["window_days"] * DAY
            before = [o for o in ordered[:i] if o["category"] not in exempt and o["t"] > start]
            senders = {o["sender"] for o in before} | {m["sender"]}
            if len(senders) > p["max_senders"] and m["sender"] not in {o["sender"] for o in before}:
                flag(m, "multi_sender")


def _duplicate_campaign(msgs, flag):
    for ordered in msgs.by_customer.values():
        for i, m in enumerate(ordered):
            if m["campaign_id"] is None:
                continue
            if any(o["campaign_id"] == m["campaign_id"] and o["channel"] == m["channel"] for o in ordered[:i]):
                flag(m, "duplicate_campaign")


# --- conflicts with purchases, visits, appointments, leads ----------------------------------------


def _by_customer(rows):
    out = defaultdict(list)
    for r in rows:
        out[r["customer_id"]].append(r)
    return out


def _promo_after_purchase(data, msgs, p, flag):
    sales = _by_customer(_rows(data["sales"]))
    for m in msgs.all:
        if m["category"] not in p["categories"]:
            continue
        for s in sales.get(m["customer_id"], []):
            if 0 <= (m["date"] - _date_of(s["sale_date"], msgs.tz)).days <= p["days"]:
                flag(m, "promo_after_purchase")


def _better_offer(data, msgs, p, flag):
    sales = _by_customer(_rows(data["sales"]))
    for m in msgs.all:
        if m["category"] not in p["categories"] or m["model"] is None or m["offer_price"] is None:
            continue
        for s in sales.get(m["customer_id"], []):
            if s["model"] is None or s["price"] is None:
                continue
            days = (m["date"] - _date_of(s["sale_date"], msgs.tz)).days
            if (
                str(s["model"]).lower() == str(m["model"]).lower()
                and 0 <= days <= p["days"]
                and m["offer_price"] < s["price"]
            ):
                flag(m, "better_offer_after_purchase")


def _reminder_after_service(data, msgs, p, flag):
    visits = _by_customer(_rows(data["service_visits"]))
    appts = _by_customer(_rows(data["appointments"]))
    for m in msgs.all:
        if m["category"] != "service_reminder":
            continue
        for v in visits.get(m["customer_id"], []):
            same_vin = m["vin"] is None or v["vin"] is None or m["vin"] == v["vin"]
            if same_vin and 0 <= (m["date"] - _date_of(v["visit_date"], msgs.tz)).days <= p["days"]:
                flag(m, "reminder_after_service")
        for a in appts.get(m["customer_id"], []):
            if a["status"] != "cancelled" and _ns(a["booked_at"]) <= m["t"] < _ns(a["scheduled_for"]):
                flag(m, "reminder_after_service")


def _conquest_to_owner(data, msgs, flag):
    sales = _by_customer(_rows(data["sales"]))
    owners = {r["customer_id"] for r in _rows(data["vehicles"])}
    for m in msgs.all:
        if m["category"] != "conquest":
            continue
        bought = any(_date_of(s["sale_date"], msgs.tz) <= m["date"] for s in sales.get(m["customer_id"], []))
        if bought or m["customer_id"] in owners:
            flag(m, "conquest_to_owner")


def _open_lead(data, msgs, p, flag):
    leads = _by_customer(_rows(data["leads"]))
    for m in msgs.all:
        if m["category"] not in p["categories"] or m["sender"] == p["owner_sender"]:
            continue
        for lead in leads.get(m["customer_id"], []):
            closed = lead["closed_at"]
            if _ns(lead["opened_at"]) <= m["t"] and (closed is None or m["t"] < _ns(closed)):
                flag(m, "promo_during_open_lead")


# --- the customer's consent and preferences -------------------------------------------------------


def _customers(data):
    return {c["customer_id"]: c for c in _rows(data["customers"])}


def _no_consent(data, msgs, flag):
    customers = _customers(data)
    column = {"sms": "sms_consent", "email": "email_opt_in", "phone": "phone_dnc", "mail": "mail_opt_out"}
    for m in msgs.all:
        col = column[m["channel"]]
        if not data.has("customers", col):
            continue  # that channel's consent is unknown: skipped
        v = customers.get(m["customer_id"], {}).get(col)
        bad = {"sms": v is not True, "email": v is False, "phone": v is True, "mail": v is True}[m["channel"]]
        if bad:
            flag(m, "no_consent")


def _after_opt_out(msgs, p, flag):
    for ordered in msgs.by_customer.values():
        for i, m in enumerate(ordered):
            for o in ordered[:i]:
                if o["channel"] == m["channel"] and o["unsubscribed"] is True:
                    if m["date"] > _add_business_days(o["date"], p["grace_business_days"]):
                        flag(m, "after_opt_out")


def _quiet_hours(data, msgs, p, flag):
    customers = _customers(data)
    start, end = _hhmm(p["start"]), _hhmm(p["end"])
    for m in msgs.all:
        if m["channel"] not in p["channels"]:
            continue
        zone = _zone(customers.get(m["customer_id"], {}).get("timezone")) or ZoneInfo(msgs.tz)
        local = pd.Timestamp(m["sent_at"]).tz_convert(zone).time()
        if local < start or local >= end:
            flag(m, "quiet_hours")


def _zone(name):
    """The customer's zone, None when blank or not a zone name (then the dealer's is used)."""
    try:
        return ZoneInfo(name) if name else None
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return None


def _non_preferred(data, msgs, p, flag):
    customers = _customers(data)
    for m in msgs.all:
        if m["category"] not in p["categories"]:
            continue
        pref = customers.get(m["customer_id"], {}).get("preferred_channel")
        if pref is not None and pref != m["channel"]:
            flag(m, "non_preferred_channel")


# --- state laws (SPEC §4 "State rules") -----------------------------------------------------------

ASSETS = Path(__file__).resolve().parents[2] / "ownercomm_kit" / "assets"
US_CODES = set(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP".split()
)


def _asset(name):
    with open(ASSETS / name, encoding="utf-8") as f:
        return dict(tuple(row) for row in csv.reader(line for line in f if not line.startswith("#")))


def state_of(customer: dict) -> tuple[str | None, str]:
    """(state, how): customers.state, else the ZIP's first 3 digits, else the phone's area code."""
    st = customer.get("state")
    if st is not None and str(st).strip().upper().replace(" ", "").replace(".", "") in US_CODES:
        return str(st).strip().upper().replace(" ", "").replace(".", ""), "state"
    pc = customer.get("postal_code")
    if pc is not None:
        m = re.fullmatch(r"(\d{3,5})(?:\s*-?\s*\d{4})?", re.sub(r"\.0+$", "", str(pc).strip()))
        if m and len(m.group(1)) >= 4:
            z = m.group(1).zfill(5)
            found = _asset("zip3_states.csv").get(z[:3])
            if found:
                return found, "zip"
    ph = customer.get("phone")
    if ph is not None:
        text = re.sub(r"\.0+$", "", str(ph).strip())
        digits = "".join(ch for ch in re.sub(r"(?i)\s*(x|ext\.?|extension)\s*\d+$", "", text) if ch.isdigit())
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        if len(digits) == 10:
            found = _asset("area_code_states.csv").get(digits[:3])
            if found:
                return found, "area_code"
    return None, "none"


def _state_rules(data, msgs, params, rule, flag):
    customers = _customers(data)
    table = {
        str(k).upper(): v
        for k, v in (params.get("state_rules", {}).get("states") or {}).items()
        if v and v.get("enabled", True)
    }
    exempt = set(params["audit"]["exempt_categories"])
    qh = params["rules"]["quiet_hours"]

    def law_of(m):
        st, _ = state_of(customers.get(m["customer_id"], {}))
        return table.get(st)

    def counted(m, law):
        """The law covers this message: its channel, not exempt, dated on or after the law's effective date."""
        effective = str(law.get("effective") or "") if law is not None else ""
        return (
            law is not None
            and m["channel"] in law.get("channels", ["sms", "phone"])
            and m["category"] not in exempt | set(law.get("exempt_categories") or [])
            and (not effective or m["date"] >= dt.date.fromisoformat(effective[:10]))
        )

    if rule == "state_quiet_hours":
        for m in msgs.all:
            law = law_of(m)
            if not counted(m, law):
                continue
            zone = _zone(customers.get(m["customer_id"], {}).get("timezone")) or ZoneInfo(msgs.tz)
            local = pd.Timestamp(m["sent_at"]).tz_convert(zone).time()
            outside = local < _hhmm(law["start"]) or local >= _hhmm(law["end"])
            federal = (
                qh.get("enabled", True)
                and m["channel"] in qh["channels"]
                and (local < _hhmm(qh["start"]) or local >= _hhmm(qh["end"]))
            )
            if outside and not federal:
                flag(m, rule)
        return
    for ordered in msgs.by_customer.values():
        for i, m in enumerate(ordered):
            law = law_of(m)
            if not counted(m, law) or law.get("cap") is None:
                continue
            start = m["t"] - int(law.get("cap_hours", 24) * 3600 * 10**9)
            n = sum(
                1 for o in ordered[: i + 1] if counted(o, law) and o["category"] == m["category"] and o["t"] > start
            )
            if n > law["cap"]:
                flag(m, rule)
