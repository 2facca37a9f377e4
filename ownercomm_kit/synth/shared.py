"""Shared customers of a synthetic group (SPEC §9): the same person at several stores.

``share_customers`` takes the stores' frames (in dealer order) and, for each store after the
first, adds a share of new customer records that are customers of an earlier store written
differently (email in other case and padded with spaces, or no email and the phone in another
format with the last name in capitals). Accidental matches between the other customers are
broken first (faker reuses names), so that with injection off the group has no conflict.
With injection on, each sister rule is broken for its own shared persons, on days chosen so
that no other group rule fires; the group ground truth lists (dealer_id, message_id, rule).
group_cap_total is broken by a burst of messages from the later store right after one of the
source customer's own messages (distinct categories and channels within the store's caps, so
the later store's own rules stay quiet).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..audit.windows import DAY, grace_end_day
from ..group.persons import match_persons

NONE = pd.NA


def _phone_variant(p: str) -> str:
    digits = "".join(ch for ch in str(p) if ch.isdigit())[-10:]
    return f"+1 {digits[:3]}.{digits[3:6]}.{digits[6:]}" if len(digits) == 10 else str(p)


def _unmatch(stores: list[tuple[str, dict]]) -> None:
    """Break accidental matches between stores' own customers (later records get a tagged email
    and no phone)."""
    allc = pd.concat(
        [f["customers"][["customer_id", "email", "phone", "last_name"]].assign(dealer_id=d) for d, f in stores],
        ignore_index=True,
    )
    persons = match_persons(allc)
    dup = persons.duplicated("person_id", keep="first").to_numpy(bool)
    for d, f in stores:
        c = f["customers"]
        bad = set(persons.loc[dup & (persons["dealer_id"] == d).to_numpy(bool), "customer_id"])
        if bad:
            hit = c["customer_id"].isin(bad).to_numpy(bool)
            c.loc[hit, "email"] = c.loc[hit, "customer_id"].str.lower() + "." + d.lower() + "@example.com"
            c.loc[hit, "phone"] = NONE


def share_customers(
    stores: list[tuple[str, dict]],
    share: float,
    rng: np.random.Generator,
    *,
    inject: bool,
    params: dict,
    timezones: dict[str, str],
    as_of_day: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add shared customers in place; returns (group ground truth, expected persons pairs)."""
    _unmatch(stores)
    truth, pairs = [], []
    if share <= 0 or len(stores) < 2:
        return (
            pd.DataFrame({"dealer_id": [], "message_id": [], "rule": []}, dtype="string"),
            pd.DataFrame(
                {"dealer_id": [], "customer_id": [], "same_as_dealer_id": [], "same_as_customer_id": []}, dtype="string"
            ),
        )
    gr = params["group"]["rules"]
    used: set[tuple[str, str]] = set()
    for k in range(1, len(stores)):
        dk, fk = stores[k]
        n = int(round(share * len(fk["customers"])))
        rows, new_msgs = [], []
        for j in range(n):
            i = int(rng.integers(0, k))
            di, fi = stores[i]
            own = fi["customers"][~fi["customers"]["customer_id"].str.startswith("CS").to_numpy(bool)]
            src = own.iloc[int(rng.integers(0, len(own)))]
            if (di, src["customer_id"]) in used:  # one shared record per person keeps the truth exact
                continue
            if pd.isna(src["email"]) and (pd.isna(src["phone"]) or pd.isna(src["last_name"])):
                continue  # no key to match on
            used.add((di, src["customer_id"]))
            cid = f"CS{j + 1:05d}"
            by_email = pd.notna(src["email"]) and (j % 2 == 0 or pd.isna(src["phone"]) or pd.isna(src["last_name"]))
            rows.append(
                {
                    "customer_id": cid,
                    "first_name": src["first_name"],
                    "last_name": src["last_name"] if by_email else str(src["last_name"]).upper(),
                    "email": f"  {str(src['email']).upper()} " if by_email else NONE,
                    "phone": NONE if by_email else _phone_variant(src["phone"]),
                    "email_opt_in": True,
                    "sms_consent": True,
                    "phone_dnc": False,
                    "mail_opt_out": False,
                }
            )
            pairs.append(
                {
                    "dealer_id": dk,
                    "customer_id": cid,
                    "same_as_dealer_id": di,
                    "same_as_customer_id": src["customer_id"],
                }
            )
            if inject:
                rule = (
                    "sister_promo_after_purchase",
                    "sister_reminder_after_service",
                    "sister_conquest_to_owner",
                    "sister_after_opt_out",
                    "group_cap_total",
                )[j % 5]
                got = _inject(rule, fi, src["customer_id"], di, dk, cid, gr, timezones, as_of_day, rng, params)
                if got:
                    msgs, flagged = got
                    new_msgs += msgs
                    truth += flagged
        if rows:
            add = pd.DataFrame(rows).reindex(columns=fk["customers"].columns).astype(fk["customers"].dtypes.to_dict())
            fk["customers"] = pd.concat([fk["customers"], add], ignore_index=True)
        if new_msgs:
            comm = fk["communications"]
            add = pd.DataFrame(new_msgs)
            add["sent_at"] = pd.to_datetime(add["sent_at"]).dt.tz_localize(timezones[dk])
            add = add.reindex(columns=comm.columns).astype(comm.dtypes.to_dict())
            fk["communications"] = (
                pd.concat([comm, add], ignore_index=True)
                .sort_values(["sent_at", "message_id"], kind="stable")
                .reset_index(drop=True)
            )
    gt = pd.DataFrame(truth, columns=["dealer_id", "message_id", "rule"]).drop_duplicates().astype("string")
    return gt, pd.DataFrame(pairs).astype("string")


def _quiet(fi: dict, cid: str, day: int, tz: str) -> bool:
    """True when the source customer's messages leave room around ``day`` (no cap nears)."""
    m = fi["communications"]
    t = m.loc[m["customer_id"] == cid, "sent_at"].dt.tz_convert("UTC").astype("int64").to_numpy() // DAY
    return int(((t > day - 8) & (t < day + 8)).sum()) <= 2 and int(((t > day - 31) & (t < day + 31)).sum()) <= 8


def _unsubscribed(fi: dict, cid: str) -> bool:
    m = fi["communications"]
    return bool(m.loc[m["customer_id"] == cid, "unsubscribed"].fillna(False).any())


def _msg(dk: str, cid: str, day: int, category: str, **extra) -> dict:
    when = pd.Timestamp(int(day) * DAY) + pd.Timedelta(hours=10)
    mid = f"MS{dk}{cid}{category[:3]}{day}"
    return {
        "message_id": mid,
        "customer_id": cid,
        "sent_at": when,
        "channel": "email",
        "sender": "dealer",
        "category": category,
        "status": "delivered",
        "unsubscribed": False,
        **extra,
    }


def _inject(rule, fi, src, di, dk, cid, gr, timezones, as_of_day, rng, params):
    if _unsubscribed(fi, src):
        return None
    sales = fi["sales"]
    mine = sales[sales["customer_id"] == src]
    sale_days = (mine["sale_date"].astype("datetime64[ns]").astype("int64") // DAY).to_numpy()

    def clear_of_sales(day):  # no sister promotion window of the source's purchases
        return not np.any((day - sale_days >= 0) & (day - sale_days <= gr["sister_promo_after_purchase"]["days"]))

    if rule == "sister_promo_after_purchase" and len(sale_days):
        for d in sale_days[::-1]:
            day = int(d) + int(rng.integers(0, gr["sister_promo_after_purchase"]["days"] + 1))
            if day < as_of_day and _quiet(fi, src, day, timezones[di]):
                m = _msg(dk, cid, day, "offer")
                return [m], [(dk, m["message_id"], rule)]
    if rule == "sister_reminder_after_service":
        v = fi["service_visits"]
        vd = (v.loc[v["customer_id"] == src, "visit_date"].astype("datetime64[ns]").astype("int64") // DAY).to_numpy()
        for d in vd[::-1]:
            day = int(d) + int(rng.integers(0, gr["sister_reminder_after_service"]["days"] + 1))
            if day < as_of_day and _quiet(fi, src, day, timezones[di]):
                m = _msg(dk, cid, day, "service_reminder")
                return [m], [(dk, m["message_id"], rule)]
    if rule == "sister_conquest_to_owner":
        owns = (fi["vehicles"]["customer_id"] == src).any() or len(sale_days)
        if owns:
            for _ in range(20):
                day = as_of_day - int(rng.integers(1, 300))
                if (
                    (len(sale_days) == 0 or sale_days.min() <= day or (fi["vehicles"]["customer_id"] == src).any())
                    and clear_of_sales(day)
                    and _quiet(fi, src, day, timezones[di])
                ):
                    m = _msg(dk, cid, day, "conquest")
                    return [m], [(dk, m["message_id"], rule)]
    if rule == "group_cap_total":
        return _cap_burst(fi, src, dk, cid, timezones[dk], params, rng)
    if rule == "sister_after_opt_out":
        # the unsubscribe at store dk; the source's later emails at its own store break the rule
        for _ in range(20):
            day = as_of_day - int(rng.integers(60, 400))
            if not _quiet(fi, src, day, timezones[di]):
                continue
            u = _msg(dk, cid, day, "newsletter", unsubscribed=True)
            grace = int(grace_end_day(np.array([day]), int(gr["sister_after_opt_out"]["grace_business_days"]))[0])
            m = fi["communications"]
            local_day = (m["sent_at"].dt.tz_localize(None).astype("datetime64[ns]").astype("int64") // DAY).to_numpy()
            exempt = m["category"].isin(params["audit"]["exempt_categories"]).to_numpy(bool)
            hit = (
                (m["customer_id"] == src).to_numpy(bool)
                & (m["channel"] == "email").fillna(False).to_numpy(bool)
                & ~exempt
                & (local_day > grace)
            )
            if hit.any():
                return [u], [(di, mid, rule) for mid in m.loc[hit, "message_id"]]
    return None


BURST = (
    ("newsletter", "email"),
    ("event", "email"),
    ("survey", "email"),
    ("birthday", "mail"),
    ("anniversary", "mail"),
)


def _cap_burst(fi, src, dk, cid, tz_k, params, rng):
    """Right after one of the source's messages at ``s``, M messages at store ``dk`` one second
    apart, M = cap - (the source's messages in the window ending at s) + 1: the last one is
    over the group's cap; the later store counts only M <= cap."""
    w = params["group"]["rules"]["group_cap_total"].get("windows") or params["rules"]["cap_total"]["windows"]
    w = w[0]
    width, cap = int(w["days"] * DAY), int(w["max"])
    m = fi["communications"]
    exempt = m["category"].isin(params["audit"]["exempt_categories"]).to_numpy(bool)
    mine = m[(m["customer_id"] == src).to_numpy(bool) & ~exempt]
    if mine.empty:
        return None
    t = mine["sent_at"].dt.tz_convert("UTC").astype("int64").to_numpy()
    local_hour = mine["sent_at"].dt.tz_convert(tz_k).dt.hour.to_numpy()
    order = rng.permutation(len(t))
    for pos in order[:50]:
        s = int(t[pos])
        if not 9 <= local_hour[pos] <= 18:
            continue
        c0 = int(((t > s + len(BURST) * 10**9 - width) & (t <= s)).sum())
        n = cap - c0 + 1
        if not 1 <= n <= min(cap, len(BURST)):
            continue
        base = pd.Timestamp(s, tz="UTC").tz_convert(tz_k).tz_localize(None)
        msgs = []
        for j in range(n):
            cat, ch = BURST[j]
            msgs.append(
                {
                    "message_id": f"MS{dk}{cid}cap{j}",
                    "customer_id": cid,
                    "sent_at": base + pd.Timedelta(seconds=j + 1),
                    "channel": ch,
                    "sender": "dealer",
                    "category": cat,
                    "status": "delivered",
                    "unsubscribed": False,
                }
            )
        return msgs, [(dk, msgs[-1]["message_id"], "group_cap_total")]
    return None
