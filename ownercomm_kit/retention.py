"""Retention analytics (SPEC §5): KPIs, trends and call lists of one dealer.

Reading of the definitions (shown to the dealer through ``DEFINITIONS``):
- A = ``data.as_of``, a calendar date. A window (x, y] excludes x and includes y.
- A timestamp is compared by its calendar date in the dealer's timezone, unless a
  definition speaks of hours or is measured from another timestamp (the reminder's
  14-day booking window runs from the exact ``sent_at``).
- Months are calendar months: ``A - 12m`` is ``A - pd.DateOffset(months=12)``. A day that
  does not exist in the target month is clipped to its last day: 2026-03-31 minus one month
  is 2026-02-28, and 2028-02-29 minus 12 months is 2027-02-28.
- A ratio whose denominator is empty is ``None`` (JSON null), never 0 or NaN. A KPI that
  needs a missing table or column is ``None`` too, and ``skipped`` says why.

Everything here is a pure function of the loaded ``DealerData`` and the parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import service
from .data import DealerData
from .kpis.common import (  # noqa: F401 - re-exported: the shared helpers' old home
    CHANNELS_ORDER,
    LIST_COLUMNS,
    all_contacts,
    attach_vehicle,
    contacts_of,
    count_words,
    customer_contacts,
    fmt_date,
    in_window,
    isin,
    local_date,
    local_dates,
    missing,
    months_before,
    ratio,
    reachable_channels,
    shared,
    short_label,
    text,
    vehicle_labels,
    wall_clock,
    with_contacts,
)

KPI_KEYS = (
    "first_year_service_retention",
    "service_customer_retention_12m",
    "appointment_show_rate_90d",
    "reminder_booking_rate_90d",
    "response_rate_90d",
    "repurchase_rate",
    # service intelligence (service.py)
    "segment_active_share",
    "segment_recently_lost_share",
    "segment_defected_share",
    "segment_never_serviced_share",
    "declined_work_recovery_90d",
)

# Plain-words definitions shown in the report; {placeholders} are the dealer's parameters.
DEFINITION_TEMPLATES: dict[str, str] = {
    "first_year_service_retention": (
        "Of the vehicles (counted once per VIN) sold between {window2} and {window} months before the report "
        "date, the share that came back for at least one service visit (of that VIN, by anyone) within {window} "
        "months after their sale day."
    ),
    "service_customer_retention_12m": (
        "Of the customers who had a service visit between {window2} and {window} months ago, the share who "
        "visited again in the last {window} months."
    ),
    "appointment_show_rate_90d": (
        "Of the service appointments due in the last {show_rate_days} days (by their appointment date) that were "
        "kept or missed, the share that were kept (cancelled and still-open appointments are not counted)."
    ),
    "reminder_booking_rate_90d": (
        "Of the service reminders sent between {reminder_lookback_days} and {reminder_booking_days} days ago, the "
        "share after which the customer booked an appointment within {reminder_booking_days} days of the reminder "
        "(any appointment, even one cancelled later)."
    ),
    "response_rate_90d": (
        "Of the messages sent in the last {response_days} days that were delivered (or whose delivery status is "
        "unknown), the share the customer responded to. Also shown per channel."
    ),
    "repurchase_rate": (
        "Of the customers whose first purchase was at least {repurchase_months} months ago, the share who bought "
        "again on a later day, up to the report date."
    ),
    "weekly_appointments": "Service appointments per week (weeks start on Monday): kept, no-show, cancelled, still open.",
    "cohort": (
        "Vehicles grouped by the quarter they were sold in; each cell is the share of those vehicles "
        "with a service visit in the n-th three-month period after their own sale date. Only periods "
        "that had fully ended by the report date are shown."
    ),
    "lapsed": (
        "Customers whose last service visit was between {lapsed_max_months} and {lapsed_min_months} months ago: "
        "they have stopped coming in."
    ),
    "response_by_channel": "Messages answered of the last {response_days} days per channel (same definition as the headline figure).",
    "reminder_attribution": (
        "Service reminders sent between {reminder_lookback_days} and {reminder_booking_days} days ago per sender "
        "and channel, and how many were followed by a booking within {reminder_booking_days} days."
    ),
    "due_for_service": (
        "Customers whose last visit plus the service interval ({service_interval_days} days) falls before "
        "{due_horizon_days} days from the report date, who have no appointment booked from the report date on "
        "(cancelled and missed ones do not count), and who can be reached."
    ),
    "warranty_expiring": (
        "Vehicles whose warranty ends between the report date and {warranty_horizon_days} days later, with an "
        "owner who can be reached."
    ),
    "milestones": (
        "Birthdays and purchase anniversaries from the report date to {milestone_horizon_days} days later, for "
        "customers who can be reached on at least one channel they consent to. A February 29 date is "
        "celebrated on February 28 in other years."
    ),
    "consenting": (
        "A customer can be reached when at least one channel is open: email (an address, and not opted out of "
        "email), text (a phone, and consent to texts recorded), phone (a phone and not on the do-not-call list) "
        "or mail (a postal code and no mail opt-out). Call lists use the customer's preferred channel when "
        "it is open, else the first open one of: {fallback}."
    ),
    "periods": (
        'How periods are counted: "the last 12 months" runs from the day after the same date 12 months before '
        "the report date up to and including the report date (when that day does not exist in the month, its "
        "last day: 12 months before 2028-02-29 is 2027-02-28, one month before March 31 is February 28). "
        "Dates and times are read on the dealer's local clock."
    ),
}


def definitions(p: dict) -> dict[str, str]:
    """The definitions with the dealer's parameters (``params["retention"]``) filled in."""
    values = {
        **p,
        "window": p["retention_window_months"],
        "window2": 2 * p["retention_window_months"],
        "fallback": ", ".join({"sms": "text"}.get(c, c) for c in p.get("contact_fallback", [])),
    }
    out = {k: v.format(**values) for k, v in DEFINITION_TEMPLATES.items()}
    if "service_interval_miles" in p:  # service intelligence (service.py); its due_for_service wins
        out.update(service.definitions(p))
    return out


def _default_definitions() -> dict[str, str]:
    try:
        from .params import load_defaults

        return definitions(load_defaults()["retention"])
    except Exception:  # no defaults.yaml reachable: the templates still read as text
        return dict(DEFINITION_TEMPLATES)


DEFINITIONS: dict[str, str] = _default_definitions()


@dataclass
class RetentionResult:
    as_of: dt.date
    kpis: dict[str, float | int | None]
    weekly_appointments: pd.DataFrame
    cohort: pd.DataFrame
    lapsed: pd.DataFrame
    response_by_channel: pd.DataFrame
    reminder_attribution: pd.DataFrame
    due_for_service: pd.DataFrame
    warranty_expiring: pd.DataFrame
    milestones: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)  # section -> why it was not computed
    excluded: dict[str, int] = field(default_factory=dict)  # call list -> rows left off (no consenting channel)
    definitions: dict[str, str] = field(default_factory=lambda: dict(DEFINITIONS))  # with the dealer's parameters
    notes: dict[str, str] = field(default_factory=dict)  # section -> what was computed only in part, and why
    # service intelligence (service.py, SPEC §5)
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    segment_flow: pd.DataFrame = field(default_factory=pd.DataFrame)
    recently_lost: pd.DataFrame = field(default_factory=pd.DataFrame)
    declined_work: pd.DataFrame = field(default_factory=pd.DataFrame)
    declined_by_description: pd.DataFrame = field(default_factory=pd.DataFrame)
    age_bands: pd.DataFrame = field(default_factory=pd.DataFrame)
    vehicles: pd.DataFrame = field(default_factory=pd.DataFrame)  # per vehicle: mileage rate, estimate, due dates


# ---------------------------------------------------------------------------------------------
# KPIs
# ---------------------------------------------------------------------------------------------


def first_year_service_retention(data: DealerData, p: dict) -> tuple[float | None, str | None]:
    why = missing(data, "sales", ("vin",)) or missing(data, "service_visits", ("vin",))
    if why:
        return None, why
    a = data.as_of_ts
    months = p["retention_window_months"]
    sales = data["sales"]
    sold = sales[in_window(sales["sale_date"], months_before(a, 2 * months), months_before(a, months))]
    sold = sold[text(sold["vin"]).ne("")][["vin", "sale_date"]]
    n = sold["vin"].nunique()
    if n == 0:
        return None, None
    visits = data["service_visits"][["vin", "visit_date"]].dropna()
    pairs = sold.merge(visits, on="vin")
    end = pairs["sale_date"] + pd.DateOffset(months=int(months))
    back = pairs.loc[(pairs["visit_date"] > pairs["sale_date"]) & (pairs["visit_date"] <= end), "vin"].nunique()
    return ratio(back, n), None


def service_customer_retention_12m(data: DealerData, p: dict) -> tuple[float | None, str | None]:
    why = missing(data, "service_visits")
    if why:
        return None, why
    a, months = data.as_of_ts, p["retention_window_months"]
    v = data["service_visits"]
    before = v.loc[in_window(v["visit_date"], months_before(a, 2 * months), months_before(a, months)), "customer_id"]
    before = before.dropna().drop_duplicates()
    recent = v.loc[in_window(v["visit_date"], months_before(a, months), a), "customer_id"]
    return ratio(int(isin(before, recent).sum()), len(before)), None


def appointment_show_rate_90d(data: DealerData, p: dict) -> tuple[float | None, str | None]:
    why = missing(data, "appointments")
    if why:
        return None, why
    a = data.as_of_ts
    ap = data["appointments"]
    day = local_dates(data, "appointments", "scheduled_for")
    status = ap.loc[in_window(day, a - pd.Timedelta(days=p["show_rate_days"]), a), "status"]
    kept, no_show = int(status.eq("kept").sum()), int(status.eq("no_show").sum())
    return ratio(kept, kept + no_show), None


def reminder_bookings(data: DealerData, p: dict) -> pd.DataFrame:
    """One row per service reminder sent in (A - lookback, A - booking_days]: booked or not.

    A reminder counts as booked when the same customer has an appointment with booked_at in
    (sent_at, sent_at + booking_days], on the dealer's wall clock: 14 days are 14 calendar days
    at the same local time, also across a daylight-saving change. Once per store (the KPI and
    the attribution table read it).
    """
    days = (p["reminder_lookback_days"], p["reminder_booking_days"])
    return shared(data, ("reminder_bookings", days), lambda: _reminder_bookings(data, p))


def _reminder_bookings(data: DealerData, p: dict) -> pd.DataFrame:
    a = data.as_of_ts
    msgs = data["communications"]
    day = local_dates(data, "communications", "sent_at")
    lo = a - pd.Timedelta(days=p["reminder_lookback_days"])
    hi = a - pd.Timedelta(days=p["reminder_booking_days"])
    rem = msgs.loc[
        msgs["category"].eq("service_reminder").fillna(False) & in_window(day, lo, hi),
        ["message_id", "customer_id", "sent_at", "sender", "channel"],
    ]
    booked_ids = pd.Series([], dtype="string")
    ap = data["appointments"]
    if not rem.empty and not ap.empty:
        pairs = rem[["message_id", "customer_id", "sent_at"]].merge(ap[["customer_id", "booked_at"]], on="customer_id")
        sent, booked = wall_clock(pairs["sent_at"], data.timezone), wall_clock(pairs["booked_at"], data.timezone)
        hit = (booked > sent) & (booked <= sent + pd.Timedelta(days=p["reminder_booking_days"]))
        booked_ids = pairs.loc[hit.fillna(False).astype(bool), "message_id"]
    return rem.assign(booked=isin(rem["message_id"], booked_ids))


def reminder_booking_rate_90d(data: DealerData, p: dict) -> tuple[float | None, str | None]:
    why = missing(data, "appointments")
    if why:
        return None, why
    rem = reminder_bookings(data, p)
    return ratio(int(rem["booked"].sum()), len(rem)), None


def _responses(data: DealerData, p: dict) -> pd.DataFrame:
    """Messages sent in (A - response_days, A], delivered or of unknown status, with ``responded``
    (once per store: the KPI and the per-channel table read it)."""
    return shared(data, ("responses", p["response_days"]), lambda: _responses_of(data, p))


def _responses_of(data: DealerData, p: dict) -> pd.DataFrame:
    a = data.as_of_ts
    msgs = data["communications"]
    day = local_dates(data, "communications", "sent_at")
    delivered = msgs["status"].isna() | msgs["status"].eq("delivered").fillna(False)
    keep = in_window(day, a - pd.Timedelta(days=p["response_days"]), a) & delivered.astype(bool)
    out = msgs.loc[keep, ["message_id", "channel"]].copy()
    out["responded"] = msgs.loc[keep, "responded_at"].notna().to_numpy()
    return out


def response_rate_90d(data: DealerData, p: dict) -> tuple[float | None, str | None]:
    why = missing(data, "communications", ("responded_at",))
    if why:
        return None, why
    r = _responses(data, p)
    return ratio(int(r["responded"].sum()), len(r)), None


def repurchase_rate(data: DealerData, p: dict) -> tuple[float | None, str | None]:
    why = missing(data, "sales")
    if why:
        return None, why
    a = data.as_of_ts
    s = data["sales"][["customer_id", "sale_date"]].dropna()
    s = s[s["sale_date"] <= a]
    first = s.groupby("customer_id")["sale_date"].min().rename("first")
    cohort = first[first <= months_before(a, p["repurchase_months"])]
    if cohort.empty:
        return None, None
    later = s.merge(cohort, left_on="customer_id", right_index=True)
    again = later.loc[later["sale_date"] > later["first"], "customer_id"].nunique()
    return ratio(again, len(cohort)), None


KPI_FUNCTIONS = {
    "first_year_service_retention": first_year_service_retention,
    "service_customer_retention_12m": service_customer_retention_12m,
    "appointment_show_rate_90d": appointment_show_rate_90d,
    "reminder_booking_rate_90d": reminder_booking_rate_90d,
    "response_rate_90d": response_rate_90d,
    "repurchase_rate": repurchase_rate,
}


# ---------------------------------------------------------------------------------------------
# Trends
# ---------------------------------------------------------------------------------------------


def response_by_channel(data: DealerData, p: dict) -> pd.DataFrame:
    r = _responses(data, p)
    g = r.groupby("channel", observed=True)["responded"].agg(messages="size", responded="sum").reset_index()
    g["responded"] = g["responded"].astype(int)
    g["response_rate"] = g["responded"] / g["messages"]
    return g.sort_values("channel", ignore_index=True)


def weekly_appointments(data: DealerData, p: dict) -> pd.DataFrame:
    """Appointments per week (Monday start) over the last ``weekly_weeks`` weeks up to A."""
    a = data.as_of_ts
    ap = data["appointments"]
    day = local_dates(data, "appointments", "scheduled_for")
    first_week = a - pd.Timedelta(days=a.weekday()) - pd.Timedelta(weeks=int(p["weekly_weeks"]) - 1)
    keep = ((day >= first_week) & (day <= a)).fillna(False).astype(bool)
    week = day[keep] - pd.to_timedelta(day[keep].dt.day_of_week, unit="D")
    counts = pd.crosstab(week.rename("week"), ap.loc[keep, "status"].astype("string").rename("status"))
    weeks = pd.date_range(first_week, a, freq="7D", name="week")
    counts = counts.reindex(index=weeks, columns=["kept", "no_show", "cancelled", "scheduled"], fill_value=0)
    out = counts.astype(int).reset_index()
    out.columns.name = None
    seen = out["kept"] + out["no_show"]
    out["show_rate"] = (out["kept"] / seen.where(seen > 0)).astype("float64")
    return out


def cohort(data: DealerData, p: dict) -> pd.DataFrame:
    """Long frame: sale_quarter, quarters_since_sale, vehicles, with_visit, share (observed cells only).

    Quarter n after a sale is (sale_date + 3(n-1) months, sale_date + 3n months]; a cell is
    shown when that period has ended for every vehicle of the cohort (quarter end + 3n months <= A).
    """
    cols = ["sale_quarter", "quarters_since_sale", "vehicles", "with_visit", "share"]
    a = data.as_of_ts
    sales = data["sales"]
    s = sales.loc[text(sales["vin"]).ne("") & (sales["sale_date"] <= a), ["vin", "sale_date"]].dropna()
    if s.empty:
        return pd.DataFrame(columns=cols)
    s = s.assign(q=s["sale_date"].dt.to_period("Q"))
    s = s.sort_values("sale_date").drop_duplicates(["q", "vin"])  # one vehicle once per cohort
    q_end = s["q"].dt.end_time.dt.normalize()
    max_n = int(p["cohort_max_quarters"])
    observed_n = pd.Series(0, index=s.index)
    for n in range(1, max_n + 1):
        observed_n = observed_n.mask(q_end + pd.DateOffset(months=3 * n) <= a, n)
    s = s.assign(observed=observed_n)
    s = s[s["observed"] > 0]
    quarters = sorted(s["q"].unique())[-int(p["cohort_quarters"]) :]
    s = s[s["q"].isin(quarters)]
    if s.empty:
        return pd.DataFrame(columns=cols)
    visits = data["service_visits"][["vin", "visit_date"]].dropna()
    pairs = s.reset_index(names="row").merge(visits, on="vin")
    rows = []
    for n in range(1, max_n + 1):
        lo = pairs["sale_date"] + pd.DateOffset(months=3 * (n - 1))
        hi = pairs["sale_date"] + pd.DateOffset(months=3 * n)
        hit = set(pairs.loc[(pairs["visit_date"] > lo) & (pairs["visit_date"] <= hi), "row"])
        cell = s[s["observed"] >= n]
        for q, grp in cell.groupby("q"):
            k = int(grp.index.isin(list(hit)).sum())
            rows.append((str(q), n, len(grp), k, k / len(grp)))
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["sale_quarter", "quarters_since_sale"], ignore_index=True)


def reminder_attribution(data: DealerData, p: dict) -> pd.DataFrame:
    rem = reminder_bookings(data, p)
    g = rem.groupby(["sender", "channel"], observed=True)["booked"].agg(reminders="size", booked="sum").reset_index()
    g["booked"] = g["booked"].astype(int)
    g["booking_rate"] = g["booked"] / g["reminders"]
    return g.sort_values(["sender", "channel"], ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------------------------


def _last_visits(data: DealerData) -> pd.DataFrame:
    """Per customer: last visit date on or before A, its vin, number of visits."""
    a = data.as_of_ts
    v = data["service_visits"]
    v = v[(v["visit_date"] <= a).fillna(False)].sort_values(["visit_date", "ro_id"])
    last = v.groupby("customer_id").agg(last_visit=("visit_date", "max"), visits=("ro_id", "size"), vin=("vin", "last"))
    return last.reset_index()


def _months_between(earlier: pd.Series, later: pd.Timestamp) -> pd.Series:
    """Whole calendar months from each date to ``later``."""
    m = (later.year - earlier.dt.year) * 12 + (later.month - earlier.dt.month)
    return (m - (earlier.dt.day > later.day).astype(int)).astype("Int64")


def lapsed(data: DealerData, p: dict) -> pd.DataFrame:
    a = data.as_of_ts
    last = _last_visits(data)
    keep = in_window(
        last["last_visit"], months_before(a, p["lapsed_max_months"]), months_before(a, p["lapsed_min_months"])
    )
    last = last[keep]
    contacts = contacts_of(data, last["customer_id"], p).drop(columns="reachable")
    out = attach_vehicle(last.merge(contacts, on="customer_id", how="left"), data["vehicles"])
    out["months_since_visit"] = _months_between(out["last_visit"], a)
    out["reason"] = (
        "Last service visit on "
        + fmt_date(out["last_visit"])
        + ", "
        + out["months_since_visit"].astype("string")
        + " months ago"
    )
    return out[[*LIST_COLUMNS, "last_visit", "visits", "months_since_visit", "reason"]].sort_values(
        ["last_visit", "customer_id"], ascending=[False, True], ignore_index=True
    )


def due_for_service(data: DealerData, p: dict, excluded: dict) -> pd.DataFrame:
    """Vehicles due for service by time or mileage with nothing booked (SPEC §5, ``service.due_for_service``)."""
    return service.due_for_service(data, p, excluded)


def warranty_expiring(data: DealerData, p: dict, excluded: dict) -> pd.DataFrame:
    a = data.as_of_ts
    v = data["vehicles"]
    end = v["warranty_end"]
    keep = ((end >= a) & (end <= a + pd.Timedelta(days=p["warranty_horizon_days"]))).fillna(False).astype(bool)
    v = v.loc[keep, ["vin", "customer_id", "warranty_end"]]
    out = attach_vehicle(with_contacts(v, data, p, "warranty_expiring", excluded), data["vehicles"])
    days = (out["warranty_end"] - a).dt.days
    when = pd.Series(np.where(days == 0, "today", "in " + count_words(days, "day")), index=out.index)
    out["reason"] = (
        "Warranty of the "
        + short_label(out["vehicle"])
        + " ends on "
        + fmt_date(out["warranty_end"])
        + " ("
        + when
        + ")"
    ).astype("string")
    return out[[*LIST_COLUMNS, "warranty_end", "reason"]].sort_values(
        ["warranty_end", "customer_id"], ignore_index=True
    )


def next_anniversary(dates: pd.Series, a: pd.Timestamp) -> pd.Series:
    """The next date on or after A with the month and day of ``dates`` (Feb 29 -> Feb 28 in common years)."""

    def on_year(year: pd.Series) -> pd.Series:
        month, day = dates.dt.month, dates.dt.day
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        day = day.where(~((month == 2) & (day == 29) & ~leap), 28)
        return pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")

    this = on_year(pd.Series(a.year, index=dates.index))
    nxt = on_year(pd.Series(a.year + 1, index=dates.index))
    return this.where(this >= a, nxt)


def milestones(data: DealerData, p: dict, excluded: dict) -> pd.DataFrame:
    """Birthdays and purchase anniversaries in [A, A + horizon], consenting customers only."""
    a = data.as_of_ts
    horizon = a + pd.Timedelta(days=p["milestone_horizon_days"])
    cols = [*LIST_COLUMNS, "milestone", "milestone_date", "reason"]
    parts = []
    c = data["customers"][["customer_id", "birth_date"]].dropna()
    c = c[c["birth_date"] <= a]
    if not c.empty:
        when = next_anniversary(c["birth_date"], a)
        c = c.assign(
            milestone="birthday",
            milestone_date=when,
            vin=pd.NA,
            model=pd.NA,
            years=(when.dt.year - c["birth_date"].dt.year),
        )
        parts.append(c[(c["milestone_date"] <= horizon).fillna(False)])
    s = data["sales"][["customer_id", "sale_date", "vin", "model"]].dropna(subset=["sale_date"])
    s = s[s["sale_date"] < a]
    if not s.empty:
        when = next_anniversary(s["sale_date"], a)
        s = s.assign(
            milestone="purchase_anniversary", milestone_date=when, years=(when.dt.year - s["sale_date"].dt.year)
        )
        parts.append(s[(s["milestone_date"] <= horizon).fillna(False) & (s["milestone_date"] > s["sale_date"])])
    if not parts:
        excluded["milestones"] = 0
        return pd.DataFrame(columns=cols)
    m = pd.concat(
        [x.drop(columns=[k for k in ("birth_date", "sale_date") if k in x]) for x in parts], ignore_index=True
    )
    m["vin"] = m["vin"].astype("string")
    m = with_contacts(m, data, p, "milestones", excluded)
    out = attach_vehicle(m.reset_index(drop=True), data["vehicles"], fallback_model=m["model"])
    years = out["years"].astype(int)
    date = out["milestone_date"].dt.strftime("%B ") + out["milestone_date"].dt.day.astype(str)
    bday = "Birthday on " + date + " (turns " + years.astype(str) + ")"
    what = short_label(out["vehicle"])
    anniv = count_words(years, "year") + " since buying the " + what + " (" + date + ")"
    out["reason"] = bday.where(out["milestone"].eq("birthday"), anniv).astype("string")
    out["milestone"] = out["milestone"].astype("string")
    return out[cols].sort_values(["milestone_date", "customer_id", "milestone"], ignore_index=True)


# ---------------------------------------------------------------------------------------------


def kpi_values(data: DealerData, params: dict) -> tuple[dict, dict]:
    """(every retention KPI at ``data.as_of``, why any was skipped): what the report shows and
    what ``ownercomm history`` records per month-end."""
    kpis, skipped = _own_kpis(data, params["retention"])
    return _with_service(kpis, skipped, *service.kpi_values(data, params["retention"]))


def _own_kpis(data: DealerData, p: dict) -> tuple[dict, dict]:
    """The KPIs of KPI_FUNCTIONS (the service ones come from ``service``)."""
    kpis: dict[str, float | int | None] = {}
    skipped: dict[str, str] = {}
    for key, fn in KPI_FUNCTIONS.items():
        kpis[key], why = fn(data, p)
        if why:
            skipped[key] = why
    return kpis, skipped


def _with_service(kpis: dict, skipped: dict, svc_kpis: dict, svc_skipped: dict) -> tuple[dict, dict]:
    kpis.update(svc_kpis)
    skipped.update({k: v for k, v in svc_skipped.items() if k not in skipped})
    return kpis, skipped


def compute(data: DealerData, params: dict) -> RetentionResult:
    """Every retention KPI, trend and call list of SPEC §5 for one dealer."""
    p = params["retention"]
    kpis, skipped = _own_kpis(data, p)  # the service KPIs come with service.compute below (computed once)
    excluded: dict[str, int] = {}
    needs = {
        "weekly_appointments": missing(data, "appointments"),
        "cohort": missing(data, "sales", ("vin",)) or missing(data, "service_visits", ("vin",)),
        "lapsed": missing(data, "service_visits"),
        "response_by_channel": skipped.get("response_rate_90d"),
        "reminder_attribution": missing(data, "appointments"),
        "due_for_service": missing(data, "service_visits"),
        "warranty_expiring": missing(data, "vehicles", ("warranty_end",)),
        "milestones": (
            None
            if data.has("customers", "birth_date") or data.has("sales")
            else "neither customers.birth_date nor a sales table in the data"
        ),
    }
    skipped.update({k: v for k, v in needs.items() if v})
    svc = service.compute(data, p)
    kpis, skipped = _with_service(kpis, skipped, svc.kpis, svc.skipped)
    excluded.update(svc.excluded)
    notes = {k: v for k, v in partial_notes(data).items() if k not in skipped}
    return RetentionResult(
        as_of=data.as_of,
        kpis=kpis,
        weekly_appointments=weekly_appointments(data, p),
        cohort=cohort(data, p),
        lapsed=lapsed(data, p),
        response_by_channel=response_by_channel(data, p),
        reminder_attribution=reminder_attribution(data, p),
        due_for_service=svc.due_for_service,
        warranty_expiring=warranty_expiring(data, p, excluded),
        milestones=milestones(data, p, excluded),
        skipped=skipped,
        excluded=excluded,
        definitions=definitions(p),
        notes=notes,
        segments=svc.segments,
        segment_flow=svc.segment_flow,
        recently_lost=svc.recently_lost,
        declined_work=svc.declined_work,
        declined_by_description=svc.declined_by_description,
        age_bands=svc.age_bands,
        vehicles=svc.vehicles,
    )


def partial_notes(data: DealerData) -> dict[str, str]:
    """Sections computed with part of the data missing: what the reader should know."""
    notes = {}
    if not data.has("communications", "status"):
        notes["response_rate_90d"] = "no status column in communications: every message counts as delivered"
    if not data.has("appointments"):
        notes["due_for_service"] = "no appointments table: customers who already booked may still be on the list"
    elif data.has("service_visits") and not data.has("service_visits", "mileage"):
        notes["due_for_service"] = "no mileage column in service_visits: vehicles are due by time only"
    if not data.has("customers", "birth_date"):
        notes["milestones"] = "no birth_date column in customers: purchase anniversaries only"
    elif not data.has("sales"):
        notes["milestones"] = "no sales table: birthdays only"
    if not data.has("vehicles"):
        notes["vehicle"] = (
            "no vehicles table: call lists show the VIN (and the model sold) instead of year, make and model"
        )
    return notes
