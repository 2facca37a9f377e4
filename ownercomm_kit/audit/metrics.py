"""Figures beyond the flags (SPEC §4): frequency, caps, heat map, sender mix, fatigue, tiers,
replay, customers hit hardest. Each figure's definition, in plain words, is ``definitions(params)``.

All counts use every message in the data (exempt categories included) unless said otherwise;
"month" and "week" are calendar months and Monday-to-Sunday weeks of the message date in the
dealer's timezone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import schema
from ..arrays import from_min, max_or, take
from ..data import DealerData
from .rules import RULES, customer_local, exempt_mask
from . import windows
from .suppression import as_of_bounds
from .windows import DAY, Messages, messages_of, ns_utc, prefix, run_starts, runs, uniq

TIERS = ("loyal", "self_directed", "responsive", "dormant")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

TEMPLATES: dict[str, str] = {  # filled in with the dealer's parameters by ``definitions``
    "messages": "All messages in the dealer's message data up to the report date (every channel, sender and category).",
    "customers_messaged": "Distinct customers who received at least one message.",
    "flags_total": "Flag rows: one per message and rule it breaks (a message can break several rules).",
    "flags_high": "Flag rows of the rules whose severity is high (serious) in this dealer's parameters: {high_rules}.",
    "over_cap_customer_share": "Customers who at any time got more non-exempt messages in a trailing window than a "
    "cap allows (the total caps or a channel cap) ÷ customers messaged.",
    "frequency": "Messages per customer per calendar month, counted over the customer-months in which the customer "
    "got at least one message of any kind; by channel and by sender a month with none of that channel or sender "
    "counts as 0. Median, 90th percentile and maximum.",
    "over_cap": "For each cap: customers who exceeded it at least once in the data (period), and customers whose "
    "non-exempt messages in the window ending at the end of the report date already reach or exceed the cap "
    "(now: one more message would break it), each ÷ customers messaged.",
    "heatmap": "Messages by weekday and hour of the customer's local time (the dealer's when the customer's "
    "time zone is unknown).",
    "sender_mix": "For each customer-week (Monday to Sunday) with at least one message: how many different "
    "senders (OEM, sales, dealer marketing, service, F&I) the customer heard from that week.",
    "fatigue": "Customer-months grouped by how many messages the customer got that month: the share of those "
    "messages that got a response, and the share of customer-months in which the customer unsubscribed.",
    "tiers": "Over the {tier_months} calendar months up to the report date: loyal = kept an appointment and responded to or "
    "booked from a message; self-directed = kept appointments but never responded or booked from a message; "
    "responsive = responded or booked from a message but kept no appointment; dormant = none of these. "
    "Booked from a message: an appointment booked within {attribution_days} after a message.",
    "tier_summary": "Customers per tier and the messages they got over the same {tier_months} months, per customer and per "
    "customer per month.",
    "replay": "How many distinct messages each rule would have stopped had it been enforced, and all rules together "
    "(a message breaking several rules counts once).",
    "replay_by_sender": "Per sender: messages sent, and how many any rule would have stopped; the senders who "
    "would lose the most come first.",
    "top_customers": "Customers with the most flagged messages.",
    "suppression": "Customers who, as of the report date, should get no marketing on a channel (one row per "
    "channel; a cool-down or the total cap holds on every channel), "
    "with the rule and the last day it holds (empty = until the customer says otherwise): within the cool-down "
    "after a purchase or a service visit, an appointment booked and not yet due, a cap already reached in the "
    "current window, no consent or do-not-call, an unsubscribe, a state's 24-hour limit on one subject reached "
    "(texts and calls only, until the 24 hours have passed).",
    "state_laws": "A customer's state is the customers' state column, else the first three digits of the ZIP code "
    "(USPS prefixes), else the phone's area code; customers with none get no state rule. For customers in a state of "
    "the table of state rules: texts and calls outside the state's calling window (customer's local time) and more "
    "than its limit on one subject (the kind of message) in its time limit, from every sender together. {exempt} "
    "messages, what the state exempts and messages dated before the law took effect are never counted. Risk flags, "
    "not legal advice.",
}


def definitions(params: dict | None) -> dict[str, str]:
    """Every figure's definition with this dealer's parameters (windows, overridden severities)."""
    from . import catalog
    from .. import params as params_mod

    if not params or "rules" not in params:
        params = params_mod.resolve({"dealer_id": "DEFAULTS", "data_dir": "."})
    a = params.get("audit") or {}
    high = [catalog.RULES[n].title.lower() for n in catalog.high_rules(params)]
    values = {
        "high_rules": "; ".join(high) or "none",
        "tier_months": a.get("tier_window_months", 12),
        "attribution_days": catalog.days(a.get("booking_attribution_days", 14)),
        "exempt": catalog.upper_first(
            catalog.and_list(catalog.category_words(c) for c in a.get("exempt_categories") or []) or "No"
        ),
    }
    return {k: v.format(**values) for k, v in TEMPLATES.items()}


def _month_index(m: Messages) -> np.ndarray:
    """Each sorted row's calendar month (local date), counted from the first month."""
    day = m.local_day()
    if not len(day):
        return np.zeros(0, np.int64)
    # through a table of the days from the first to the last (thousands of days, not millions of rows)
    first = int(day.min())
    month = np.arange(first, int(day.max()) + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return month[day - first] - month[0]


def _month_runs(m: Messages) -> tuple[np.ndarray, np.ndarray]:
    """Customer-months as runs of the sorted rows: (first row of each, each row's run number);
    shared by ``frequency`` and ``fatigue`` (computed once per sorted messages)."""

    def compute():
        mi = _month_index(m)
        starts, slot = runs(m.cust * (int(max_or(mi, 0)) + 1) + mi)  # sorted: customer, then time
        return starts, slot.astype(np.int32) if len(slot) < 2**31 else slot  # kept while the audit runs: half size

    return m.cached(("metrics", "month_runs"), compute)


def frequency(data: DealerData) -> pd.DataFrame:
    m = messages_of(data)
    cols = ["by", "value", "customer_months", "mean", "median", "p90", "max"]
    if not len(m):
        return pd.DataFrame(columns=cols)
    active, slot = _month_runs(m)
    rows = [("all", "all", np.bincount(slot, minlength=len(active)))]
    for by, codes, names in (("channel", m.channel, schema.CHANNELS), ("sender", m.sender, schema.SENDERS)):
        # every value's count per customer-month in one pass: column k + 1 counts code k (column 0: unknown)
        width = len(names) + 1
        per = np.bincount(slot.astype(np.int64) * width + (codes + 1), minlength=len(active) * width)
        per = per.reshape(len(active), width)
        for code, name in enumerate(names):
            if per[:, code + 1].any():  # the value is used at all
                rows.append((by, name, np.ascontiguousarray(per[:, code + 1])))
    out = [(by, v, len(c), c.mean(), _quantile(c, 0.5), _quantile(c, 0.9), int(c.max())) for by, v, c in rows]
    return pd.DataFrame(out, columns=cols)


def _quantile(counts: np.ndarray, q: float) -> float:
    """np.percentile's linear quantile of small non-negative ints, from their histogram
    (no sort or partition of millions of customer-months)."""
    cum = np.cumsum(np.bincount(counts))
    pos = (len(counts) - 1) * q
    lo, frac = int(np.floor(pos)), pos - np.floor(pos)
    a = np.searchsorted(cum, lo + 1)  # the value at sorted rank lo
    b = np.searchsorted(cum, min(lo + 2, len(counts)))
    return float(a + (b - a) * frac)


def over_cap(data: DealerData, params: dict) -> pd.DataFrame:
    m = messages_of(data)
    counted = ~exempt_mask(m, params)
    customers = max(len(m.customers), 1)
    _, a_end = as_of_bounds(data)
    caps = [("cap_total", "all", w) for w in params["rules"]["cap_total"]["windows"]]
    caps += [
        ("cap_channel", ch, w)
        for ch, ws in (params["rules"]["cap_channel"].get("windows") or {}).items()
        for w in ws or []
    ]
    out = []
    held = None  # (channel, its counted rows, their times, prefix sums): a channel's windows come one after another
    for name, channel, w in caps:
        if held is None or held[0] != channel:
            held = None  # let the previous channel's arrays go first
            on = counted if channel == "all" else counted & (m.channel == schema.CHANNELS.index(channel))
            rows = np.flatnonzero(on)
            held = (channel, rows, m.t[rows], prefix(on))
        _, rows, t_rows, psum = held
        c = psum[rows + 1] - psum[m.window_start(w["days"])[rows]]
        period = uniq(m.cust[rows[c > w["max"]]])
        now_rows = rows[(t_rows <= a_end) & (t_rows > a_end - int(w["days"] * DAY))]
        now = np.bincount(m.cust[now_rows], minlength=len(m.customers)) >= w["max"]
        out.append(
            {
                "rule": name,
                "channel": channel,
                "days": w["days"],
                "max": w["max"],
                "customers_over_period": len(period),
                "share_period": len(period) / customers if len(m) else None,
                "customers_at_cap_now": int(now.sum()),
                "share_now": now.sum() / customers if len(m) else None,
            }
        )
    return pd.DataFrame(out)


def over_cap_customer_share(
    data: DealerData, flags: pd.DataFrame, params: dict | None = None, *, customers: int | None = None
) -> float | None:
    """None when no customer was messaged or both cap rules are turned off (undefined, not 0).
    ``customers``: the distinct customers messaged when the caller has counted them already."""
    # customers messaged: counted directly (the sorted message index is not needed for a count)
    if customers is None:
        customers = int(data["communications"]["customer_id"].nunique())
    caps_on = params is None or any(params["rules"][r].get("enabled", True) for r in ("cap_total", "cap_channel"))
    if not customers or not caps_on:
        return None
    over = flags.loc[flags["rule"].isin(["cap_total", "cap_channel"]), "customer_id"].nunique()
    return over / customers


def heatmap(data: DealerData) -> pd.DataFrame:
    m = messages_of(data)
    local, _ = customer_local(data, m, np.arange(len(m)))
    days = np.floor_divide(local, DAY)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    hour = np.mod(local, DAY) // (3600 * 10**9)
    counts = np.bincount(weekday * 24 + hour, minlength=7 * 24).reshape(7, 24)
    out = pd.DataFrame(counts, index=pd.Index(WEEKDAYS, name="weekday"), columns=pd.Index(range(24), name="hour"))
    return out


def sender_mix(data: DealerData) -> pd.DataFrame:
    m = messages_of(data)
    week = (m.local_day() + 3) // 7
    week = from_min(week)
    # customer-weeks are runs of the sorted rows; OR the sender bits within each run
    starts = run_starts(m.cust * (int(max_or(week, 0)) + 1) + week)
    small = np.uint8 if len(schema.SENDERS) <= 8 else np.int64  # one bit per sender
    bits = np.left_shift(small(1), np.maximum(m.sender, 0).astype(small))
    heard = np.bitwise_or.reduceat(bits, starts) if len(starts) else np.array([], np.int64)
    per_week = np.array([bin(b).count("1") for b in range(1 << len(schema.SENDERS))])[heard]
    ns = len(schema.SENDERS) + 1
    senders = np.arange(1, ns)
    counts = np.array([(per_week == k).sum() for k in senders])
    total = counts.sum()
    return pd.DataFrame(
        {
            "senders": senders,
            "customer_weeks": counts,
            "share": counts / total if total else np.full(len(senders), np.nan),
        }
    )


def fatigue(data: DealerData, params: dict) -> pd.DataFrame:
    m = messages_of(data)
    cols = ["messages_in_month", "customer_months", "messages", "response_rate", "unsubscribe_rate"]
    if not len(m):
        return pd.DataFrame(columns=cols)
    active, slot = _month_runs(m)
    n = np.bincount(slot, minlength=len(active))
    cap = int(params["audit"]["fatigue_max_bucket"])
    bucket = np.minimum(n, cap)
    responded = (
        data["communications"]["responded_at"].notna().to_numpy()[m.order]
        if data.has("communications", "responded_at")
        else None
    )
    unsub = m.flag(data, "unsubscribed") if data.has("communications", "unsubscribed") else None
    out = pd.DataFrame({"b": np.arange(1, cap + 1)})
    out["customer_months"] = np.bincount(bucket, minlength=cap + 1)[1:]
    out["messages"] = np.bincount(bucket, weights=n, minlength=cap + 1)[1:].astype(np.int64)
    if responded is not None:
        r = np.bincount(slot, weights=responded, minlength=len(active))
        out["response_rate"] = np.bincount(bucket, weights=r, minlength=cap + 1)[1:] / out["messages"].replace(
            0, np.nan
        )
    else:
        out["response_rate"] = np.nan
    if unsub is not None:
        u = np.bincount(slot, weights=unsub, minlength=len(active)) > 0
        out["unsubscribe_rate"] = np.bincount(bucket, weights=u, minlength=cap + 1)[1:] / out[
            "customer_months"
        ].replace(0, np.nan)
    else:
        out["unsubscribe_rate"] = np.nan
    out["messages_in_month"] = [str(b) if b < cap else f"{cap}+" for b in out["b"]]
    return out[out["customer_months"] > 0][cols].reset_index(drop=True)


def tiers(data: DealerData, params: dict) -> pd.DataFrame:
    """One row per customer of the customers table (and any customer messaged)."""
    m = messages_of(data)
    months = int(params["audit"]["tier_window_months"])
    _, a_end = as_of_bounds(data)
    start = pd.Timestamp(data.as_of) + pd.Timedelta(days=1) - pd.DateOffset(months=months)
    a_start = int(start.tz_localize(data.timezone, nonexistent="shift_forward", ambiguous=False).value) - 1
    table = data["customers"]["customer_id"]
    # every customer once, in order of appearance: the table's, then any other messaged; one hash
    # pass gives the messaged customers' codes too (no lookup of every id again)
    codes, uniques = pd.factorize(pd.concat([table, pd.Series(m.customers)], ignore_index=True))
    ids = pd.Index(uniques).astype("string")
    n = len(ids)
    code_of_customer = codes[len(table) :]  # m.customers -> code into ids
    message_code = np.full(n, -1, np.int64)  # code into ids -> code into m.customers (-1: never messaged)
    message_code[code_of_customer] = np.arange(len(code_of_customer))
    in_win = (m.t > a_start) & (m.t <= a_end)
    code_of_msg = code_of_customer[m.cust]
    messages = np.bincount(code_of_msg[in_win], minlength=n)
    responded = np.zeros(n, bool)
    if data.has("communications", "responded_at"):
        r = in_win & data["communications"]["responded_at"].notna().to_numpy()[m.order]
        responded[code_of_msg[r]] = True
    kept = np.zeros(n, bool)
    booked = np.zeros(n, bool)
    if data.has("appointments"):
        ap = data["appointments"]
        ac = ids.get_indexer(pd.Index(ap["customer_id"]))
        due, at = ns_utc(ap["scheduled_for"]), ns_utc(ap["booked_at"])
        k = (ac >= 0) & (ap["status"] == "kept").fillna(False).to_numpy(bool) & (due > a_start) & (due <= a_end)
        kept[ac[k]] = True
        # booked from a message: the latest earlier message in the window, within the attribution days
        b = np.flatnonzero((ac >= 0) & (at > a_start) & (at <= a_end))
        prev = latest_at_or_before(m, message_code[ac[b]], at[b] - 1)
        # the latest message up to the booking is in the window exactly when it is after the window's start
        prev = np.where(take(m.t, prev, a_start) > a_start, prev, -1)
        gap = at[b] - take(m.t, prev, 0)  # prev -1: no message before (there may be none at all)
        hit = (prev >= 0) & (gap <= int(params["audit"]["booking_attribution_days"] * DAY))
        booked[ac[b][hit]] = True
    engaged = responded | booked
    tier = np.where(
        kept & engaged, "loyal", np.where(kept, "self_directed", np.where(engaged, "responsive", "dormant"))
    )
    return pd.DataFrame(
        {
            "customer_id": ids,
            "tier": pd.array(tier, dtype="string"),
            "kept_appointment": kept,
            "responded": responded,
            "booked_from_message": booked,
            "messages_12m": messages,
        }
    )


def latest_at_or_before(m: Messages, cust: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """For each (customer code into ``m.customers``, time bound): the last sorted row of that
    customer with ``t <= bound``, -1 when none (or the code is -1). One ``searchsorted`` on the
    sorted messages' own key: ``windows.asof_latest`` on all rows gives the same times, but sorts
    and ranks millions of message times again to build a key of its own."""
    cust = np.asarray(cust, dtype=np.int64)
    bound = np.asarray(bound, dtype=np.int64)
    out = np.full(len(cust), -1, np.int64)
    ok = cust >= 0
    if not len(m) or not ok.any():
        return out
    pos = np.searchsorted(m.key, m.lo_key(cust[ok], bound[ok]), "left") - 1  # last row before "after bound"
    same = pos >= 0
    same[same] = m.cust[pos[same]] == cust[ok][same]
    out[ok] = np.where(same, pos, -1)
    return out


def tier_summary(tier_table: pd.DataFrame, params: dict) -> pd.DataFrame:
    months = int(params["audit"]["tier_window_months"])
    g = (
        tier_table.groupby("tier", observed=True)["messages_12m"]
        .agg(["size", "sum"])
        .reindex(list(TIERS), fill_value=0)
    )
    out = pd.DataFrame({"tier": list(TIERS), "customers": g["size"].to_numpy(), "messages": g["sum"].to_numpy()})
    total = out["customers"].sum()
    out["share_of_customers"] = out["customers"] / total if total else np.nan
    out["messages_per_customer"] = out["messages"] / out["customers"].replace(0, np.nan)
    out["messages_per_customer_month"] = out["messages_per_customer"] / months
    return out


def replay(data: DealerData, flags: pd.DataFrame) -> pd.DataFrame:
    n = len(data["communications"])
    per_rule = flags.groupby("rule", observed=True)["message_id"].nunique()
    rows = [{"rule": r, "messages_suppressed": int(per_rule.get(r, 0))} for r in RULES]
    rows.append({"rule": "all rules", "messages_suppressed": int(flags["message_id"].nunique())})
    out = pd.DataFrame(rows)
    out["share_of_messages"] = out["messages_suppressed"] / n if n else np.nan
    return out


def replay_by_sender(data: DealerData, flags: pd.DataFrame) -> pd.DataFrame:
    m = sorted_if_built(data, "sender")
    if m is not None:
        # the sorted messages' sender codes are the exact schema names: counted without hashing 10M strings
        counts = np.bincount(m.sender[m.sender >= 0], minlength=len(schema.SENDERS))
        sent = pd.Series(counts, index=list(schema.SENDERS))
    else:
        sent = data["communications"]["sender"].value_counts()
    distinct = flags.drop_duplicates("message_id")
    lost = distinct["sender"].value_counts()
    by_rule = flags.groupby(["sender", "rule"], observed=True).size().unstack(fill_value=0)
    out = pd.DataFrame({"sender": list(schema.SENDERS)})
    out["messages"] = [int(sent.get(s, 0)) for s in schema.SENDERS]
    out["messages_suppressed"] = [int(lost.get(s, 0)) for s in schema.SENDERS]
    out["share_suppressed"] = out["messages_suppressed"] / out["messages"].replace(0, np.nan)
    for r in RULES:
        out[r] = [int(by_rule.at[s, r]) if s in by_rule.index and r in by_rule.columns else 0 for s in schema.SENDERS]
    return out.sort_values(["messages_suppressed", "sender"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


def top_customers(data: DealerData, flags: pd.DataFrame, params: dict) -> pd.DataFrame:
    top = int(params["audit"]["top_customers"])
    cols = ["customer_id", "messages", "flagged_messages", "flags", "high_flags", "rules"]
    if flags.empty:
        return pd.DataFrame(columns=cols)
    g = flags.groupby("customer_id", observed=True)
    out = pd.DataFrame(
        {
            "flagged_messages": g["message_id"].nunique(),
            "flags": g.size(),
            "high_flags": (flags["severity"] == "high").groupby(flags["customer_id"], observed=True).sum(),
        }
    )
    out = out.sort_values(["flagged_messages", "flags"], ascending=False, kind="stable").head(top)
    m = sorted_if_built(data, "customer_id")
    if m is not None:
        # messages per customer from the sorted messages' customer codes (no count of 10M strings)
        code = m.customers.get_indexer(pd.Index(out.index).astype("string"))
        per = np.append(np.bincount(m.cust, minlength=len(m.customers)), 0)  # code -1 (not messaged): 0
        out["messages"] = [int(n) for n in per[code]]
    else:
        sent = data["communications"]["customer_id"].value_counts()
        out["messages"] = [int(sent.get(c, 0)) for c in out.index]
    rules = flags[flags["customer_id"].isin(out.index)].groupby("customer_id", observed=True)["rule"].unique()
    out["rules"] = [", ".join(sorted(rules[c])) for c in out.index]
    return out.rename_axis("customer_id").reset_index()[cols]


def customers_messaged(data: DealerData) -> int:
    """Distinct customers messaged: the sorted messages' customers when the rules built them
    already (the same count as ``nunique`` of a string column), else counted."""
    m = sorted_if_built(data, "customer_id")
    if m is not None:
        return len(m.customers)
    return int(data["communications"]["customer_id"].nunique())


def sorted_if_built(data: DealerData, column: str) -> Messages | None:
    """The sorted messages of ``data`` when ``messages_of`` has built them already (the rules
    have, in the audit) and ``column`` of the messages is a pandas string column, whose codes
    there count exactly as its values do; else None: a figure never sorts (or rejects) the
    messages for a count."""
    if not isinstance(data["communications"][column].dtype, pd.StringDtype):
        return None
    return windows.messages_if_built(data)


def __getattr__(name: str):
    # DEFINITIONS: the definitions with the kit's default parameters (built on first use: the
    # flags_high text lists the rules that are high, so the rule catalog must be loaded).
    if name == "DEFINITIONS":
        return definitions(None)
    raise AttributeError(name)
