"""Test helpers for synthetic dealers: an independent, deliberately plain reading of SPEC §4.

``check_clean`` is written from the SPEC's table, not from synth's construction nor from the
audit engine, and is brute force (per customer, in pandas and small loops): slow but obvious.
It is stricter than the SPEC where the SPEC could be read two ways (exempt messages count
as senders for multi_sender), so a clean base passes whichever reading the engine takes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pandas as pd

from ownercomm_kit.data import DealerData, from_frames

AS_OF = dt.date(2026, 10, 31)


def dealer_data(frames: dict, dealer_id: str, zone: str, as_of=AS_OF) -> DealerData:
    return from_frames(frames, timezone=zone, as_of=as_of, dealer_id=dealer_id)


def audit_flags(data: DealerData, params: dict) -> pd.DataFrame:
    from ownercomm_kit.audit import run_rules

    return run_rules(data, params)[0]


def _hours(text: str) -> float:
    h, m = str(text).split(":")
    return int(h) + int(m) / 60


def check_clean(frames: dict, params: dict, tz: str) -> dict[str, set]:
    """Rule -> message_ids that break it (an empty dict means no rule is broken)."""
    r = params["rules"]
    exempt = set(params["audit"]["exempt_categories"])
    m = frames["communications"].sort_values(["customer_id", "sent_at", "message_id"], ignore_index=True)
    cust = frames["customers"].set_index("customer_id")
    m = m.merge(cust, left_on="customer_id", right_index=True, how="left", suffixes=("", "_cust"))
    m = m.reset_index(drop=True)  # (a merge on the right's index may carry that index over)
    m["date"] = m["sent_at"].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    m["counted"] = ~m["category"].isin(exempt)
    out: dict[str, set] = defaultdict(set)

    def flag(rule: str, mask) -> None:
        ids = set(m.loc[np.asarray(mask, dtype=bool), "message_id"])
        if ids:
            out[rule] |= ids

    ne = m["counted"].to_numpy()
    ch = m["channel"]
    # no_consent
    bad = (
        ((ch == "sms") & ~m["sms_consent"].fillna(False))
        | ((ch == "email") & m["email_opt_in"].eq(False).fillna(False))
        | ((ch == "phone") & m["phone_dnc"].fillna(False))
        | ((ch == "mail") & m["mail_opt_out"].fillna(False))
    )
    flag("no_consent", ne & bad.to_numpy())
    # quiet_hours (exempt categories too), in the customer's zone else the dealer's
    zone = m["timezone"].fillna(tz)
    local = pd.Series(np.nan, index=m.index)
    for z, idx in m.groupby(zone).groups.items():
        t = m.loc[idx, "sent_at"].dt.tz_convert(z)
        local.loc[idx] = t.dt.hour + t.dt.minute / 60 + t.dt.second / 3600
    qh = r["quiet_hours"]
    flag("quiet_hours", ch.isin(qh["channels"]) & ((local < _hours(qh["start"])) | (local >= _hours(qh["end"]))))
    # non_preferred_channel
    pref = m["preferred_channel"]
    flag(
        "non_preferred_channel",
        ne & (m["category"].isin(r["non_preferred_channel"]["categories"]) & pref.notna() & (pref != ch)).fillna(False),
    )
    # duplicate_campaign
    has = m["campaign_id"].notna() & ne
    dup = m[has].duplicated(["customer_id", "channel", "campaign_id"], keep="first")
    flag("duplicate_campaign", m.index.isin(dup[dup].index))
    # conquest_to_owner
    sales, vehicles = frames["sales"], frames["vehicles"]
    first_sale = sales.groupby("customer_id")["sale_date"].min()
    owner = m["customer_id"].isin(vehicles["customer_id"]) | (m["date"] >= m["customer_id"].map(first_sale)).fillna(
        False
    )
    flag("conquest_to_owner", ne & (m["category"] == "conquest") & owner)
    # purchases
    j = m[ne].reset_index().merge(sales, on="customer_id", suffixes=("", "_sale"))
    age = (j["date"] - j["sale_date"]).dt.days
    pap = r["promo_after_purchase"]
    flag(
        "promo_after_purchase",
        m.index.isin(j.loc[j["category"].isin(pap["categories"]) & (age >= 0) & (age <= pap["days"]), "index"]),
    )
    bo = r["better_offer_after_purchase"]
    better = (
        j["category"].isin(bo["categories"])
        & (age >= 0)
        & (age <= bo["days"])
        & (j["model"].str.lower() == j["model_sale"].str.lower()).fillna(False)
        & (j["offer_price"] < j["price"]).fillna(False)
    )
    flag("better_offer_after_purchase", m.index.isin(j.loc[better, "index"]))
    # reminder_after_service
    rem = m[ne & (m["category"] == "service_reminder").to_numpy()].reset_index()
    jv = rem.merge(frames["service_visits"], on="customer_id", suffixes=("", "_visit"))
    gap = (jv["date"] - jv["visit_date"]).dt.days
    same_vin = jv["vin"].isna() | jv["vin_visit"].isna() | (jv["vin"] == jv["vin_visit"])
    hit = set(jv.loc[(gap >= 0) & (gap <= r["reminder_after_service"]["days"]) & same_vin, "index"])
    ja = rem.merge(frames["appointments"], on="customer_id", suffixes=("", "_appt"))
    hit |= set(
        ja.loc[
            (ja["booked_at"] <= ja["sent_at"])
            & (ja["sent_at"] < ja["scheduled_for"])
            & (ja["status_appt"] != "cancelled"),
            "index",
        ]
    )
    flag("reminder_after_service", m.index.isin(list(hit)))
    # promo_during_open_lead
    pl = r["promo_during_open_lead"]
    jl = (
        m[ne & m["category"].isin(pl["categories"]).to_numpy() & (m["sender"] != pl["owner_sender"]).to_numpy()]
        .reset_index()
        .merge(frames["leads"], on="customer_id", suffixes=("_msg", ""))
    )
    # opened_at is the lead's here (the message's became opened_at_msg)
    open_ = (jl["opened_at"] <= jl["sent_at"]) & (jl["closed_at"].isna() | (jl["sent_at"] < jl["closed_at"]))
    flag("promo_during_open_lead", m.index.isin(jl.loc[open_, "index"]))
    # after_opt_out
    unsub = m[m["unsubscribed"].fillna(False)].groupby(["customer_id", "channel"])["date"].min().rename("unsub_date")
    ju = m[ne].reset_index().join(unsub, on=["customer_id", "channel"])
    ju = ju[ju["unsub_date"].notna()]
    if len(ju):
        limit = np.busday_offset(
            ju["unsub_date"].to_numpy().astype("datetime64[D]"),
            r["after_opt_out"]["grace_business_days"],
            roll="forward",
        )
        flag("after_opt_out", m.index.isin(ju.loc[ju["date"].to_numpy().astype("datetime64[D]") > limit, "index"]))
    _windows(m, r, out)
    _state_laws(frames, m, params, local, out)
    return {rule: ids for rule, ids in out.items() if ids}


def _state_laws(frames: dict, m: pd.DataFrame, params: dict, local: pd.Series, out: dict) -> None:
    """state_quiet_hours and state_contact_cap, in plain loops over the customers of a law state."""
    from helpers.reference_rules import state_of

    laws = {k: v for k, v in (params.get("state_rules", {}).get("states") or {}).items() if v}
    state = {
        c["customer_id"]: state_of({k: (None if pd.isna(v) else v) for k, v in c.items()})[0]
        for c in frames["customers"].to_dict("records")
    }
    exempt = set(params["audit"]["exempt_categories"])
    qh = params["rules"]["quiet_hours"]
    by_customer: dict = defaultdict(list)
    for i, row in m.iterrows():
        law = laws.get(state.get(row["customer_id"]))
        if (
            law is None
            or row["channel"] not in law["channels"]
            or row["category"] in exempt | set(law["exempt_categories"])
        ):
            continue
        h = local[i]
        federal = row["channel"] in qh["channels"] and (h < _hours(qh["start"]) or h >= _hours(qh["end"]))
        if (h < _hours(law["start"]) or h >= _hours(law["end"])) and not federal:
            out["state_quiet_hours"].add(row["message_id"])
        by_customer[(row["customer_id"], row["category"])].append((row["sent_at"], row["message_id"], law))
    for rows in by_customer.values():
        rows.sort(key=lambda x: (x[0], x[1]))
        for i, (t, mid, law) in enumerate(rows):
            n = sum(1 for u, _, _ in rows[: i + 1] if u > t - pd.Timedelta(hours=law["cap_hours"]))
            if n > law["cap"]:
                out["state_contact_cap"].add(mid)


def _windows(m: pd.DataFrame, r: dict, out: dict) -> None:
    """cap_total, cap_channel, min_gap, multi_sender over (customer, second) keys."""
    m = m.sort_values(["customer_id", "sent_at", "message_id"], ignore_index=True)
    cust = pd.factorize(m["customer_id"])[0].astype(np.int64)
    sec = m["sent_at"].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[s]").astype(np.int64).to_numpy()
    key = cust * 10**10 + (sec - sec.min())  # one customer's keys never reach the next one's
    counted = m["counted"].to_numpy()
    ids = m["message_id"].to_numpy()

    def over(mask: np.ndarray, windows: list[dict]) -> np.ndarray:
        k = key[mask]
        hit = np.zeros(len(k), dtype=bool)
        for w in windows:
            n = np.searchsorted(k, k, side="right") - np.searchsorted(k, k - w["days"] * 86400, side="right")
            hit |= n > w["max"]
        return ids[mask][hit]

    out["cap_total"].update(over(counted, r["cap_total"]["windows"]))
    for ch, windows in (r["cap_channel"]["windows"] or {}).items():
        out["cap_channel"].update(over(counted & (m["channel"] == ch).to_numpy(), windows or []))
    gaps = r["min_gap"]["gap_days"] or {}
    c = m[counted]
    prev = c.groupby(["customer_id", "category"])["sent_at"].shift()
    need = c["category"].map(lambda x: gaps.get(x, r["min_gap"]["default_gap_days"])).astype(float)
    out["min_gap"].update(c.loc[(c["sent_at"] - prev) < pd.to_timedelta(need, unit="D"), "message_id"])
    # multi_sender: every message reaches the customer here (stricter than non-exempt only)
    ms = r["multi_sender"]
    w = ms["window_days"] * 86400
    sender = m["sender"].to_numpy()
    seen = {}
    for s_ in np.unique(sender):
        k = key[sender == s_]
        pos = np.searchsorted(k, key, side="left") - 1  # this sender's last message strictly earlier
        last = np.where(pos >= 0, k[np.maximum(pos, 0)], -1)
        seen[s_] = (pos >= 0) & (last // 10**10 == cust) & (last > key - w)
    n_before = sum(seen.values())
    own = np.array([seen[s_][i] for i, s_ in enumerate(sender)], dtype=bool)
    out["multi_sender"].update(ids[counted & ~own & (n_before + 1 > ms["max_senders"])])
