"""The audit engine against an independent reading of SPEC §4 (tests/helpers/reference_rules.py).

Random dealers built to crowd every edge the rules have: messages exactly 7 days (or 3, 14, 30)
apart, in the same second, one second either side, at local midnight, at 07:59:59 / 08:00 /
20:59:59 / 21:00, on DST transition days (absolute and wall-clock weeks differ there),
customers in their own time zones, blank consents, messages with and without a vin, leads that
close exactly when a message goes out, unsubscribes before weekends and messages on the 10th
and 11th business day after, one campaign on two channels, optional columns and tables absent.
The (message_id, rule) pairs of both must be equal; a failure prints every difference.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from ownercomm_kit.audit import run_audit, run_rules
from ownercomm_kit.data import from_frames
from ownercomm_kit.params import resolve

from helpers.reference_rules import RULE_NAMES, _add_business_days, reference_flags

UTC = dt.timezone.utc
PARAMS = resolve({"dealer_id": "T", "data_dir": "."})

# Dealer zones and days on which their clocks change (the rules' windows cross them).
DST_DAYS = {
    "America/New_York": [dt.date(2026, 3, 8), dt.date(2026, 11, 1)],
    "America/Los_Angeles": [dt.date(2026, 3, 8), dt.date(2026, 11, 1)],
    "Europe/Berlin": [dt.date(2026, 3, 29), dt.date(2026, 10, 25)],
    "Australia/Sydney": [dt.date(2026, 4, 5), dt.date(2026, 10, 4)],
}
CUSTOMER_ZONES = [
    None,
    None,
    "America/Chicago",
    "Pacific/Honolulu",
    "Asia/Tokyo",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Mars/Olympus_Mons",
]  # the last: not a zone
LOCAL_TIMES = [
    dt.time(0, 0),
    dt.time(7, 59, 59),
    dt.time(8, 0),
    dt.time(12, 0),
    dt.time(20, 59, 59),
    dt.time(21, 0),
    dt.time(23, 59, 59),
    dt.time(2, 30),
    dt.time(1, 30),
    dt.time(9, 15, 30),
]
CATEGORIES = [
    "service_reminder",
    "offer",
    "sales_promo",
    "conquest",
    "birthday",
    "anniversary",
    "warranty",
    "recall",
    "survey",
    "newsletter",
    "referral",
    "event",
    "transactional",
]
CATEGORY_WEIGHTS = [4, 4, 3, 3, 1, 1, 1, 2, 1, 3, 1, 2, 2]
CHANNELS = ["email", "sms", "phone", "mail"]
SENDERS = ["oem", "sales", "dealer", "service", "fi"]
MODELS = ["Camry", "camry", "CAMRY", "RAV4", None]
# Optional columns a seed may leave out (table, column), and optional tables.
DROPPABLE = (
    [("communications", c) for c in ("campaign_id", "vin", "model", "offer_price", "unsubscribed")]
    + [
        ("customers", c)
        for c in (
            "timezone",
            "preferred_channel",
            "sms_consent",
            "email_opt_in",
            "phone_dnc",
            "mail_opt_out",
            "state",
            "postal_code",
            "phone",
        )
    ]
    + [("sales", "model"), ("sales", "price"), ("service_visits", "vin"), ("leads", "closed_at")]
)
TABLES = ["sales", "vehicles", "service_visits", "appointments", "leads"]


def _local(day: dt.date, at: dt.time, tz: str) -> pd.Timestamp:
    """A wall-clock time in a zone as a UTC instant (a time skipped by DST moves forward)."""
    return pd.Timestamp(dt.datetime.combine(day, at, tzinfo=ZoneInfo(tz)).astimezone(UTC))


def _wall_clock_plus(ts: pd.Timestamp, days: int, tz: str) -> pd.Timestamp:
    local = ts.tz_convert(tz)
    return _local(local.date() + dt.timedelta(days=days), local.time(), tz)


def _instants(rng: random.Random, tz: str, anchor: dt.date, n: int) -> list[pd.Timestamp]:
    """n send times crowding the rules' edges around a DST change of the dealer's zone."""
    out = [
        _local(anchor + dt.timedelta(days=rng.randint(-12, 12)), rng.choice(LOCAL_TIMES), tz)
        for _ in range(max(2, n // 4))
    ]
    steps = [
        pd.Timedelta(0),
        pd.Timedelta(seconds=1),
        pd.Timedelta(seconds=-1),
        pd.Timedelta(days=7),
        pd.Timedelta(days=7) - pd.Timedelta(seconds=1),
        pd.Timedelta(days=7, seconds=1),
        pd.Timedelta(days=3),
        pd.Timedelta(days=14),
        pd.Timedelta(days=30),
        pd.Timedelta(hours=1),
    ]
    while len(out) < n:
        base = rng.choice(out)
        r = rng.random()
        if r < 0.7:
            out.append(base + rng.choice(steps))
        elif r < 0.85:
            out.append(_wall_clock_plus(base, rng.choice([1, 3, 7, 14]), tz))
        else:  # the 10th or 11th business day after a day (after_opt_out's grace)
            day = base.tz_convert(tz).date()
            target = _add_business_days(day, PARAMS["rules"]["after_opt_out"]["grace_business_days"])
            target += dt.timedelta(days=rng.choice([0, 1, 3]))
            out.append(_local(target, rng.choice(LOCAL_TIMES), tz))
    return out


def random_dealer(
    seed: int,
    n_customers: int = 8,
    messages_per_customer: int = 18,
    *,
    subsecond: bool | None = None,
    decades_old: bool | None = None,
):
    """A small dealer crowding the rules' edges. Some seeds also carry sub-second send times, and
    some a message decades old (both change how the engine keys its time windows)."""
    rng = random.Random(seed)
    tz = rng.choice(sorted(DST_DAYS))
    anchor = rng.choice(DST_DAYS[tz])
    customers, comms, sales, vehicles, visits, appts, leads = [], [], [], [], [], [], []
    campaigns = ["K1", "K2", "K3"]
    for c in range(n_customers):
        cid = f"C{c}"
        customers.append(
            {
                "customer_id": cid,
                "timezone": rng.choice(CUSTOMER_ZONES),
                "preferred_channel": rng.choice(CHANNELS + [None, None]),
                "sms_consent": rng.choice([True, False, None]),
                "email_opt_in": rng.choice([True, False, None]),
                "phone_dnc": rng.choice([True, False, None]),
                "mail_opt_out": rng.choice([True, False, None]),
            }
        )
        vins = [f"V{c}a", f"V{c}b"]
        if rng.random() < 0.3:
            vehicles.append({"vin": vins[0], "customer_id": cid, "model": "Camry"})
        times = _instants(rng, tz, anchor, rng.randint(messages_per_customer // 2, messages_per_customer))
        mine = []
        for t in times:
            m = {
                "customer_id": cid,
                "sent_at": t,
                "channel": rng.choice(CHANNELS + ["email", "sms"]),
                "sender": rng.choice(SENDERS),
                "category": rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0],
                "campaign_id": rng.choice(campaigns + [None]),
                "vin": rng.choice(vins + [None]),
                "model": rng.choice(MODELS),
                "offer_price": rng.choice([None, 25000.0, 30000.0, 31000.0]),
                "status": rng.choice(["delivered", "bounced", "failed", None]),
                "unsubscribed": rng.choices([True, False, None], [1, 6, 3])[0],
            }
            mine.append(m)
        comms += mine

        def near(categories):
            """One of this customer's messages, which often becomes of these categories."""
            m = rng.choice(mine)
            if rng.random() < 0.6:
                m["category"] = rng.choice(categories)
            return m

        for k in range(rng.randint(0, 2)):
            m = near(["offer", "sales_promo", "conquest"])
            sale = {
                "sale_id": f"S{c}_{k}",
                "customer_id": cid,
                "model": rng.choice(MODELS),
                "price": rng.choice([None, 25000.0, 30000.0, 31000.0]),
                "sale_date": m["sent_at"].tz_convert(tz).date()
                - dt.timedelta(days=rng.choices([0, 1, 30, 31, 90, 91, -1], [3, 1, 1, 1, 1, 1, 1])[0]),
            }
            if sale["model"] and rng.random() < 0.5:  # the same model, in another case
                m["model"] = rng.choice([sale["model"].lower(), sale["model"].upper()])
            sales.append(sale)
        for k in range(rng.randint(0, 2)):
            day = near(["service_reminder"])["sent_at"].tz_convert(tz).date()
            visits.append(
                {
                    "ro_id": f"R{c}_{k}",
                    "customer_id": cid,
                    "visit_date": day - dt.timedelta(days=rng.choice([0, 5, 30, 31, -1])),
                    "vin": rng.choice(vins + ["OTHER", None]),
                }
            )
        for k in range(rng.randint(0, 2)):
            a, b = sorted(rng.sample(times, 2))
            appts.append(
                {
                    "appointment_id": f"A{c}_{k}",
                    "customer_id": cid,
                    "booked_at": a + rng.choice([pd.Timedelta(0), pd.Timedelta(seconds=1)]),
                    "scheduled_for": b,
                    "status": rng.choice(["scheduled", "kept", "no_show", "cancelled"]),
                }
            )
        for k in range(rng.randint(0, 2)):
            a, b = sorted(rng.sample(times, 2))
            leads.append(
                {
                    "lead_id": f"L{c}_{k}",
                    "customer_id": cid,
                    "opened_at": a - rng.choice([pd.Timedelta(0), pd.Timedelta(days=1)]),
                    "closed_at": rng.choice([b, b + pd.Timedelta(seconds=1), None]),
                }
            )
    _add_states(customers, comms, seed)
    if _maybe(rng, subsecond, 0.3):  # sub-second send times: one message a millisecond after another
        for m in rng.sample(comms, 3):
            base = rng.choice(comms)
            m.update(
                sent_at=base["sent_at"] + pd.Timedelta(milliseconds=rng.choice([1, -1, 500])),
                customer_id=base["customer_id"],
            )
    if _maybe(rng, decades_old, 0.2):  # a message from decades ago
        rng.choice(comms)["sent_at"] -= pd.Timedelta(days=365 * 30)
    if rng.random() < 0.3:  # a customer messaged but absent from customers (an orphan: no consent known)
        for m in rng.sample(comms, 3):
            m["customer_id"] = "GHOST"
    # ids in random order, so ties of sent_at are not ordered by creation
    ids = [f"M{i:04d}" for i in range(len(comms))]
    rng.shuffle(ids)
    for m, mid in zip(comms, ids):
        m["message_id"] = mid
    frames = {
        "customers": customers,
        "communications": comms,
        "sales": sales,
        "vehicles": vehicles,
        "service_visits": visits,
        "appointments": appts,
        "leads": leads,
    }
    frames = {k: pd.DataFrame(v) for k, v in frames.items()}
    for table, col in DROPPABLE:
        if rng.random() < 0.15 and col in frames[table]:
            frames[table] = frames[table].drop(columns=[col])
    for table in TABLES:
        if rng.random() < 0.1:
            del frames[table]
    return from_frames(frames, timezone=tz, dealer_id=f"R{seed}")


STATE_VALUES = ["FL", " fl ", "Md", "OK", "TX", "ZZ", None, None, None]
ZIPS = ["33101", "3310", "73102-1234", "21201", "20601", "75201", "00000", "abc", None, None]
PHONES = ["(305) 555-0100", "+1 405 555 0101", "410.555.0102", "212-555-0103", "555-0104", "(999) 555-0105", None, None]


def _add_states(customers: list[dict], comms: list[dict], seed: int) -> None:
    """State, ZIP and phone, from a generator of their own (the rest of the dealer stays as it was):
    every way of finding a state, invalid values, and customers with none. Two customers also get
    bursts of texts and calls of one category around the 24-hour edge of the state caps."""
    rng = random.Random(seed + 1_000_003)
    for c in customers:
        c.update(state=rng.choice(STATE_VALUES), postal_code=rng.choice(ZIPS), phone=rng.choice(PHONES))
    for c in rng.sample(customers, min(2, len(customers))):
        mine = [m for m in comms if m["customer_id"] == c["customer_id"]]
        if not mine:
            continue
        base = rng.choice(mine)
        base["channel"] = rng.choice(["sms", "phone"])
        for step in [
            pd.Timedelta(0),
            pd.Timedelta(seconds=1),
            pd.Timedelta(hours=3),
            pd.Timedelta(hours=24),
            pd.Timedelta(hours=24) - pd.Timedelta(seconds=1),
            pd.Timedelta(hours=24, seconds=1),
        ]:
            comms.append(
                {
                    **base,
                    "sent_at": base["sent_at"] + step,
                    "channel": rng.choice(["sms", "phone", "email"]),
                    "category": rng.choice([base["category"]] * 4 + ["service_reminder", "recall"]),
                }
            )


def _maybe(rng: random.Random, forced: bool | None, p: float) -> bool:
    draw = rng.random() < p  # drawn either way: forcing one feature leaves the rest of the dealer alike
    return draw if forced is None else forced


def compare(data, params=PARAMS) -> list[str]:
    """Every difference between the engine and the reference, rule by rule, readable."""
    flags, skipped = run_rules(data, params)
    ref, ref_skipped, severity = reference_flags(data, params)
    got = set(zip(flags["message_id"], flags["rule"]))
    comm = data["communications"].set_index("message_id")
    problems = []
    for rule in RULE_NAMES:
        extra = sorted(m for m, r in got - ref if r == rule)
        missing = sorted(m for m, r in ref - got if r == rule)
        for label, ids in (("engine only", extra), ("reference only", missing)):
            for mid in ids:
                row = comm.loc[mid]
                problems.append(
                    f"{rule}: {label}: {mid} customer={row['customer_id']} sent_at={row['sent_at']} "
                    f"channel={row['channel']} sender={row['sender']} category={row['category']}"
                )
    for rule in ref_skipped:
        if rule not in skipped:
            problems.append(f"{rule}: its input column is absent but the engine does not say it skipped it")
    # the other columns of each flag row: the message's own values and the rule's severity
    for row in flags.itertuples(index=False):
        msg = comm.loc[row.message_id]
        for col in ("customer_id", "channel", "sender", "category"):
            if getattr(row, col) != msg[col]:
                problems.append(f"{row.rule}: {row.message_id}: {col} {getattr(row, col)!r} != {msg[col]!r}")
        if pd.Timestamp(row.sent_at) != msg["sent_at"]:
            problems.append(f"{row.rule}: {row.message_id}: sent_at {row.sent_at} != {msg['sent_at']}")
        want = severity.get((row.message_id, row.rule))
        if want is not None and row.severity != want:
            problems.append(f"{row.rule}: {row.message_id}: severity {row.severity} != {want}")
    return problems


def _assert_same(data, params=PARAMS):
    problems = compare(data, params)
    assert not problems, f"{len(problems)} difference(s) engine vs reference:\n" + "\n".join(problems[:80])


@pytest.mark.parametrize("seed", range(12))
def test_random_edge_dealer_matches_reference(seed):
    _assert_same(random_dealer(seed))


@pytest.mark.parametrize("seed", [200, 201])
def test_subsecond_times_over_decades_match_reference(seed):
    """Sub-second stamps over a 30-year span: the engine ranks distinct times instead of keying by time."""
    _assert_same(random_dealer(seed, subsecond=True, decades_old=True))


def test_random_dealers_exercise_every_rule():
    """The generator is worth something only if every rule fires on it."""
    fired = {r: 0 for r in RULE_NAMES}
    for seed in range(12):
        data = random_dealer(seed)
        ref, _, _ = reference_flags(data, PARAMS)
        for _, rule in ref:
            fired[rule] += 1
    assert all(fired.values()), f"rules never fired on the random dealers: {[r for r, n in fired.items() if not n]}"


def test_tight_thresholds_match_reference():
    """Other thresholds read from the params dict: tighter caps, shorter gaps, another grace, other
    categories, owner and exemptions, a rule turned off."""
    p = copy.deepcopy(PARAMS)
    r = p["rules"]
    r["cap_total"]["windows"] = [{"days": 1, "max": 1}, {"days": 14, "max": 4}]
    r["cap_channel"]["windows"] = {"email": [{"days": 2, "max": 1}], "sms": [{"days": 30, "max": 3}]}
    r["min_gap"]["gap_days"] = {"survey": 10}
    r["min_gap"]["default_gap_days"] = 1
    r["multi_sender"].update(max_senders=1, window_days=3)
    r["after_opt_out"]["grace_business_days"] = 2
    r["quiet_hours"].update(start="09:30", end="20:00", channels=["sms"])
    r["promo_after_purchase"]["days"] = 1
    r["better_offer_after_purchase"]["days"] = 31
    r["reminder_after_service"]["days"] = 5
    r["promo_after_purchase"]["categories"] = ["offer", "newsletter"]
    r["promo_during_open_lead"]["owner_sender"] = "dealer"
    r["non_preferred_channel"]["categories"] = ["survey", "warranty"]
    r["conquest_to_owner"]["enabled"] = False
    p["audit"]["exempt_categories"] = ["recall", "transactional", "survey"]
    for seed in (100, 101, 102):
        _assert_same(random_dealer(seed), p)


@pytest.mark.parametrize("seed", [300, 301, 302, 303])
def test_zero_grace_matches_reference(seed):
    """A grace of 0 business days: weekend unsubscribes must not reach back to Friday."""
    p = copy.deepcopy(PARAMS)
    p["rules"]["after_opt_out"]["grace_business_days"] = 0
    _assert_same(random_dealer(seed), p)


def test_run_audit_flags_equal_run_rules():
    data = random_dealer(7)
    result = run_audit(data, PARAMS)
    flags, _ = run_rules(data, PARAMS)
    assert set(zip(result.flags["message_id"], result.flags["rule"])) == set(zip(flags["message_id"], flags["rule"]))


def test_synthetic_dealer_matches_reference():
    from ownercomm_kit.synth import generate_dealer

    frames, truth = generate_dealer("REF1", customers=25, seed=3, timezone="America/Chicago")
    data = from_frames(frames, timezone="America/Chicago", dealer_id="REF1")
    _assert_same(data)
    # the reference itself finds every problem the generator injected (a check of the reference)
    ref, _, _ = reference_flags(data, PARAMS)
    assert len(truth) and set(zip(truth["message_id"], truth["rule"])) <= ref


def test_reference_business_days():
    """The reference's own reading of "plus N business days (Monday–Friday)"."""
    fri, sat, sun, mon = (dt.date(2026, 11, d) for d in (20, 21, 22, 23))
    assert _add_business_days(fri, 10) == dt.date(2026, 12, 4)
    assert _add_business_days(sat, 10) == _add_business_days(sun, 10) == dt.date(2026, 12, 4)
    assert _add_business_days(mon, 10) == dt.date(2026, 12, 7)
    assert _add_business_days(sat, 1) == mon


def test_reference_windows_across_dst():
    """The reference's windows are N x 24 h: across the spring change, the same wall-clock time a
    calendar week earlier is 167 hours back, inside (t - 7 days, t]; exactly 168 hours back is out."""
    ny = "America/New_York"
    t = _local(dt.date(2026, 3, 14), dt.time(10), ny)
    times = [_local(dt.date(2026, 3, 7), dt.time(10), ny)] + [t - pd.Timedelta(hours=h) for h in (1, 2, 3, 4)] + [t]
    rows = [
        {
            "message_id": f"M{i}",
            "customer_id": "C1",
            "sent_at": x,
            "channel": "email",
            "sender": "dealer",
            "category": "survey",
        }
        for i, x in enumerate(times)
    ]
    data = from_frames({"customers": [{"customer_id": "C1"}], "communications": rows}, timezone=ny)
    ref, _, _ = reference_flags(data, PARAMS)
    assert ("M5", "cap_total") in ref  # six in 167 hours
    rows[0]["sent_at"] = t - pd.Timedelta(days=7)
    data = from_frames({"customers": [{"customer_id": "C1"}], "communications": rows}, timezone=ny)
    ref, _, _ = reference_flags(data, PARAMS)
    assert ("M5", "cap_total") not in ref
    _assert_same(data)


def test_no_messages_no_flags():
    data = from_frames(
        {
            "customers": [{"customer_id": "C1", "sms_consent": False}],
            "communications": pd.DataFrame(
                columns=["message_id", "customer_id", "sent_at", "channel", "sender", "category"]
            ),
        }
    )
    flags, _ = run_rules(data, PARAMS)
    assert flags.empty and reference_flags(data, PARAMS)[0] == set()


@pytest.mark.parametrize("seed", [400, 401, 402])
def test_other_state_tables_match_reference(seed):
    """Another state table read from the params: a tighter cap over 90 minutes, a later window, a state
    added by a dealer, other exemptions, another channel list, quiet_hours off (nothing is then
    "already flagged by quiet_hours")."""
    p = copy.deepcopy(PARAMS)
    states = p["state_rules"]["states"]
    states["FL"].update(cap=1, cap_hours=1.5, start="09:30", end="19:00")
    states["MD"].update(exempt_categories=["offer", "event"], channels=["sms"])
    states["TX"] = {
        "citation": "test",
        "effective": "2025-01-01",
        "start": "12:00",
        "end": "13:00",
        "cap": 2,
        "cap_hours": 48,
        "channels": ["phone", "email"],
        "exempt_categories": [],
    }
    p["rules"]["quiet_hours"]["enabled"] = seed != 400
    _assert_same(random_dealer(seed), p)
