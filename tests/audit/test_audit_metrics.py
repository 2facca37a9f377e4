"""Figures beyond the flags (ownercomm_kit.audit.metrics) and run_audit's result."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from helpers.audit import dealer, msg, params
from ownercomm_kit.audit import DEFINITIONS, HEADLINE_KEYS, TIERS, AuditResult, metrics, run_audit, run_rules

TZ = "America/Chicago"


def d(messages, customers=None, as_of="2026-06-30", **tables):
    return dealer(messages, customers, timezone=TZ, as_of=as_of, **tables)


def test_frequency_per_customer_month_in_dealer_time():
    data = d(
        [
            msg("X1", "2026-04-02 10:00", customer="X", channel="email"),
            msg("X2", "2026-04-10 10:00", customer="X", channel="email", sender="oem"),
            msg("X3", "2026-04-30 23:30", customer="X", channel="sms"),  # still April in Chicago (May in UTC)
            msg("X4", "2026-05-02 10:00", customer="X", channel="email"),
            msg("Y1", "2026-04-03 10:00", customer="Y", channel="sms"),
        ]
    )
    f = metrics.frequency(data).set_index(["by", "value"])
    assert f.loc[("all", "all")].to_dict() == {
        "customer_months": 3,
        "mean": pytest.approx(5 / 3),
        "median": 1.0,
        "p90": pytest.approx(2.6),
        "max": 3,
    }
    email = f.loc[("channel", "email")]
    assert (email["customer_months"], email["median"], email["max"]) == (3, 1.0, 2)  # X-Apr 2, X-May 1, Y-Apr 0
    assert f.loc[("sender", "oem"), "max"] == 1
    assert ("channel", "phone") not in f.index  # never used


def test_over_cap_period_and_now():
    six = [msg(f"M{i}", f"2026-05-0{i + 1} 10:00") for i in range(6)]  # 6 in 7 days (emails, 5 days)
    now = [msg(f"N{i}", f"2026-06-2{i + 5} 10:00", customer="C2", channel="sms") for i in range(2)]  # at sms cap
    data = d(six + now)
    oc = metrics.over_cap(data, params()).set_index(["rule", "channel", "days"])
    total7 = oc.loc[("cap_total", "all", 7)]
    assert (total7["customers_over_period"], total7["share_period"]) == (1, 0.5)
    assert total7["customers_at_cap_now"] == 0
    sms = oc.loc[("cap_channel", "sms", 7)]
    assert (sms["customers_over_period"], sms["customers_at_cap_now"], sms["share_now"]) == (0, 1, 0.5)
    email = oc.loc[("cap_channel", "email", 7)]
    assert email["customers_over_period"] == 1


def test_heatmap_in_the_customers_local_time():
    customers = [{"customer_id": "LA", "timezone": "America/Los_Angeles"}, {"customer_id": "CH"}]
    data = d(
        [
            msg("A", "2026-05-04 01:00", customer="LA"),  # Monday 1 AM Chicago = Sunday 11 PM in LA
            msg("B", "2026-05-04 01:00", customer="CH"),  # dealer's zone: Monday 1 AM
        ],
        customers,
    )
    h = metrics.heatmap(data)
    assert h.shape == (7, 24) and list(h.index)[0] == "Monday"
    assert h.loc["Sunday", 23] == 1 and h.loc["Monday", 1] == 1 and h.to_numpy().sum() == 2


def test_sender_mix_per_monday_week():
    data = d(
        [
            msg("A", "2026-05-04 10:00", sender="oem"),  # Monday
            msg("B", "2026-05-10 22:00", sender="sales"),  # Sunday, same week
            msg("C", "2026-05-11 10:00", sender="dealer"),  # next Monday
            msg("D", "2026-05-12 10:00", sender="dealer"),
            msg("E", "2026-05-05 10:00", customer="C2", sender="fi"),
        ]
    )
    mix = metrics.sender_mix(data).set_index("senders")
    assert mix.loc[1, "customer_weeks"] == 2 and mix.loc[2, "customer_weeks"] == 1
    assert mix["customer_weeks"].sum() == 3 and mix["share"].sum() == pytest.approx(1.0)


def test_fatigue_by_messages_in_month():
    msgs = [
        msg(
            f"A{i}", f"2026-05-0{i + 1} 10:00", customer="A", responded_at=f"2026-05-0{i + 1} 12:00" if i == 0 else None
        )
        for i in range(3)
    ]
    msgs += [msg("B1", "2026-05-02 10:00", customer="B", unsubscribed=True)]
    msgs += [msg("C1", "2026-05-02 10:00", customer="C", unsubscribed=False)]
    f = metrics.fatigue(d(msgs), params()).set_index("messages_in_month")
    assert f.loc["3"].to_dict() == {
        "customer_months": 1,
        "messages": 3,
        "response_rate": pytest.approx(1 / 3),
        "unsubscribe_rate": 0.0,
    }
    assert f.loc["1", "unsubscribe_rate"] == 0.5 and f.loc["1", "response_rate"] == 0.0


def test_fatigue_top_bucket_and_missing_columns():
    msgs = [msg(f"A{i:02d}", f"2026-05-{i + 1:02d} 10:00", customer="A") for i in range(25)]
    f = metrics.fatigue(d(msgs), params(audit={"fatigue_max_bucket": 20}))
    assert list(f["messages_in_month"]) == ["20+"]
    assert f["response_rate"].isna().all() and f["unsubscribe_rate"].isna().all()  # columns absent


def test_tiers_over_the_trailing_twelve_months():
    # as_of 2026-06-30: window (2025-06-30 end of day, 2026-06-30 end of day]
    customers = [{"customer_id": c} for c in ("LOYAL", "SELF", "RESP", "BOOK", "DORM", "OLD")]
    msgs = [
        msg("L1", "2026-03-01 10:00", customer="LOYAL", responded_at="2026-03-01 12:00"),
        msg("S1", "2026-03-01 10:00", customer="SELF"),
        msg("R1", "2026-03-01 10:00", customer="RESP", responded_at="2026-03-02 12:00"),
        msg("B1", "2026-03-01 10:00", customer="BOOK"),
        msg("D1", "2026-03-01 10:00", customer="DORM"),
        msg("O1", "2025-06-30 10:00", customer="OLD", responded_at="2025-06-30 12:00"),  # before the window
    ]
    appts = [
        {
            "appointment_id": "A1",
            "customer_id": "LOYAL",
            "booked_at": "2026-01-01 10:00",
            "scheduled_for": "2026-01-05 10:00",
            "status": "kept",
        },
        {
            "appointment_id": "A2",
            "customer_id": "SELF",
            "booked_at": "2026-03-16 10:00",
            "scheduled_for": "2026-03-20 10:00",
            "status": "kept",
        },
        {
            "appointment_id": "A3",
            "customer_id": "BOOK",
            "booked_at": "2026-03-15 10:00",
            "scheduled_for": "2026-03-20 10:00",
            "status": "no_show",
        },
        {
            "appointment_id": "A4",
            "customer_id": "OLD",
            "booked_at": "2025-06-01 10:00",
            "scheduled_for": "2025-06-30 10:00",
            "status": "kept",
        },
    ]
    t = metrics.tiers(d(msgs, customers, appointments=appts), params()).set_index("customer_id")
    assert t["tier"].to_dict() == {
        "LOYAL": "loyal",
        "SELF": "self_directed",
        "RESP": "responsive",
        "BOOK": "responsive",
        "DORM": "dormant",
        "OLD": "dormant",
    }
    # booked 14 days after a message counts (BOOK), 15 days does not (SELF)
    assert t.loc["BOOK", "booked_from_message"] and not t.loc["SELF", "booked_from_message"]
    assert t.loc["OLD", "messages_12m"] == 0 and t.loc["LOYAL", "messages_12m"] == 1
    s = metrics.tier_summary(t.reset_index(), params()).set_index("tier")
    assert list(s.index) == list(TIERS)
    assert s.loc["responsive", "customers"] == 2 and s.loc["dormant", "messages_per_customer"] == 0.5


def test_tiers_without_appointments_or_responses():
    t = metrics.tiers(d([msg("M1", "2026-05-01 10:00")]), params())
    assert list(t["tier"]) == ["dormant"]


def test_replay_and_by_sender_and_top_customers():
    msgs = [
        msg(f"M{i}", f"2026-05-0{i + 1} 23:00", channel="sms", sender="oem" if i < 6 else "dealer") for i in range(7)
    ]
    data = d(msgs, [{"customer_id": "C1", "sms_consent": True}])
    flags, _ = run_rules(data, params())
    r = metrics.replay(data, flags).set_index("rule")
    assert r.loc["quiet_hours", "messages_suppressed"] == 7
    assert r.loc["all rules", "messages_suppressed"] == 7 and r.loc["all rules", "share_of_messages"] == 1.0
    assert r.loc["cap_total", "messages_suppressed"] == 2
    s = metrics.replay_by_sender(data, flags)
    assert list(s["sender"][:2]) == ["oem", "dealer"]
    assert s.set_index("sender").loc["oem", "messages_suppressed"] == 6
    top = metrics.top_customers(data, flags, params())
    assert top.iloc[0]["customer_id"] == "C1" and top.iloc[0]["flagged_messages"] == 7
    assert "quiet_hours" in top.iloc[0]["rules"] and top.iloc[0]["high_flags"] == 7


def test_run_audit_result_shape_and_definitions():
    data = d([msg("M1", "2026-05-01 10:00"), msg("M2", "2026-05-01 11:00", customer="C2")])
    res = run_audit(data, params())
    assert isinstance(res, AuditResult)
    assert tuple(res.headline) == HEADLINE_KEYS
    assert res.headline["over_cap_customer_share"] == 0.0
    frames = [
        f.name
        for f in dataclasses.fields(res)
        if f.name not in ("skipped", "headline", "definitions", "flags", "states")
    ]
    for name in frames:
        assert isinstance(getattr(res, name), pd.DataFrame), name
        assert name in DEFINITIONS, f"no definition for {name}"
    for key in HEADLINE_KEYS:
        assert key in DEFINITIONS


def test_run_audit_with_no_messages_gives_null_share():
    res = run_audit(d([], [{"customer_id": "C1"}]), params())
    assert res.headline == {
        "messages": 0,
        "customers_messaged": 0,
        "flags_high": 0,
        "flags_total": 0,
        "over_cap_customer_share": None,
    }
    assert res.flags.empty and res.heatmap.to_numpy().sum() == 0
    assert list(res.tiers["tier"]) == ["dormant"]


def test_run_audit_reports_skipped_rules():
    res = run_audit(d([msg("M1", "2026-05-01 10:00")]), params())
    assert set(res.skipped) >= {
        "duplicate_campaign",
        "promo_after_purchase",
        "no_consent",
        "after_opt_out",
        "non_preferred_channel",
        "reminder_after_service",
        "conquest_to_owner",
    }
    assert all(isinstance(v, str) and v for v in res.skipped.values())
    assert np.isfinite(res.frequency["max"]).all()


@pytest.mark.parametrize("n", [1, 2, 5, 100, 1001])
def test_quantile_from_histogram_equals_numpy(n):
    counts = np.random.default_rng(n).integers(0, 40, n)
    for q in (0.0, 0.5, 0.9, 1.0):
        assert metrics._quantile(counts, q) == pytest.approx(np.percentile(counts, q * 100))


def test_over_cap_share_is_null_when_both_cap_rules_are_off():
    data = d([msg(f"M{i}", f"2026-05-0{i + 1} 10:00") for i in range(7)])
    on = run_audit(data, params())
    assert on.headline["over_cap_customer_share"] == 1.0
    off = run_audit(data, params(cap_total={"enabled": False}, cap_channel={"enabled": False}))
    assert off.headline["over_cap_customer_share"] is None
