"""Property-based tests (Hypothesis): every valid dealer, however degenerate, runs.

For each generated dealer (tests/helpers/strategies.py) and parameter set:
- every rule, every audit figure, the suppression list, every KPI and every call list run
  without an exception;
- the flags satisfy invariants that hold by SPEC §4 (and equal the independent reading of
  the rules in tests/helpers/reference_rules.py);
- each KPI is null exactly where its denominator (SPEC §5-6, computed here independently in
  plain Python) is empty or a table/column it needs is absent, else a finite number;
- every report section renders, and no page prints NaN/None as a figure.

Failures found by these properties are kept as explicit ``@example`` regression cases (in
git, independent of Hypothesis' local database), built by ``regression_dealer``. The number
of examples comes from the Hypothesis profile (tests/conftest.py: ``ci`` by default,
``HYPOTHESIS_PROFILE=nightly`` for many more).
"""

from __future__ import annotations

import calendar
import json
import datetime as dt
import math
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import example, given, settings

from ownercomm_kit import referrals, schema
from ownercomm_kit.audit import RULES, run_rules, suppression_list, up_to_as_of
from ownercomm_kit.data import DealerData, from_frames
from ownercomm_kit.report import audit_report, html, notebook, referrals_report, retention_report

from helpers.pages import PLOTLY, chart_shows_something, page_problems
from helpers.reference_rules import reference_flags
from helpers.strategies import BASE_PARAMS, dealers, params

# ---------------------------------------------------------------- regression dealers


def regression_dealer(name: str) -> DealerData:
    """Hand-written dealers for the failures the properties found (kept as @example)."""
    tz, as_of = "America/New_York", dt.date(2026, 3, 9)
    customers = pd.DataFrame({"customer_id": ["C00", "C01"]})
    comm = pd.DataFrame(
        {
            "message_id": ["M00", "M01", "M02"],
            "customer_id": ["C00", "C00", "C01"],
            "sent_at": ["2026-03-08 02:30:00", "2026-03-08 21:00:00", "2026-03-09 07:59:59"],
            "channel": ["sms", "email", "phone"],
            "sender": ["dealer", "oem", "service"],
            "category": ["offer", "recall", "service_reminder"],
        }
    )
    header_only = comm.iloc[:0]
    appointments = pd.DataFrame(
        {
            "appointment_id": ["A00"],
            "customer_id": ["C00"],
            "booked_at": ["2026-03-01 09:00:00"],
            "scheduled_for": ["2026-03-04 09:00:00"],
            "status": ["kept"],
        }
    )
    if name == "nobody_unsubscribed":  # after_opt_out: first unsubscribe of an empty selection
        frames = {"customers": customers, "communications": comm.assign(unsubscribed=False)}
    elif name == "header_only_communications_with_appointments":  # tiers: last message of none
        frames = {"customers": customers, "communications": header_only, "appointments": appointments}
    elif name == "only_required_tables":
        frames = {"customers": customers, "communications": comm}
    elif name == "no_customers_one_orphan_message":
        frames = {"customers": customers.iloc[:0], "communications": comm.iloc[:1].assign(customer_id="X99")}
    else:
        raise KeyError(name)
    return from_frames(frames, timezone=tz, as_of=as_of, dealer_id="HYP")


REGRESSIONS = [
    "nobody_unsubscribed",
    "header_only_communications_with_appointments",
    "only_required_tables",
    "no_customers_one_orphan_message",
]


def with_regressions(test):
    for name in REGRESSIONS:
        test = example(data=regression_dealer(name), p=BASE_PARAMS)(test)
    return test


# ---------------------------------------------------------------- plain readings of the SPEC


def months_back(d: dt.date, months: int) -> dt.date:
    """A calendar date ``months`` calendar months earlier (a missing day clips to the month's last)."""
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    return dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _rows(df: pd.DataFrame) -> list[dict]:
    return [
        {
            k: (None if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)) else v)
            for k, v in r.items()
        }
        for r in df.astype(object).to_dict("records")
    ]


def _date(v, tz: str) -> dt.date | None:
    """A date cell, or a timestamp's date in the dealer's timezone."""
    if v is None:
        return None
    ts = pd.Timestamp(v)
    return ts.tz_convert(tz).date() if ts.tzinfo else ts.date()


def _within(d, lo: dt.date, hi: dt.date) -> bool:
    """d in (lo, hi]."""
    return d is not None and lo < d <= hi


def denominators(data: DealerData, p: dict) -> dict[str, int | None]:
    """Per KPI key: the size of its denominator by the SPEC's definition, or None when a
    table/column the KPI needs is absent. Written from SPEC §5-6, not from the code."""
    tz, a = data.timezone, data.as_of
    r, q = p["retention"], p["referrals"]
    out: dict[str, int | None] = {}
    ret_m = int(r["retention_window_months"])
    # first_year_service_retention: vehicles (by vin) sold in (A-24m, A-12m]
    if data.has("sales", "vin") and data.has("service_visits", "vin"):
        out["first_year_service_retention"] = len(
            {
                s["vin"]
                for s in _rows(data["sales"])
                if s["vin"]
                and s["vin"].strip()
                and _within(_date(s["sale_date"], tz), months_back(a, 2 * ret_m), months_back(a, ret_m))
            }
        )
    else:
        out["first_year_service_retention"] = None
    # service_customer_retention_12m: customers with a visit in (A-24m, A-12m]
    out["service_customer_retention_12m"] = (
        len(
            {
                v["customer_id"]
                for v in _rows(data["service_visits"])
                if _within(_date(v["visit_date"], tz), months_back(a, 2 * ret_m), months_back(a, ret_m))
            }
        )
        if data.has("service_visits")
        else None
    )
    # appointment_show_rate_90d: kept + no_show, scheduled in (A-90d, A]
    out["appointment_show_rate_90d"] = (
        sum(
            1
            for x in _rows(data["appointments"])
            if x["status"] in ("kept", "no_show")
            and _within(_date(x["scheduled_for"], tz), a - dt.timedelta(days=int(r["show_rate_days"])), a)
        )
        if data.has("appointments")
        else None
    )
    # reminder_booking_rate_90d: service reminders sent in (A-90d, A-14d]; needs appointments to know bookings
    out["reminder_booking_rate_90d"] = (
        sum(
            1
            for x in _rows(data["communications"])
            if x["category"] == "service_reminder"
            and _within(
                _date(x["sent_at"], tz),
                a - dt.timedelta(days=int(r["reminder_lookback_days"])),
                a - dt.timedelta(days=int(r["reminder_booking_days"])),
            )
        )
        if data.has("appointments")
        else None
    )
    # response_rate_90d: messages sent in (A-90d, A], delivered or of unknown status
    out["response_rate_90d"] = (
        sum(
            1
            for x in _rows(data["communications"])
            if x["status"] in (None, "delivered")
            and _within(_date(x["sent_at"], tz), a - dt.timedelta(days=int(r["response_days"])), a)
        )
        if data.has("communications", "responded_at")
        else None
    )
    # repurchase_rate: customers whose first purchase is on or before A-36m
    if data.has("sales"):
        first: dict[str, dt.date] = {}
        for s in _rows(data["sales"]):
            d = _date(s["sale_date"], tz)
            if d is not None and d <= a:
                first[s["customer_id"]] = min(d, first.get(s["customer_id"], d))
        cut = months_back(a, int(r["repurchase_months"]))
        out["repurchase_rate"] = sum(1 for d in first.values() if d <= cut)
    else:
        out["repurchase_rate"] = None
    # referral KPIs over referrals_12m: referred_at in (A-12m, A]
    if data.has("referrals"):
        lo = months_back(a, int(q["window_months"]))
        n12 = sum(1 for x in _rows(data["referrals"]) if _within(_date(x["referred_at"], tz), lo, a))
        out["referrals_12m"] = 1  # a count: never null when the table is there
        for key, col in (
            ("referral_conversion_12m", "status"),
            ("first_contact_24h_share", "first_contact_at"),
            ("acknowledgment_rate", "acknowledged_at"),
        ):
            out[key] = n12 if data.has("referrals", col) else None
        if data.has("sales") or data.has("service_visits"):
            active = {x["customer_id"] for x in _rows(data["sales"]) if _within(_date(x["sale_date"], tz), lo, a)}
            active |= {
                x["customer_id"] for x in _rows(data["service_visits"]) if _within(_date(x["visit_date"], tz), lo, a)
            }
            out["advocate_rate_12m"] = len(active)
        else:
            out["advocate_rate_12m"] = None
        ok = all(data.has("referrals", c) for c in ("status", "sold_at", "sale_id")) and data.has("sales", "price")
        out["referral_revenue_12m"] = 1 if ok else None  # a sum: never null when its columns are there
    else:
        for key in referrals.KPI_KEYS:
            out[key] = None
    return out


# ---------------------------------------------------------------- invariants of the flags


def local_date_of(ts: pd.Timestamp, tz: str) -> dt.date:
    return ts.tz_convert(tz).date()


def check_flags(data: DealerData, p: dict, flags: pd.DataFrame) -> None:
    tz = data.timezone
    exempt = set(p["audit"]["exempt_categories"])
    comm = data["communications"].set_index("message_id", drop=False)
    assert list(flags.columns) == [
        "message_id",
        "customer_id",
        "sent_at",
        "channel",
        "sender",
        "category",
        "rule",
        "severity",
        "detail",
        "related_id",
    ]
    assert not flags.duplicated(["message_id", "rule"]).any(), "one row per (message, rule)"
    assert flags["detail"].notna().all() and not flags["detail"].str.contains(r"\bnan\b|<NA>|NaT|None").any()
    cust_zone = {}
    if data.has("customers", "timezone"):
        for c in _rows(data["customers"]):
            cust_zone[c["customer_id"]] = c["timezone"]
    for f in _rows(flags):
        rule, mid = f["rule"], f["message_id"]
        assert rule in RULES and p["rules"][rule]["enabled"]
        assert f["severity"] == p["rules"][rule]["severity"], "severity as in the parameters"
        msg = comm.loc[mid]
        for c in ("customer_id", "channel", "sender", "category"):
            assert f[c] == msg[c]
        assert local_date_of(msg["sent_at"], tz) <= data.as_of, "no flag for a message after as_of"
        if f["category"] in exempt:
            assert rule == "quiet_hours", f"{rule} flagged an exempt {f['category']}"
        if rule == "quiet_hours":
            assert f["channel"] in p["rules"]["quiet_hours"]["channels"]
            zone = cust_zone.get(f["customer_id"]) or tz
            try:
                local = msg["sent_at"].tz_convert(ZoneInfo(zone))
            except Exception:  # an unknown zone name: the dealer's
                local = msg["sent_at"].tz_convert(tz)
            hhmm = local.strftime("%H:%M:%S")
            assert hhmm < p["rules"]["quiet_hours"]["start"] + ":00" or hhmm >= p["rules"]["quiet_hours"]["end"] + ":00"
        if rule == "after_opt_out":
            earlier = comm[
                (comm["customer_id"] == f["customer_id"])
                & (comm["channel"] == f["channel"])
                & comm["unsubscribed"].fillna(False).astype(bool)
                & (comm["sent_at"] <= msg["sent_at"])
            ]
            assert len(earlier), "after_opt_out only on a channel with an earlier unsubscribe"
            first_day = min(local_date_of(t, tz) for t in earlier["sent_at"])
            grace = int(p["rules"]["after_opt_out"]["grace_business_days"])
            assert (local_date_of(msg["sent_at"], tz) - first_day).days >= max(grace, 1)
            assert f["related_id"] in set(earlier["message_id"])
        if rule in ("cap_total", "cap_channel", "min_gap", "multi_sender", "duplicate_campaign"):
            assert f["related_id"] is not None and f["related_id"] in comm.index


def check_kpis(data: DealerData, p: dict, kpis: dict) -> None:
    den = denominators(data, p)
    for key, n in den.items():
        value = kpis[key]
        if n is None or n == 0:
            assert value is None, f"{key} = {value!r}, but its denominator is empty (or its data absent)"
        else:
            assert value is not None, f"{key} is null with a denominator of {n}"
            assert isinstance(value, (int, float)) and math.isfinite(value), f"{key} = {value!r}"
            # advocate_rate_12m may exceed 1 by its SPEC definition: a referrer need not be an active customer
            if key not in ("referrals_12m", "referral_revenue_12m", "advocate_rate_12m"):
                assert 0 <= value <= 1, f"{key} = {value!r}"


# ---------------------------------------------------------------- the properties

SECTIONS = {
    "audit": (
        audit_report,
        [
            "headline",
            "problems",
            "suppression",
            "one_voice",
            "timing",
            "fatigue",
            "tiers",
            "replay",
            "data_quality",
            "definitions",
        ],
    ),
    "retention": (
        retention_report,
        ["headline", "attention", "call_lists", "trends", "cohorts", "data_quality", "definitions"],
    ),
    "referrals": (
        referrals_report,
        [
            "headline",
            "attention",
            "followups",
            "volume",
            "funnel",
            "incentives",
            "advocates",
            "data_quality",
            "definitions",
        ],
    ),
}
OUTPUTS = (
    "flags.csv",
    "suppression.csv",
    "due_for_service.csv",
    "warranty_expiring.csv",
    "milestones.csv",
    "referral_followups.csv",
    "kpis.json",
)


def render(report: str, data: DealerData, p: dict, out_dir):
    """(the report's computed result, what its sections displayed), as the notebook runs them."""
    module, names = SECTIONS[report]
    ctx = notebook.context(report, p, data, out_dir)
    result = module.compute(ctx)
    module.save(ctx, result)
    with html.capture() as got:
        for name in names:
            getattr(module, name)(ctx, result)
    return result, got


def check_page(got: list[tuple[dict, dict]]) -> None:
    page = "".join(b.get("text/html", "") for b, m in got if m.get("role") != "chart")
    bad = page_problems(page)
    assert not bad, f"a missing value printed as a figure: {bad[:5]}"
    for bundle, meta in got:
        if meta.get("role") == "chart":
            spec = bundle[PLOTLY]
            assert chart_shows_something(spec), f"an empty chart: {spec['layout'].get('title', {}).get('text')}"


def check_suppression(sup: pd.DataFrame) -> None:
    assert list(sup.columns) == ["customer_id", "channel", "rule", "until"]
    assert sup["channel"].isin(schema.CHANNELS).all() and sup["customer_id"].notna().all()
    assert not sup.duplicated(["customer_id", "channel", "rule"]).any()


def check_audit(data: DealerData, p: dict, result) -> None:
    check_flags(data, p, result.flags)
    check_suppression(result.suppression)
    assert set(result.headline) == {
        "messages",
        "customers_messaged",
        "flags_high",
        "flags_total",
        "over_cap_customer_share",
    }
    share = result.headline["over_cap_customer_share"]
    assert (share is None) == (up_to_as_of(data)["communications"]["customer_id"].nunique() == 0)
    assert share is None or 0 <= share <= 1
    assert result.tiers["tier"].isin(["loyal", "self_directed", "responsive", "dormant"]).all()


# The full property renders three pages per dealer (about ten times the engine's cost): it tries
# a third of the profile's examples, the engine-only property all of them.
FULL = settings(settings.default, max_examples=max(5, settings.default.max_examples // 3))


@given(data=dealers(), p=params())
@with_regressions
def test_rules_equal_the_reference_and_hold_the_spec(data, p):
    flags, skipped = run_rules(data, p)
    check_flags(data, p, flags)
    # the engine equals the independent plain reading of SPEC §4, rule by rule
    want, want_skipped, _ = reference_flags(up_to_as_of(data), p)
    got = set(zip(flags["message_id"], flags["rule"]))
    assert got == want, f"engine-only {sorted(got - want)}; reference-only {sorted(want - got)}"
    assert want_skipped <= set(skipped)
    check_suppression(suppression_list(data, p))


@FULL
@given(data=dealers(), p=params())
@with_regressions
def test_every_rule_kpi_list_and_page_runs(data, p, tmp_path_factory):
    """Every figure and page of the three reports, on one dealer: no exception, KPIs null
    exactly where their denominator is empty, no NaN/None printed as a figure."""
    out = tmp_path_factory.mktemp("pages")
    results = {}
    for report in SECTIONS:
        results[report], got = render(report, data, p, out)
        check_page(got)
        ids = [m["section"] for _, m in got if m.get("section")]
        assert len(ids) == len(set(ids)) == len(SECTIONS[report][1])
    check_audit(data, p, results["audit"])
    check_kpis(data, p, {**results["retention"].kpis, **results["referrals"].kpis})
    for name in ("due_for_service", "warranty_expiring", "milestones"):
        assert getattr(results["retention"], name)["customer_id"].notna().all()
    for name in OUTPUTS:
        assert (out / name).exists(), name
    kpis = json.loads((out / "kpis.json").read_text())
    assert all(v is None or (isinstance(v, (int, float)) and math.isfinite(v)) for v in kpis.values())


@pytest.mark.parametrize("name", REGRESSIONS)
def test_regression_dealers_are_valid(name):
    """The hand-built regression dealers stay what they claim (and pass the data checks)."""
    from ownercomm_kit.validation import check

    assert not [p for p in check(regression_dealer(name)) if p.level == "error"]
