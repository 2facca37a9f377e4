"""Service intelligence (SPEC §5): lifecycle segments, mileage rates and the per-vehicle due list,
reminder timing, declined work, retention by vehicle age band. Hand-built dealers, numbers by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers.kpis import PARAMS, cust, dealer

from ownercomm_kit import retention, service

P = PARAMS["retention"]
A = "2026-03-31"  # A - 12m = 2025-03-31, A - 24m = 2024-03-31, A + 30d = 2026-04-30


def visit(ro, c, day, vin=None, mileage=None, **kw):
    return {"ro_id": ro, "customer_id": c, "visit_date": day, "vin": vin, "mileage": mileage, **kw}


# ------------------------------------------------------------------ lifecycle segments


def segment_dealer(as_of=A, visits=(), sales=()):
    return dealer(
        as_of=as_of,
        service_visits=list(visits) or [visit("R0", "C9", "2010-01-01")],
        sales=list(sales) or [{"sale_id": "S0", "customer_id": "C9", "sale_date": "2010-01-01"}],
    )


def test_segments_pinned_at_exactly_a_minus_12m_and_a_minus_24m():
    d = segment_dealer(
        visits=[
            visit("R1", "C1", "2025-04-01"),  # the day after A - 12m: active
            visit("R2", "C2", "2025-03-31"),  # exactly A - 12m: recently lost
            visit("R3", "C3", "2024-04-01"),  # the day after A - 24m: recently lost
            visit("R4", "C4", "2024-03-31"),  # exactly A - 24m: defected
            visit("R6", "C6", "2026-04-02"),  # after A: does not exist yet
            visit("R8", "C8", "2026-03-31"),  # on A: active
            visit("R81", "C8", "2020-01-01"),  # an old visit does not matter, the last one does
        ],
        sales=[
            {"sale_id": "S5", "customer_id": "C5", "sale_date": "2025-01-01"},  # a sale, never a visit
            {"sale_id": "S6", "customer_id": "C6", "sale_date": "2020-01-01"},
            {"sale_id": "S7", "customer_id": "C7", "sale_date": "2026-04-01"},  # sold after A: no segment yet
        ],
    )
    seg = service.segments_at(d, d.as_of_ts, P).set_index("customer_id")["segment"]
    assert seg.to_dict() == {
        "C1": "active",
        "C2": "recently_lost",
        "C3": "recently_lost",
        "C4": "defected",
        "C5": "never_serviced",
        "C6": "never_serviced",
        "C8": "active",
    }
    k = retention.compute(d, PARAMS).kpis  # 7 customers with a segment (C7 and C9 have none)
    assert k["segment_active_share"] == pytest.approx(2 / 7)
    assert k["segment_recently_lost_share"] == pytest.approx(2 / 7)
    assert k["segment_defected_share"] == pytest.approx(1 / 7)
    assert k["segment_never_serviced_share"] == pytest.approx(2 / 7)


def test_segments_on_a_leap_day_clip_to_the_end_of_february():
    # A = 2028-02-29: A - 12m = 2027-02-28, A - 24m = 2026-02-28
    d = segment_dealer(
        as_of="2028-02-29",
        visits=[
            visit("R1", "C1", "2027-03-01"),
            visit("R2", "C2", "2027-02-28"),
            visit("R3", "C3", "2026-03-01"),
            visit("R4", "C4", "2026-02-28"),
        ],
    )
    seg = service.segments_at(d, d.as_of_ts, P).set_index("customer_id")["segment"]
    assert [seg[c] for c in ("C1", "C2", "C3", "C4")] == ["active", "recently_lost", "recently_lost", "defected"]


def test_segment_kpis_are_null_without_any_customer_with_a_segment():
    d = dealer(
        communications=[
            {
                "message_id": "M1",
                "customer_id": "C1",
                "sent_at": "2026-03-01 10:00",
                "channel": "email",
                "sender": "dealer",
                "category": "offer",
            }
        ]
    )
    r = retention.compute(d, PARAMS)
    for key in (
        "segment_active_share",
        "segment_recently_lost_share",
        "segment_defected_share",
        "segment_never_serviced_share",
        "declined_work_recovery_90d",
    ):
        assert r.kpis[key] is None and r.skipped[key]
    assert r.segment_flow.empty and r.recently_lost.empty


def test_segment_flow_compares_a_minus_12m_with_a():
    d = segment_dealer(
        visits=[
            visit("R2", "C2", "2025-03-31"),  # active then (a visit on A - 12m), recently lost now
            visit("R4", "C4", "2024-03-31"),  # recently lost then, defected now
            visit("R8", "C8", "2026-03-31"),  # nothing then: new
            visit("R1", "C1", "2024-06-01"),
            visit("R11", "C1", "2025-06-01"),  # active then (2024-06-01), active now
        ],
        sales=[{"sale_id": "S5", "customer_id": "C5", "sale_date": "2025-01-01"}],
    )
    flow = {(f, t): n for f, t, n in service.segment_flow(d, P).itertuples(index=False)}
    assert flow == {
        ("active", "recently_lost"): 1,
        ("recently_lost", "defected"): 1,
        ("new", "active"): 1,
        ("active", "active"): 1,
        ("never_serviced", "never_serviced"): 1,
    }


def test_recently_lost_call_list_has_consenting_customers_and_their_channel():
    customers = cust("C1", "C2", phone="555 0100", preferred_channel="sms", sms_consent=True)
    customers += [
        {"customer_id": "C3", "phone": "555", "phone_dnc": True},  # cannot be reached
        {"customer_id": "C9", "email": "c9@x.com"},
    ]
    d = dealer(
        customers=customers,
        service_visits=[
            visit("R1", "C1", "2024-06-01", vin="V1"),
            visit("R11", "C1", "2025-01-15", vin="V1"),
            visit("R2", "C2", "2025-05-01"),
            visit("R3", "C3", "2024-05-01"),
            visit("R9", "C9", "2010-01-01"),
        ],
    )
    r = retention.compute(d, PARAMS)
    rl = r.recently_lost
    assert rl["customer_id"].tolist() == ["C1"]
    row = rl.iloc[0]
    assert (row["channel"], row["contact"], row["visits"], row["vin"]) == ("sms", "555 0100", 2, "V1")
    assert row["last_visit"] == pd.Timestamp("2025-01-15")
    assert r.excluded["recently_lost"] == 1


# ------------------------------------------------------------------ mileage


def rate_dealer(visits, as_of=A):
    return dealer(as_of=as_of, service_visits=visits)


def test_rates_with_zero_one_two_and_several_readings():
    visits = [
        visit("R01", "C1", "2025-01-01", "V0"),
        visit("R02", "C1", "2025-02-01", "V0"),  # no reading
        visit("R10", "C1", "2025-06-01", "V1", 5000),  # one reading
        visit("R20", "C2", "2025-01-01", "V2", 10000),
        visit("R21", "C2", "2025-01-11", "V2", 10500),  # 50/day
        # several, given out of order: ordered by date then ro_id
        visit("R35", "C3", "2025-01-29", "V3", 20800),
        visit("R34", "C3", "2025-01-19", "V3", 2030),  # odometer typo: the pair into it goes backwards (dropped)
        visit("R32", "C3", "2025-01-05", "V3", 20140),  # same day as R31, after it by ro_id: pair dropped
        visit("R31", "C3", "2025-01-05", "V3", 20100),  # 20000 -> 20100 in 4 days: 25/day
        visit("R33", "C3", "2025-01-09", "V3", 20300),  # 20140 -> 20300 in 4 days: 40/day
        visit("R30", "C3", "2025-01-01", "V3", 20000),
        visit("R40", "C4", "2025-01-01", "V4", 30000),
        visit("R41", "C4", "2025-02-01", "V4", 29000),  # only backwards
    ]
    s = service.vehicle_status(rate_dealer(visits), P).set_index("vin")
    # V3: pairs 25, 40 and 2030 -> 20800 in 10 days (1877/day, not negative: kept); median 40
    assert s.loc["V3", "own_rate"] == pytest.approx(40.0)
    assert s.loc["V2", "own_rate"] == pytest.approx(50.0)
    fleet = 45.0  # median of the vehicles' own rates (40, 50)
    for vin in ("V0", "V1", "V4"):
        assert pd.isna(s.loc[vin, "own_rate"]) and s.loc[vin, "rate"] == pytest.approx(fleet)
        assert s.loc[vin, "rate_source"] == "fleet"
    assert s.loc["V3", "readings"] == 6 and s.loc["V0", "readings"] == 0
    # estimated mileage at A = last reading + rate x days since it (whole miles)
    assert s.loc["V2", "estimated_mileage"] == 10500 + 50 * 444
    assert s.loc["V3", "estimated_mileage"] == 20800 + 40 * 426
    assert s.loc["V1", "estimated_mileage"] == 5000 + 45 * 303
    assert pd.isna(s.loc["V0", "estimated_mileage"])  # no reading: no estimate, due by time only


def test_rates_fall_back_to_the_parameter_when_no_vehicle_has_a_usable_pair():
    visits = [
        visit("R1", "C1", "2025-01-01", "V1", 1000),
        visit("R2", "C1", "2025-01-01", "V1", 1200),  # same day
        visit("R3", "C2", "2025-06-01", "V2", 7000),
    ]
    s = service.vehicle_status(rate_dealer(visits), P).set_index("vin")
    assert (s["rate"] == P["default_daily_miles"]).all() and set(s["rate_source"]) == {"default"}
    assert s.loc["V1", "estimated_mileage"] == 1200 + 36 * 454  # the later same-day reading (by ro_id) is the last


def test_visits_without_a_vin_are_one_vehicle_of_their_customer():
    visits = [
        visit("R1", "C1", "2025-01-01", None, 1000),
        visit("R2", "C1", "2025-01-21", None, 2000),
        visit("R3", "C1", "2025-01-01", "V1", 500),
    ]
    s = service.vehicle_status(rate_dealer(visits), P)
    assert len(s) == 2
    novin = s[s["vin"].isna()].iloc[0]
    assert novin["customer_id"] == "C1" and novin["own_rate"] == pytest.approx(50.0)


def due_visits():
    return [
        visit("T1", "C1", "2025-10-31", "VT"),  # time: due 2026-04-29
        visit("M1", "C2", "2026-01-01", "VM", 10000),
        visit("M2", "C2", "2026-02-01", "VM", 13100),  # 100/day
        visit("B1", "C3", "2025-09-01", "VB", 40000),
        visit("B2", "C3", "2025-10-01", "VB", 41500),  # 50/day
        visit("E1", "C4", "2026-01-10", "VE", 1000),
        visit("E2", "C4", "2026-01-20", "VE", 1500),  # due 2026-04-30
        visit("F1", "C5", "2026-01-11", "VF", 1000),
        visit("F2", "C5", "2026-01-21", "VF", 1500),  # due 2026-05-01
        visit("N1", "C6", "2026-03-01", "VN", 8000),  # fleet 50/day: 2026-06-09
        visit("K1", "C7", "2025-01-01", "VK"),
        visit("K2", "C7", "2025-01-01", "VL"),  # two vehicles, one booked
        visit("Q1", "C8", "2025-01-01", "VQ"),  # booked without a vin
    ]


def test_due_by_time_mileage_and_both():
    customers = cust(*[f"C{i}" for i in range(1, 9)], phone="555 0100")
    aps = [
        {
            "appointment_id": "A1",
            "customer_id": "C7",
            "booked_at": "2026-03-01 09:00",
            "scheduled_for": "2026-04-02 09:00",
            "status": "scheduled",
            "vin": "VK",
        },
        {
            "appointment_id": "A2",
            "customer_id": "C8",
            "booked_at": "2026-03-01 09:00",
            "scheduled_for": "2026-04-02 09:00",
            "status": "scheduled",
        },
    ]
    d = dealer(customers=customers, service_visits=due_visits(), appointments=aps)
    excluded: dict = {}
    due = service.due_for_service(d, P, excluded).set_index("vin")
    assert sorted(due.index) == ["VB", "VE", "VL", "VM", "VT"]
    assert due.loc["VT", "due_reason"] == "time" and due.loc["VT", "due_date"] == pd.Timestamp("2026-04-29")
    assert pd.isna(due.loc["VT", "estimated_mileage"])
    assert due.loc["VM", "due_reason"] == "mileage" and due.loc["VM", "due_date"] == pd.Timestamp("2026-03-23")
    assert due.loc["VM", "estimated_mileage"] == 13100 + 100 * 58
    # time due 2026-03-30, mileage due 2026-01-09: both, the earlier date
    assert due.loc["VB", "due_reason"] == "both" and due.loc["VB", "due_date"] == pd.Timestamp("2026-01-09")
    assert due.loc["VE", "due_reason"] == "mileage" and due.loc["VE", "due_date"] == pd.Timestamp("2026-04-30")
    assert "by time and mileage" in due.loc["VB", "reason"] and "overdue by 81 days" in due.loc["VB", "reason"]
    assert list(service.due_for_service(d, P, {}).columns[-3:]) == ["due_reason", "estimated_mileage", "reason"]


def test_intervals_per_service_type_override_the_defaults():
    p = {**P, "intervals_by_service_type": {**P["intervals_by_service_type"], "tires": {"days": 90, "miles": None}}}
    visits = [
        visit("T1", "C1", "2026-01-15", "VT", service_type="tires"),
        visit("U1", "C2", "2026-01-15", "VU", service_type="maintenance"),
    ]
    d = dealer(customers=cust("C1", "C2", phone="555"), service_visits=visits)
    due = service.due_for_service(d, p, {})
    assert due["vin"].tolist() == ["VT"] and due["due_date"].iloc[0] == pd.Timestamp("2026-04-15")


# ------------------------------------------------------------------ reminder timing


def reminder(i, day, c="C1", vin="VT"):
    return {
        "message_id": f"M{i}",
        "customer_id": c,
        "sent_at": f"{day} 10:00",
        "channel": "email",
        "sender": "service",
        "category": "service_reminder",
        "vin": vin,
    }


def test_reminder_timing_against_the_estimated_due_date():
    # VT: last visit 2025-06-01, no reading: due 2025-11-28 (180 days)
    msgs = [
        reminder(1, "2025-06-20"),
        reminder(2, "2025-10-01"),
        reminder(3, "2025-11-20"),
        reminder(4, "2025-12-12"),
        reminder(5, "2025-12-13"),
        reminder(6, "2025-07-02"),
        reminder(7, "2025-12-01", vin=None),
        reminder(8, "2025-12-01", c="C9", vin=None),
        reminder(9, "2025-03-31"),
    ]  # M9: before the 12 months
    d = dealer(service_visits=[visit("R1", "C1", "2025-06-01", "VT")], communications=msgs)
    rt = service.reminder_timing(d, P).set_index("message_id")
    assert rt["timing"].to_dict() == {
        "M1": "after_visit",
        "M6": "too_early",
        "M2": "too_early",
        "M3": "on_time",
        "M7": "on_time",
        "M8": "no_history",
        "M4": "on_time",
        "M5": "late",
    }
    assert rt.loc["M4", "days_from_due"] == 14 and rt.loc["M5", "days_from_due"] == 15
    counts, share = service.timing_summary(rt.reset_index())
    assert share == pytest.approx(3 / 7)
    assert dict(zip(counts["timing"], counts["reminders"]))["no_history"] == 1


# ------------------------------------------------------------------ declined work


def declined(i, c, at, vin=None, description="Brake pads", amount=300.0):
    return {
        "ro_id": f"RO{i}",
        "customer_id": c,
        "declined_at": at,
        "vin": vin,
        "description": description,
        "amount": amount,
    }


def test_declined_work_recovery_by_vin_and_by_customer():
    # items in (A - 180d, A - 90d] = (2025-10-02, 2025-12-31], local dates (Los Angeles)
    items = [
        declined(1, "C1", "2025-11-01 10:00", "VA"),  # VA back on 2026-01-30 (+90 days), by another customer
        declined(2, "C2", "2025-11-01 10:00", "VB"),  # VB back only on 2026-01-31 (+91); C2 came with another car
        declined(3, "C3", "2025-11-01 10:00"),  # no vin: C3 back the next day
        declined(4, "C4", "2025-12-31 23:30"),  # the window's last day; never back
        declined(5, "C5", "2025-10-03T06:30:00Z"),  # 2025-10-02 23:30 in Los Angeles: outside
        declined(6, "C6", "2026-01-01 08:00", "VC"),  # after the window
    ]
    visits = [
        visit("V1", "C9", "2026-01-30", "VA"),
        visit("V2", "C2", "2026-01-31", "VB"),
        visit("V3", "C2", "2025-12-01", "VX"),
        visit("V4", "C3", "2025-11-01", "VY"),
        visit("V5", "C3", "2025-11-02", "VY"),
    ]
    d = dealer(service_visits=visits, declined_work=items)
    value, why = service.declined_work_recovery(d, P)
    assert why is None and value == pytest.approx(2 / 4)
    assert retention.compute(d, PARAMS).kpis["declined_work_recovery_90d"] == pytest.approx(0.5)


def test_declined_work_call_list():
    customers = cust("C6", "C7", "C8", phone="555 0100", first_name="Ann")
    customers.append({"customer_id": "C9", "phone": "555", "phone_dnc": True})
    items = [
        declined(6, "C6", "2026-01-01 08:00", "VC", "Four tires", 780.0),  # not back: listed
        declined(7, "C7", "2026-03-31 20:00", None, "Wipers", None),  # back only after A: listed
        declined(8, "C8", "2026-02-01 09:00", "VD"),  # VD back on 2026-03-01: not listed
        declined(9, "C9", "2026-02-01 09:00", "VE"),  # cannot be reached
        declined(10, "C6", "2025-12-31 23:00", "VC"),  # before the 90 days
    ]
    visits = [visit("V1", "C7", "2026-04-02", "VZ"), visit("V2", "C8", "2026-03-01", "VD")]
    d = dealer(customers=customers, service_visits=visits, declined_work=items)
    excluded: dict = {}
    dw = service.declined_work_list(d, P, excluded)
    assert list(dw.columns[:8]) == [
        "ro_id",
        "customer_id",
        "vin",
        "declined_at",
        "description",
        "amount",
        "name",
        "contact",
    ]
    assert dw["ro_id"].tolist() == ["RO7", "RO6"]  # latest first
    assert dw.iloc[1]["reason"] == "Declined Four tires ($780.00) on 2026-01-01, 89 days ago; not back since"
    assert dw.iloc[0]["declined_at"] == pd.Timestamp("2026-03-31 20:00")  # the dealer's wall clock
    assert excluded["declined_work"] == 1
    by = service.declined_by_description(d, P).set_index("description")
    assert by.loc["Four tires", "amount"] == pytest.approx(780.0) and by.loc["Four tires", "still_open"] == 1
    # RO8, RO9, RO10 (2025-12-31 is within the 12 months); RO8 is back
    assert (by.loc["Brake pads", "items"], by.loc["Brake pads", "still_open"]) == (3, 2)
    assert by.index[0] == "Brake pads"  # the largest amount declined first (3 x 300)


def test_without_a_declined_work_table_the_kpi_is_null_and_says_why():
    d = dealer(service_visits=[visit("R1", "C1", "2025-06-01")])
    r = retention.compute(d, PARAMS)
    assert r.kpis["declined_work_recovery_90d"] is None
    assert "declined_work" in r.skipped["declined_work_recovery_90d"]
    assert r.declined_work.empty and "declined_work" in r.skipped


# ------------------------------------------------------------------ vehicle age bands


def test_retention_by_vehicle_age_band():
    # A = 2026-03-31; sold in (2024-03-31, 2025-03-31]; age = 2026 - model year (a 2027 model year is 0)
    vehicles = [
        {"vin": v, "customer_id": "C1", "model_year": y}
        for v, y in (("N1", 2024), ("N2", 2027), ("M1", 2023), ("O1", 2020), ("U1", None))
    ]
    sales = [
        {"sale_id": f"S{v}", "customer_id": "C1", "sale_date": "2024-06-01", "vin": v} for v in ("N1", "N2", "M1", "O1")
    ]
    visits = [
        visit("R1", "C1", "2025-05-01", "N1"),  # N1 back within its first year
        visit("R2", "C1", "2025-07-01", "N2"),  # N2 back after 13 months: not within the first year
        visit("R3", "C1", "2024-09-01", "O1"),
        visit("R4", "C1", "2025-09-01", "O1"),
        visit("R5", "C1", "2024-09-01", "U1"),
    ]
    d = dealer(vehicles=vehicles, sales=sales, service_visits=visits)
    b = service.age_bands(d, P).set_index("age_band")
    assert list(b.index) == ["0-2 years", "3-5 years", "6+ years", "unknown model year"]
    assert (b.loc["0-2 years", "sold_vehicles"], b.loc["0-2 years", "back_within_first_year"]) == (2, 1)
    assert b.loc["0-2 years", "first_year_retention"] == pytest.approx(0.5)
    assert b.loc["3-5 years", "first_year_retention"] == 0
    assert b.loc["6+ years", "first_year_retention"] == 1
    # 12-month retention per vehicle: visited in (2024-03-31, 2025-03-31], back in (2025-03-31, 2026-03-31]
    assert (b.loc["6+ years", "serviced_vehicles"], b.loc["6+ years", "retention_12m"]) == (1, 1)  # O1
    assert (b.loc["unknown model year", "serviced_vehicles"], b.loc["unknown model year", "retention_12m"]) == (1, 0)
    assert b.loc["0-2 years", "serviced_vehicles"] == 0  # N1's only visit is recent
    assert pd.isna(b.loc["0-2 years", "retention_12m"])  # no vehicle to count: no rate


# ------------------------------------------------------------------ the declined_work table: onboarding and loading


@pytest.mark.parametrize(
    "headers",
    [
        ["RO #", "Cust No", "Declined Date", "VIN", "Declined Op", "Decline Amount"],
        ["Repair Order Number", "Customer Number", "Date Declined", "Vehicle VIN", "Recommendation", "Estimate"],
    ],
)
def test_onboarding_recognises_declined_work_exports(headers):
    from ownercomm_kit import onboard as ob

    frame = pd.DataFrame(
        [["123", "C1", "06/18/2026", "1HGCM82633A004352", "Front brake pads", "300.00"]],
        columns=headers,
        dtype="string",
    )
    found = {c.column: c.source for c in ob.recognise_columns("declined_work", frame)}
    assert [found[c] for c in ("ro_id", "customer_id", "declined_at", "vin", "description", "amount")] == headers
    sources = [ob.Source("Declined Services.csv", frame), ob.Source("Service History.csv", frame)]
    tables = {m.table: m.source for m in ob.recognise_tables(sources)}
    assert tables["declined_work"] == "Declined Services.csv"


def test_declined_work_loads_and_is_validated_like_the_other_tables(tmp_path):
    from helpers.data import write_folder

    from ownercomm_kit.data import DataError
    from ownercomm_kit.loader import load_data_dir

    base = {
        "customers.csv": "customer_id,phone\nC1,555\n",
        "communications.csv": (
            "message_id,customer_id,sent_at,channel,sender,category\nM1,C1,2026-03-01 10:00,sms,dealer,offer\n"
        ),
    }
    good = write_folder(
        tmp_path / "good",
        {
            **base,
            "declined_work.csv": (
                "ro_id,customer_id,declined_at,vin,description,amount\n"
                "R1,C1,2026-02-01 09:30,V1,Brake pads,300\nR1,C1,2026-02-01 09:30,V1,Wipers,40\nR2,C9,2026-02-03,,Tires,\n"
            ),
        },
    )
    d = load_data_dir(good, timezone="America/Chicago", strict=False)
    dw = d["declined_work"]
    assert len(dw) == 3 and str(dw["declined_at"].dt.tz) == "America/Chicago"  # one RO, several items: no key
    assert dw["amount"].tolist()[:2] == [300.0, 40.0]
    assert any(p.table == "declined_work" and p.level == "warning" for p in d.problems)  # C9: orphan
    bad = write_folder(tmp_path / "bad", {**base, "declined_work.csv": ("ro_id,customer_id,vin\nR1,C1,V1\n")})
    with pytest.raises(DataError) as e:
        load_data_dir(bad, timezone="America/Chicago")
    assert any(p.table == "declined_work" and p.column == "declined_at" for p in e.value.problems if p.level == "error")


def test_degenerate_inputs_do_not_crash():
    # reminders but no visit at all; a vehicle that does not move (rate 0: never due by mileage)
    msgs = [reminder(1, "2025-12-01"), reminder(2, "2025-12-02", vin=None)]
    d = dealer(communications=msgs, service_visits=[])
    rt = service.reminder_timing(d, P)
    assert set(rt["timing"]) == {"no_history"}
    assert service.timing_summary(rt)[1] is None  # nothing judged: no share
    still = [visit("R1", "C1", "2026-01-01", "VS", 500), visit("R2", "C1", "2026-02-01", "VS", 500)]
    d = dealer(customers=cust("C1", phone="555"), service_visits=still)
    s = service.vehicle_status(d, P).iloc[0]
    assert s["rate"] == 0 and pd.isna(s["mileage_due_date"]) and s["estimated_mileage"] == 500
    assert service.due_for_service(d, P, {}).empty
    r = retention.compute(dealer(customers=cust("C1")), PARAMS)  # customers only
    assert r.due_for_service.empty and r.recently_lost.empty and r.declined_work.empty
    assert {"age_bands", "due_for_service", "declined_work", "recently_lost"} <= set(r.skipped)


def test_vehicle_status_is_computed_once_per_store_and_parameters(monkeypatch):
    """The audit page's reminder timing and the retention page share one vehicle_status per store;
    other intervals are another computation, and a dealer's frame never serves another dealer."""
    calls = []
    real = service._vehicle_status
    monkeypatch.setattr(service, "_vehicle_status", lambda data, p: calls.append(1) or real(data, p))
    visits = [visit("R1", "C1", "2025-01-01", "V1", 1000), visit("R2", "C1", "2025-01-11", "V1", 1500)]
    d = rate_dealer(visits)
    first = service.vehicle_status(d, P)
    first["rate"] = 0.0  # a caller changing its frame does not change the store's
    again = service.vehicle_status(d, P)
    assert len(calls) == 1 and again.loc[0, "rate"] == pytest.approx(50.0)
    service.vehicle_status(d, {**P, "service_interval_miles": 3000})
    assert len(calls) == 2
    other = service.vehicle_status(rate_dealer([visit("R9", "C2", "2025-01-01", "V9", 10)]), P)
    assert len(calls) == 3 and list(other["vin"]) == ["V9"]


def test_rates_do_not_depend_on_the_order_the_visits_come_in():
    visits = [
        visit(f"R{i:02d}", f"C{i % 3}", f"2025-0{1 + i % 9}-{10 + i % 7}", f"V{i % 4}", 1000 + 37 * i)
        for i in range(40)
    ] + [visit("RX", "C1", "2025-03-03", None, 500), visit("RY", "C1", "2025-04-03", None, 900)]
    a = service.vehicle_status(rate_dealer(visits), P)
    b = service.vehicle_status(rate_dealer(visits[::-1]), P)
    pd.testing.assert_frame_equal(a, b)
    assert list(a["vin"].fillna("")) == sorted(a["vin"].fillna(""))  # one row per vehicle, by key
