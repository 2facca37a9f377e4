"""Each SPEC §4 rule at its edges, on hand-made dealers (ownercomm_kit.audit.rules)."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.audit import dealer, msg, one, pairs, params
from helpers.reference_rules import reference_flags
from ownercomm_kit.audit import FLAG_COLUMNS, RULES, run_rules


def flags_of(data, p=None, rules=None):
    flags, skipped = run_rules(data, p or params(), rules=rules)
    return flags, skipped


def run(rule, messages, customers=None, p=None, **tables):
    data = dealer(messages, customers, **tables)
    flags, skipped = run_rules(data, p or params(), rules=[rule])
    return flags, skipped


def days(start: str, n: int, step_hours: float = 24, **kw) -> list[dict]:
    """n messages from ``start``, ``step_hours`` apart, ids M01.."""
    t0 = pd.Timestamp(start)
    return [msg(f"M{i + 1:02d}", str(t0 + pd.Timedelta(hours=step_hours * i)), **kw) for i in range(n)]


# ------------------------------------------------------------------ the engine


def test_registry_has_the_spec_rules():
    assert list(RULES) == [
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
    ]
    assert set(RULES) == set(params()["rules"])


def test_flags_columns_and_one_row_per_message_and_rule():
    # 7 texts in 7 days at 23:00: cap_total (6th, 7th), cap_channel and quiet hours, each once per message
    data = dealer(
        days("2026-03-02 23:00", 7, channel="sms", category="survey"), [{"customer_id": "C1", "sms_consent": True}]
    )
    flags, _ = flags_of(data)
    assert list(flags.columns) == FLAG_COLUMNS
    assert not flags.duplicated(["message_id", "rule"]).any()
    assert pairs(flags, "cap_total") == {"M06", "M07"}
    assert pairs(flags, "quiet_hours") == {f"M{i:02d}" for i in range(1, 8)}
    assert one(flags, "quiet_hours", "M01")["severity"] == "high"
    assert str(flags["sent_at"].dtype) == "datetime64[ns, America/New_York]"
    # ordered by customer, time, then rule order
    assert flags["message_id"].is_monotonic_increasing


def test_disabled_rule_is_skipped_with_reason():
    p = params(quiet_hours={"enabled": False})
    flags, skipped = flags_of(dealer([msg("M1", "2026-03-02 23:00", channel="sms")]), p)
    assert "quiet_hours" not in set(flags["rule"])
    assert skipped["quiet_hours"] == "turned off in the parameters"


def test_run_rules_subset():
    data = dealer(
        [msg("M1", "2026-03-02 23:00", channel="sms")], [{"customer_id": "C1", "timezone": "America/Chicago"}]
    )
    flags, skipped = flags_of(data, rules=["quiet_hours"])
    assert set(flags["rule"]) == {"quiet_hours"} and skipped == {}


def test_empty_communications():
    data = dealer([], [{"customer_id": "C1"}])
    flags, _ = flags_of(data)
    assert flags.empty and list(flags.columns) == FLAG_COLUMNS


# ------------------------------------------------------------------ cap_total


def test_cap_total_sixth_in_seven_days():
    flags, _ = run("cap_total", days("2026-03-02 10:00", 6))
    assert pairs(flags, "cap_total") == {"M06"}
    f = one(flags, "cap_total", "M06")
    assert f["detail"] == "6th message in 7 days (cap 5)"
    assert f["related_id"] == "M01" and f["severity"] == "medium"


def test_cap_total_window_excludes_its_start():
    # M06 exactly 7 days after M01: (t - 7d, t] leaves M01 out, 5 in the window
    msgs = days("2026-04-02 10:00", 5) + [msg("M06", "2026-04-09 10:00")]
    assert run("cap_total", msgs)[0].empty
    # one second earlier M01 is still in the window
    msgs[-1] = msg("M06", "2026-04-09 09:59:59")
    assert pairs(run("cap_total", msgs)[0], "cap_total") == {"M06"}


def test_cap_total_counts_only_non_exempt_and_never_flags_exempt():
    msgs = days("2026-03-02 10:00", 5) + [
        msg("R1", "2026-03-04 12:00", category="recall"),
        msg("T1", "2026-03-05 12:00", category="transactional"),
    ]
    assert run("cap_total", msgs)[0].empty
    msgs.append(msg("M06", "2026-03-06 12:00"))
    assert pairs(run("cap_total", msgs)[0], "cap_total") == {"M06"}


def test_windows_are_elapsed_time_across_a_dst_change():
    # New York springs forward on 2026-03-08: 03-02 10:00 to 03-09 10:00 is 7 days minus an hour
    msgs = days("2026-03-02 10:00", 5) + [msg("M06", "2026-03-09 10:00")]
    assert pairs(run("cap_total", msgs)[0], "cap_total") == {"M06"}
    msgs[-1] = msg("M06", "2026-03-09 11:00")  # 168 hours: M01 has left the window
    assert run("cap_total", msgs)[0].empty


def test_cap_total_ties_ordered_by_message_id():
    msgs = [msg(f"M{i}", "2026-03-02 10:00") for i in (5, 3, 1, 6, 2, 4)]
    flags, _ = run("cap_total", msgs)
    assert pairs(flags, "cap_total") == {"M6"}


def test_cap_total_thirty_day_window_and_first_window_reported():
    # 13 messages 2.4 days apart: never more than 3 in 7 days, 13 in 28.8 days
    msgs = days("2026-03-02 10:00", 13, step_hours=57.6)
    flags, _ = run("cap_total", msgs)
    assert pairs(flags, "cap_total") == {"M13"}
    assert one(flags, "cap_total", "M13")["detail"] == "13th message in 30 days (cap 12)"
    # both windows exceeded: one row, the first window of the parameters
    flags, _ = run("cap_total", days("2026-03-02 10:00", 13, step_hours=1))
    assert one(flags, "cap_total", "M13")["detail"] == "13th message in 7 days (cap 5)"


def test_cap_total_per_customer_and_from_params():
    msgs = days("2026-03-02 10:00", 3) + [msg("X1", "2026-03-02 11:00", customer="C2")]
    p = params(cap_total={"windows": [{"days": 0.9, "max": 1}]})
    assert run("cap_total", msgs, p=p)[0].empty  # 24 h apart: one per 0.9-day window
    p = params(cap_total={"windows": [{"days": 1.5, "max": 1}]})
    assert one(run("cap_total", msgs, p=p)[0], "cap_total", "M02")["detail"] == "2nd message in 1.5 days (cap 1)"
    p = params(cap_total={"windows": [{"days": 2, "max": 1}]})
    flags, _ = run("cap_total", msgs, p=p)
    assert pairs(flags, "cap_total") == {"M02", "M03"}
    assert one(flags, "cap_total", "M02")["detail"] == "2nd message in 2 days (cap 1)"


# ------------------------------------------------------------------ cap_channel


def test_cap_channel_counts_only_that_channel():
    msgs = days("2026-03-02 10:00", 3, channel="email") + [
        msg("S1", "2026-03-03 12:00", channel="sms"),
        msg("S2", "2026-03-04 12:00", channel="sms"),
        msg("S3", "2026-03-05 12:00", channel="sms"),
        msg("E4", "2026-03-06 12:00", channel="email"),
    ]
    flags, _ = run("cap_channel", msgs)
    assert pairs(flags, "cap_channel") == {"S3", "E4"}
    assert one(flags, "cap_channel", "E4")["detail"] == "4th email in 7 days (cap 3)"
    assert one(flags, "cap_channel", "S3")["detail"] == "3rd text in 7 days (cap 2)"
    assert one(flags, "cap_channel", "S3")["related_id"] == "S1"


def test_cap_channel_mail_thirty_days_and_phone_edge():
    msgs = [
        msg("P1", "2026-04-02 10:00", channel="phone"),
        msg("P2", "2026-04-09 10:00", channel="phone"),
        msg("P3", "2026-04-16 09:00", channel="phone"),
    ]
    msgs += [msg(f"L{i}", f"2026-04-{2 + 9 * i:02d} 10:00", channel="mail") for i in range(3)]
    flags, _ = run("cap_channel", msgs)
    assert pairs(flags, "cap_channel") == {"P3", "L2"}
    assert one(flags, "cap_channel", "L2")["detail"] == "3rd mailing in 30 days (cap 2)"


def test_cap_channel_exempt_not_counted():
    msgs = [
        msg("S1", "2026-03-02 10:00", channel="sms"),
        msg("R1", "2026-03-02 11:00", channel="sms", category="recall"),
        msg("S2", "2026-03-02 12:00", channel="sms"),
    ]
    assert run("cap_channel", msgs)[0].empty


# ------------------------------------------------------------------ min_gap


def test_min_gap_per_category_and_edges():
    msgs = [
        msg("O1", "2026-04-02 10:00", category="offer"),
        msg("O2", "2026-04-09 10:00", category="offer"),  # exactly 7 days: not less than the gap
        msg("O3", "2026-04-16 09:59", category="offer"),  # 6 days 23:59 after O2
        msg("S1", "2026-04-02 10:00", category="service_reminder"),
        msg("S2", "2026-04-15 10:00", category="service_reminder"),  # 13 days < 14
        msg("N1", "2026-04-02 10:00", category="newsletter"),
        msg("N2", "2026-04-04 10:00", category="newsletter"),  # 2 days < default 3
        msg("N3", "2026-04-07 10:00", category="newsletter"),  # 3 days: fine
        msg("X1", "2026-04-02 12:00", category="newsletter", customer="C2"),  # another customer
    ]
    flags, _ = run("min_gap", msgs)
    assert pairs(flags, "min_gap") == {"O3", "S2", "N2"}
    f = one(flags, "min_gap", "O3")
    assert f["related_id"] == "O2"
    assert f["detail"] == "An offer 6 days after the previous one (minimum gap 7 days)"
    assert one(flags, "min_gap", "N2")["detail"] == "A newsletter 2 days after the previous one (minimum gap 3 days)"


def test_min_gap_ignores_exempt_and_says_hours():
    msgs = [
        msg("R1", "2026-03-02 10:00", category="recall"),
        msg("R2", "2026-03-02 11:00", category="recall"),
        msg("B1", "2026-03-02 10:00", category="birthday"),
        msg("B2", "2026-03-02 15:00", category="birthday"),
    ]
    flags, _ = run("min_gap", msgs)
    assert pairs(flags, "min_gap") == {"B2"}
    assert one(flags, "min_gap", "B2")["detail"].startswith("A birthday message 5 hours after")


def test_min_gap_from_params():
    msgs = [msg("O1", "2026-03-02 10:00", category="offer"), msg("O2", "2026-03-12 10:00", category="offer")]
    assert run("min_gap", msgs)[0].empty
    p = params(min_gap={"gap_days": {"offer": 14}})
    assert pairs(run("min_gap", msgs, p=p)[0], "min_gap") == {"O2"}


# ------------------------------------------------------------------ multi_sender


def test_multi_sender_third_sender_only():
    msgs = [
        msg("A1", "2026-03-02 10:00", sender="oem"),
        msg("B1", "2026-03-03 10:00", sender="sales"),
        msg("C1x", "2026-03-04 10:00", sender="service"),  # third distinct sender: flagged
        msg("C2x", "2026-03-04 12:00", sender="service"),  # same sender again: had reached them
        msg("A2", "2026-03-05 10:00", sender="oem"),  # had reached them in the window
        msg("D1", "2026-03-05 11:00", sender="fi"),  # fourth sender
    ]
    flags, _ = run("multi_sender", msgs)
    assert pairs(flags, "multi_sender") == {"C1x", "D1"}
    assert one(flags, "multi_sender", "C1x")["detail"] == "3rd sender in 7 days (OEM, sales, service; max 2)"
    assert one(flags, "multi_sender", "D1")["detail"] == "4th sender in 7 days (OEM, sales, service, F&I; max 2)"
    assert one(flags, "multi_sender", "C1x")["related_id"] == "A1"


def test_multi_sender_window_start_excluded_and_exempt_ignored():
    msgs = [
        msg("A1", "2026-04-02 10:00", sender="oem"),
        msg("R1", "2026-04-05 10:00", sender="dealer", category="recall"),
        msg("B1", "2026-04-06 10:00", sender="sales"),
        msg("C1x", "2026-04-09 10:00", sender="service"),  # A1 exactly 7 days earlier: out
    ]
    assert run("multi_sender", msgs)[0].empty
    msgs[-1] = msg("C1x", "2026-04-09 09:00", sender="service")
    assert pairs(run("multi_sender", msgs)[0], "multi_sender") == {"C1x"}


# ------------------------------------------------------------------ duplicate_campaign


def test_duplicate_campaign_same_channel_any_time_and_ties():
    msgs = [
        msg("M1", "2025-01-02 10:00", campaign_id="SPRING"),
        msg("M2", "2026-03-02 10:00", campaign_id="SPRING"),  # a year later still a duplicate
        msg("M3", "2026-03-02 10:00", campaign_id="SPRING", channel="sms"),  # other channel
        msg("M5", "2026-04-01 10:00", campaign_id="FALL"),
        msg("M4", "2026-04-01 10:00", campaign_id="FALL"),  # identical time: M5 is the later id
        msg("M6", "2026-04-01 10:00"),  # no campaign
        msg("X1", "2026-03-02 10:00", campaign_id="SPRING", customer="C2"),
        msg("R1", "2026-04-02 10:00", campaign_id="FALL", category="recall"),  # exempt: never flagged
        msg("T1", "2026-01-02 10:00", campaign_id="WELCOME", category="transactional"),
        msg("W1", "2026-01-09 10:00", campaign_id="WELCOME"),  # the exempt one still was received
    ]
    flags, _ = run("duplicate_campaign", msgs)
    assert pairs(flags, "duplicate_campaign") == {"M2", "M5", "W1"}
    assert one(flags, "duplicate_campaign", "W1")["related_id"] == "T1"
    f = one(flags, "duplicate_campaign", "M2")
    assert f["related_id"] == "M1"
    assert f["detail"] == "Campaign SPRING sent again by email (first sent 2025-01-02)"
    assert one(flags, "duplicate_campaign", "M5")["related_id"] == "M4"


def test_duplicate_campaign_skipped_without_campaign_id():
    flags, skipped = run("duplicate_campaign", [msg("M1", "2026-03-02 10:00")])
    assert flags.empty
    assert "communications.campaign_id" in skipped["duplicate_campaign"]


# ------------------------------------------------------------------ promo_after_purchase

SALE = [{"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-03-01", "model": "Camry", "price": 31000}]


def test_promo_after_purchase_day_zero_to_thirty():
    msgs = [
        msg("B1", "2026-02-28 12:00", category="offer"),  # the day before: not after the purchase
        msg("D0", "2026-03-01 09:00", category="offer"),  # same day
        msg("D30", "2026-03-31 23:30", category="conquest"),  # day 30, late evening local
        msg("D31", "2026-04-01 00:30", category="sales_promo"),  # day 31
        msg("N1", "2026-03-05 12:00", category="newsletter"),  # not a promotion
        msg("R1", "2026-03-05 12:00", category="recall"),
    ]
    flags, _ = run("promo_after_purchase", msgs, sales=SALE)
    assert pairs(flags, "promo_after_purchase") == {"D0", "D30"}
    f = one(flags, "promo_after_purchase", "D30")
    assert f["related_id"] == "S1"
    assert f["detail"] == "Emailed a conquest offer 30 days after buying a Camry on 2026-03-01 (cool-down 30 days)"
    assert one(flags, "promo_after_purchase", "D0")["detail"] == (
        "Emailed an offer the same day as buying a Camry on 2026-03-01 (cool-down 30 days)"
    )


def test_promo_after_purchase_message_date_in_dealer_timezone():
    # 2026-03-31 23:30 in Los Angeles is 2026-04-01 in UTC: still day 30 for a Los Angeles dealer
    data = dealer(
        [msg("M1", "2026-03-31T23:30:00-07:00", category="offer")], timezone="America/Los_Angeles", sales=SALE
    )
    flags, _ = run_rules(data, params(), rules=["promo_after_purchase"])
    assert pairs(flags, "promo_after_purchase") == {"M1"}
    data = dealer([msg("M1", "2026-03-31T23:30:00-07:00", category="offer")], timezone="America/New_York", sales=SALE)
    flags, _ = run_rules(data, params(), rules=["promo_after_purchase"])
    assert flags.empty  # 2026-04-01 02:30 in New York: day 31


def test_promo_after_purchase_latest_sale_counts_and_missing_sales():
    sales = SALE + [{"sale_id": "S0", "customer_id": "C1", "sale_date": "2025-01-01"}]
    flags, _ = run("promo_after_purchase", [msg("M1", "2026-03-10 12:00", category="offer")], sales=sales)
    assert one(flags, "promo_after_purchase", "M1")["related_id"] == "S1"
    flags, skipped = run("promo_after_purchase", [msg("M1", "2026-03-10 12:00", category="offer")])
    assert flags.empty and "sales" in skipped["promo_after_purchase"]


def test_promo_after_purchase_without_model_says_a_purchase():
    sales = [{"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-03-01"}]
    flags, _ = run(
        "promo_after_purchase", [msg("M1", "2026-03-03 12:00", category="offer", channel="sms")], sales=sales
    )
    assert one(flags, "promo_after_purchase", "M1")["detail"] == (
        "Texted an offer 2 days after a purchase on 2026-03-01 (cool-down 30 days)"
    )


# ------------------------------------------------------------------ better_offer_after_purchase


def test_better_offer_after_purchase():
    msgs = [
        msg("M1", "2026-03-03 12:00", category="offer", model="CAMRY ", offer_price=29500),
        msg("M2", "2026-03-03 12:00", category="offer", model="Camry", offer_price=31000),  # same price
        msg("M3", "2026-03-04 12:00", category="offer", model="Corolla", offer_price=20000),  # other model
        msg("M4", "2026-05-30 12:00", category="sales_promo", model="camry", offer_price=25000),  # day 90
        msg("M5", "2026-05-31 12:00", category="sales_promo", model="camry", offer_price=25000),  # day 91
        msg("M6", "2026-03-05 12:00", category="newsletter", model="camry", offer_price=25000),
        msg("M7", "2026-02-27 12:00", category="offer", model="camry", offer_price=25000),  # before
        msg("M8", "2026-03-05 12:00", category="offer", model="camry"),  # no price
    ]
    flags, _ = run("better_offer_after_purchase", msgs, sales=SALE)
    assert pairs(flags, "better_offer_after_purchase") == {"M1", "M4"}
    f = one(flags, "better_offer_after_purchase", "M1")
    assert f["detail"] == "Emailed an offer for a CAMRY at $29,500 2 days after buying one for $31,000"
    assert f["severity"] == "high" and f["related_id"] == "S1"


def test_details_use_a_or_an():
    sales = [{"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-03-01", "model": "Elantra", "price": 20000}]
    m1 = msg("M1", "2026-03-03 12:00", category="offer", model="elantra", offer_price=19000)
    flags, _ = flags_of(dealer([m1], sales=sales), rules=["promo_after_purchase", "better_offer_after_purchase"])
    assert "after buying an Elantra on 2026-03-01" in one(flags, "promo_after_purchase", "M1")["detail"]
    assert "an offer for an elantra at $19,000" in one(flags, "better_offer_after_purchase", "M1")["detail"]


def test_better_offer_skipped_without_offer_price():
    flags, skipped = run(
        "better_offer_after_purchase", [msg("M1", "2026-03-03 12:00", category="offer", model="Camry")], sales=SALE
    )
    assert flags.empty and "communications.offer_price" in skipped["better_offer_after_purchase"]


# ------------------------------------------------------------------ reminder_after_service


VISITS = [
    {"ro_id": "R1", "customer_id": "C1", "visit_date": "2026-03-01", "vin": "VIN1"},
    {"ro_id": "R2", "customer_id": "C2", "visit_date": "2026-03-01"},  # no vin
]


def test_reminder_after_service_same_vin_and_edges():
    sr = "service_reminder"
    msgs = [
        msg("A", "2026-03-05 12:00", category=sr, vin="VIN1"),  # same vin
        msg("B", "2026-03-06 12:00", category=sr, vin="VIN2"),  # other vehicle
        msg("C", "2026-03-31 12:00", category=sr),  # no vin: any visit, day 30
        msg("D", "2026-04-01 12:00", category=sr),  # day 31
        msg("E", "2026-03-01 08:00", category=sr, vin="VIN1"),  # same day
        msg("F", "2026-03-10 12:00", category=sr, vin="VINX", customer="C2"),  # visit without vin matches
        msg("G", "2026-02-28 12:00", category=sr, vin="VIN1"),  # before the visit
        msg("H", "2026-03-07 12:00", category="offer", vin="VIN1"),  # not a reminder
    ]
    flags, _ = run("reminder_after_service", msgs, service_visits=VISITS)
    assert pairs(flags, "reminder_after_service") == {"A", "C", "E", "F"}
    f = one(flags, "reminder_after_service", "A")
    assert f["related_id"] == "R1"
    assert f["detail"] == "Service reminder 4 days after a service visit on 2026-03-01 (repair order R1)"


def test_reminder_after_service_picks_the_matching_vin_over_a_later_other_vin():
    visits = [
        {"ro_id": "R1", "customer_id": "C1", "visit_date": "2026-03-01", "vin": "VIN1"},
        {"ro_id": "R9", "customer_id": "C1", "visit_date": "2026-03-04", "vin": "VIN2"},
    ]
    flags, _ = run(
        "reminder_after_service",
        [msg("A", "2026-03-05 12:00", category="service_reminder", vin="VIN1")],
        service_visits=visits,
    )
    assert one(flags, "reminder_after_service", "A")["related_id"] == "R1"


def test_reminder_after_service_booked_appointment_not_yet_due():
    sr = "service_reminder"
    appts = [
        {
            "appointment_id": "AP1",
            "customer_id": "C1",
            "booked_at": "2026-03-01 10:00",
            "scheduled_for": "2026-03-20 09:00",
            "status": "scheduled",
        },
        {
            "appointment_id": "AP2",
            "customer_id": "C2",
            "booked_at": "2026-03-01 10:00",
            "scheduled_for": "2026-03-20 09:00",
            "status": "cancelled",
        },
        {
            "appointment_id": "AP3",
            "customer_id": "C3",
            "booked_at": "2026-03-01 10:00",
            "scheduled_for": "2026-03-03 09:00",
            "status": "kept",
        },
        {
            "appointment_id": "AP4",
            "customer_id": "C3",
            "booked_at": "2026-03-02 10:00",
            "scheduled_for": "2026-03-30 09:00",
            "status": "scheduled",
        },
    ]
    msgs = [
        msg("A", "2026-03-01 10:00", category=sr),  # booked_at <= sent_at
        msg("B", "2026-03-01 09:59", category=sr),  # before booking
        msg("C", "2026-03-20 09:00", category=sr),  # at scheduled_for: due
        msg("D", "2026-03-10 12:00", category=sr, customer="C2"),  # cancelled
        msg("E", "2026-03-10 12:00", category=sr, customer="C3"),  # AP4 open (AP3 done)
    ]
    flags, _ = run("reminder_after_service", msgs, appointments=appts)
    assert pairs(flags, "reminder_after_service") == {"A", "E"}
    assert one(flags, "reminder_after_service", "E")["related_id"] == "AP4"
    assert one(flags, "reminder_after_service", "A")["detail"] == (
        "Service reminder while an appointment booked on 2026-03-01 is due on 2026-03-20"
    )
    _, skipped = run("reminder_after_service", msgs, appointments=appts)
    assert skipped["reminder_after_service"].startswith("partly")


def test_reminder_after_service_visit_wins_over_appointment_and_skip():
    sr = "service_reminder"
    appts = [
        {
            "appointment_id": "AP1",
            "customer_id": "C1",
            "booked_at": "2026-03-01 10:00",
            "scheduled_for": "2026-03-20 09:00",
            "status": "scheduled",
        }
    ]
    flags, skipped = run(
        "reminder_after_service",
        [msg("A", "2026-03-05 12:00", category=sr, vin="VIN1")],
        service_visits=VISITS,
        appointments=appts,
    )
    assert len(flags) == 1 and one(flags, "reminder_after_service", "A")["related_id"] == "R1"
    assert "reminder_after_service" not in skipped
    flags, skipped = run("reminder_after_service", [msg("A", "2026-03-05 12:00", category=sr)])
    assert flags.empty and skipped["reminder_after_service"].startswith("needs")


# ------------------------------------------------------------------ conquest_to_owner


def test_conquest_to_owner():
    msgs = [
        msg("A", "2026-03-01 08:00", category="conquest"),  # sale that day
        msg("B", "2026-02-28 12:00", category="conquest"),  # before the sale
        msg("C", "2026-02-28 12:00", category="conquest", customer="C2"),  # owns a vehicle
        msg("D", "2026-02-28 12:00", category="conquest", customer="C3"),  # a true prospect
        msg("E", "2026-03-02 12:00", category="offer"),  # not conquest
    ]
    vehicles = [{"vin": "VIN9", "customer_id": "C2"}]
    flags, _ = run("conquest_to_owner", msgs, sales=SALE, vehicles=vehicles)
    assert pairs(flags, "conquest_to_owner") == {"A", "C"}
    assert one(flags, "conquest_to_owner", "A")["related_id"] == "S1"
    assert one(flags, "conquest_to_owner", "C")["related_id"] == "VIN9"
    flags, skipped = run("conquest_to_owner", msgs)
    assert flags.empty and "conquest_to_owner" in skipped


# ------------------------------------------------------------------ promo_during_open_lead


def test_promo_during_open_lead_open_and_closed():
    leads = [
        {"lead_id": "L1", "customer_id": "C1", "opened_at": "2026-03-01 10:00"},  # never closed
        {"lead_id": "L2", "customer_id": "C2", "opened_at": "2026-03-01 10:00", "closed_at": "2026-03-05 10:00"},
    ]
    msgs = [
        msg("A", "2026-03-01 10:00", category="offer", sender="oem"),  # at opened_at
        msg("B", "2026-03-01 09:59", category="offer", sender="oem"),  # before
        msg("C", "2026-03-02 10:00", category="offer", sender="sales"),  # the owner may
        msg("D", "2026-03-02 10:00", category="service_reminder", sender="service"),  # not a promotion
        msg("E", "2026-03-05 09:59", category="event", sender="dealer", customer="C2"),
        msg("F", "2026-03-05 10:00", category="event", sender="dealer", customer="C2"),  # at closed_at
    ]
    flags, _ = run("promo_during_open_lead", msgs, leads=leads)
    assert pairs(flags, "promo_during_open_lead") == {"A", "E"}
    f = one(flags, "promo_during_open_lead", "A")
    assert f["related_id"] == "L1"
    assert f["detail"] == "An offer from the OEM while a lead opened on 2026-03-01 is still open with sales"


def test_promo_during_open_lead_earlier_long_lead_still_counts():
    leads = [
        {"lead_id": "L1", "customer_id": "C1", "opened_at": "2026-01-01 10:00"},
        {"lead_id": "L2", "customer_id": "C1", "opened_at": "2026-03-01 10:00", "closed_at": "2026-03-02 10:00"},
    ]
    flags, _ = run(
        "promo_during_open_lead", [msg("A", "2026-03-10 10:00", category="offer", sender="oem")], leads=leads
    )
    assert one(flags, "promo_during_open_lead", "A")["related_id"] == "L1"


# ------------------------------------------------------------------ no_consent


def test_no_consent_each_channel():
    customers = [
        {"customer_id": "YES", "sms_consent": True, "email_opt_in": True, "phone_dnc": False, "mail_opt_out": False},
        {"customer_id": "NO", "sms_consent": False, "email_opt_in": False, "phone_dnc": True, "mail_opt_out": True},
        {"customer_id": "BLANK"},
    ]
    msgs = []
    for c in ("YES", "NO", "BLANK"):
        for ch in ("sms", "email", "phone", "mail"):
            msgs.append(msg(f"{c}-{ch}", "2026-03-02 12:00", customer=c, channel=ch))
    msgs.append(msg("NO-recall", "2026-03-02 12:00", customer="NO", channel="sms", category="recall"))
    flags, skipped = run("no_consent", msgs, customers)
    assert pairs(flags, "no_consent") == {"NO-sms", "NO-email", "NO-phone", "NO-mail", "BLANK-sms"}
    assert one(flags, "no_consent", "BLANK-sms")["detail"] == "Texted without SMS consent (no consent recorded)"
    assert one(flags, "no_consent", "NO-sms")["detail"] == "Texted without SMS consent (consent refused)"
    assert one(flags, "no_consent", "NO-phone")["severity"] == "high"
    assert "no_consent" not in skipped


def test_no_consent_skips_only_the_channel_without_its_column():
    customers = [{"customer_id": "C1", "email_opt_in": False}]
    msgs = [msg("S", "2026-03-02 12:00", channel="sms"), msg("E", "2026-03-02 12:00", channel="email")]
    flags, skipped = run("no_consent", msgs, customers)
    assert pairs(flags, "no_consent") == {"E"}
    assert "sms" in skipped["no_consent"] and "customers.sms_consent" in skipped["no_consent"]
    assert skipped["no_consent"].startswith("partly")
    flags, skipped = run("no_consent", msgs)
    assert flags.empty and skipped["no_consent"].startswith("needs")


# ------------------------------------------------------------------ after_opt_out


def test_after_opt_out_ten_business_days_over_weekends():
    # unsubscribed Friday 2026-01-09: + 10 business days = Friday 2026-01-23
    msgs = [
        msg("U", "2026-01-09 12:00", unsubscribed=True),
        msg("G1", "2026-01-23 20:00", unsubscribed=False),  # last day of grace
        msg("G2", "2026-01-24 09:00"),  # Saturday after: flagged
        msg("S1", "2026-01-30 09:00", channel="sms"),  # another channel
        msg("R1", "2026-01-30 09:00", category="recall"),  # exempt
        msg("X", "2026-01-30 09:00", customer="C2"),
    ]
    flags, _ = run("after_opt_out", msgs)
    assert pairs(flags, "after_opt_out") == {"G2"}
    f = one(flags, "after_opt_out", "G2")
    assert f["related_id"] == "U" and f["severity"] == "high"
    assert f["detail"] == (
        "Emailed on 2026-01-24, after the customer unsubscribed on 2026-01-09 "
        "(grace of 10 business days ended 2026-01-23)"
    )


def test_after_opt_out_weekend_unsubscribe_and_first_unsubscribe():
    # Saturday 2026-01-10: the next ten business days end Friday 2026-01-23
    msgs = [
        msg("U1", "2026-01-10 12:00", unsubscribed=True),
        msg("U2", "2026-01-20 12:00", unsubscribed=True),
        msg("A", "2026-01-23 12:00"),
        msg("B", "2026-01-26 08:00"),
    ]
    flags, _ = run("after_opt_out", msgs)
    assert pairs(flags, "after_opt_out") == {"B"}
    assert one(flags, "after_opt_out", "B")["related_id"] == "U1"


def test_after_opt_out_grace_from_params_and_skip():
    msgs = [msg("U", "2026-01-09 12:00", unsubscribed=True), msg("A", "2026-01-13 12:00")]
    assert run("after_opt_out", msgs)[0].empty
    p = params(after_opt_out={"grace_business_days": 1})  # grace ends Monday 01-12
    assert pairs(run("after_opt_out", msgs, p=p)[0], "after_opt_out") == {"A"}
    flags, skipped = run("after_opt_out", [msg("A", "2026-01-13 12:00")])
    assert flags.empty and "communications.unsubscribed" in skipped["after_opt_out"]


@pytest.mark.parametrize("seed", range(4))
def test_after_opt_out_matches_loops_with_few_or_many_customers_unsubscribed(seed):
    """Only the messages of customers who unsubscribed are looked at: customers who never did,
    or did on another channel, stay unflagged; the share that unsubscribed goes from none to most."""
    import numpy as np

    rng = np.random.default_rng(seed)
    share = [0.0, 0.05, 0.3, 0.9][seed]
    start = pd.Timestamp("2026-03-02")
    msgs = []
    for i in range(400):
        customer = f"C{rng.integers(0, 40)}"
        opted = int(customer[1:]) < 40 * share and rng.random() < 0.15
        msgs.append(
            msg(
                f"M{i:03d}",
                str(start + pd.Timedelta(hours=int(rng.integers(0, 24 * 60)))),
                customer=customer,
                # a few without a channel (data built in code; the loader blocks them): their own key
                channel=None if rng.random() < 0.03 else str(rng.choice(["email", "sms", "phone"])),
                category=str(rng.choice(["offer", "newsletter", "recall", "transactional"])),
                unsubscribed=bool(opted),
            )
        )
    p = params(after_opt_out={"grace_business_days": int(rng.integers(0, 6))})
    data = dealer(msgs)
    flags, _ = flags_of(data, p, rules=["after_opt_out"])
    want = {mid for mid, _ in reference_flags(data, p, rules=["after_opt_out"])[0]}  # SPEC §4 by loops
    assert pairs(flags) == {(mid, "after_opt_out") for mid in want}
    assert seed == 0 or want  # the data has flags to find (none where nobody unsubscribed)


def test_after_opt_out_grace_zero_on_a_weekend_never_reaches_back():
    """Grace 0 with a Saturday unsubscribe: that Saturday's messages, before or after it, are
    not "later than the unsubscribe date"; Sunday's are."""
    p = params(after_opt_out={"grace_business_days": 0})
    msgs = [
        msg("M1", "2026-11-21 09:00"),
        msg("M2", "2026-11-21 10:00", unsubscribed=True),
        msg("M3", "2026-11-21 11:00"),
        msg("M4", "2026-11-22 09:00"),
    ]
    assert pairs(run("after_opt_out", msgs, p=p)[0], "after_opt_out") == {"M4"}


# ------------------------------------------------------------------ quiet_hours


def test_quiet_hours_edges_dealer_time():
    msgs = [
        msg("A", "2026-03-03 20:59:59", channel="sms"),
        msg("B", "2026-03-03 21:00", channel="sms"),  # at end: quiet
        msg("C", "2026-03-04 08:00", channel="phone"),  # at start: fine
        msg("D", "2026-03-04 07:59", channel="phone"),
        msg("E", "2026-03-04 03:00", channel="email"),  # not a quiet-hours channel
        msg("F", "2026-03-04 23:00", channel="sms", category="recall"),  # exempt categories too
    ]
    flags, skipped = run("quiet_hours", msgs)
    assert pairs(flags, "quiet_hours") == {"B", "D", "F"}
    assert skipped["quiet_hours"] == (
        "partly: customers.timezone is missing: every message was read in the dealer's time zone"
    )
    assert one(flags, "quiet_hours", "B")["detail"] == "Texted at 9:00 PM dealer's time (quiet from 9 PM to 8 AM)"
    assert one(flags, "quiet_hours", "D")["detail"] == "Called at 7:59 AM dealer's time (quiet from 9 PM to 8 AM)"


def test_quiet_hours_in_the_customers_timezone():
    customers = [{"customer_id": "LA", "timezone": "America/Los_Angeles"}, {"customer_id": "NY"}]
    msgs = [
        msg("LA1", "2026-03-03 23:30", customer="LA", channel="sms"),  # 8:30 PM in Los Angeles
        msg("LA2", "2026-03-04 10:30", customer="LA", channel="sms"),  # 7:30 AM in Los Angeles
        msg("NY1", "2026-03-03 23:30", customer="NY", channel="sms"),  # dealer's zone
    ]
    flags, skipped = run("quiet_hours", msgs, customers)
    assert pairs(flags, "quiet_hours") == {"LA2", "NY1"}
    assert skipped == {}
    assert one(flags, "quiet_hours", "LA2")["detail"] == "Texted at 7:30 AM customer's time (quiet from 9 PM to 8 AM)"


def test_quiet_hours_on_the_dst_day():
    # 2026-03-08: New York springs forward at 2 AM (UTC-5 -> UTC-4)
    customers = [{"customer_id": "C1", "timezone": "America/New_York"}]
    msgs = [
        msg("A", "2026-03-08T12:30:00+00:00", channel="sms"),  # 8:30 AM EDT (7:30 with the winter offset)
        msg("B", "2026-03-08T11:30:00+00:00", channel="sms"),  # 7:30 AM EDT
        msg("C", "2026-03-09T00:59:00+00:00", channel="sms"),  # 8:59 PM EDT
        msg("D", "2026-03-08T01:30:00+00:00", channel="sms"),  # 8:30 PM EST the evening before
    ]
    flags, _ = run("quiet_hours", msgs, customers)
    assert pairs(flags, "quiet_hours") == {"B"}


def test_quiet_hours_unknown_zone_falls_back_to_dealer():
    customers = [{"customer_id": "C1", "timezone": "Mars/Olympus"}]
    flags, _ = run("quiet_hours", [msg("A", "2026-03-03 22:00", channel="sms")], customers)
    assert one(flags, "quiet_hours", "A")["detail"].endswith("dealer's time (quiet from 9 PM to 8 AM)")


def test_quiet_hours_from_params():
    p = params(quiet_hours={"start": "09:30", "end": "20:00", "channels": ["sms", "phone", "email"]})
    msgs = [msg("A", "2026-03-03 09:29", channel="email"), msg("B", "2026-03-03 19:59", channel="email")]
    flags, _ = run("quiet_hours", msgs, p=p)
    assert pairs(flags, "quiet_hours") == {"A"}
    assert one(flags, "quiet_hours", "A")["detail"].endswith("(quiet from 8 PM to 9:30 AM)")


# ------------------------------------------------------------------ non_preferred_channel


def test_non_preferred_channel():
    customers = [{"customer_id": "C1", "preferred_channel": "sms"}, {"customer_id": "C2"}]
    msgs = [
        msg("A", "2026-03-02 12:00", channel="email", category="offer"),
        msg("B", "2026-03-02 12:00", channel="sms", category="offer"),
        msg("C", "2026-03-02 12:00", channel="email", category="service_reminder"),  # not marketing
        msg("D", "2026-03-02 12:00", channel="email", category="transactional"),
        msg("E", "2026-03-02 12:00", channel="email", category="birthday", customer="C2"),  # no preference
    ]
    flags, _ = run("non_preferred_channel", msgs, customers)
    assert pairs(flags, "non_preferred_channel") == {"A"}
    f = one(flags, "non_preferred_channel", "A")
    assert f["severity"] == "low" and f["detail"] == "Emailed an offer; the customer prefers texts"


def test_non_preferred_channel_skipped_without_column():
    flags, skipped = run("non_preferred_channel", [msg("A", "2026-03-02 12:00", category="offer")])
    assert flags.empty and "customers.preferred_channel" in skipped["non_preferred_channel"]


@pytest.mark.parametrize("name", list(RULES))
def test_every_rule_handles_no_messages(name):
    data = dealer(
        [],
        [{"customer_id": "C1", "sms_consent": True, "preferred_channel": "sms", "email_opt_in": True}],
        sales=SALE,
        service_visits=VISITS,
        leads=[{"lead_id": "L", "customer_id": "C1", "opened_at": "2026-01-01"}],
        vehicles=[{"vin": "V", "customer_id": "C1"}],
        appointments=[
            {
                "appointment_id": "A",
                "customer_id": "C1",
                "booked_at": "2026-01-01",
                "scheduled_for": "2026-01-05",
                "status": "kept",
            }
        ],
    )
    flags, _ = run_rules(data, params(), rules=[name])
    assert flags.empty and list(flags.columns) == FLAG_COLUMNS


# ------------------------------------------------------------------ against brute force


def _brute_force(msgs: list[dict], p: dict) -> set[tuple[str, str]]:
    """The window rules of SPEC §4 read literally, with Python loops (ties: sent_at, then message_id)."""
    exempt = set(p["audit"]["exempt_categories"])
    rows = sorted(
        (m for m in msgs if m["category"] not in exempt),
        key=lambda m: (m["customer_id"], pd.Timestamp(m["sent_at"]), m["message_id"]),
    )
    day = pd.Timedelta(days=1)
    out = set()
    for i, m in enumerate(rows):
        t = pd.Timestamp(m["sent_at"])
        before = [r for r in rows[: i + 1] if r["customer_id"] == m["customer_id"]]

        def within(days, rs=before):
            return [r for r in rs if pd.Timestamp(r["sent_at"]) > t - days * day]

        if any(len(within(w["days"])) > w["max"] for w in p["rules"]["cap_total"]["windows"]):
            out.add((m["message_id"], "cap_total"))
        same_channel = [r for r in before if r["channel"] == m["channel"]]
        if any(
            len(within(w["days"], same_channel)) > w["max"]
            for w in p["rules"]["cap_channel"]["windows"].get(m["channel"], [])
        ):
            out.add((m["message_id"], "cap_channel"))
        same_cat = [r for r in before[:-1] if r["category"] == m["category"]]
        gap = p["rules"]["min_gap"]["gap_days"].get(m["category"], p["rules"]["min_gap"]["default_gap_days"])
        if same_cat and t - pd.Timestamp(same_cat[-1]["sent_at"]) < gap * day:
            out.add((m["message_id"], "min_gap"))
        w = within(p["rules"]["multi_sender"]["window_days"])
        if (
            len({r["sender"] for r in w}) > p["rules"]["multi_sender"]["max_senders"]
            and sum(r["sender"] == m["sender"] for r in w) == 1
        ):
            out.add((m["message_id"], "multi_sender"))
    everything = sorted(msgs, key=lambda m: (m["customer_id"], pd.Timestamp(m["sent_at"]), m["message_id"]))
    for i, m in enumerate(everything):  # duplicates: earlier exempt messages were received too
        if (
            m["category"] not in exempt
            and m.get("campaign_id")
            and any(
                r["customer_id"] == m["customer_id"]
                and r.get("campaign_id") == m["campaign_id"]
                and r["channel"] == m["channel"]
                for r in everything[:i]
            )
        ):
            out.add((m["message_id"], "duplicate_campaign"))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_window_rules_match_brute_force(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    n = 250
    start = pd.Timestamp("2026-04-01")  # no DST change for elapsed vs wall time
    # minutes on a coarse grid so that ties and exact window edges happen often
    minutes = rng.integers(0, 40, n) * 720 + rng.choice([0, 0, 0, 1], n)
    msgs = [
        msg(
            f"M{i:03d}",
            str(start + pd.Timedelta(minutes=int(minutes[i]))),
            customer=f"C{rng.integers(0, 4)}",
            channel=str(rng.choice(["email", "sms", "phone", "mail"])),
            sender=str(rng.choice(["oem", "sales", "dealer", "service", "fi"])),
            category=str(rng.choice(["offer", "service_reminder", "newsletter", "recall", "survey", "transactional"])),
            campaign_id=str(rng.choice(["K1", "K2", "K3"])) if rng.random() < 0.5 else None,
        )
        for i in range(n)
    ]
    p = params()
    flags, _ = flags_of(
        dealer(msgs), p, rules=["cap_total", "cap_channel", "min_gap", "multi_sender", "duplicate_campaign"]
    )
    assert pairs(flags) == _brute_force(msgs, p)


@pytest.mark.parametrize("others", [0, 100])
def test_sub_second_timestamps_keep_exact_window_edges(others):
    # with 100 other customers over two years, nanosecond keys would overflow: times are ranked instead
    filler = [
        msg(f"Z{i:03d}", str(pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * i)), customer=f"Z{i:03d}")
        for i in range(others)
    ]
    base = [msg(f"M0{i}", f"2026-04-0{i + 1} 10:00:00.250") for i in range(5)]
    out = base + [msg("M06", "2026-04-08 10:00:00.250")]  # M00 exactly 7 days earlier: left the window
    assert run("cap_total", out + filler)[0].empty
    inside = base + [msg("M06", "2026-04-08 10:00:00.249")]
    assert pairs(run("cap_total", inside + filler)[0], "cap_total") == {"M06"}
    from ownercomm_kit.audit.windows import messages_of

    assert (messages_of(dealer(inside + filler)).uniq_t is not None) == (others > 0)


def test_sorted_messages_are_cached_and_rebuilt_for_new_data():
    from ownercomm_kit.audit.windows import messages_of

    data = dealer([msg("M1", "2026-04-01 10:00"), msg("M2", "2026-04-01 09:00")])
    m = messages_of(data)
    assert messages_of(data) is m
    assert list(data["communications"]["message_id"].take(m.order)) == ["M2", "M1"]
    data.tables["communications"] = data["communications"].iloc[:1].copy()
    assert len(messages_of(data)) == 1


def _brute_force_joins(msgs, sales, visits, appts, leads, vehicles, p) -> set[tuple[str, str]]:
    """The rules that join other tables, read literally with loops (dealer-local naive times)."""
    import numpy as np

    exempt = set(p["audit"]["exempt_categories"])
    ts = pd.Timestamp
    order = sorted(msgs, key=lambda m: (m["customer_id"], ts(m["sent_at"]), m["message_id"]))
    out = set()
    for m in order:
        if m["category"] in exempt:
            continue
        t, day, c = ts(m["sent_at"]), ts(m["sent_at"]).normalize(), m["customer_id"]
        mine = [s for s in sales if s["customer_id"] == c]
        diffs = [(day - ts(s["sale_date"])).days for s in mine]
        rp = p["rules"]["promo_after_purchase"]
        if m["category"] in rp["categories"] and any(0 <= d <= rp["days"] for d in diffs):
            out.add((m["message_id"], "promo_after_purchase"))
        rp = p["rules"]["better_offer_after_purchase"]
        if (
            m["category"] in rp["categories"]
            and m.get("model")
            and m.get("offer_price") is not None
            and any(
                s.get("model")
                and s["model"].strip().lower() == m["model"].strip().lower()
                and 0 <= (day - ts(s["sale_date"])).days <= rp["days"]
                and m["offer_price"] < s["price"]
                for s in mine
            )
        ):
            out.add((m["message_id"], "better_offer_after_purchase"))
        if m["category"] == "service_reminder":
            by_visit = any(
                v["customer_id"] == c
                and 0 <= (day - ts(v["visit_date"])).days <= p["rules"]["reminder_after_service"]["days"]
                and (not m.get("vin") or not v.get("vin") or v["vin"] == m["vin"])
                for v in visits
            )
            by_appt = any(
                a["customer_id"] == c
                and a["status"] != "cancelled"
                and ts(a["booked_at"]) <= t < ts(a["scheduled_for"])
                for a in appts
            )
            if by_visit or by_appt:
                out.add((m["message_id"], "reminder_after_service"))
        if m["category"] == "conquest" and (any(d >= 0 for d in diffs) or any(v["customer_id"] == c for v in vehicles)):
            out.add((m["message_id"], "conquest_to_owner"))
        rp = p["rules"]["promo_during_open_lead"]
        if (
            m["category"] in rp["categories"]
            and m["sender"] != rp["owner_sender"]
            and any(
                ld["customer_id"] == c
                and ts(ld["opened_at"]) <= t
                and (ld.get("closed_at") is None or t < ts(ld["closed_at"]))
                for ld in leads
            )
        ):
            out.add((m["message_id"], "promo_during_open_lead"))
        earlier = [
            u
            for u in order
            if u["customer_id"] == c
            and u["channel"] == m["channel"]
            and u.get("unsubscribed")
            and (ts(u["sent_at"]), u["message_id"]) < (t, m["message_id"])
        ]
        if earlier:
            u_day = np.datetime64(ts(earlier[0]["sent_at"]).date())
            grace = max(
                np.busday_offset(u_day, p["rules"]["after_opt_out"]["grace_business_days"], roll="backward"), u_day
            )
            if np.datetime64(day.date()) > grace:
                out.add((m["message_id"], "after_opt_out"))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_join_rules_match_brute_force(seed):
    import numpy as np

    rng = np.random.default_rng(100 + seed)
    start = pd.Timestamp("2026-04-01")

    def when(days=60):
        return start + pd.Timedelta(minutes=int(rng.integers(0, days * 24 * 4)) * 15)

    custs = [f"C{i}" for i in range(4)]
    choice = lambda xs: xs[int(rng.integers(0, len(xs)))]  # noqa: E731
    msgs = [
        msg(
            f"M{i:03d}",
            str(when()),
            customer=choice(custs),
            channel=choice(["email", "sms", "phone", "mail"]),
            sender=choice(["oem", "sales", "dealer", "service", "fi"]),
            category=choice(["offer", "sales_promo", "conquest", "service_reminder", "newsletter", "event", "recall"]),
            vin=choice(["V1", "V2", None]),
            model=choice(["Camry", " camry", "RAV4", None]),
            offer_price=choice([20000.0, 30000.0, None]),
            unsubscribed=bool(rng.random() < 0.03),
        )
        for i in range(200)
    ]
    sales = [
        {
            "sale_id": f"S{i}",
            "customer_id": choice(custs),
            "sale_date": str(when().date()),
            "model": choice(["Camry", "RAV4", None]),
            "price": choice([25000.0, 35000.0]),
        }
        for i in range(6)
    ]
    visits = [
        {
            "ro_id": f"R{i}",
            "customer_id": choice(custs),
            "visit_date": str(when().date()),
            "vin": choice(["V1", "V2", None]),
        }
        for i in range(8)
    ]
    appts = []
    for i in range(6):
        b = when()
        appts.append(
            {
                "appointment_id": f"A{i}",
                "customer_id": choice(custs),
                "booked_at": str(b),
                "scheduled_for": str(b + pd.Timedelta(hours=int(rng.integers(1, 24 * 20)))),
                "status": choice(["scheduled", "kept", "no_show", "cancelled"]),
            }
        )
    leads = []
    for i in range(5):
        o = when()
        leads.append(
            {
                "lead_id": f"L{i}",
                "customer_id": choice(custs),
                "opened_at": str(o),
                "closed_at": choice([str(o + pd.Timedelta(days=int(rng.integers(1, 15)))), None]),
            }
        )
    vehicles = [{"vin": "VX", "customer_id": choice(custs)}]
    p = params()
    names = [
        "promo_after_purchase",
        "better_offer_after_purchase",
        "reminder_after_service",
        "conquest_to_owner",
        "promo_during_open_lead",
        "after_opt_out",
    ]
    data = dealer(
        msgs,
        timezone="America/Chicago",
        sales=sales,
        service_visits=visits,
        appointments=appts,
        leads=leads,
        vehicles=vehicles,
    )
    flags, skipped = flags_of(data, p, rules=names)
    assert skipped == {}
    assert pairs(flags) == _brute_force_joins(msgs, sales, visits, appts, leads, vehicles, p)


def test_same_flags_whatever_the_row_order_of_the_export():
    import numpy as np

    rng = np.random.default_rng(5)
    start = pd.Timestamp("2026-04-01")
    msgs = [
        msg(
            f"M{i:03d}",
            str(start + pd.Timedelta(hours=int(rng.integers(0, 400)))),
            customer=f"C{rng.integers(0, 3)}",
            channel=str(rng.choice(["email", "sms"])),
            sender=str(rng.choice(["oem", "sales", "dealer"])),
            category=str(rng.choice(["offer", "newsletter", "recall"])),
        )
        for i in range(150)
    ]
    by_time = sorted(msgs, key=lambda m: m["sent_at"])  # the fast path: a stable sort by customer only
    shuffled = [msgs[i] for i in rng.permutation(len(msgs))]
    a, _ = flags_of(dealer(by_time))
    b, _ = flags_of(dealer(shuffled))
    assert len(a) > 10
    pd.testing.assert_frame_equal(a, b)


def test_sorted_with_order_equals_numpy_on_codes_and_keys():
    import numpy as np

    from ownercomm_kit.arrays import sorted_with_order

    rng = np.random.default_rng(0)
    for k in (1, 2, 70_000, 300_000):
        codes = rng.integers(0, k, 5000)
        order, keys = sorted_with_order(codes)
        assert (order == np.argsort(codes, kind="stable")).all() and (keys == np.sort(codes)).all()


# ------------------------------------------------------------------ parameters drive every threshold


def test_exempt_categories_come_from_params():
    msgs = days("2026-04-01 10:00", 5) + [msg("T1", "2026-04-03 12:00", category="transactional")]
    assert run("cap_total", msgs)[0].empty
    p = params(audit={"exempt_categories": ["recall"]})  # transactional now counts (and can be flagged)
    flags, _ = run("cap_total", msgs, p=p)
    assert pairs(flags, "cap_total") == {"M05"}
    flags, _ = run("quiet_hours", [msg("R1", "2026-04-01 23:00", channel="sms", category="recall")], p=p)
    assert pairs(flags, "quiet_hours") == {"R1"}


def test_multi_sender_and_open_lead_thresholds_from_params():
    msgs = [msg("A", "2026-04-01 10:00", sender="oem"), msg("B", "2026-04-03 10:00", sender="sales")]
    assert run("multi_sender", msgs)[0].empty
    assert pairs(run("multi_sender", msgs, p=params(multi_sender={"max_senders": 1}))[0], "multi_sender") == {"B"}
    assert run("multi_sender", msgs, p=params(multi_sender={"max_senders": 1, "window_days": 2}))[0].empty
    leads = [{"lead_id": "L1", "customer_id": "C1", "opened_at": "2026-04-01 09:00"}]
    offer = [msg("O", "2026-04-02 10:00", sender="sales", category="offer")]
    assert run("promo_during_open_lead", offer, leads=leads)[0].empty
    p = params(promo_during_open_lead={"owner_sender": "dealer"})
    f = one(run("promo_during_open_lead", offer, p=p, leads=leads)[0], "promo_during_open_lead", "O")
    assert f["detail"].endswith("is still open with dealer marketing")


def test_purchase_and_service_days_from_params():
    sale = [{"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-04-01"}]
    offer = [msg("O", "2026-04-11 10:00", category="offer")]
    assert pairs(run("promo_after_purchase", offer, sales=sale)[0], "promo_after_purchase") == {"O"}
    assert run("promo_after_purchase", offer, p=params(promo_after_purchase={"days": 9}), sales=sale)[0].empty
    p = params(promo_after_purchase={"categories": ["newsletter"]})
    assert run("promo_after_purchase", offer, p=p, sales=sale)[0].empty
    visit = [{"ro_id": "R1", "customer_id": "C1", "visit_date": "2026-04-01"}]
    rem = [msg("S", "2026-04-11 10:00", category="service_reminder")]
    assert run("reminder_after_service", rem, p=params(reminder_after_service={"days": 9}), service_visits=visit)[
        0
    ].empty


def test_severity_from_params():
    p = params(quiet_hours={"severity": "medium"})
    flags, _ = run("quiet_hours", [msg("A", "2026-04-01 23:00", channel="sms")], p=p)
    assert one(flags, "quiet_hours", "A")["severity"] == "medium"


def test_messages_without_sent_at_or_customer_are_a_data_error():
    from ownercomm_kit.data import DataError

    data = dealer([msg("M1", "2026-04-01 10:00"), msg("M2", None)])
    with pytest.raises(DataError, match="sent_at"):
        run_rules(data, params())
    data = dealer([msg("M1", "2026-04-01 10:00"), msg("M2", "2026-04-01 10:00", customer=None)])
    with pytest.raises(DataError, match="customer_id"):
        run_rules(data, params())


# ------------------------------------------------------------------ as_of


def test_messages_after_as_of_are_not_audited():
    """as_of is the report's "today": a later message (dealer's calendar) is left out, the last
    minute of as_of is in, and an earlier as_of rebuilds the audit as it stood then."""
    from ownercomm_kit.audit import run_audit

    msgs = [msg(f"M{i}", f"2026-03-0{i} 10:00", channel="phone") for i in range(1, 4)]
    msgs.append(msg("LATE", "2026-03-03 23:59:59", channel="phone"))  # last second of as_of
    msgs.append(msg("NEXT", "2026-03-04 00:00:00", channel="phone"))  # first second after
    data = dealer(msgs, as_of="2026-03-03")
    flags, _ = run_rules(data, params(), rules=["cap_channel"])
    assert pairs(flags, "cap_channel") == {"M2", "M3", "LATE"}  # phone cap 1 per 7 days
    result = run_audit(data, params())
    assert result.headline["messages"] == 4
    earlier = run_audit(dealer(msgs, as_of="2026-03-01"), params())
    assert earlier.headline["messages"] == 1 and earlier.headline["flags_total"] == 0


@pytest.mark.parametrize("subsecond", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sorted_messages_match_the_gathered_columns(seed, subsecond):
    """Customer codes, times and enum codes come back from the sorted key and one gather of
    each enum's own codes: the same as taking every column in sorted order."""
    import numpy as np

    from ownercomm_kit import schema
    from ownercomm_kit.audit.windows import codes_of, messages_of, ns_utc

    rng = np.random.default_rng(seed)
    n = 60 if subsecond else int(rng.choice([1, 2, 60]))  # many customers over years: ranked times
    start = pd.Timestamp("2026-03-07 12:00")  # over the DST change of 2026-03-08
    stamps = [start + pd.Timedelta(minutes=int(m)) for m in rng.integers(0, 3000, n)]
    if subsecond:
        stamps = [s + pd.Timedelta(milliseconds=int(x)) for s, x in zip(stamps, rng.integers(0, 999, n))]
        stamps[0] = pd.Timestamp("2019-01-01")  # a long span: times are ranked
    stamps[-1] = stamps[0]  # a tie of sent_at
    msgs = [
        msg(
            f"M{i:03d}",
            str(stamps[i]),
            customer=str(rng.choice(["C1", "é中", "C10", "=c"])) if i % 2 or not subsecond else f"Z{i}",
            channel=str(rng.choice(["email", "sms", "phone", "mail"])),
            sender=str(rng.choice(["oem", "sales", "fi"])),
            category=str(rng.choice(["offer", "recall", "survey"])),
        )
        for i in range(n)
    ]
    data = dealer(msgs)
    comm = data["communications"]
    comm.loc[comm.index[:: max(n // 3, 1)], "channel"] = pd.NA
    m = messages_of(data)
    assert (m.uniq_t is not None) == subsecond
    codes, customers = pd.factorize(comm["customer_id"], sort=True)
    assert list(m.customers) == list(customers)
    assert m.cust.tolist() == codes[m.order].tolist()
    assert m.t.tolist() == ns_utc(comm["sent_at"])[m.order].tolist()
    assert np.all(np.diff(m.key) >= 0)
    for col, allowed in (("channel", schema.CHANNELS), ("sender", schema.SENDERS), ("category", schema.CATEGORIES)):
        assert getattr(m, col).tolist() == codes_of(comm[col], allowed)[m.order].tolist()
        own, uniques = m.raw[col]
        text = np.append(np.asarray(uniques, dtype=object), None)[own].tolist()
        assert text == [None if pd.isna(v) else v for v in comm[col].take(m.order)]


def test_the_rules_keep_freed_memory_while_they_run(monkeypatch):
    """run_rules and run_rules_table each run in one ``procs.freed_memory_kept`` step (the
    kernels' audit cell, ownercomm history), the flags' frame inside it too."""
    import contextlib

    from ownercomm_kit.audit import rules

    steps = []

    @contextlib.contextmanager
    def step():
        steps.append("in")
        yield True
        steps.append("out")

    monkeypatch.setattr(rules, "freed_memory_kept", step)
    data = dealer([msg(f"M{i}", f"2026-03-0{i} 10:00") for i in range(1, 8)])
    flags, _ = rules.run_rules(data, params())
    assert steps == ["in", "in", "out", "out"] and len(flags)  # 6th and 7th message in 7 days
    steps.clear()
    rules.run_rules_table(data, params())
    assert steps == ["in", "out"]
