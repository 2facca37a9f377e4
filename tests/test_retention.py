"""Retention KPIs, trends and call lists (SPEC §5) pinned on small hand-made tables."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from ownercomm_kit import retention

from helpers.kpis import LA, PARAMS, cust, dealer

P = PARAMS["retention"]


# --- helpers ------------------------------------------------------------------------------


def test_calendar_months_clip_to_month_end():
    assert retention.months_before(pd.Timestamp("2026-03-31"), 1) == pd.Timestamp("2026-02-28")
    assert retention.months_before(pd.Timestamp("2028-02-29"), 12) == pd.Timestamp("2027-02-28")
    assert retention.months_before(pd.Timestamp("2026-03-31"), 12) == pd.Timestamp("2025-03-31")


def test_local_date_uses_dealer_timezone():
    d = dealer(
        communications=[
            {
                "message_id": "M1",
                "customer_id": "C1",
                "channel": "email",
                "sender": "dealer",
                "category": "offer",
                "sent_at": "2026-04-01T05:00:00Z",
            }
        ]
    )
    # 05:00 UTC on April 1 is 22:00 on March 31 in Los Angeles
    assert retention.local_date(d["communications"]["sent_at"], LA).iloc[0] == pd.Timestamp("2026-03-31")


# --- KPIs ---------------------------------------------------------------------------------


def test_first_year_service_retention_edges():
    sales = [
        {"sale_id": "S1", "customer_id": "C1", "sale_date": "2024-03-31", "vin": "V1"},  # = A-24m: out
        {"sale_id": "S2", "customer_id": "C2", "sale_date": "2024-04-01", "vin": "V2"},
        {"sale_id": "S3", "customer_id": "C3", "sale_date": "2025-03-31", "vin": "V3"},  # = A-12m: in
        {"sale_id": "S4", "customer_id": "C4", "sale_date": "2024-06-15", "vin": "V4"},
        {"sale_id": "S5", "customer_id": "C5", "sale_date": "2024-07-01", "vin": None},  # no vin: not a vehicle
        {"sale_id": "S6", "customer_id": "C6", "sale_date": "2024-05-01", "vin": "V6"},
        {"sale_id": "S7", "customer_id": "C7", "sale_date": "2024-12-01", "vin": "V6"},  # same vin resold
    ]
    visits = [
        {"ro_id": "R1", "customer_id": "C1", "visit_date": "2024-06-01", "vin": "V1"},
        {"ro_id": "R2", "customer_id": "C2", "visit_date": "2024-04-01", "vin": "V2"},  # sale day: not after
        {"ro_id": "R3", "customer_id": "C2", "visit_date": "2025-04-01", "vin": "V2"},  # sale + 12m: in
        {"ro_id": "R4", "customer_id": "C3", "visit_date": "2025-03-31", "vin": "V3"},  # sale day
        {"ro_id": "R5", "customer_id": "C4", "visit_date": "2025-06-16", "vin": "V4"},  # a day past 12m
        {"ro_id": "R6", "customer_id": "C9", "visit_date": "2025-10-01", "vin": "V6"},  # another customer, same vin
    ]
    value, why = retention.first_year_service_retention(dealer(sales=sales, service_visits=visits), P)
    assert why is None
    assert value == pytest.approx(2 / 4)  # V2, V3, V4, V6 sold; V2 and V6 came back


def test_first_year_service_retention_needs_vins():
    sales = [{"sale_id": "S2", "customer_id": "C2", "sale_date": "2024-04-01", "vin": "V2"}]
    visits = [{"ro_id": "R3", "customer_id": "C2", "visit_date": "2025-04-01"}]
    value, why = retention.first_year_service_retention(dealer(sales=sales, service_visits=visits), P)
    assert value is None and "service_visits has no vin column" in why
    value, why = retention.first_year_service_retention(dealer(service_visits=visits), P)
    assert value is None and why == "no sales table in the data"


def test_first_year_service_retention_empty_denominator_is_none():
    sales = [{"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-01-01", "vin": "V1"}]
    visits = [{"ro_id": "R1", "customer_id": "C1", "visit_date": "2026-02-01", "vin": "V1"}]
    assert retention.first_year_service_retention(dealer(sales=sales, service_visits=visits), P) == (None, None)


def test_service_customer_retention_edges():
    rows = [
        ("C1", "2024-03-31"),
        ("C1", "2026-01-01"),  # A-24m excluded: not in the base
        ("C2", "2024-04-01"),
        ("C2", "2025-03-31"),  # both in the earlier year, none later
        ("C3", "2025-03-31"),
        ("C3", "2025-04-01"),  # A-12m belongs to the earlier year; next day to the later
        ("C4", "2024-10-10"),
        ("C4", "2026-03-31"),  # A is included
        ("C5", "2024-10-10"),
        ("C5", "2026-04-01"),  # after A
    ]
    visits = [{"ro_id": f"R{i}", "customer_id": c, "visit_date": d} for i, (c, d) in enumerate(rows)]
    value, why = retention.service_customer_retention_12m(dealer(service_visits=visits), P)
    assert why is None and value == pytest.approx(2 / 4)


def test_service_customer_retention_empty_and_missing():
    visits = [{"ro_id": "R1", "customer_id": "C1", "visit_date": "2026-01-01"}]
    assert retention.service_customer_retention_12m(dealer(service_visits=visits), P) == (None, None)
    value, why = retention.service_customer_retention_12m(dealer(), P)
    assert value is None and why == "no service_visits table in the data"


def appt(i, when, status, customer="C1", booked="2025-12-01 09:00"):
    return {
        "appointment_id": f"A{i}",
        "customer_id": customer,
        "booked_at": booked,
        "scheduled_for": when,
        "status": status,
    }


def test_appointment_show_rate_window_and_timezone():
    aps = [
        appt(1, "2025-12-31 23:30", "kept"),  # A-90d local: out
        appt(2, "2026-01-01T07:30:00Z", "kept"),  # 23:30 Dec 31 in LA: out
        appt(3, "2026-04-01T05:00:00Z", "no_show"),  # 22:00 Mar 31 in LA = A: in
        appt(4, "2026-01-01 00:00", "kept"),  # first day in
        appt(5, "2026-02-01 10:00", "cancelled"),
        appt(6, "2026-02-01 11:00", "scheduled"),
        appt(7, "2026-02-02 11:00", "kept"),
        appt(8, "2026-04-01 08:00", "kept"),  # after A
    ]
    value, why = retention.appointment_show_rate_90d(dealer(appointments=aps), P)
    assert why is None and value == pytest.approx(2 / 3)


def test_appointment_show_rate_only_cancelled_is_none():
    aps = [appt(1, "2026-02-01 10:00", "cancelled"), appt(2, "2026-02-02 10:00", "scheduled")]
    assert retention.appointment_show_rate_90d(dealer(appointments=aps), P) == (None, None)


def msg(i, sent, category="service_reminder", customer="C1", channel="email", **extra):
    return {
        "message_id": f"M{i}",
        "customer_id": customer,
        "sent_at": sent,
        "channel": channel,
        "sender": "service",
        "category": category,
        **extra,
    }


def test_reminder_booking_rate_edges():
    msgs = [
        msg(1, "2026-03-17 20:00"),  # = A-14d: in
        msg(2, "2026-03-18 09:00"),  # after A-14d: out
        msg(3, "2025-12-31 10:00"),  # = A-90d: out
        msg(4, "2026-01-05 10:00", customer="C4"),  # booked at the same instant / just past 14 days
        msg(5, "2026-02-01 10:00", category="offer"),  # not a reminder
        msg(6, "2026-02-10 10:00", customer="C6"),  # someone else booked
        msg(7, "2026-02-10 10:00", customer="C7"),  # booked, then cancelled: still booked
        msg(8, "2026-03-18T03:00:00Z", customer="C8"),  # 20:00 Mar 17 in LA: in, not booked
    ]
    aps = [
        appt(1, "2026-04-10 09:00", "scheduled", "C1", booked="2026-03-31 20:00"),  # exactly +14 days
        appt(2, "2026-01-20 09:00", "kept", "C4", booked="2026-01-05 10:00"),
        appt(3, "2026-01-20 09:00", "kept", "C4", booked="2026-01-19 10:00:01"),
        appt(4, "2026-02-20 09:00", "kept", "C9", booked="2026-02-11 10:00"),
        appt(5, "2026-02-20 09:00", "cancelled", "C7", booked="2026-02-11 10:00"),
    ]
    d = dealer(communications=msgs, appointments=aps)
    value, why = retention.reminder_booking_rate_90d(d, P)
    assert why is None and value == pytest.approx(2 / 5)
    rem = retention.reminder_bookings(d, P).set_index("message_id")["booked"]
    assert rem.to_dict() == {"M1": True, "M4": False, "M6": False, "M7": True, "M8": False}


def test_reminder_booking_rate_without_appointments_is_skipped():
    value, why = retention.reminder_booking_rate_90d(dealer(communications=[msg(1, "2026-02-01 10:00")]), P)
    assert value is None and why == "no appointments table in the data"


def test_response_rate_delivered_window_and_channels():
    msgs = [
        msg(1, "2026-02-01 10:00", "offer", status="delivered", responded_at="2026-02-01 12:00"),
        msg(2, "2026-02-01 10:00", "offer", status=None),
        msg(3, "2026-02-01 10:00", "offer", channel="sms", status="bounced", responded_at="2026-02-01 12:00"),
        msg(4, "2026-02-01 10:00", "offer", channel="sms", status="delivered", responded_at="2026-02-02 12:00"),
        msg(5, "2025-12-31 10:00", "offer", status="delivered", responded_at="2026-01-02 12:00"),  # A-90d: out
        msg(6, "2026-03-31 23:59", "offer", status="delivered"),  # A: in
        msg(7, "2026-03-01 10:00", "offer", channel="sms", status="failed"),
    ]
    d = dealer(communications=msgs)
    value, why = retention.response_rate_90d(d, P)
    assert why is None and value == pytest.approx(2 / 4)
    by = retention.response_by_channel(d, P).set_index("channel")
    assert by.loc["email", "messages"] == 3 and by.loc["email", "response_rate"] == pytest.approx(1 / 3)
    assert by.loc["sms", "messages"] == 1 and by.loc["sms", "response_rate"] == 1.0


def test_response_rate_missing_columns():
    d = dealer(communications=[msg(1, "2026-02-01 10:00", "offer")])  # no status, no responded_at
    value, why = retention.response_rate_90d(d, P)
    assert value is None and "responded_at" in why
    d = dealer(communications=[msg(1, "2026-02-01 10:00", "offer", responded_at=None)])  # no status: all count
    assert retention.response_rate_90d(d, P) == (0.0, None)


def test_repurchase_rate_edges():
    rows = [
        ("C1", "2023-03-31"),
        ("C1", "2026-03-31"),  # first on A-36m (in), again on A (in)
        ("C2", "2023-04-01"),
        ("C2", "2024-01-01"),  # first after A-36m: not in the base
        ("C3", "2020-01-01"),
        ("C3", "2020-01-01"),  # two cars the same day: not "again"
        ("C4", "2021-05-05"),
        ("C4", "2026-04-01"),  # again only after A
        ("C5", "2022-01-01"),
        ("C5", "2022-06-01"),
    ]
    sales = [{"sale_id": f"S{i}", "customer_id": c, "sale_date": d} for i, (c, d) in enumerate(rows)]
    value, why = retention.repurchase_rate(dealer(sales=sales), P)
    assert why is None and value == pytest.approx(2 / 4)


def test_repurchase_rate_empty_base_and_missing_table():
    sales = [{"sale_id": "S1", "customer_id": "C1", "sale_date": "2025-01-01"}]
    assert retention.repurchase_rate(dealer(sales=sales), P) == (None, None)
    assert retention.repurchase_rate(dealer(), P) == (None, "no sales table in the data")


def test_compute_on_minimal_data_degrades():
    d = dealer(communications=[msg(1, "2026-02-01 10:00", "offer")])
    r = retention.compute(d, PARAMS)
    assert set(r.kpis) == set(retention.KPI_KEYS)
    assert all(v is None for v in r.kpis.values())
    for key in retention.KPI_KEYS:
        assert r.skipped[key]
    for name in ("weekly_appointments", "cohort", "lapsed", "due_for_service", "warranty_expiring", "milestones"):
        assert name in r.skipped
        assert getattr(r, name).empty or name == "weekly_appointments"
    assert (r.weekly_appointments[["kept", "no_show"]] == 0).all().all()
    for key in (*retention.KPI_KEYS, "cohort", "due_for_service", "milestones", "consenting"):
        assert retention.DEFINITIONS[key]


def test_kpis_are_plain_python_numbers():
    visits = [
        {"ro_id": "R1", "customer_id": "C1", "visit_date": "2024-10-10"},
        {"ro_id": "R2", "customer_id": "C1", "visit_date": "2026-01-10"},
    ]
    r = retention.compute(dealer(service_visits=visits), PARAMS)
    assert type(r.kpis["service_customer_retention_12m"]) is float


# --- trends -------------------------------------------------------------------------------


def test_weekly_appointments_weeks_start_monday():
    aps = [
        appt(1, "2026-03-30 09:00", "kept"),
        appt(2, "2026-03-31 21:00", "no_show"),  # week of Mon Mar 30
        appt(3, "2026-03-29 09:00", "kept"),  # Sunday: previous week
        appt(4, "2026-04-01T05:30:00Z", "cancelled"),  # Mar 31 local
        appt(5, "2026-04-01 09:00", "kept"),
    ]  # after A
    w = retention.weekly_appointments(dealer(appointments=aps), P)
    assert len(w) == P["weekly_weeks"]
    assert (w["week"].dt.day_of_week == 0).all()
    last = w.iloc[-1]
    assert last["week"] == pd.Timestamp("2026-03-30")
    assert (last["kept"], last["no_show"], last["cancelled"]) == (1, 1, 1)
    assert last["show_rate"] == 0.5
    prev = w.iloc[-2]
    assert prev["kept"] == 1 and prev["show_rate"] == 1.0
    assert pd.isna(w.iloc[0]["show_rate"])


def test_cohort_only_fully_observed_cells():
    # A = 2026-03-31. Quarter 2025Q3 ends 2025-09-30: quarter 1 after sale ends by 2025-12-31,
    # quarter 2 by 2026-03-31 (= A, observed); quarter 3 not yet.
    sales = [
        {"sale_id": "S1", "customer_id": "C1", "sale_date": "2025-07-15", "vin": "V1"},
        {"sale_id": "S2", "customer_id": "C2", "sale_date": "2025-09-30", "vin": "V2"},
        {"sale_id": "S3", "customer_id": "C3", "sale_date": "2026-01-10", "vin": "V3"},  # no full quarter yet
    ]
    visits = [
        {"ro_id": "R1", "customer_id": "C1", "visit_date": "2025-10-15", "vin": "V1"},  # = sale + 3m: quarter 1
        {"ro_id": "R2", "customer_id": "C1", "visit_date": "2025-10-16", "vin": "V1"},  # quarter 2
        # Sep 30 + 3 months is Dec 30 and + 6 months Mar 30 (calendar months keep the day)
        {"ro_id": "R3", "customer_id": "C2", "visit_date": "2026-03-30", "vin": "V2"},  # quarter 2
        {"ro_id": "R4", "customer_id": "C2", "visit_date": "2025-12-31", "vin": "V2"},  # quarter 2 too
    ]
    c = retention.cohort(dealer(sales=sales, service_visits=visits), P)
    assert list(c["sale_quarter"].unique()) == ["2025Q3"]
    assert list(c["quarters_since_sale"]) == [1, 2]
    assert list(c["vehicles"]) == [2, 2]
    assert list(c["with_visit"]) == [1, 2]
    assert list(c["share"]) == [0.5, 1.0]


def test_lapsed_window():
    rows = [
        ("C1", "2025-03-31"),
        ("C2", "2025-04-01"),
        ("C3", "2024-03-31"),
        ("C4", "2024-04-01"),
        ("C5", "2024-06-01"),
        ("C5", "2026-01-01"),
    ]
    visits = [{"ro_id": f"R{i}", "customer_id": c, "visit_date": d, "vin": "V1"} for i, (c, d) in enumerate(rows)]
    customers = cust("C1", "C2", "C3", "C4", "C5", first_name="Ann", last_name="Lee", phone="555 0100")
    lap = retention.lapsed(dealer(customers=customers, service_visits=visits), P)
    assert list(lap["customer_id"]) == ["C1", "C4"]
    assert list(lap["months_since_visit"]) == [12, 23]
    assert lap.iloc[0]["name"] == "Ann Lee" and lap.iloc[0]["vehicle"] == "VIN V1"


def test_reminder_attribution_by_sender_and_channel():
    msgs = [msg(1, "2026-02-01 10:00"), msg(2, "2026-02-01 10:00", customer="C2", channel="sms")]
    aps = [appt(1, "2026-02-10 09:00", "kept", "C1", booked="2026-02-02 09:00")]
    att = retention.reminder_attribution(dealer(communications=msgs, appointments=aps), P)
    assert att[["sender", "channel", "reminders", "booked"]].values.tolist() == [
        ["service", "email", 1, 1],
        ["service", "sms", 1, 0],
    ]


# --- contacts and call lists ----------------------------------------------------------------


def test_customer_contacts_consent_and_preference():
    customers = [
        {"customer_id": "C1", "email": "a@x.com", "phone": "555", "preferred_channel": "email", "email_opt_in": True},
        {"customer_id": "C2", "email": "b@x.com", "phone": "555", "preferred_channel": "sms", "sms_consent": None},
        {"customer_id": "C3", "email": "c@x.com", "preferred_channel": "email", "email_opt_in": False},
        {"customer_id": "C4", "phone": "555", "preferred_channel": "sms", "sms_consent": True},
        {"customer_id": "C5", "phone": "555", "phone_dnc": True, "mail_opt_out": True, "postal_code": "10001"},
        {"customer_id": "C6", "email": "f@x.com", "email_opt_in": None},  # blank opt-in is not a refusal
        {"customer_id": "C7", "postal_code": "10001"},
    ]
    d = dealer(customers=customers)
    c = retention.customer_contacts(d["customers"], P["contact_fallback"]).set_index("customer_id")
    assert c.loc["C1", ["channel", "contact"]].tolist() == ["email", "a@x.com"]
    assert c.loc["C2", ["channel", "contact"]].tolist() == ["phone", "555"]  # no sms consent: fallback phone
    assert not c.loc["C3", "reachable"]
    assert c.loc["C4", ["channel", "contact"]].tolist() == ["sms", "555"]
    assert not c.loc["C5", "reachable"]
    assert c.loc["C6", "channel"] == "email"
    assert c.loc["C7", ["channel", "contact"]].tolist() == ["mail", "10001"]


def test_due_for_service():
    # A + 30 = 2026-04-30; due when last visit + 180 days < 2026-04-30, i.e. last visit < 2025-11-01
    rows = [
        ("C1", "2025-10-31"),
        ("C2", "2025-11-01"),
        ("C3", "2025-01-01"),
        ("C4", "2025-06-01"),
        ("C5", "2025-06-01"),
        ("C6", "2025-06-01"),
        ("C7", "2025-06-01"),
        ("C8", "2025-06-01"),
    ]
    visits = [{"ro_id": f"R{i}", "customer_id": c, "visit_date": d, "vin": f"V{c}"} for i, (c, d) in enumerate(rows)]
    aps = [
        appt(1, "2026-04-05 09:00", "scheduled", "C4"),  # booked: not called
        appt(2, "2026-04-05 09:00", "cancelled", "C5"),  # cancelled: still due
        appt(3, "2026-03-31 16:00", "scheduled", "C6"),  # coming in later today: not called
        appt(4, "2026-03-20 09:00", "kept", "C7"),  # past appointment: still due
    ]
    customers = cust("C1", "C2", "C3", "C4", "C5", "C6", "C7", phone="555 0100", first_name="Bo")
    customers.append({"customer_id": "C8", "phone": "555", "phone_dnc": True})  # cannot be reached
    vehicles = [{"vin": "VC1", "customer_id": "C1", "make": "Toyota", "model": "Camry", "model_year": 2022}]
    excluded: dict = {}
    d = dealer(customers=customers, service_visits=visits, appointments=aps, vehicles=vehicles)
    due = retention.due_for_service(d, P, excluded)
    assert sorted(due["customer_id"]) == ["C1", "C3", "C5", "C7"]
    assert excluded["due_for_service"] == 1
    row = due.set_index("customer_id").loc["C1"]
    assert row["due_date"] == pd.Timestamp("2026-04-29")
    assert row["vehicle"] == "2022 Toyota Camry (VIN VC1)"
    assert row["channel"] == "phone" and row["contact"] == "555 0100"
    assert row["reason"] == "Last service on 2025-10-31; next service due in 29 days (by time) and nothing booked"
    assert row["due_reason"] == "time" and pd.isna(row["estimated_mileage"])  # no mileage: due by time only
    assert "overdue by" in due.set_index("customer_id").loc["C3", "reason"]


def test_warranty_expiring_inclusive_window():
    vehicles = [
        {"vin": "V1", "customer_id": "C1", "warranty_end": "2026-03-31"},  # = A: in
        {"vin": "V2", "customer_id": "C2", "warranty_end": "2026-06-29"},  # = A + 90d: in
        {"vin": "V3", "customer_id": "C3", "warranty_end": "2026-06-30"},  # out
        {"vin": "V4", "customer_id": "C4", "warranty_end": "2026-03-30"},  # already ended
        {"vin": "V5", "customer_id": "C5", "warranty_end": None},
    ]
    customers = cust("C1", "C2", "C3", "C4", "C5", email="x@y.com")
    excluded: dict = {}
    w = retention.warranty_expiring(dealer(customers=customers, vehicles=vehicles), P, excluded)
    assert list(w["vin"]) == ["V1", "V2"]
    assert w["reason"].tolist() == [
        "Warranty of the vehicle ends on 2026-03-31 (today)",
        "Warranty of the vehicle ends on 2026-06-29 (in 90 days)",
    ]


def test_milestones_feb29_consent_and_anniversaries():
    customers = [
        {
            "customer_id": "C1",
            "birth_date": "1980-02-29",
            "email": "a@x.com",
        },  # next birthday Feb 2027: outside the window
        {"customer_id": "C2", "birth_date": "1990-04-15", "email": "b@x.com", "email_opt_in": False},  # no consent
        {"customer_id": "C3", "birth_date": "1990-04-30", "phone": "555"},  # = A + 30: in
        {"customer_id": "C4", "birth_date": "1990-05-01", "phone": "555"},  # out
        {"customer_id": "C5", "birth_date": "1970-03-31", "phone": "555", "first_name": "Al"},  # today: in
    ]
    sales = [
        {"sale_id": "S1", "customer_id": "C3", "sale_date": "2025-03-31", "vin": "V1", "model": "Camry"},  # 1 year on A
        {"sale_id": "S2", "customer_id": "C3", "sale_date": "2026-03-31", "vin": "V2"},  # bought today
        {"sale_id": "S3", "customer_id": "C4", "sale_date": "2020-04-20", "model": "RAV4"},  # 6 years
        {"sale_id": "S4", "customer_id": "C2", "sale_date": "2020-04-20"},  # no consent
    ]
    excluded: dict = {}
    m = retention.milestones(dealer(customers=customers, sales=sales), P, excluded)
    got = sorted(zip(m["customer_id"], m["milestone"], m["milestone_date"].dt.strftime("%Y-%m-%d")))
    assert got == [
        ("C3", "birthday", "2026-04-30"),
        ("C3", "purchase_anniversary", "2026-03-31"),
        ("C4", "purchase_anniversary", "2026-04-20"),
        ("C5", "birthday", "2026-03-31"),
    ]
    assert excluded["milestones"] == 2
    row = m[m["customer_id"].eq("C4")].iloc[0]
    assert row["vehicle"] == "RAV4" and row["reason"] == "6 years since buying the RAV4 (April 20)"
    assert m[m["customer_id"].eq("C5")].iloc[0]["reason"] == "Birthday on March 31 (turns 56)"


def test_milestones_feb29_birthday_in_common_year():
    customers = [{"customer_id": "C1", "birth_date": "1980-02-29", "email": "a@x.com"}]
    m = retention.milestones(dealer(customers=customers, as_of="2027-02-10"), P, {})
    assert m["milestone_date"].tolist() == [pd.Timestamp("2027-02-28")]
    m = retention.milestones(dealer(customers=customers, as_of="2028-02-10"), P, {})
    assert m["milestone_date"].tolist() == [pd.Timestamp("2028-02-29")]


def test_compute_returns_every_frame():
    r = retention.compute(dealer(), PARAMS)
    assert r.as_of == dt.date(2026, 3, 31)
    for name in (
        "weekly_appointments",
        "cohort",
        "lapsed",
        "response_by_channel",
        "reminder_attribution",
        "due_for_service",
        "warranty_expiring",
        "milestones",
    ):
        assert isinstance(getattr(r, name), pd.DataFrame)


def test_reminder_booking_days_are_calendar_days_across_dst():
    # US daylight saving time ends on 2026-11-01: Oct 20 10:00 PDT + 14 days = Nov 3 10:00 PST,
    # 14 days on the dealer's calendar although 337 hours apart.
    msgs = [msg(1, "2026-10-20 10:00"), msg(2, "2026-10-20 10:00", customer="C2")]
    aps = [
        appt(1, "2026-11-10 09:00", "kept", "C1", booked="2026-11-03 10:00"),
        appt(2, "2026-11-10 09:00", "kept", "C2", booked="2026-11-03 10:01"),
    ]
    d = dealer(communications=msgs, appointments=aps, as_of="2026-11-20")
    assert retention.reminder_bookings(d, P).set_index("message_id")["booked"].to_dict() == {"M1": True, "M2": False}


def test_notes_on_partial_data():
    visits = [{"ro_id": "R1", "customer_id": "C1", "visit_date": "2025-01-10"}]
    r = retention.compute(dealer(service_visits=visits, communications=[msg(1, "2026-02-01 10:00", "offer")]), PARAMS)
    assert "already booked" in r.notes["due_for_service"]
    assert "every message counts as delivered" not in r.notes.get("response_rate_90d", "")  # KPI skipped instead
    assert "response_rate_90d" in r.skipped
    assert "milestones" in r.skipped and "milestones" not in r.notes  # neither birthdays nor sales
    sales = [{"sale_id": "S1", "customer_id": "C1", "sale_date": "2025-04-10"}]
    assert retention.compute(dealer(sales=sales), PARAMS).notes["milestones"].startswith("no birth_date column")
    assert r.due_for_service["customer_id"].tolist() == []  # C1 has no contact on file
    assert r.excluded["due_for_service"] == 1


def test_thresholds_and_definitions_follow_params():
    import copy

    params = copy.deepcopy(PARAMS)
    params["retention"]["show_rate_days"] = 30
    aps = [appt(1, "2026-03-01 10:00", "kept"), appt(2, "2026-03-10 10:00", "no_show")]  # 30 days: only Mar 10
    r = retention.compute(dealer(appointments=aps), params)
    assert r.kpis["appointment_show_rate_90d"] == 0.0
    assert "last 30 days" in r.definitions["appointment_show_rate_90d"]
    assert "last 90 days" in retention.DEFINITIONS["appointment_show_rate_90d"]


def test_isin_matches_pandas_but_never_matches_missing():
    s = pd.Series(["a", None, "b", "c"], dtype="string")
    assert retention.isin(s, pd.Series([None, "b", "a"], dtype="string")).tolist() == [True, False, True, False]
    assert retention.isin(s, {"c"}).tolist() == [False, False, False, True]
    assert retention.isin(s, []).tolist() == [False] * 4
    assert retention.isin(s.iloc[:0], ["a"]).tolist() == []


def test_orphan_customers_stay_off_call_lists():
    visits = [
        {"ro_id": "R1", "customer_id": "C404", "visit_date": "2025-01-10"},
        {"ro_id": "R2", "customer_id": "C1", "visit_date": "2025-01-10"},
    ]
    customers = cust("C1", phone="555 0100")
    r = retention.compute(dealer(customers=customers, service_visits=visits), PARAMS)
    assert r.due_for_service["customer_id"].tolist() == ["C1"]
    assert r.excluded["due_for_service"] == 1
    # the KPIs still count every visit (the data-quality section reports the orphan)
    assert r.kpis["service_customer_retention_12m"] == 0.0


def test_future_birthdays_and_sales_are_not_milestones():
    customers = [{"customer_id": "C1", "birth_date": "2026-04-10", "email": "a@x.com"}]  # born after A: bad data
    sales = [{"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-04-05"}]  # sold after A
    assert retention.milestones(dealer(customers=customers, sales=sales), P, {}).empty


def test_weekly_appointments_week_boundary_in_local_time():
    # 06:30 UTC on Monday March 30 is 23:30 on Sunday March 29 in Los Angeles: the week before
    aps = [appt(1, "2026-03-30T06:30:00Z", "kept"), appt(2, "2026-03-30T07:30:00Z", "no_show")]
    w = retention.weekly_appointments(dealer(appointments=aps), P).set_index("week")
    assert w.loc[pd.Timestamp("2026-03-23"), "kept"] == 1 and w.loc[pd.Timestamp("2026-03-23"), "no_show"] == 0
    assert w.loc[pd.Timestamp("2026-03-30"), "no_show"] == 1 and w.loc[pd.Timestamp("2026-03-30"), "kept"] == 0


def test_cohort_counts_a_vehicle_once_per_sale_quarter():
    sales = [
        {"sale_id": "S1", "customer_id": "C1", "sale_date": "2025-01-05", "vin": "V1"},
        {"sale_id": "S2", "customer_id": "C2", "sale_date": "2025-02-05", "vin": "V1"},  # resold in the same quarter
        {"sale_id": "S3", "customer_id": "C3", "sale_date": "2025-02-10", "vin": "V3"},
    ]
    visits = [{"ro_id": "R1", "customer_id": "C2", "visit_date": "2025-04-01", "vin": "V1"}]  # within 3 months of Jan 5
    c = retention.cohort(dealer(sales=sales, service_visits=visits), P)
    first = c[(c["sale_quarter"] == "2025Q1") & (c["quarters_since_sale"] == 1)].iloc[0]
    assert (first["vehicles"], first["with_visit"]) == (2, 1)
    assert c["quarters_since_sale"].max() == 4  # 2025-03-31 + 12 months = A: the 4th quarter has just ended
