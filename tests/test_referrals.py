"""Referral KPIs, funnel, incentives, follow-ups and anomalies (SPEC §6) on hand-made tables."""

from __future__ import annotations

import pandas as pd
import pytest
from ownercomm_kit import referrals

from helpers.kpis import PARAMS, dealer

P = {**PARAMS["referrals"], "contact_fallback": PARAMS["retention"]["contact_fallback"]}


def ref(i, referred_at, referrer="C1", **cols):
    return {"referral_id": f"F{i}", "referrer_id": referrer, "referred_at": referred_at, **cols}


FULL = dict(
    status="new",
    first_contact_at=None,
    acknowledged_at=None,
    sold_at=None,
    sale_id=None,
    incentive_category=None,
    reward_value=None,
    referred_name=None,
    referred_email=None,
    referred_phone=None,
    referred_customer_id=None,
)


def full(i, referred_at, referrer="C1", **cols):
    return ref(i, referred_at, referrer, **{**FULL, **cols})


def kpis(d):
    values, skipped = referrals.kpis(d, PARAMS)
    assert set(values) == set(referrals.KPI_KEYS)
    return values, skipped


def test_referrals_12m_window_edges_in_dealer_timezone():
    rows = [
        full(1, "2025-03-31 23:00"),  # = A-12m local: out
        full(2, "2025-04-01T03:00:00Z"),  # 20:00 Mar 31 in LA: out (a UTC reading would count it)
        full(3, "2025-04-01 00:00"),  # in
        full(4, "2026-04-01T06:00:00Z"),  # 23:00 Mar 31 in LA = A: in
        full(5, "2026-04-01 00:30"),  # after A
    ]
    values, _ = kpis(dealer(referrals=rows))
    assert values["referrals_12m"] == 2
    assert referrals._window(dealer(referrals=rows), P)["referral_id"].tolist() == ["F3", "F4"]


def test_conversion_contact_and_acknowledgment():
    rows = [
        full(
            1,
            "2026-01-10 10:00",
            status="sold",
            first_contact_at="2026-01-11 10:00",  # exactly 24 h
            acknowledged_at="2026-02-01 10:00",
        ),
        full(2, "2026-01-10 10:00", status="contacted", first_contact_at="2026-01-11 10:00:01"),  # 1 s late
        full(3, "2026-01-10 10:00", status="lost", first_contact_at="2026-01-10 09:00"),  # recorded early: <= 24 h
        full(4, "2026-01-10 10:00", status="new"),  # never contacted
        full(5, "2024-01-10 10:00", status="sold", first_contact_at="2024-01-10 11:00"),  # outside the window
    ]
    values, skipped = kpis(dealer(referrals=rows))
    assert values["referrals_12m"] == 4
    assert values["referral_conversion_12m"] == pytest.approx(1 / 4)
    assert values["first_contact_24h_share"] == pytest.approx(2 / 4)
    assert values["acknowledgment_rate"] == pytest.approx(1 / 4)
    assert values["referral_revenue_12m"] is None and skipped["referral_revenue_12m"] == "no sales table in the data"


def test_empty_window_ratios_are_none_and_count_is_zero():
    rows = [full(1, "2024-01-10 10:00", status="sold")]
    sales = [{"sale_id": "S1", "customer_id": "C2", "sale_date": "2026-01-01", "price": 30000.0}]
    values, skipped = kpis(dealer(referrals=rows, sales=sales))
    assert values["referrals_12m"] == 0
    for key in ("referral_conversion_12m", "first_contact_24h_share", "acknowledgment_rate"):
        assert values[key] is None and key not in skipped
    assert values["advocate_rate_12m"] == 0.0
    assert values["referral_revenue_12m"] == 0.0


def test_advocate_rate_denominator_sales_or_visits_in_window():
    rows = [full(1, "2026-01-10 10:00", "C1"), full(2, "2026-01-11 10:00", "C1"), full(3, "2026-01-12", "C9")]
    sales = [
        {"sale_id": "S1", "customer_id": "C1", "sale_date": "2025-06-01"},
        {"sale_id": "S2", "customer_id": "C2", "sale_date": "2025-03-31"},  # = A-12m: out
        {"sale_id": "S3", "customer_id": "C3", "sale_date": "2026-03-31"},  # = A: in
    ]
    visits = [
        {"ro_id": "R1", "customer_id": "C3", "visit_date": "2025-07-01"},
        {"ro_id": "R2", "customer_id": "C4", "visit_date": "2025-04-01"},
    ]
    values, _ = kpis(dealer(referrals=rows, sales=sales, service_visits=visits))
    # advocates C1, C9 (C9 bought nothing: still an advocate); active customers C1, C3, C4
    assert values["advocate_rate_12m"] == pytest.approx(2 / 3)
    values, _ = kpis(dealer(referrals=rows, sales=[sales[1]]))
    assert values["advocate_rate_12m"] is None  # nobody active: empty denominator
    values, skipped = kpis(dealer(referrals=rows))
    assert values["advocate_rate_12m"] is None and "neither" in skipped["advocate_rate_12m"]


def test_referral_revenue_sold_in_window_each_sale_once():
    rows = [
        full(1, "2025-12-01 10:00", status="sold", sold_at="2026-01-05 10:00", sale_id="S1"),
        full(2, "2025-12-02 10:00", "C2", status="sold", sold_at="2026-01-05 10:00", sale_id="S1"),  # same sale
        full(3, "2025-01-01 10:00", status="sold", sold_at="2025-04-01T05:00:00Z", sale_id="S2"),  # Mar 31 local: out
        full(
            4, "2025-01-01 10:00", status="sold", sold_at="2025-04-01 08:00", sale_id="S3"
        ),  # referred before, sold in
        full(5, "2025-12-01 10:00", status="lost", sold_at="2026-01-05 10:00", sale_id="S4"),  # not sold
        full(6, "2025-12-01 10:00", status="sold", sold_at="2026-01-05 10:00", sale_id="S9"),  # unknown sale
    ]
    sales = [
        {"sale_id": f"S{i}", "customer_id": "C5", "sale_date": "2026-01-05", "price": 1000.0 * i} for i in (1, 2, 3, 4)
    ]
    values, _ = kpis(dealer(referrals=rows, sales=sales))
    assert values["referral_revenue_12m"] == pytest.approx(1000.0 + 3000.0)


def test_missing_table_and_columns():
    values, skipped = kpis(dealer())
    assert all(v is None for v in values.values())
    assert all(skipped[k] == "no referrals table in the data" for k in referrals.KPI_KEYS)
    rows = [ref(1, "2026-01-10 10:00", status="sold")]  # no first_contact_at, acknowledged_at, sold_at...
    values, skipped = kpis(dealer(referrals=rows))
    assert values["referrals_12m"] == 1 and values["referral_conversion_12m"] == 1.0
    assert values["first_contact_24h_share"] is None and "first_contact_at" in skipped["first_contact_24h_share"]
    assert values["acknowledgment_rate"] is None and "acknowledged_at" in skipped["acknowledgment_rate"]
    assert values["referral_revenue_12m"] is None


def test_compute_without_referrals_table():
    r = referrals.compute(dealer(), PARAMS)
    assert all(v is None for v in r.kpis.values())
    for section in ("monthly", "funnel", "by_incentive", "top_advocates", "followups", "anomalies"):
        assert r.skipped[section] == "no referrals table in the data"
    assert r.followups.empty and r.anomalies.empty and r.top_advocates.empty
    assert r.funnel["referrals"].tolist() == [0, 0, 0, 0]


def test_funnel_counts_later_stages_in_earlier_ones():
    rows = [
        full(1, "2026-01-10", status="new"),
        full(2, "2026-01-10", status="contacted"),
        full(3, "2026-01-10", status="appointment"),
        full(4, "2026-01-10", status="sold", first_contact_at="2026-01-10 12:00"),
        full(5, "2026-01-10", status="lost", first_contact_at="2026-01-10 12:00"),  # contacted, then lost
        full(6, "2026-01-10", status="lost"),
    ]
    f = referrals.funnel(referrals._window(dealer(referrals=rows), P))
    assert f["stage"].tolist() == ["new", "contacted", "appointment", "sold"]
    assert f["referrals"].tolist() == [6, 4, 2, 1]
    assert f["share_of_previous"].tolist()[1:] == pytest.approx([4 / 6, 2 / 4, 1 / 2])


def test_by_incentive_conversion_and_cost_per_sale():
    rows = [
        full(1, "2026-01-10", status="sold", incentive_category="transactional", reward_value=100.0),
        full(2, "2026-01-10", status="new", incentive_category="transactional", reward_value=50.0),
        full(3, "2026-01-10", status="lost", incentive_category="recognition", reward_value=0.0),
        full(4, "2026-01-10", status="sold", incentive_category=None, reward_value=None),
    ]
    d = dealer(referrals=rows)
    b = referrals.by_incentive(d, referrals._window(d, P)).set_index("incentive_category")
    assert b.index.tolist() == ["transactional", "experiential", "recognition", "altruistic", "unknown"]
    assert b.loc["transactional", ["referrals", "sold"]].tolist() == [2, 1]
    assert b.loc["transactional", "reward_spent"] == 150.0
    assert b.loc["transactional", "cost_per_sale"] == 150.0
    assert b.loc["transactional", "conversion"] == 0.5
    assert pd.isna(b.loc["recognition", "cost_per_sale"])  # no sale: no cost per sale
    assert pd.isna(b.loc["experiential", "conversion"])


def test_top_advocates_rank_by_sales_then_referrals():
    rows = [
        full(1, "2026-01-10", "C1"),
        full(2, "2026-01-11", "C1"),
        full(3, "2026-01-12", "C1"),
        full(4, "2026-01-10", "C2", status="sold", sale_id="S1"),
        full(5, "2026-01-10", "C3"),
    ]
    customers = [
        {"customer_id": "C1", "first_name": "Ann"},
        {"customer_id": "C2", "first_name": "Bob"},
        {"customer_id": "C3", "first_name": "Cy"},
    ]
    sales = [{"sale_id": "S1", "customer_id": "C7", "sale_date": "2026-02-01", "price": 25000.0}]
    d = dealer(customers=customers, referrals=rows, sales=sales)
    top = referrals.top_advocates(d, referrals._window(d, P), {**P, "top_advocates": 2})
    assert top["customer_id"].tolist() == ["C2", "C1"]
    assert top.iloc[0][["name", "sold", "revenue"]].tolist() == ["Bob", 1, 25000.0]
    assert top.iloc[1]["referrals"] == 3


def test_followups_uncontacted_and_unthanked():
    # "now" is the end of A: midnight after 2026-03-31 in Los Angeles
    rows = [
        full(1, "2026-03-30 23:59", status="new", referred_name="Pat", referred_phone="555 0101"),  # 24 h 1 min
        full(2, "2026-03-31 00:00", status="new"),  # exactly 24 h: not late yet
        full(3, "2026-03-20 10:00", status="contacted"),  # status says contacted
        full(4, "2026-03-20 10:00", status="new", first_contact_at="2026-03-25 10:00"),  # contacted late: done
        full(5, "2026-01-10 10:00", status="sold", sold_at="2026-02-01 10:00", referred_name="Sam"),
        full(6, "2026-01-10 10:00", status="sold", sold_at="2026-02-01 10:00", acknowledged_at="2026-02-02 10:00"),
        full(7, "2025-01-10 10:00", status="sold", sold_at="2025-04-01 10:00"),  # old referral, sold in the window
        full(8, "2024-01-10 10:00", status="sold", sold_at="2024-04-01 10:00"),  # long ago: not listed
    ]
    customers = [{"customer_id": "C1", "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com"}]
    out, why = referrals.followups(dealer(customers=customers, referrals=rows), P)
    assert why is None
    assert out[["referral_id", "action"]].values.tolist() == [
        ["F1", "contact_referred"],
        ["F7", "thank_advocate"],
        ["F5", "thank_advocate"],
    ]
    first = out.iloc[0]
    assert first["referred_contact"] == "555 0101" and first["referrer_name"] == "Ann Lee"
    assert first["hours_waiting"] == pytest.approx(24.0, abs=0.1)
    assert first["reason"] == "Referred by Ann Lee on 2026-03-30 23:59 and still not contacted after 24 hours"
    thank = out.set_index("referral_id").loc["F5"]
    assert thank["reason"] == "Sold on 2026-02-01 to Sam; Ann Lee has not been thanked"
    assert thank["referrer_contact"] == "ann@x.com"
    assert thank["hours_waiting"] == 1405.0  # since the sale; daylight saving time began on March 8
    assert out.set_index("referral_id").loc["F7", "reason"].startswith("Sold on 2025-04-01 to the person referred;")


def test_followups_without_contact_column():
    out, why = referrals.followups(dealer(referrals=[ref(1, "2026-01-10 10:00", status="new")]), P)
    assert out.empty and "first_contact_at" in why


def test_anomalies_self_referral_by_email_phone_household():
    customers = [
        {
            "customer_id": "C1",
            "first_name": "Ann",
            "email": "Ann@X.com ",
            "phone": "+1 (555) 010-0100",
            "household_id": "H1",
        },
        {"customer_id": "C2", "first_name": "Bea", "household_id": "H1", "email": "bea@x.com"},
        {"customer_id": "C3", "first_name": "Cy", "email": "cy@x.com", "phone": "555-010-0199"},
    ]
    rows = [
        full(1, "2026-01-10", "C1", referred_email="ann@x.com"),  # same email, other case
        full(2, "2026-01-11", "C1", referred_phone="5550100100"),  # same phone, other format
        full(3, "2026-01-12", "C1", referred_customer_id="C2"),  # same household
        full(4, "2026-01-13", "C1", referred_customer_id="C1"),  # themselves
        full(5, "2026-01-14", "C3", referred_email="other@x.com", referred_phone="5550100"),  # clean
        full(6, "2026-01-15", "C1", referred_email="bea@x.com"),  # Bea's email: household H1
        full(7, "2026-01-16", "C1", referred_email="cy@x.com"),  # a customer of no household
    ]
    a = referrals.anomalies(dealer(customers=customers, referrals=rows), P)
    got = dict(zip(a["referral_id"], a["matched_on"]))
    assert got == {"F1": "email", "F2": "phone", "F3": "household", "F4": "same customer", "F6": "household"}
    assert set(a["anomaly"]) == {"self_referral"}
    assert "referred themselves" in a.set_index("referral_id").loc["F4", "detail"]


def test_anomalies_person_referred_by_several_advocates():
    customers = [{"customer_id": f"C{i}", "first_name": n} for i, n in ((1, "Ann"), (2, "Bob"), (3, "Cy"), (4, "Di"))]
    rows = [
        full(1, "2026-01-10", "C1", referred_email="PAT@y.com"),
        full(2, "2026-01-11", "C2", referred_email="pat@y.com"),  # same person by email
        full(3, "2026-01-12", "C1", referred_email="pat@y.com"),  # same advocate again: counts with F1/F2
        full(4, "2026-01-12", "C3", referred_phone="(555) 777-1234"),
        full(5, "2026-01-13", "C4", referred_phone="1-555-777-1234"),  # same phone
        full(6, "2026-01-13", "C4", referred_phone="555-777-9999"),  # alone
        full(7, "2026-01-14", "C1", referred_customer_id="C9"),
        full(8, "2026-01-15", "C1", referred_customer_id="C9"),  # one advocate twice: fine
    ]
    a = referrals.anomalies(dealer(customers=customers, referrals=rows), P)
    several = a[a["anomaly"].eq("several_advocates")]
    assert sorted(several["referral_id"]) == ["F1", "F2", "F3", "F4", "F5"]
    row = several.set_index("referral_id").loc["F1"]
    assert row["matched_on"] == "email" and "Ann" in row["detail"] and "Bob" in row["detail"]


def test_monthly_volume_calendar_months():
    rows = [
        full(1, "2026-03-31 22:00", status="sold"),
        full(2, "2026-03-01 00:00", first_contact_at="2026-03-01 01:00"),
        full(3, "2026-02-28 23:59"),
        full(4, "2024-04-01 00:00"),
        full(5, "2024-03-31 23:00"),
    ]
    m = referrals.monthly(dealer(referrals=rows), P)
    assert len(m) == P["monthly_months"]
    assert m["month"].iloc[0] == pd.Timestamp("2024-04-01") and m["month"].iloc[-1] == pd.Timestamp("2026-03-01")
    last = m.set_index("month").loc[pd.Timestamp("2026-03-01")]
    assert last[["referrals", "contacted_24h", "sold"]].tolist() == [2, 1, 1]
    assert m["referrals"].sum() == 4


def test_compute_full_result():
    rows = [
        full(
            1, "2026-01-10 10:00", status="sold", sold_at="2026-02-01", sale_id="S1", incentive_category="experiential"
        )
    ]
    sales = [{"sale_id": "S1", "customer_id": "C5", "sale_date": "2026-02-01", "price": 20000.0}]
    r = referrals.compute(dealer(referrals=rows, sales=sales), PARAMS)
    assert r.kpis["referrals_12m"] == 1 and r.kpis["referral_revenue_12m"] == 20000.0
    assert type(r.kpis["referrals_12m"]) is int and type(r.kpis["referral_conversion_12m"]) is float
    assert r.skipped == {}
    for key in (*referrals.KPI_KEYS, "funnel", "followups", "anomalies"):
        assert referrals.DEFINITIONS[key]


def test_unnamed_advocate_is_shown_by_id():
    rows = [full(1, "2026-03-01 10:00", "C7", status="new")]
    out, _ = referrals.followups(dealer(referrals=rows), P)
    assert out.iloc[0]["referrer_name"] == "customer C7"
    assert out.iloc[0]["reason"].startswith("Referred by customer C7 on 2026-03-01 10:00")


def test_notes_on_partial_data():
    rows = [
        full(1, "2026-01-10", status="sold", sold_at="2026-02-01", sale_id="S1"),
        full(2, "2026-01-10", status="sold", sold_at="2026-02-01", sale_id="S404"),
    ]
    sales = [{"sale_id": "S1", "customer_id": "C5", "sale_date": "2026-02-01", "price": 20000.0}]
    r = referrals.compute(dealer(referrals=rows, sales=sales), PARAMS)
    assert r.kpis["referral_revenue_12m"] == 20000.0
    assert r.notes["referral_revenue_12m"].startswith("1 sold referral has no sale number")
    assert "from sales only" in r.notes["advocate_rate_12m"]


def test_report_date_before_a_midnight_that_does_not_exist():
    # Chile moves its clocks from 2026-09-06 00:00 to 01:00: "the end of 2026-09-05" has no midnight
    rows = [full(1, "2026-09-04 10:00", status="new")]
    out, _ = referrals.followups(dealer(tz="America/Santiago", as_of="2026-09-05", referrals=rows), P)
    assert out["referral_id"].tolist() == ["F1"]
    assert out.iloc[0]["hours_waiting"] == 38.0


def test_orphan_advocate_is_counted_and_listed_by_id():
    rows = [full(1, "2026-03-01 10:00", "C404", status="sold", sold_at="2026-03-05 10:00")]
    d = dealer(referrals=rows)
    values, _ = kpis(d)
    assert values["referrals_12m"] == 1 and values["referral_conversion_12m"] == 1.0
    out, _ = referrals.followups(d, P)
    assert out.iloc[0]["referrer_name"] == "customer C404" and pd.isna(out.iloc[0]["referrer_contact"])
