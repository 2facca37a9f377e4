"""The group rules of SPEC §9, over the messages of all stores to one person.

Inputs are frames of one bucket of persons (``p``: an int person code; every row keeps its
store's ``dealer_id``): messages (dealer_id, message_id, customer_id, person_id, p, t = UTC ns,
day = the message date in the sending store's timezone, channel, sender, category, vin, model,
unsubscribed, store_cap), sales (p, dealer_id, sale_id, day, vin, model), visits (p, dealer_id,
ro_id, day, vin), vehicles (p, dealer_id, vin). Dates of sales, visits and unsubscribes are
the recording store's dates (its extract wrote them so).

Readings of §9 that the tests pin:
- windows are (t - N x 24 h, t] between UTC instants; a person's messages are ordered by
  (sent_at, dealer_id, message_id), so of two messages sent at the same instant the one of the
  store whose id sorts first comes first (the audit's sorted-window machinery, ``Messages``,
  with the tie key (dealer_id, message_id));
- exempt categories (the group's ``audit.exempt_categories``) are never flagged and never
  counted; an unsubscribe recorded on an exempt message still counts as an opt-out (as §4);
- sister rules need a record of *another* store; two records of one store matched as one
  person never trigger a sister rule (group_cap_total counts them together, though);
- related_id / related_dealer_id: the record that makes the conflict, the earliest when
  several do (earliest by date, then dealer_id, then id). group_cap_total: the earliest
  message of the window from another store, else the earliest of the window; conquest: the
  earliest sale on or before the message date, else (undated) the vehicle row of the store
  whose id sorts first;
- the opt-out grace is the §4 business-day reading (``windows.grace_end_day``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import schema
from ..audit import text as tx
from ..audit.catalog import caps as _caps, days as _days, group_rule, or_list as _or, upper_first as _up
from ..audit.catalog import GROUP_SEVERITY
from ..audit.catalog import category_words as _cat
from ..audit.rules import FLAG_COLUMNS, _over_caps
from ..audit.windows import _build, grace_end_day

GROUP_FLAG_COLUMNS = FLAG_COLUMNS + ["dealer_id", "person_id", "related_dealer_id"]
GROUP_RULES = (
    "group_cap_total",
    "sister_promo_after_purchase",
    "sister_reminder_after_service",
    "sister_conquest_to_owner",
    "sister_after_opt_out",
)
SEVERITY = GROUP_SEVERITY  # SPEC §9: every group rule


def empty_flags() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="int64" if c == "t" else "string") for c in GROUP_FLAG_COLUMNS + ["t"]})


def rule_params(params: dict) -> dict:
    """The group rules' parameters (the group's layers), cap windows resolved."""
    g = dict((params.get("group") or {}).get("rules") or {})
    cap = dict(g.get("group_cap_total") or {})
    if not cap.get("windows"):
        cap["windows"] = params["rules"]["cap_total"]["windows"]
    g["group_cap_total"] = cap
    return g


def _enabled(rp: dict, name: str) -> bool:
    return bool((rp.get(name) or {}).get("enabled", True))


def _exempt(params: dict) -> list[str]:
    return list(params.get("audit", {}).get("exempt_categories", schema.EXEMPT_CATEGORIES))


def _flags(msgs: pd.DataFrame, rows: np.ndarray, rule: str, detail, related, related_dealer) -> pd.DataFrame:
    m = msgs.iloc[rows]
    n = len(rows)
    return pd.DataFrame(
        {
            "message_id": m["message_id"].to_numpy(object),
            "customer_id": m["customer_id"].to_numpy(object),
            "sent_at": _iso(m["t"].to_numpy(np.int64)),
            "channel": m["channel"].to_numpy(object),
            "sender": m["sender"].to_numpy(object),
            "category": m["category"].to_numpy(object),
            "rule": [rule] * n,
            "severity": [SEVERITY] * n,
            "detail": np.asarray(tx.s(detail), dtype=object) if n else np.array([], object),
            "related_id": np.asarray(related, dtype=object) if n else np.array([], object),
            "dealer_id": m["dealer_id"].to_numpy(object),
            "person_id": m["person_id"].to_numpy(object),
            "related_dealer_id": np.asarray(related_dealer, dtype=object) if n else np.array([], object),
            "t": m["t"].to_numpy(np.int64),
        }
    ).astype({c: "string" for c in GROUP_FLAG_COLUMNS})


def _iso(t: np.ndarray) -> np.ndarray:
    """UTC instants as ISO text ('2026-05-01T14:00:00+00:00'), vectorised."""
    return np.char.add(
        np.datetime_as_string(np.asarray(t, dtype=np.int64).view("datetime64[ns]").astype("datetime64[s]"), unit="s"),
        "+00:00",
    ).astype(object)


def _name(names: dict, dealer: pd.Series | np.ndarray) -> pd.Series:
    d = pd.Series(np.asarray(dealer, dtype=object))
    return tx.s(d.map(lambda x: names.get(x) or x) if len(d) else d)


def _earliest(j: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One row per message row: the earliest conflicting record."""
    return j.sort_values(["row", *by], kind="stable").drop_duplicates("row", keep="first")


def _what(msgs: pd.DataFrame, rows: np.ndarray) -> pd.Series:
    """'a Camry offer' (model known) or 'an offer'."""
    cat = msgs["category"].to_numpy(object)[rows]
    plain = tx.s([tx.CATEGORY.get(c, "a message") for c in cat])
    model = pd.Series(msgs["model"].to_numpy(object)[rows], dtype="string").str.strip()
    noun = tx.s([tx.CATEGORY.get(c, "a message").split(" ", 1)[1] for c in cat])
    with_model = tx.with_article(model + " " + noun)
    return with_model.fillna(plain).where(model.fillna("").str.len() > 0, plain)


# ---------------------------------------------------------------- the rules


@group_rule(
    "group_cap_total",
    title="Too many messages from the group's stores together",
    define=lambda p: (
        f"A person got {_caps(rule_params(p)['group_cap_total']['windows'])} from all the group's stores "
        "together, counting this message, and its own store had not already flagged it as too many messages."
    ),
    example="Tustin Motors sent the 6th message in 7 days (cap 5) counting Irvine Auto's message on 2026-05-02",
)
def group_cap_total(msgs: pd.DataFrame, params: dict, names: dict) -> pd.DataFrame:
    rp = rule_params(params)["group_cap_total"]
    counted = np.flatnonzero(~msgs["category"].isin(_exempt(params)).to_numpy(bool))
    if not len(counted):
        return empty_flags()
    sub = msgs.iloc[counted]
    # msgs are sorted by (person, sent_at, dealer_id, message_id) (run_group_rules): the row
    # position is the tie key
    frame = pd.DataFrame(
        {
            "customer_id": sub["p"].to_numpy(np.int64),
            "sent_at": pd.Series(pd.to_datetime(sub["t"].to_numpy(np.int64), utc=True)),
            "message_id": np.arange(len(sub), dtype=np.int64),
            "channel": sub["channel"].to_numpy(),
            "sender": sub["sender"].to_numpy(),
            "category": sub["category"].to_numpy(),
        }
    )
    m = _build(frame, "UTC")  # the audit's windows: sorted by (person, sent_at, tie key)
    rows, count, label, start = _over_caps(m, np.ones(len(m), bool), rp["windows"])
    dealer = pd.factorize(sub["dealer_id"])[0][m.order]  # store codes in sorted order
    # the earliest message of the window from another store: the window's first row, or the
    # first row after it whose store differs (a run boundary), when still inside the window
    change = np.ones(len(dealer), bool)
    change[1:] = dealer[1:] != dealer[:-1]
    next_change = np.append(np.flatnonzero(change), len(dealer))
    nxt = next_change[np.searchsorted(next_change, start, "right")]
    other = np.where(dealer[start] != dealer[rows], start, np.where(nxt <= rows, nxt, start))
    keep = ~sub["store_cap"].to_numpy(bool)[m.order[rows]]
    rows, count, label, other = rows[keep], count[keep], label[keep].reset_index(drop=True), other[keep]
    pos, rel = counted[m.order[rows]], counted[m.order[other]]
    rel_dealer = msgs["dealer_id"].to_numpy(object)[rel]
    detail = (
        _name(names, msgs["dealer_id"].to_numpy(object)[pos])
        + " sent the "
        + tx.ordinal(count)
        + " message in "
        + label
        + " counting every store of the group (the window began with a message from "
        + _name(names, rel_dealer)
        + " on "
        + tx.day_text(msgs["day"].to_numpy(np.int64)[rel])
        + ")"
    )
    return _flags(msgs, pos, "group_cap_total", detail, msgs["message_id"].to_numpy(object)[rel], rel_dealer)


def _candidates(msgs: pd.DataFrame, params: dict, categories, persons) -> pd.DataFrame:
    ok = msgs["category"].isin(list(categories)) & ~msgs["category"].isin(_exempt(params)) & msgs["p"].isin(persons)
    rows = np.flatnonzero(ok.to_numpy(bool))
    return pd.DataFrame(
        {
            "row": rows,
            "p": msgs["p"].to_numpy(np.int64)[rows],
            "dealer": msgs["dealer_id"].iloc[rows].reset_index(drop=True),
            "mday": msgs["day"].to_numpy(np.int64)[rows],
        }
    )


@group_rule(
    "sister_promo_after_purchase",
    title="Promotion after a purchase at a sister store",
    define=lambda p: (
        f"{_up(_or([_cat(c) for c in rule_params(p)['sister_promo_after_purchase']['categories']]))} "
        f"sent within {_days(rule_params(p)['sister_promo_after_purchase']['days'])} after the person bought at another "
        "store of the group."
    ),
    example="Irvine Auto sent an offer 2 days after buying a Camry at Tustin Motors (on 2026-05-01; cool-down 30 days)",
)
def sister_promo_after_purchase(msgs, sales, params, names) -> pd.DataFrame:
    rp = rule_params(params)["sister_promo_after_purchase"]
    c = _candidates(msgs, params, rp["categories"], sales["p"].unique())
    s = sales[sales["day"] > np.iinfo(np.int32).min]
    j = c.merge(
        s[["p", "dealer_id", "sale_id", "day", "model"]].rename(columns={"dealer_id": "sdealer", "day": "sday"}), on="p"
    )
    d = j["mday"] - j["sday"]
    j = _earliest(j[(j["sdealer"] != j["dealer"]) & (d >= 0) & (d <= int(rp["days"]))], ["sday", "sdealer", "sale_id"])
    rows = j["row"].to_numpy(np.int64)
    model = j["model"].astype("string").str.strip().reset_index(drop=True)
    thing = tx.with_article(model.where(model.str.len() > 0)).fillna("a vehicle")
    detail = (
        _name(names, j["dealer"])
        + " sent "
        + _what(msgs, rows)
        + " "
        + tx.days_after(j["mday"] - j["sday"])
        + "the customer bought "
        + thing
        + " at "
        + _name(names, j["sdealer"])
        + " (on "
        + tx.day_text(j["sday"])
        + "; cool-down "
        + str(rp["days"])
        + " days)"
    )
    return _flags(
        msgs, rows, "sister_promo_after_purchase", detail, j["sale_id"].to_numpy(object), j["sdealer"].to_numpy(object)
    )


@group_rule(
    "sister_reminder_after_service",
    title="Service reminder after a visit at a sister store",
    define=lambda p: (
        f"A service reminder sent within {_days(rule_params(p)['sister_reminder_after_service']['days'])} "
        "after a service visit at another store of the group (of the same vehicle when both name one)."
    ),
    example="Irvine Auto sent a service reminder 3 days after the customer's service visit at Tustin Motors",
)
def sister_reminder_after_service(msgs, visits, params, names) -> pd.DataFrame:
    rp = rule_params(params)["sister_reminder_after_service"]
    c = _candidates(msgs, params, ["service_reminder"], visits["p"].unique())
    c["mvin"] = msgs["vin"].to_numpy(object)[c["row"].to_numpy(np.int64)]
    v = visits[visits["day"] > np.iinfo(np.int32).min]
    j = c.merge(
        v[["p", "dealer_id", "ro_id", "day", "vin"]].rename(
            columns={"dealer_id": "vdealer", "day": "vday", "vin": "vvin"}
        ),
        on="p",
    )
    d = j["mday"] - j["vday"]
    mv, vv = j["mvin"].astype("string"), j["vvin"].astype("string")
    same_vin = (mv.isna() | vv.isna() | (mv == vv)).fillna(True).to_numpy(bool)
    j = _earliest(
        j[(j["vdealer"] != j["dealer"]) & (d >= 0) & (d <= int(rp["days"])) & same_vin], ["vday", "vdealer", "ro_id"]
    )
    rows = j["row"].to_numpy(np.int64)
    detail = (
        _name(names, j["dealer"])
        + " sent a service reminder "
        + tx.days_after(j["mday"] - j["vday"])
        + "the customer's service visit at "
        + _name(names, j["vdealer"])
        + " (on "
        + tx.day_text(j["vday"])
        + ", repair order "
        + tx.s(j["ro_id"])
        + ")"
    )
    return _flags(
        msgs, rows, "sister_reminder_after_service", detail, j["ro_id"].to_numpy(object), j["vdealer"].to_numpy(object)
    )


@group_rule(
    "sister_conquest_to_owner",
    title="Conquest offer to an owner of a sister store",
    define=lambda p: (
        "A conquest offer to a person who owns a vehicle on record at, or bought one from, another store of the group."
    ),
    example="Irvine Auto sent a conquest offer to a customer who bought a Camry at Tustin Motors on 2025-11-20",
)
def sister_conquest_to_owner(msgs, sales, vehicles, params, names) -> pd.DataFrame:
    owners = np.union1d(sales["p"].unique(), vehicles["p"].unique())
    c = _candidates(msgs, params, ["conquest"], owners)
    s = sales[sales["day"] > np.iinfo(np.int32).min]
    js = c.merge(
        s[["p", "dealer_id", "sale_id", "day", "model"]].rename(columns={"dealer_id": "odealer", "day": "sday"}), on="p"
    )
    js = _earliest(js[(js["odealer"] != js["dealer"]) & (js["sday"] <= js["mday"])], ["sday", "odealer", "sale_id"])
    jv = c[~c["row"].isin(js["row"])].merge(
        vehicles[["p", "dealer_id", "vin"]].rename(columns={"dealer_id": "odealer"}), on="p"
    )
    jv = _earliest(jv[jv["odealer"] != jv["dealer"]], ["odealer", "vin"])
    model = js["model"].astype("string").str.strip().reset_index(drop=True)
    thing = tx.with_article(model.where(model.str.len() > 0)).fillna("a vehicle")
    s_detail = (
        _name(names, js["dealer"])
        + " sent a conquest offer to a customer who bought "
        + thing
        + " at "
        + _name(names, js["odealer"])
        + " on "
        + tx.day_text(js["sday"])
    )
    v_detail = (
        _name(names, jv["dealer"])
        + " sent a conquest offer to a customer who owns vehicle "
        + tx.s(jv["vin"])
        + " on record at "
        + _name(names, jv["odealer"])
    )
    return pd.concat(
        [
            _flags(
                msgs,
                js["row"].to_numpy(np.int64),
                "sister_conquest_to_owner",
                s_detail,
                js["sale_id"].to_numpy(object),
                js["odealer"].to_numpy(object),
            ),
            _flags(
                msgs,
                jv["row"].to_numpy(np.int64),
                "sister_conquest_to_owner",
                v_detail,
                jv["vin"].to_numpy(object),
                jv["odealer"].to_numpy(object),
            ),
        ],
        ignore_index=True,
    )


def opt_outs(msgs: pd.DataFrame) -> pd.DataFrame:
    """The first unsubscribe of each (person, channel, store): messages in (t, message_id) order."""
    u = msgs[msgs["unsubscribed"].to_numpy(bool) & msgs["channel"].notna().to_numpy(bool)]
    u = u.sort_values(["p", "channel", "dealer_id", "t", "message_id"], kind="stable")
    u = u.drop_duplicates(["p", "channel", "dealer_id"], keep="first")
    return pd.DataFrame(
        {
            "p": u["p"].to_numpy(np.int64),
            "channel": u["channel"].reset_index(drop=True),
            "udealer": u["dealer_id"].reset_index(drop=True),
            "umid": u["message_id"].reset_index(drop=True),
            "ut": u["t"].to_numpy(np.int64),
            "uday": u["day"].to_numpy(np.int64),
        }
    )


@group_rule(
    "sister_after_opt_out",
    title="Message after an opt-out at a sister store",
    define=lambda p: (
        "A message on a channel on which the person unsubscribed at another store of the group, more than "
        f"{rule_params(p)['sister_after_opt_out']['grace_business_days']} business days (Monday to Friday) after "
        "unsubscribing there."
    ),
    example="Irvine Auto emailed the customer on 2026-05-20, after they unsubscribed from emails at Tustin Motors",
)
def sister_after_opt_out(msgs, params, names) -> pd.DataFrame:
    rp = rule_params(params)["sister_after_opt_out"]
    grace = int(rp["grace_business_days"])
    u = opt_outs(msgs)
    u["gend"] = grace_end_day(u["uday"].to_numpy(np.int64), grace)
    rows = np.flatnonzero((~msgs["category"].isin(_exempt(params)) & msgs["p"].isin(u["p"].unique())).to_numpy(bool))
    c = pd.DataFrame(
        {
            "row": rows,
            "p": msgs["p"].to_numpy(np.int64)[rows],
            "channel": msgs["channel"].iloc[rows].reset_index(drop=True),
            "dealer": msgs["dealer_id"].iloc[rows].reset_index(drop=True),
            "mday": msgs["day"].to_numpy(np.int64)[rows],
        }
    )
    j = c.merge(u, on=["p", "channel"])
    j = _earliest(j[(j["udealer"] != j["dealer"]) & (j["mday"] > j["gend"])], ["uday", "ut", "udealer", "umid"])
    rows = j["row"].to_numpy(np.int64)
    ch = j["channel"].to_numpy(object)
    detail = (
        _name(names, j["dealer"])
        + " "
        + tx.s([tx.VERB.get(x, "Messaged").lower() for x in ch])
        + " the customer on "
        + tx.day_text(j["mday"])
        + ", after they unsubscribed from "
        + tx.s([tx.NOUN.get(x, x) + "s" for x in ch])
        + " at "
        + _name(names, j["udealer"])
        + " on "
        + tx.day_text(j["uday"])
        + " (grace of "
        + str(grace)
        + " business days ended "
        + tx.day_text(j["gend"])
        + ")"
    )
    return _flags(msgs, rows, "sister_after_opt_out", detail, j["umid"].to_numpy(object), j["udealer"].to_numpy(object))


def run_group_rules(
    msgs: pd.DataFrame, sales: pd.DataFrame, visits: pd.DataFrame, vehicles: pd.DataFrame, params: dict, names: dict
) -> pd.DataFrame:
    """Every enabled group rule over one bucket of persons: ``GROUP_FLAG_COLUMNS`` plus ``t``."""
    rp = rule_params(params)
    msgs = msgs.sort_values(["p", "t", "dealer_id", "message_id"], kind="stable").reset_index(drop=True)
    parts = []
    if _enabled(rp, "group_cap_total"):
        parts.append(group_cap_total(msgs, params, names))
    if _enabled(rp, "sister_promo_after_purchase"):
        parts.append(sister_promo_after_purchase(msgs, sales, params, names))
    if _enabled(rp, "sister_reminder_after_service"):
        parts.append(sister_reminder_after_service(msgs, visits, params, names))
    if _enabled(rp, "sister_conquest_to_owner"):
        parts.append(sister_conquest_to_owner(msgs, sales, vehicles, params, names))
    if _enabled(rp, "sister_after_opt_out"):
        parts.append(sister_after_opt_out(msgs, params, names))
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_flags()
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["t", "dealer_id", "message_id", "rule"], kind="stable").reset_index(drop=True)
