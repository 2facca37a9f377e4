"""Service intelligence (SPEC §5): lifecycle segments, mileage, declined work, vehicle age bands.

Readings of the SPEC (also shown to the dealer through ``DEFINITION_TEMPLATES``):
- A = ``data.as_of``; a window (x, y] excludes x and includes y; months are calendar months,
  a day missing in the target month clipped to its last day (``kpis.common.months_before``).
  Only rows on or before A count: a visit or sale dated after A does not exist yet.
- Segments count the customer_ids of sales and visits on or before A (an id missing from the
  customers table counts too, as in the other KPIs; the call list can only reach known ones).
- A *vehicle* is a VIN; the visits of a customer that carry no VIN are one more vehicle of
  that customer. A vehicle's customer is the customer of its last visit (by date, then ro_id).
- Mileage: readings are a vehicle's visits on or before A with a mileage, ordered by
  visit_date then ro_id; each consecutive pair with days > 0 and a non-negative difference
  gives a rate (difference ÷ days); the vehicle's rate is the median of its pair rates. A
  vehicle without such a pair (fewer than two readings, or only same-day or negative pairs)
  takes the fleet median (the median of the vehicles' own rates), else the
  ``default_daily_miles`` parameter. Estimated mileage at a day t = last reading + rate × days
  from the last reading to t. The first day the estimate reaches the last reading + miles is
  the last reading's date + the smallest whole n with rate × n ≥ miles (never when the rate is 0).
- Due for service (per vehicle): by time when last visit + interval days < A + horizon, by
  mileage when the mileage due day is on or before A + horizon (the same as "the estimate at
  A + horizon reaches last reading + miles"); the intervals come from the service_type of the
  vehicle's last visit when ``intervals_by_service_type`` sets them. A vehicle is booked (left
  off) when an appointment scheduled on A or later (local date), neither cancelled nor missed,
  carries its VIN, or carries no VIN and belongs to the vehicle's customer.
- ``declined_at`` is a timestamp compared by its local date; "a later visit" is a visit on a
  later date than the decline (a visit on the decline's own day is the visit it was declined on).
- Retention by vehicle age band: age = A's year − model_year (a model year after A's year
  counts as 0). "12-month retention" per band is read per *vehicle* (the band is a vehicle's
  property): vehicles with a visit in (A−24m, A−12m] that were back in (A−12m, A].

Everything is vectorised (no per-row Python) and a pure function of ``DealerData`` and the
``retention`` parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .data import DealerData
from .kpis.common import (
    LIST_COLUMNS,
    attach_vehicle,
    count_words,
    fmt_date,
    in_window,
    isin,
    local_dates,
    missing,
    months_before,
    ratio,
    shared,
    text,
    wall_clock,
    with_contacts,
)

SEGMENTS = ("active", "recently_lost", "defected", "never_serviced")
KPI_KEYS = (
    "segment_active_share",
    "segment_recently_lost_share",
    "segment_defected_share",
    "segment_never_serviced_share",
    "declined_work_recovery_90d",
)
DUE_REASONS = ("time", "mileage", "both")
TIMINGS = ("after_visit", "too_early", "on_time", "late", "no_history")
NO_VIN = "\x00"  # prefix of the key of a customer's vehicle without a VIN (never part of a VIN)

DEFINITION_TEMPLATES: dict[str, str] = {
    "segment_active_share": (
        "Of the customers with a purchase or a service visit up to the report date, the share whose last service "
        "visit was in the last {segment_active_months} months (active)."
    ),
    "segment_recently_lost_share": (
        "The share whose last service visit was between {segment_lost_months} and {segment_active_months} months "
        "ago (recently lost: the ones to win back now)."
    ),
    "segment_defected_share": (
        "The share whose last service visit was {segment_lost_months} months ago or earlier (defected)."
    ),
    "segment_never_serviced_share": ("The share who bought a vehicle but never came in for service (never serviced)."),
    "segment_flow": (
        "Each customer's segment {segment_active_months} months before the report date and today. 'Not yet a "
        "customer' means no purchase and no visit by then."
    ),
    "recently_lost": (
        "Customers whose last service visit was between {segment_lost_months} and {segment_active_months} months "
        "ago and who can be reached, with their preferred channel when it is open."
    ),
    "due_for_service": (
        "Vehicles (by VIN; a customer's visits without a VIN are one vehicle) due for service: by time when the "
        "last visit plus {service_interval_days} days falls before {due_horizon_days} days from the report date; "
        "by mileage when the estimated mileage {due_horizon_days} days from the report date reaches the last "
        "odometer reading plus {service_interval_miles:,} miles (intervals per service type where the dealer set "
        "them). The due date is the earlier of the two. Vehicles with an appointment booked from the report date "
        "on (cancelled and missed ones do not count), and customers who cannot be reached, are left off."
    ),
    "mileage": (
        "A vehicle's miles per day: the median, over consecutive pairs of its odometer readings (service visits "
        "in date order, same-day visits by repair order number), of the miles driven divided by the days between; "
        "pairs on the same day or going backwards (odometer typos) are ignored. A vehicle without two usable "
        "readings gets the median of all vehicles' rates (else {default_daily_miles} miles a day). Estimated "
        "mileage today = last reading + miles per day × days since it, in whole miles."
    ),
    "reminder_timing": (
        "Service reminders sent in the last {reminder_timing_months} months, set against the vehicle's estimated "
        "due date (from its last visit before the reminder, by time or mileage, whichever comes first): 'after a "
        "visit' when sent within {reminder_after_visit_days} days after that visit, 'on time' within "
        "{reminder_on_time_days} days either side of the due date, else 'too early' or 'late'. The vehicle is the "
        "one the reminder names (VIN), else the customer's most recently serviced one. Reminders with no earlier "
        "visit to judge by are counted apart."
    ),
    "reminder_on_time_share": (
        "Of the service reminders of the last {reminder_timing_months} months that can be judged (the vehicle had "
        "a visit before), the share sent on time: within {reminder_on_time_days} days of the estimated due date and "
        "not within {reminder_after_visit_days} days after a visit."
    ),
    "declined_work": (
        "Work recommended and declined in the last {declined_days} days on which the customer has not come back "
        "yet (no later visit of the vehicle; of the customer when the item has no VIN), for customers who can be "
        "reached."
    ),
    "declined_work_recovery_90d": (
        "Of the items of declined work between {declined_recovery_lo} and {declined_days} days ago, the share "
        "followed by a visit of the same vehicle (of the same customer when the item has no VIN) within "
        "{declined_days} days after the decline."
    ),
    "declined_by_description": (
        "Work declined in the last {segment_active_months} months, by description: items, amount declined, and "
        "how many are still open (no later visit)."
    ),
    "age_bands": (
        "Vehicles by age (report year minus model year): first-year retention as in the headline, and 12-month "
        "retention counted per vehicle: of the vehicles with a visit between {window2} and {window} months ago, "
        "the share back in the last {window} months."
    ),
}


def definitions(p: dict) -> dict[str, str]:
    values = {
        **p,
        "window": p["retention_window_months"],
        "window2": 2 * p["retention_window_months"],
        "declined_recovery_lo": 2 * p["declined_days"],
    }
    return {k: v.format(**values) for k, v in DEFINITION_TEMPLATES.items()}


@dataclass
class ServiceResult:
    kpis: dict[str, float | None]
    segments: pd.DataFrame  # customer_id, segment, last_visit
    segment_flow: pd.DataFrame  # from_segment, to_segment, customers
    recently_lost: pd.DataFrame
    vehicles: pd.DataFrame  # per vehicle: mileage rate, estimate, due dates
    due_for_service: pd.DataFrame
    declined_work: pd.DataFrame
    declined_by_description: pd.DataFrame
    age_bands: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Lifecycle segments
# ---------------------------------------------------------------------------------------------


def segments_at(data: DealerData, at: pd.Timestamp, p: dict) -> pd.DataFrame:
    """customer_id, segment, last_visit for every customer with a sale or a visit on or before ``at``."""
    v = data["service_visits"][["customer_id", "visit_date"]].dropna()
    v = v[v["visit_date"] <= at]
    s = data["sales"][["customer_id", "sale_date"]].dropna()
    s = s[s["sale_date"] <= at]
    last = v.groupby("customer_id", observed=True)["visit_date"].max().rename("last_visit")
    ids = pd.Index(pd.concat([v["customer_id"], s["customer_id"]]).astype("string").unique(), name="customer_id")
    out = pd.DataFrame(index=ids).join(last).reset_index()
    lv = out["last_visit"]
    seg = np.select(
        [
            lv.isna(),
            lv > months_before(at, p["segment_active_months"]),
            lv > months_before(at, p["segment_lost_months"]),
        ],
        ["never_serviced", "active", "recently_lost"],
        default="defected",
    )
    out["segment"] = pd.Series(seg, index=out.index, dtype="string")
    return out[["customer_id", "segment", "last_visit"]].sort_values("customer_id", ignore_index=True)


def segment_kpis(seg: pd.DataFrame) -> dict[str, float | None]:
    counts = seg["segment"].value_counts()
    return {f"segment_{s}_share": ratio(int(counts.get(s, 0)), len(seg)) for s in SEGMENTS}


def segment_flow(data: DealerData, p: dict, now: pd.DataFrame | None = None) -> pd.DataFrame:
    """Customers by (segment at A − active months, segment at A); 'new' when without a segment then."""
    a = data.as_of_ts
    now = segments_at(data, a, p) if now is None else now
    then = segments_at(data, months_before(a, p["segment_active_months"]), p)
    m = now[["customer_id", "segment"]].merge(
        then[["customer_id", "segment"]], on="customer_id", how="left", suffixes=("", "_then")
    )
    m["from_segment"] = m["segment_then"].fillna("new")
    g = m.groupby(["from_segment", "segment"]).size().rename("customers").reset_index()
    g = g.rename(columns={"segment": "to_segment"})
    order = {s: i for i, s in enumerate(("new", *SEGMENTS))}
    return g.sort_values(["from_segment", "to_segment"], key=lambda c: c.map(order), ignore_index=True)


def recently_lost(data: DealerData, p: dict, seg: pd.DataFrame, excluded: dict) -> pd.DataFrame:
    a = data.as_of_ts
    lost = seg.loc[seg["segment"].eq("recently_lost"), ["customer_id", "last_visit"]]
    v = data["service_visits"]
    v = v[(v["visit_date"] <= a).fillna(False) & isin(v["customer_id"], lost["customer_id"])]
    v = v.sort_values(["visit_date", "ro_id"])
    per = v.groupby("customer_id", observed=True).agg(visits=("ro_id", "size"), vin=("vin", "last")).reset_index()
    lost = lost.merge(per, on="customer_id", how="left")
    out = attach_vehicle(with_contacts(lost, data, p, "recently_lost", excluded), data["vehicles"])
    months = (
        (a.year - out["last_visit"].dt.year) * 12
        + (a.month - out["last_visit"].dt.month)
        - (out["last_visit"].dt.day > a.day).astype(int)
    )
    out["reason"] = (
        "Last service visit on " + fmt_date(out["last_visit"]) + ", " + months.astype("string") + " months ago"
    ).astype("string")
    return out[[*LIST_COLUMNS, "last_visit", "visits", "reason"]].sort_values(
        ["last_visit", "customer_id"], ascending=[False, True], ignore_index=True
    )


# ---------------------------------------------------------------------------------------------
# Mileage and due for service
# ---------------------------------------------------------------------------------------------


def vehicle_key(vin: pd.Series, customer_id: pd.Series) -> pd.Series:
    """The VIN, else (no VIN) one key per customer."""
    v = text(vin)
    return v.mask(v.eq(""), NO_VIN + text(customer_id)).astype("string")


def _visits(data: DealerData) -> pd.DataFrame:
    """Visits on or before A with a vehicle key, ordered by (visit_date, ro_id) (once per store)."""
    return shared(data, ("service_visits_by_vehicle",), lambda: _visits_of(data))


def _visits_of(data: DealerData) -> pd.DataFrame:
    v = data["service_visits"]
    v = v[(v["visit_date"] <= data.as_of_ts).fillna(False)]
    v = v[["ro_id", "customer_id", "visit_date", "vin", "service_type", "mileage"]].copy()
    v["key"] = vehicle_key(v["vin"], v["customer_id"])
    return v.sort_values(["visit_date", "ro_id"], kind="stable", ignore_index=True)


def pair_rates(readings: pd.DataFrame) -> pd.DataFrame:
    """key, rate for each usable consecutive pair of readings (days > 0, difference >= 0).

    ``readings``: key, visit_date, ro_id, mileage (no missing mileage), any order.
    """
    r = readings.sort_values(["key", "visit_date", "ro_id"], kind="stable", ignore_index=True)
    same = r["key"].eq(r["key"].shift()).fillna(False).to_numpy(bool)
    days = (r["visit_date"] - r["visit_date"].shift()).dt.days.to_numpy(dtype="float64", na_value=np.nan)
    miles = (r["mileage"].astype("float64") - r["mileage"].astype("float64").shift()).to_numpy()
    ok = same & (days > 0) & (miles >= 0)
    return pd.DataFrame({"key": r["key"].to_numpy()[ok], "rate": miles[ok] / days[ok]})


def mileage_rates(visits: pd.DataFrame, default_daily_miles: float) -> tuple[pd.DataFrame, float, str]:
    """Per vehicle key: readings, own_rate, rate, rate_source, last_reading, last_reading_date.

    Returns the frame (index = key, every key of ``visits``), the fleet rate and where it came from.
    ``visits`` come ordered by (visit_date, ro_id) (``_visits``). The keys are worked on as
    integer codes (grouping and sorting strings is what made this slow on big stores).
    """
    codes, uniques = pd.factorize(visits["key"], use_na_sentinel=False)
    keys = pd.Index(uniques, name="key")
    has = visits["mileage"].notna().to_numpy(bool)
    pos = np.flatnonzero(has)
    pos = pos[np.argsort(codes[pos], kind="stable")]  # readings by key, each key's by (visit_date, ro_id)
    rc = codes[pos]
    dates = visits["visit_date"].iloc[pos].reset_index(drop=True)
    days = (dates - dates.shift()).dt.days.to_numpy(dtype="float64", na_value=np.nan)
    miles_read = visits["mileage"].iloc[pos].astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    miles = np.concatenate([[np.nan], np.diff(miles_read)])
    same = np.concatenate([[False], rc[1:] == rc[:-1]])
    with np.errstate(invalid="ignore"):
        ok = same & (days > 0) & (miles >= 0)
    own = pd.Series(miles[ok] / days[ok]).groupby(rc[ok]).median()
    if len(own):
        fleet, fleet_source = float(own.median()), "fleet"
    else:
        fleet, fleet_source = float(default_daily_miles), "default"
    own_rate = own.reindex(np.arange(len(keys))).to_numpy(dtype="float64")
    last = np.full(len(keys), -1)
    ends = np.flatnonzero(np.concatenate([rc[1:] != rc[:-1], [True]])) if len(rc) else np.array([], dtype=int)
    last[rc[ends]] = pos[ends]
    seen = last >= 0
    out = pd.DataFrame(index=keys)
    out["readings"] = np.bincount(rc, minlength=len(keys)).astype(int)
    out["own_rate"] = own_rate
    out["rate"] = out["own_rate"].fillna(fleet)
    out["rate_source"] = pd.Series(np.where(~np.isnan(own_rate), "own", fleet_source), index=keys, dtype="string")
    reading = visits["mileage"].iloc[last[seen]].astype("Float64").to_numpy()
    out["last_reading"] = pd.array([pd.NA] * len(keys), dtype="Float64")
    out.loc[seen, "last_reading"] = reading
    reading_date = visits["visit_date"].iloc[last[seen]].to_numpy()
    out["last_reading_date"] = pd.Series(pd.NaT, index=keys, dtype=visits["visit_date"].dtype)
    out.loc[seen, "last_reading_date"] = reading_date
    return out, fleet, fleet_source


def days_to_reach(miles: pd.Series, rate: pd.Series) -> pd.Series:
    """The smallest whole n >= 0 with rate * n >= miles; NaN when the rate is 0 or missing."""
    miles = miles.astype("float64")
    rate = rate.astype("float64").where(rate > 0)
    n = np.ceil(miles / rate)
    n = n.where(~(rate * (n - 1) >= miles), n - 1)  # ceil of a rounded quotient can be one too high
    return n.clip(lower=0)


def _intervals(service_type: pd.Series, p: dict) -> tuple[pd.Series, pd.Series]:
    """Interval days and miles after a visit of each service_type (per-type overrides, else the defaults)."""
    days = pd.Series(float(p["service_interval_days"]), index=service_type.index)
    miles = pd.Series(float(p["service_interval_miles"]), index=service_type.index)
    for kind, over in (p.get("intervals_by_service_type") or {}).items():
        hit = service_type.eq(kind).fillna(False).to_numpy(bool)
        over = over or {}
        if over.get("days") is not None:
            days[hit] = float(over["days"])
        if over.get("miles") is not None:
            miles[hit] = float(over["miles"])
    return days, miles


# The parameters vehicle_status reads (its result is shared by the audit and retention pages).
STATUS_PARAMS = ("default_daily_miles", "service_interval_days", "service_interval_miles", "intervals_by_service_type")


def vehicle_status(data: DealerData, p: dict) -> pd.DataFrame:
    """Per vehicle: customer, last visit, mileage rate and estimate at A, time / mileage due dates
    (once per store and parameters)."""
    key = ("vehicle_status", repr([(k, p.get(k)) for k in STATUS_PARAMS]))
    return shared(data, key, lambda: _vehicle_status(data, p))


def _vehicle_status(data: DealerData, p: dict) -> pd.DataFrame:
    a = data.as_of_ts
    v = _visits(data)
    rates, _, _ = mileage_rates(v, p["default_daily_miles"])
    codes, _ = pd.factorize(v["key"], use_na_sentinel=False)  # rates' index: the keys in this order
    count = np.bincount(codes, minlength=len(rates))
    # visits come ordered: a key's last row is its last visit
    last_pos = len(v) - 1 - np.unique(codes[::-1], return_index=True)[1]
    order = np.argsort(rates.index.to_numpy(dtype=object), kind="stable")  # by key, as before
    last = v.iloc[last_pos[order]].set_index("key")
    out = pd.DataFrame(
        {
            "vin": text(last["vin"]).replace("", pd.NA),
            "customer_id": last["customer_id"].astype("string"),
            "last_visit": last["visit_date"],
            "last_service_type": last["service_type"].astype("string"),
            "visits": count[order],
        },
        index=last.index,
    )
    out = out.join(rates)
    days, miles = _intervals(out["last_service_type"], p)
    out["interval_days"], out["interval_miles"] = days.astype(int), miles
    out["time_due_date"] = out["last_visit"] + pd.to_timedelta(days, unit="D")
    since = (a - out["last_reading_date"]).dt.days
    estimate = out["last_reading"].astype("float64") + out["rate"] * since
    out["estimated_mileage"] = np.floor(estimate + 0.5).astype("Int64")
    n = days_to_reach(miles, out["rate"]).where(out["last_reading"].notna())
    out["mileage_due_date"] = out["last_reading_date"] + pd.to_timedelta(n, unit="D")
    return out.reset_index()


def due_for_service(data: DealerData, p: dict, excluded: dict, status: pd.DataFrame | None = None) -> pd.DataFrame:
    """SPEC §5 service intelligence: due per vehicle, by time, mileage or both, with nothing booked."""
    a = data.as_of_ts
    horizon = a + pd.Timedelta(days=p["due_horizon_days"])
    s = vehicle_status(data, p) if status is None else status
    by_time = (s["time_due_date"] < horizon).fillna(False).to_numpy(bool)
    by_miles = (s["mileage_due_date"] <= horizon).fillna(False).to_numpy(bool)
    s = s.assign(
        due_reason=pd.Series(
            np.select([by_time & by_miles, by_time, by_miles], ["both", "time", "mileage"], default=""),
            index=s.index,
            dtype="string",
        )
    )
    s = s[by_time | by_miles]
    s = s.assign(due_date=s[["time_due_date", "mileage_due_date"]].min(axis=1))
    ap = data["appointments"]
    up = (local_dates(data, "appointments", "scheduled_for") >= a) & ~ap["status"].isin(["cancelled", "no_show"])
    up = ap[up.fillna(False).astype(bool)]
    up_vin = text(up["vin"])
    booked = isin(s["vin"], up_vin[up_vin.ne("")]) | isin(s["customer_id"], up.loc[up_vin.eq(""), "customer_id"])
    s = s[~booked.to_numpy(bool)]
    cols = [
        "customer_id",
        "vin",
        "last_visit",
        "due_date",
        "due_reason",
        "estimated_mileage",
        "last_reading",
        "time_due_date",
        "mileage_due_date",
    ]
    out = attach_vehicle(
        with_contacts(s[cols].reset_index(drop=True), data, p, "due_for_service", excluded), data["vehicles"]
    )
    overdue = (a - out["due_date"]).dt.days
    when = pd.Series(
        np.where(
            overdue > 0,
            "overdue by " + count_words(overdue, "day"),
            np.where(overdue == 0, "due today", "due in " + count_words(-overdue, "day")),
        ),
        index=out.index,
    )
    miles = out["estimated_mileage"].astype("float64")
    miles_words = pd.Series(
        np.where(miles.notna(), "about " + miles.fillna(0).map("{:,.0f}".format).astype("string") + " miles now; ", ""),
        index=out.index,
    )
    why = out["due_reason"].map({"time": "by time", "mileage": "by mileage", "both": "by time and mileage"})
    out["reason"] = (
        "Last service on "
        + fmt_date(out["last_visit"])
        + "; "
        + miles_words
        + "next service "
        + when
        + " ("
        + why
        + ") and nothing booked"
    ).astype("string")
    return out[[*LIST_COLUMNS, "last_visit", "due_date", "due_reason", "estimated_mileage", "reason"]].sort_values(
        ["due_date", "customer_id", "vin"], ascending=[False, True, True], ignore_index=True
    )


def reminder_timing(data: DealerData, p: dict, status: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per service reminder sent in (A − months, A]: the vehicle's due date then, and its timing."""
    a = data.as_of_ts
    cols = [
        "message_id",
        "customer_id",
        "sent_date",
        "sender",
        "channel",
        "key",
        "last_visit",
        "due_date",
        "days_from_due",
        "timing",
    ]
    msgs = data["communications"]
    day = local_dates(data, "communications", "sent_at")
    keep = msgs["category"].eq("service_reminder").fillna(False) & in_window(
        day, months_before(a, p["reminder_timing_months"]), a
    )
    rem = msgs.loc[keep, ["message_id", "customer_id", "sender", "channel", "vin"]].assign(sent_date=day[keep])
    if rem.empty:
        return pd.DataFrame(columns=cols)
    v = _visits(data)
    s = vehicle_status(data, p) if status is None else status
    v = v.merge(s[["key", "rate"]], on="key", how="left")
    # the last reading on or before each visit (same vehicle), for the mileage due date from that visit
    r = v.loc[v["mileage"].notna(), ["key", "visit_date", "mileage"]].rename(
        columns={"visit_date": "reading_date", "mileage": "reading"}
    )
    v = _asof(v.sort_values("visit_date"), r.sort_values("reading_date"), "visit_date", "reading_date", "key")
    days, miles = _intervals(v["service_type"].astype("string"), p)
    n = days_to_reach(miles, v["rate"]).where(v["reading"].notna())
    due = pd.concat(
        [v["visit_date"] + pd.to_timedelta(days, unit="D"), v["reading_date"] + pd.to_timedelta(n, unit="D")], axis=1
    ).min(axis=1)
    v = v.assign(due_date=due, last_visit=v["visit_date"])[
        ["key", "customer_id", "visit_date", "ro_id", "last_visit", "due_date"]
    ]
    v = v.sort_values(["visit_date", "ro_id"], kind="stable")
    rem_vin = text(rem["vin"])
    rem = rem.assign(key=rem_vin.mask(rem_vin.eq(""), pd.NA)).sort_values("sent_date", kind="stable")
    by_vin = rem[rem["key"].notna()].drop(columns=["vin"])
    by_cust = rem[rem["key"].isna()].drop(columns=["vin", "key"])
    parts = []
    if len(by_vin):
        right = v[~v["key"].str.startswith(NO_VIN)][["key", "visit_date", "last_visit", "due_date"]]
        parts.append(_asof(by_vin, right, "sent_date", "visit_date", "key"))
    if len(by_cust):
        right = v[["customer_id", "visit_date", "key", "last_visit", "due_date"]]
        parts.append(_asof(by_cust, right, "sent_date", "visit_date", "customer_id"))
    out = pd.concat(parts, ignore_index=True)
    gap = (out["sent_date"] - out["due_date"]).dt.days
    after = (out["sent_date"] - out["last_visit"]).dt.days
    tol = p["reminder_on_time_days"]
    timing = np.select(
        [
            out["last_visit"].isna().to_numpy(bool),
            (after <= p["reminder_after_visit_days"]).fillna(False).to_numpy(bool),
            (gap < -tol).fillna(False).to_numpy(bool),
            (gap > tol).fillna(False).to_numpy(bool),
        ],
        ["no_history", "after_visit", "too_early", "late"],
        default="on_time",
    )
    out["days_from_due"] = gap.astype("Int64")
    out["timing"] = pd.Series(timing, index=out.index, dtype="string")
    return out[cols].sort_values(["sent_date", "message_id"], ignore_index=True)


def _asof(left: pd.DataFrame, right: pd.DataFrame, left_on: str, right_on: str, by: str) -> pd.DataFrame:
    """Each row of ``left`` with the last row of ``right`` of the same ``by`` on or before its date
    (``pd.merge_asof`` backward), the ``by`` keys matched as integer codes (empty sides allowed)."""
    keys = pd.concat([left[by], right[by]], ignore_index=True)
    if not isinstance(keys.dtype, pd.StringDtype):  # two string columns: hashed by Arrow, no Python objects
        keys = keys.astype("object")
    codes, _ = pd.factorize(keys)
    lc, rc = codes[: len(left)], codes[len(left) :]
    extra = [c for c in right.columns if c != by]
    if len(right) == 0 or len(left) == 0:
        out = left.copy()
        for c in extra:
            out[c] = pd.Series(pd.NA, index=out.index).astype(right[c].dtype)
        return out
    merged = pd.merge_asof(
        left.assign(_by=lc),
        right[extra].assign(_by=rc),
        left_on=left_on,
        right_on=right_on,
        by="_by",
        direction="backward",
    )
    return merged.drop(columns="_by")


def timing_summary(rt: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """Reminders per timing (every timing listed) and the on-time share of the judged ones."""
    counts = rt["timing"].value_counts().reindex(list(TIMINGS), fill_value=0).astype(int)
    judged = int(counts.drop("no_history").sum())
    out = counts.rename("reminders").rename_axis("timing").reset_index()
    return out, ratio(int(counts["on_time"]), judged)


# ---------------------------------------------------------------------------------------------
# Declined work
# ---------------------------------------------------------------------------------------------


def _declined(data: DealerData) -> pd.DataFrame:
    dw = data["declined_work"]
    out = dw.assign(
        declined_date=local_dates(data, "declined_work", "declined_at"), vin=text(dw["vin"]).replace("", pd.NA)
    )
    return out[out["declined_date"].notna()].reset_index(drop=True)


def _came_back(items: pd.DataFrame, data: DealerData, upper: pd.Series) -> pd.Series:
    """Per item (index aligned): a visit of its vin (of its customer when no vin) in (declined_date, upper]."""
    v = data["service_visits"][["customer_id", "vin", "visit_date"]].dropna(subset=["visit_date"])
    it = items.assign(_row=np.arange(len(items)), _upper=upper.to_numpy())
    hits = []
    with_vin = it[it["vin"].notna()]
    if len(with_vin):
        m = with_vin[["_row", "vin", "declined_date", "_upper"]].merge(v[["vin", "visit_date"]].dropna(), on="vin")
        hits.append(m.loc[(m["visit_date"] > m["declined_date"]) & (m["visit_date"] <= m["_upper"]), "_row"])
    no_vin = it[it["vin"].isna()]
    if len(no_vin):
        m = no_vin[["_row", "customer_id", "declined_date", "_upper"]].merge(
            v[["customer_id", "visit_date"]], on="customer_id"
        )
        hits.append(m.loc[(m["visit_date"] > m["declined_date"]) & (m["visit_date"] <= m["_upper"]), "_row"])
    rows = np.unique(np.concatenate([h.to_numpy(dtype="int64") for h in hits])) if hits else np.array([], dtype="int64")
    return pd.Series(np.isin(np.arange(len(items)), rows), index=items.index)


def declined_work_recovery(data: DealerData, p: dict) -> tuple[float | None, str | None]:
    why = missing(data, "declined_work") or missing(data, "service_visits")
    if why:
        return None, why
    a, d = data.as_of_ts, int(p["declined_days"])
    items = _declined(data)
    items = items[in_window(items["declined_date"], a - pd.Timedelta(days=2 * d), a - pd.Timedelta(days=d))]
    if items.empty:
        return None, None
    back = _came_back(items, data, items["declined_date"] + pd.Timedelta(days=d))
    return ratio(int(back.sum()), len(items)), None


def declined_work_list(data: DealerData, p: dict, excluded: dict) -> pd.DataFrame:
    """Work declined in (A − days, A] with no later visit up to A, consenting customers."""
    cols = [
        "ro_id",
        "customer_id",
        "vin",
        "declined_at",
        "description",
        "amount",
        "name",
        "contact",
        "channel",
        "reason",
    ]
    a, d = data.as_of_ts, int(p["declined_days"])
    items = _declined(data)
    items = items[in_window(items["declined_date"], a - pd.Timedelta(days=d), a)].reset_index(drop=True)
    items = items[~_came_back(items, data, pd.Series(a, index=items.index)).to_numpy(bool)]
    items = items.assign(declined_at=wall_clock(items["declined_at"], data.timezone))
    out = with_contacts(
        items[["ro_id", "customer_id", "vin", "declined_at", "declined_date", "description", "amount"]],
        data,
        p,
        "declined_work",
        excluded,
    )
    ago = (a - out["declined_date"]).dt.days
    what = text(out["description"]).mask(text(out["description"]).eq(""), "recommended work")
    amount = pd.Series(
        np.where(
            out["amount"].notna(), " ($" + out["amount"].fillna(0).map("{:,.2f}".format).astype("string") + ")", ""
        ),
        index=out.index,
    )
    out["reason"] = (
        "Declined "
        + what
        + amount
        + " on "
        + fmt_date(out["declined_date"])
        + ", "
        + count_words(ago, "day")
        + " ago; not back since"
    ).astype("string")
    return out[cols].sort_values(["declined_at", "ro_id"], ascending=[False, True], ignore_index=True)


def declined_by_description(data: DealerData, p: dict) -> pd.DataFrame:
    cols = ["description", "items", "amount", "still_open"]
    a = data.as_of_ts
    items = _declined(data)
    items = items[in_window(items["declined_date"], months_before(a, p["segment_active_months"]), a)].reset_index(
        drop=True
    )
    if items.empty:
        return pd.DataFrame(columns=cols)
    desc = text(items["description"])
    key = desc.str.lower().str.replace(r"\s+", " ", regex=True)
    shown = desc.groupby(key).transform("first").mask(key.eq(""), "(no description)")
    items = items.assign(description=shown, open=~_came_back(items, data, pd.Series(a, index=items.index)))
    g = items.groupby("description").agg(items=("ro_id", "size"), amount=("amount", "sum"), still_open=("open", "sum"))
    g = g.reset_index().astype({"items": int, "still_open": int})
    return g.sort_values(["amount", "items", "description"], ascending=[False, False, True], ignore_index=True)[cols]


# ---------------------------------------------------------------------------------------------
# Retention by vehicle age band
# ---------------------------------------------------------------------------------------------


def age_band_labels(edges) -> list[str]:
    edges = [int(e) for e in edges]
    lows = [0, *edges]
    return [f"{lo}-{hi - 1} years" for lo, hi in zip(lows, edges)] + [f"{lows[-1]}+ years"]


def vehicle_bands(data: DealerData, p: dict) -> pd.Series:
    """vin -> age band at A (by model_year; a model year after A's year is age 0)."""
    veh = data["vehicles"][["vin", "model_year"]].dropna().drop_duplicates("vin")
    age = (data.as_of.year - veh["model_year"].astype("int64")).clip(lower=0)
    edges = [int(e) for e in p["vehicle_age_bands"]]
    labels = age_band_labels(edges)
    idx = np.searchsorted(np.array(edges), age.to_numpy(), side="right")
    return pd.Series(np.array(labels, dtype=object)[idx], index=veh["vin"].astype("string").to_numpy(), dtype="string")


def age_bands(data: DealerData, p: dict) -> pd.DataFrame:
    cols = [
        "age_band",
        "sold_vehicles",
        "back_within_first_year",
        "first_year_retention",
        "serviced_vehicles",
        "back_in_last_12m",
        "retention_12m",
    ]
    labels = age_band_labels(p["vehicle_age_bands"])
    band = vehicle_bands(data, p)
    a, months = data.as_of_ts, p["retention_window_months"]
    lo, mid = months_before(a, 2 * months), months_before(a, months)
    visits = data["service_visits"][["vin", "visit_date"]].dropna()
    sales = data["sales"]
    sold = sales[in_window(sales["sale_date"], lo, mid)]
    sold = sold.loc[text(sold["vin"]).ne(""), ["vin", "sale_date"]]
    pairs = sold.merge(visits, on="vin")
    end = pairs["sale_date"] + pd.DateOffset(months=int(months))
    back1 = pairs.loc[(pairs["visit_date"] > pairs["sale_date"]) & (pairs["visit_date"] <= end), "vin"].unique()
    before = visits.loc[in_window(visits["visit_date"], lo, mid), "vin"].unique()
    recent = visits.loc[in_window(visits["visit_date"], mid, a), "vin"].unique()
    f = pd.DataFrame({"vin": pd.Series(sold["vin"].unique(), dtype="string")})
    f["back"] = isin(f["vin"], back1).to_numpy(bool)
    r = pd.DataFrame({"vin": pd.Series(before, dtype="string")})
    r["back"] = isin(r["vin"], recent).to_numpy(bool)
    rows = []
    bands = pd.DataFrame({"vin": pd.Series(band.index, dtype="string"), "band": band.to_numpy()})
    f, r = (x.merge(bands, on="vin", how="left") for x in (f, r))
    for frame in (f, r):
        frame["band"] = frame["band"].astype("string").fillna("unknown model year")
    for lab in [*labels, "unknown model year"]:
        fb, rb = f[f["band"].eq(lab)], r[r["band"].eq(lab)]
        if lab == "unknown model year" and fb.empty and rb.empty:
            continue
        rows.append(
            (
                lab,
                len(fb),
                int(fb["back"].sum()),
                ratio(int(fb["back"].sum()), len(fb)),
                len(rb),
                int(rb["back"].sum()),
                ratio(int(rb["back"].sum()), len(rb)),
            )
        )
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------------------


def _kpis(data: DealerData, p: dict) -> tuple[dict, dict, pd.DataFrame]:
    """(the service KPIs at ``data.as_of``, why any was skipped, each customer's segment)."""
    skipped: dict[str, str] = {}
    seg = segments_at(data, data.as_of_ts, p)
    kpis: dict[str, float | None] = segment_kpis(seg)
    no_history = (
        None if (data.has("sales") or data.has("service_visits")) else "neither sales nor service_visits in the data"
    )
    if no_history:
        skipped.update({k: no_history for k in kpis} | {"segment_flow": no_history, "recently_lost": no_history})
    kpis["declined_work_recovery_90d"], why = declined_work_recovery(data, p)
    if why:
        skipped["declined_work_recovery_90d"] = why
    return kpis, skipped, seg


def kpi_values(data: DealerData, p: dict) -> tuple[dict, dict]:
    """(the service KPIs at ``data.as_of``, why any was skipped): what a report shows and what
    ``ownercomm history`` records per month-end (``p``: params['retention'])."""
    kpis, skipped, _ = _kpis(data, p)
    return kpis, skipped


def compute(data: DealerData, p: dict) -> ServiceResult:
    """Every service-intelligence figure and list of SPEC §5 for one dealer (``p``: params['retention'])."""
    excluded: dict[str, int] = {}
    kpis, skipped, seg = _kpis(data, p)
    status = vehicle_status(data, p)
    needs = {
        "recently_lost": missing(data, "service_visits"),
        "due_for_service": missing(data, "service_visits"),
        "declined_work": missing(data, "declined_work"),
        "declined_by_description": missing(data, "declined_work"),
        "age_bands": missing(data, "vehicles", ("model_year",)) or missing(data, "service_visits", ("vin",)),
    }
    skipped.update({k: v for k, v in needs.items() if v and k not in skipped})
    return ServiceResult(
        kpis=kpis,
        segments=seg,
        segment_flow=segment_flow(data, p, seg),
        recently_lost=recently_lost(data, p, seg, excluded),
        vehicles=status,
        due_for_service=due_for_service(data, p, excluded, status),
        declined_work=declined_work_list(data, p, excluded),
        declined_by_description=declined_by_description(data, p),
        age_bands=age_bands(data, p),
        skipped=skipped,
        excluded=excluded,
        definitions=definitions(p),
    )
