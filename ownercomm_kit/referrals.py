"""Referral analytics (SPEC §6): KPIs, volume, funnel, incentives, advocates, follow-ups, anomalies.

Same reading of windows as ``retention`` (see its docstring): A = as_of, (x, y] windows,
calendar months via ``pd.DateOffset``, timestamps compared by their date in the dealer's
timezone, except ``first_contact_at - referred_at <= 24 hours`` which is measured in hours.
A ratio with an empty denominator is ``None``; a missing referrals table makes every KPI
``None`` and ``skipped`` says so (a dealer without a referral programme is normal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from . import words
from .data import DealerData
from .kpis.common import all_contacts, in_window, isin, local_dates, missing, months_before, ratio, text

KPI_KEYS = (
    "referrals_12m",
    "advocate_rate_12m",
    "referral_conversion_12m",
    "first_contact_24h_share",
    "acknowledgment_rate",
    "referral_revenue_12m",
)

STAGES = ("new", "contacted", "appointment", "sold")
INCENTIVES = ("transactional", "experiential", "recognition", "altruistic")

# Plain-words definitions shown in the report; {placeholders} are the dealer's parameters.
DEFINITION_TEMPLATES: dict[str, str] = {
    "referrals_12m": "Referrals received in the last {window_months} months.",
    "advocate_rate_12m": (
        "Customers who referred someone in the last {window_months} months, as a share of the customers who "
        "bought or had a service visit in the last {window_months} months (an advocate who did neither still counts)."
    ),
    "referral_conversion_12m": "Share of the last {window_months} months' referrals that ended in a sale.",
    "first_contact_24h_share": (
        "Share of the last {window_months} months' referrals whose first contact came at most "
        "{first_contact_hours} hours after the referral (not contacted at all counts as not within)."
    ),
    "acknowledgment_rate": "Share of the last {window_months} months' referrals whose advocate was thanked (an acknowledgment is recorded).",
    "referral_revenue_12m": (
        "Sales price of the vehicles sold through referrals, counting referrals sold in the last "
        "{window_months} months (each sale once)."
    ),
    "monthly": "Referrals received per calendar month, with how many were contacted within {first_contact_hours} hours "
    "and how many were sold.",
    "funnel": (
        "The last {window_months} months' referrals by the furthest stage they reached: new, contacted, appointment, sold. "
        "A referral counts in every stage up to the one it reached (a sold referral was also contacted); "
        "a lost referral counts as new, and as contacted when a first contact is recorded."
    ),
    "by_incentive": (
        "Per incentive category (transactional, experiential, recognition, altruistic): referrals of the "
        "last {window_months} months, sales, conversion, rewards recorded on those referrals, and rewards per sale."
    ),
    "top_advocates": "Customers who sent the most referrals in the last {window_months} months, ranked by sales, then referrals.",
    "followups": (
        "Referrals to act on now: those of the last {window_months} months still not contacted more than "
        "{first_contact_hours} hours after they came in (call the person referred), and sold referrals whose "
        "advocate was not yet thanked."
    ),
    "anomalies": (
        "Referrals to check: self-referrals (the person referred is the advocate, or has the advocate's email "
        "or phone number, or is a customer of the advocate's household, found by customer id, email or phone) "
        "and people referred by several advocates (same customer id, email or phone number)."
    ),
}


def definitions(p: dict) -> dict[str, str]:
    """The definitions with the dealer's parameters (``params["referrals"]``) filled in."""
    return {k: v.format(**p) for k, v in DEFINITION_TEMPLATES.items()}


def _default_definitions() -> dict[str, str]:
    try:
        from .params import load_defaults

        return definitions(load_defaults()["referrals"])
    except Exception:  # no defaults.yaml reachable: the templates still read as text
        return dict(DEFINITION_TEMPLATES)


DEFINITIONS: dict[str, str] = _default_definitions()


@dataclass
class ReferralResult:
    as_of: dt.date
    kpis: dict[str, float | int | None]
    monthly: pd.DataFrame
    funnel: pd.DataFrame
    by_incentive: pd.DataFrame
    top_advocates: pd.DataFrame
    followups: pd.DataFrame
    anomalies: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=lambda: dict(DEFINITIONS))
    notes: dict[str, str] = field(default_factory=dict)  # section -> what was computed only in part, and why


def _window(data: DealerData, p: dict) -> pd.DataFrame:
    """Referrals with referred_at in (A - window_months, A], by local date."""
    a = data.as_of_ts
    r = data["referrals"]
    day = local_dates(data, "referrals", "referred_at")
    return r[in_window(day, months_before(a, p["window_months"]), a)]


def _contacted_within(r: pd.DataFrame, hours: float) -> pd.Series:
    """first_contact_at - referred_at <= hours (an uncontacted referral is not within)."""
    return ((r["first_contact_at"] - r["referred_at"]) <= pd.Timedelta(hours=hours)).fillna(False).astype(bool)


def kpis(data: DealerData, params: dict) -> tuple[dict, dict]:
    p = params["referrals"]
    out: dict[str, float | int | None] = dict.fromkeys(KPI_KEYS)
    skipped: dict[str, str] = {}
    why = missing(data, "referrals")
    if why:
        return out, dict.fromkeys(KPI_KEYS, why)
    r = _window(data, p)
    n = len(r)
    out["referrals_12m"] = n
    out["advocate_rate_12m"], why = _advocate_rate(data, r, p)
    if why:
        skipped["advocate_rate_12m"] = why
    column_kpis = {
        "referral_conversion_12m": ("status", lambda: int(r["status"].eq("sold").sum())),
        "first_contact_24h_share": (
            "first_contact_at",
            lambda: int(_contacted_within(r, p["first_contact_hours"]).sum()),
        ),
        "acknowledgment_rate": ("acknowledged_at", lambda: int(r["acknowledged_at"].notna().sum())),
    }
    for key, (column, numerator) in column_kpis.items():
        why = missing(data, "referrals", (column,))
        if why:
            skipped[key] = why
        else:
            out[key] = ratio(numerator(), n)
    why = missing(data, "referrals", ("status", "sold_at", "sale_id")) or missing(data, "sales", ("price",))
    if why:
        skipped["referral_revenue_12m"] = why
    else:
        sold = _sold_in_window(data, p)
        sales = data["sales"].drop_duplicates("sale_id")
        out["referral_revenue_12m"] = float(sales.loc[isin(sales["sale_id"], sold["sale_id"]), "price"].sum())
    return out, skipped


def _sold_in_window(data: DealerData, p: dict) -> pd.DataFrame:
    a = data.as_of_ts
    r = data["referrals"]
    sold_day = local_dates(data, "referrals", "sold_at")
    return r[r["status"].eq("sold").fillna(False) & in_window(sold_day, months_before(a, p["window_months"]), a)]


def partial_notes(data: DealerData, p: dict) -> dict[str, str]:
    """Figures computed with part of the data missing: what the reader should know."""
    notes = {}
    if data.has("referrals") and data.has("sales") != data.has("service_visits"):
        only = "sales" if data.has("sales") else "service visits"
        notes["advocate_rate_12m"] = f"active customers counted from {only} only (the other table is missing)"
    if data.has("referrals") and data.has("sales", "price") and data.has("referrals", "sale_id"):
        sold = _sold_in_window(data, p)
        prices = data["sales"].dropna(subset=["price"])
        unmatched = int((~isin(sold["sale_id"], prices["sale_id"])).sum())
        if unmatched:
            notes["referral_revenue_12m"] = (
                f"{words.plural(unmatched, 'sold referral')} "
                f"{'has' if unmatched == 1 else 'have'} no sale number matching a sale "
                "with a price: their revenue is not counted"
            )
    return notes


def _advocate_rate(data: DealerData, r: pd.DataFrame, p: dict) -> tuple[float | None, str | None]:
    if not data.has("sales") and not data.has("service_visits"):
        return None, "neither a sales nor a service_visits table in the data"
    a = data.as_of_ts
    lo = months_before(a, p["window_months"])
    s, v = data["sales"], data["service_visits"]
    active = pd.concat(
        [
            s.loc[in_window(s["sale_date"], lo, a), "customer_id"],
            v.loc[in_window(v["visit_date"], lo, a), "customer_id"],
        ]
    ).nunique()
    return ratio(r["referrer_id"].nunique(), active), None


def _stage(r: pd.DataFrame) -> pd.Series:
    """Furthest funnel stage index reached (0 new .. 3 sold); see DEFINITIONS['funnel']."""
    rank = r["status"].map({"new": 0, "contacted": 1, "appointment": 2, "sold": 3}).astype("Float64").fillna(0)
    contacted = r["first_contact_at"].notna().astype(int)
    return pd.concat([rank.astype(int), contacted], axis=1).max(axis=1)


def funnel(r: pd.DataFrame) -> pd.DataFrame:
    stage = _stage(r)
    counts = [int((stage >= i).sum()) for i in range(len(STAGES))]
    out = pd.DataFrame({"stage": list(STAGES), "referrals": counts})
    total = counts[0]
    out["share_of_referrals"] = [ratio(c, total) for c in counts]
    out["share_of_previous"] = [None] + [ratio(c, prev) for prev, c in zip(counts, counts[1:])]
    for col in ("share_of_referrals", "share_of_previous"):
        out[col] = out[col].astype("float64")
    return out


def monthly(data: DealerData, p: dict) -> pd.DataFrame:
    a = data.as_of_ts
    r = data["referrals"]
    day = local_dates(data, "referrals", "referred_at")
    first = (a - pd.DateOffset(months=int(p["monthly_months"]) - 1)).to_period("M")
    months = pd.period_range(first, a.to_period("M"), freq="M")
    keep = ((day >= first.start_time) & (day <= a)).fillna(False).astype(bool)
    r, month = r[keep], day[keep].dt.to_period("M")
    frame = pd.DataFrame(
        {
            "month": month,
            "referrals": 1,
            "contacted_24h": _contacted_within(r, p["first_contact_hours"]).astype(int),
            "sold": r["status"].eq("sold").fillna(False).astype(int),
        }
    )
    g = frame.groupby("month").sum().reindex(months, fill_value=0)
    g.index = g.index.to_timestamp()
    g.index.name = "month"
    return g.astype(int).reset_index()


def by_incentive(data: DealerData, r: pd.DataFrame) -> pd.DataFrame:
    cat = r["incentive_category"].astype("string").fillna("unknown")
    frame = pd.DataFrame(
        {
            "incentive_category": cat,
            "referrals": 1,
            "sold": r["status"].eq("sold").fillna(False).astype(int),
            "reward_spent": r["reward_value"].fillna(0.0),
        }
    )
    g = frame.groupby("incentive_category").sum()
    order = [*INCENTIVES, *sorted(set(g.index) - set(INCENTIVES))]
    g = g.reindex(order, fill_value=0).reset_index()
    g[["referrals", "sold"]] = g[["referrals", "sold"]].astype(int)
    g["reward_spent"] = g["reward_spent"].astype("float64")
    if not data.has("referrals", "reward_value"):
        g["reward_spent"] = float("nan")
    g["conversion"] = g["sold"] / g["referrals"].where(g["referrals"] > 0)
    g["cost_per_sale"] = g["reward_spent"] / g["sold"].where(g["sold"] > 0)
    return g[["incentive_category", "referrals", "sold", "conversion", "reward_spent", "cost_per_sale"]]


def top_advocates(data: DealerData, r: pd.DataFrame, p: dict) -> pd.DataFrame:
    sales = data["sales"].drop_duplicates("sale_id")[["sale_id", "price"]]
    frame = r[["referrer_id", "status", "sale_id", "reward_value"]].merge(sales, on="sale_id", how="left")
    sold = frame["status"].eq("sold").fillna(False)
    g = (
        pd.DataFrame(
            {
                "customer_id": frame["referrer_id"],
                "referrals": 1,
                "sold": sold.astype(int),
                "revenue": frame["price"].where(sold, 0.0).fillna(0.0),
                "rewards": frame["reward_value"].fillna(0.0),
            }
        )
        .groupby("customer_id")
        .sum()
        .reset_index()
    )
    contacts = all_contacts(data, params_fallback(p))
    contacts = contacts.loc[isin(contacts["customer_id"], g["customer_id"]), ["customer_id", "name"]]
    g = g.merge(contacts, on="customer_id", how="left")
    g["name"] = g["name"].fillna("")
    g = g.sort_values(["sold", "referrals", "customer_id"], ascending=[False, False, True], ignore_index=True)
    return g[["customer_id", "name", "referrals", "sold", "revenue", "rewards"]].head(int(p["top_advocates"]))


def params_fallback(p: dict) -> list[str]:
    return p.get("contact_fallback", ["phone", "email", "sms", "mail"])


def _people(data: DealerData, r: pd.DataFrame, p: dict) -> pd.DataFrame:
    """Referrals with the advocate's name and contact and the referred person's contact."""
    contacts = all_contacts(data, params_fallback(p))
    contacts = contacts[isin(contacts["customer_id"], r["referrer_id"])].drop(columns="reachable")
    contacts = contacts.rename(
        columns={
            "customer_id": "referrer_id",
            "name": "referrer_name",
            "channel": "referrer_channel",
            "contact": "referrer_contact",
        }
    )
    out = r.merge(contacts, on="referrer_id", how="left")
    phone, email = text(out["referred_phone"]), text(out["referred_email"])
    out["referred_contact"] = phone.where(phone.ne(""), email)
    # an advocate without a name on file (or unknown) is shown by customer id
    out["referrer_name"] = text(out["referrer_name"]).mask(
        text(out["referrer_name"]).eq(""), "customer " + text(out["referrer_id"])
    )
    return out


FOLLOWUP_COLUMNS = [
    "referral_id",
    "action",
    "reason",
    "referrer_id",
    "referrer_name",
    "referrer_channel",
    "referrer_contact",
    "referred_name",
    "referred_contact",
    "referred_at",
    "first_contact_at",
    "sold_at",
    "hours_waiting",
]


def followups(data: DealerData, p: dict) -> tuple[pd.DataFrame, str | None]:
    """Uncontacted referrals past the 24-hour mark, and sold referrals not yet acknowledged.

    "Now" is the end of the report date A (midnight after A, dealer's timezone); hours_waiting
    runs from referred_at (not contacted) or from sold_at (not thanked).
    """
    a = data.as_of_ts
    now = (a + pd.Timedelta(days=1)).tz_localize(data.timezone, ambiguous=True, nonexistent="shift_forward")
    hours = float(p["first_contact_hours"])
    r = _people(data, _window(data, p), p)
    waiting = (now - r["referred_at"]).dt.total_seconds() / 3600
    parts, why = [], []
    if data.has("referrals", "first_contact_at"):
        open_ = r["status"].isna() | r["status"].eq("new").fillna(False)
        late = r[open_.astype(bool) & r["first_contact_at"].isna() & (waiting > hours).fillna(False)]
        parts.append(
            late.assign(
                hours_waiting=waiting[late.index],
                action="contact_referred",
                reason="Referred by "
                + late["referrer_name"]
                + " on "
                + late["referred_at"].dt.strftime("%Y-%m-%d %H:%M")
                + " and still not contacted after "
                + _waited(waiting[late.index]),
            )
        )
    else:
        why.append("no first_contact_at column: uncontacted referrals cannot be listed")
    if data.has("referrals", "acknowledged_at") and data.has("referrals", "status"):
        # referred or sold within the window: a sale closed this year on an older referral still deserves thanks
        all_r = data["referrals"]
        lo = months_before(a, p["window_months"])
        recent = in_window(local_dates(data, "referrals", "referred_at"), lo, a) | in_window(
            local_dates(data, "referrals", "sold_at"), lo, a
        )
        thank = all_r[recent & all_r["status"].eq("sold").fillna(False) & all_r["acknowledged_at"].isna()]
        thank = _people(data, thank, p)
        sold_on = thank["sold_at"].dt.strftime("%Y-%m-%d").astype("string").fillna("an unknown date")
        who = text(thank["referred_name"]).mask(text(thank["referred_name"]).eq(""), "the person referred")
        parts.append(
            thank.assign(
                action="thank_advocate",
                reason="Sold on " + sold_on + " to " + who + "; " + thank["referrer_name"] + " has not been thanked",
                hours_waiting=(now - thank["sold_at"]).dt.total_seconds() / 3600,
            )
        )
    else:
        why.append("no acknowledged_at or status column: unthanked advocates cannot be listed")
    out = (
        pd.concat(parts, ignore_index=True) if parts else r.head(0).assign(action=None, reason=None, hours_waiting=0.0)
    )
    out["hours_waiting"] = out["hours_waiting"].astype("float64").round(1)
    for col in ("action", "reason"):
        out[col] = out[col].astype("string")
    out = out[FOLLOWUP_COLUMNS].sort_values(["action", "referred_at", "referral_id"], ignore_index=True)
    return out, "; ".join(why) or None


def _waited(hours: pd.Series) -> pd.Series:
    """'30 hours' up to two days, then '5 days'."""
    h = hours.astype("float64")
    in_days = (h // 24).astype("int64").astype(str) + " days"
    return in_days.where(h >= 48, (h // 1).astype("int64").astype(str) + " hours")


def normalise_phone(s: pd.Series) -> pd.Series:
    """Digits only; a leading US country code 1 on 11 digits dropped; blank when none."""
    digits = text(s).str.replace(r"\D", "", regex=True)
    return digits.where(~((digits.str.len() == 11) & digits.str.startswith("1")), digits.str[1:])


def normalise_email(s: pd.Series) -> pd.Series:
    return text(s).str.lower()


ANOMALY_COLUMNS = [
    "referral_id",
    "anomaly",
    "matched_on",
    "referrer_id",
    "referrer_name",
    "referred_name",
    "referred_at",
    "detail",
]


def anomalies(data: DealerData, p: dict) -> pd.DataFrame:
    """Self-referrals and people referred by several advocates, over all referrals up to A."""
    a = data.as_of_ts
    r = data["referrals"]
    r = r[(local_dates(data, "referrals", "referred_at") <= a).fillna(False)]
    cust = data["customers"]
    r = r.assign(
        _email=normalise_email(r["referred_email"]),
        _phone=normalise_phone(r["referred_phone"]),
        _cid=text(r["referred_customer_id"]),
    )
    adv = pd.DataFrame(
        {
            "referrer_id": cust["customer_id"],
            "a_email": normalise_email(cust["email"]),
            "a_phone": normalise_phone(cust["phone"]),
            "a_house": text(cust["household_id"]),
        }
    )
    x = r.merge(adv.drop_duplicates("referrer_id"), on="referrer_id", how="left")
    x["r_cid"] = _referred_customer(x, cust)
    houses = pd.Series(text(cust["household_id"]).to_numpy(), index=text(cust["customer_id"]).to_numpy())
    x["r_house"] = x["r_cid"].map(houses[~houses.index.duplicated()]).astype("string").fillna("")
    x = _people(data, x, p)
    checks = {
        "same customer": x["_cid"].ne("") & x["_cid"].eq(text(x["referrer_id"])),
        "email": x["_email"].ne("") & x["_email"].eq(x["a_email"].fillna("")),
        "phone": x["_phone"].ne("") & x["_phone"].eq(x["a_phone"].fillna("")),
        # another customer of the advocate's household (the advocate themselves is caught above)
        "household": x["a_house"].fillna("").ne("")
        & x["a_house"].eq(x["r_house"])
        & x["r_cid"].ne(text(x["referrer_id"])),
    }
    hits = pd.DataFrame({k: v.fillna(False).astype(bool) for k, v in checks.items()})
    matched = pd.Series("", index=hits.index, dtype="string")
    for label in hits.columns:
        matched = matched + pd.Series(hits[label].map({True: label + ", ", False: ""}), dtype="string")
    matched = matched.str.removesuffix(", ")
    self_ref = x[hits.any(axis=1)].assign(anomaly="self_referral", matched_on=matched[hits.any(axis=1)])
    self_ref = self_ref.assign(
        detail=[
            _self_detail(adv_name, name, on)
            for adv_name, name, on in zip(
                self_ref["referrer_name"], text(self_ref["referred_name"]), self_ref["matched_on"]
            )
        ]
    )
    several = _several_advocates(x)
    out = pd.concat([self_ref, several], ignore_index=True)
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in ANOMALY_COLUMNS})
    for col in ("anomaly", "matched_on", "detail", "referred_name"):
        out[col] = out[col].astype("string")
    return out[ANOMALY_COLUMNS].sort_values(["anomaly", "referred_at", "referral_id"], ignore_index=True)


def _referred_customer(x: pd.DataFrame, cust: pd.DataFrame) -> pd.Series:
    """The customer id of the person referred: referred_customer_id, else the customer with the
    same email, else with the same phone (the first one when several share it); blank if none."""
    ids = text(cust["customer_id"])
    out = pd.Series("", index=x.index, dtype="string")
    for key, theirs in (
        ("_cid", ids),
        ("_email", normalise_email(cust["email"])),
        ("_phone", normalise_phone(cust["phone"])),
    ):
        lookup = pd.Series(ids.to_numpy(), index=theirs.to_numpy())
        lookup = lookup[(lookup.index != "") & ~lookup.index.duplicated()]
        out = out.mask(out.eq(""), x[key].map(lookup).astype("string").fillna(""))
    return out


def _self_detail(advocate: str, referred: str, matched_on: str) -> str:
    who = advocate or "The advocate"
    if "same customer" in matched_on:
        return f"{who} referred themselves (the referred customer id is their own)"
    return f"{who} referred {referred or 'someone'}, who has the same {matched_on.replace(', ', ' and ')}"


def _several_advocates(x: pd.DataFrame) -> pd.DataFrame:
    """Referrals whose person (by referred customer id, email or phone) was referred by 2+ advocates."""
    parts = []
    for key, label in (("_cid", "customer id"), ("_email", "email"), ("_phone", "phone")):
        k = x.loc[x[key].ne(""), ["referral_id", key, "referrer_id", "referrer_name"]].rename(columns={key: "person"})
        dup = k[k.groupby("person")["referrer_id"].transform("nunique") > 1]
        names = dup.groupby("person")["referrer_name"].agg(lambda s: set(s.fillna("")) - {""})
        parts.append(
            pd.DataFrame({"referral_id": dup["referral_id"], "label": label, "names": dup["person"].map(names)})
        )
    found = pd.concat(parts, ignore_index=True)
    if found.empty:
        return x.head(0).assign(anomaly=None, matched_on=None, detail=None)
    per = found.groupby("referral_id", sort=False).agg(
        matched_on=("label", ", ".join),  # parts come in the order customer id, email, phone
        names=("names", lambda sets: sorted(set().union(*sets))),
    )
    rows = x[isin(x["referral_id"], per.index)].copy()
    rows["anomaly"] = "several_advocates"
    rows["matched_on"] = rows["referral_id"].map(per["matched_on"])
    rows["detail"] = [
        f"{name or 'This person'} was referred by several advocates: " + (", ".join(names) or "(unnamed)")
        for name, names in zip(text(rows["referred_name"]), rows["referral_id"].map(per["names"]))
    ]
    return rows


def compute(data: DealerData, params: dict) -> ReferralResult:
    """Every referral KPI, chart frame and list of SPEC §6 for one dealer."""
    p = {
        **params["referrals"],
        "contact_fallback": params.get("retention", {}).get("contact_fallback", ["phone", "email", "sms", "mail"]),
    }
    k, skipped = kpis(data, params)
    r = _window(data, p)
    follow, why = followups(data, p)
    if missing(data, "referrals"):
        skipped.update(
            dict.fromkeys(
                ("monthly", "funnel", "by_incentive", "top_advocates", "followups", "anomalies"),
                missing(data, "referrals"),
            )
        )
    elif why:
        skipped["followups"] = why
    if not missing(data, "referrals") and missing(data, "referrals", ("incentive_category",)):
        skipped["by_incentive"] = missing(data, "referrals", ("incentive_category",))
    return ReferralResult(
        as_of=data.as_of,
        kpis=k,
        monthly=monthly(data, p),
        funnel=funnel(r),
        by_incentive=by_incentive(data, r),
        top_advocates=top_advocates(data, r, p),
        followups=follow,
        anomalies=anomalies(data, p),
        skipped=skipped,
        definitions=definitions(p),
        notes={k: v for k, v in partial_notes(data, p).items() if k not in skipped},
    )
