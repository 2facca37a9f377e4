"""The suppression list as of as_of (ownercomm_kit.audit.suppression)."""

from __future__ import annotations

import pandas as pd

from helpers.audit import dealer, msg, params
from ownercomm_kit.audit.suppression import COLUMNS, suppression_list
from ownercomm_kit.schema import CHANNELS

TZ = "America/Chicago"
EVERY_CHANNEL = ("promo_after_purchase", "reminder_after_service", "cap_total")
AS_OF = "2026-06-30"


def rows(sup: pd.DataFrame) -> set[tuple]:
    """The list's rows; a reason about every channel (cool-downs, the total cap), present on
    every channel, reads as one ("all") row here."""
    until = sup["until"].dt.strftime("%Y-%m-%d").fillna("")
    found = set(zip(sup["customer_id"], sup["channel"], sup["rule"], until))
    out = set()
    for c, ch, r, u in found:
        every = r in EVERY_CHANNEL and all((c, other, r, u) in found for other in CHANNELS)
        out.add((c, "all" if every else ch, r, u))
    return out


def test_every_row_names_a_real_channel():
    """A CRM suppresses per channel: a cool-down is one row per channel, never "all"."""
    sales = [{"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-06-10"}]
    sup = build([msg("M1", "2026-06-01 10:00")], sales=sales)
    assert set(sup["channel"]) == set(CHANNELS)
    assert len(sup) == len(CHANNELS) and set(sup["rule"]) == {"promo_after_purchase"}


def build(messages, customers=None, p=None, **tables):
    data = dealer(messages, customers, timezone=TZ, as_of=AS_OF, **tables)
    return suppression_list(data, p or params())


def test_columns_and_dtypes():
    sup = build([msg("M1", "2026-06-01 10:00")])
    assert list(sup.columns) == COLUMNS
    assert str(sup["until"].dtype) == "datetime64[ns]"


def test_purchase_cool_down_edges():
    sales = [
        {"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-06-10"},
        {"sale_id": "S2", "customer_id": "C2", "sale_date": "2026-05-31"},  # day 30 on as_of: last day
        {"sale_id": "S3", "customer_id": "C3", "sale_date": "2026-05-30"},  # over
        {"sale_id": "S4", "customer_id": "C4", "sale_date": "2026-07-02"},  # after as_of
    ]
    sup = build([msg("M1", "2026-06-01 10:00")], [{"customer_id": c} for c in ("C1", "C2", "C3", "C4")], sales=sales)
    assert rows(sup) == {
        ("C1", "all", "promo_after_purchase", "2026-07-10"),
        ("C2", "all", "promo_after_purchase", "2026-06-30"),
    }


def test_service_cool_down_and_booked_appointment():
    visits = [{"ro_id": "R1", "customer_id": "C1", "visit_date": "2026-06-20"}]
    appts = [
        {
            "appointment_id": "A1",
            "customer_id": "C2",
            "booked_at": "2026-06-25 10:00",
            "scheduled_for": "2026-07-08 09:00",
            "status": "scheduled",
        },
        {
            "appointment_id": "A2",
            "customer_id": "C3",
            "booked_at": "2026-06-25 10:00",
            "scheduled_for": "2026-07-08 09:00",
            "status": "cancelled",
        },
        {
            "appointment_id": "A3",
            "customer_id": "C4",
            "booked_at": "2026-06-01 10:00",
            "scheduled_for": "2026-06-30 09:00",
            "status": "kept",
        },  # already due
        {
            "appointment_id": "A4",
            "customer_id": "C5",
            "booked_at": "2026-07-01 10:00",
            "scheduled_for": "2026-07-08 09:00",
            "status": "scheduled",
        },  # booked after as_of
    ]
    sup = build(
        [msg("M1", "2026-06-01 10:00")],
        [{"customer_id": f"C{i}"} for i in range(1, 6)],
        service_visits=visits,
        appointments=appts,
    )
    assert rows(sup) == {
        ("C1", "all", "reminder_after_service", "2026-07-20"),
        ("C2", "all", "reminder_after_service", "2026-07-08"),
    }


def test_cap_reached_in_the_current_window_until_it_frees_up():
    five = [msg(f"M{i}", f"2026-06-{24 + i} 10:00", category="survey") for i in range(5)]  # 06-24 .. 06-28
    sup = build(five + [msg("X1", "2026-06-29 10:00", customer="C2")])
    # the oldest (06-24 10:00) leaves the 7-day window at 07-01 10:00: capped through 07-01
    assert ("C1", "all", "cap_total", "2026-07-01") in rows(sup)
    # email cap 3 per 7 days: the 3rd newest (06-26) frees up the window on 07-03
    assert ("C1", "email", "cap_channel", "2026-07-03") in rows(sup)
    assert not any(r[0] == "C2" for r in rows(sup))


def test_cap_counts_only_non_exempt_and_not_after_as_of():
    four = [msg(f"M{i}", f"2026-06-{24 + i} 10:00", channel="mail") for i in range(4)]
    extra = [
        msg("R1", "2026-06-29 10:00", category="recall", channel="mail"),
        msg("L1", "2026-07-01 10:00", channel="mail"),
    ]  # after as_of
    sup = build(four + extra)
    assert not any(r[2] == "cap_total" for r in rows(sup))
    # 2 per 30 days, 4 mailed (06-24..06-27): room for one more once 06-26 has left, on 07-26
    assert ("C1", "mail", "cap_channel", "2026-07-26") in rows(sup)


def test_consent_and_opt_out_are_indefinite():
    customers = [
        {"customer_id": "C1", "sms_consent": None, "email_opt_in": False, "phone_dnc": True, "mail_opt_out": True},
        {"customer_id": "C2", "sms_consent": True, "email_opt_in": None, "phone_dnc": False, "mail_opt_out": False},
        {"customer_id": "C3", "sms_consent": True, "email_opt_in": True, "phone_dnc": None, "mail_opt_out": None},
    ]
    messages = [
        msg("M1", "2026-06-01 10:00", customer="C2", unsubscribed=True),
        msg("M2", "2026-07-02 10:00", customer="C3", channel="sms", unsubscribed=True),
    ]  # after as_of
    sup = build(messages, customers)
    assert rows(sup) == {
        ("C1", "sms", "no_consent", ""),
        ("C1", "email", "no_consent", ""),
        ("C1", "phone", "no_consent", ""),
        ("C1", "mail", "no_consent", ""),
        ("C2", "email", "after_opt_out", ""),
    }
    assert sup["until"].isna().all()


def test_missing_consent_columns_and_disabled_rules_add_nothing():
    customers = [{"customer_id": "C1", "email_opt_in": False}]
    sales = [{"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-06-20"}]
    sup = build([msg("M1", "2026-06-01 10:00")], customers, sales=sales)
    assert rows(sup) == {("C1", "email", "no_consent", ""), ("C1", "all", "promo_after_purchase", "2026-07-20")}
    p = params(no_consent={"enabled": False}, promo_after_purchase={"enabled": False})
    assert build([msg("M1", "2026-06-01 10:00")], customers, p=p, sales=sales).empty


def test_one_row_per_customer_channel_rule_with_the_latest_until():
    sales = [
        {"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-06-10"},
        {"sale_id": "S2", "customer_id": "C1", "sale_date": "2026-06-20"},
    ]
    sup = build([msg("M1", "2026-06-01 10:00")], sales=sales)
    assert rows(sup) == {("C1", "all", "promo_after_purchase", "2026-07-20")}
