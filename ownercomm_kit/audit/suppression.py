"""The suppression list (SPEC §4): who should get no marketing on a channel as of ``as_of``.

One row per (customer_id, channel, rule) with ``until``: the last date the reason holds
(inclusive; empty = indefinitely). ``channel`` is always one of the SPEC's channels, since a
CRM suppresses per channel: a reason about every channel (a purchase or service cool-down,
the total cap) is one row per channel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import schema
from ..arrays import take
from ..data import DealerData
from .rules import CONSENT, exempt_mask
from .windows import DAY, day_of_date, local_ns, messages_of, ns_utc, runs, uniq

COLUMNS = ["customer_id", "channel", "rule", "until"]
NAT = np.iinfo(np.int64).min
ALL = "all"  # internal: a reason about every channel, spread per channel at the end


def as_of_bounds(data: DealerData) -> tuple[int, int]:
    """(as_of as an int day number, the last nanosecond of as_of in the dealer's zone, UTC)."""
    day = int(np.datetime64(data.as_of, "D").astype(np.int64))
    end = pd.Timestamp(data.as_of) + pd.Timedelta(days=1)
    return day, int(end.tz_localize(data.timezone, nonexistent="shift_forward", ambiguous=False).value) - 1


def suppression_list(data: DealerData, params: dict) -> pd.DataFrame:
    parts = [
        _cooldown(data, params, "sales", "sale_date", "promo_after_purchase"),
        _cooldown(data, params, "service_visits", "visit_date", "reminder_after_service"),
        _booked(data, params),
        *_caps(data, params),
        _consent(data, params),
        _opt_out(data, params),
        _state_cap(data, params),
    ]
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return _frame([], [], [], [])
    out = _per_channel(pd.concat(parts, ignore_index=True))
    out = out.sort_values(["customer_id", "channel", "rule", "until"], na_position="last", kind="stable")
    return out.drop_duplicates(["customer_id", "channel", "rule"], keep="last").reset_index(drop=True)


def _per_channel(out: pd.DataFrame) -> pd.DataFrame:
    """Rows about every channel (``all``, built that way once) as one row per channel."""
    every = (out["channel"] == ALL).to_numpy(dtype=bool, na_value=False)
    if not every.any():
        return out
    wide = out[every]
    rows = wide.loc[wide.index.repeat(len(schema.CHANNELS))].copy()
    rows["channel"] = pd.array(np.tile(np.array(schema.CHANNELS, dtype=object), len(wide)), dtype="string")
    return pd.concat([out[~every], rows], ignore_index=True)


def _frame(cust, channel, rule, until_days) -> pd.DataFrame:
    until = np.asarray(until_days, dtype=np.int64) if len(until_days) else np.array([], np.int64)
    return pd.DataFrame(
        {
            "customer_id": pd.array(np.asarray(cust, dtype=object), dtype="string"),
            "channel": pd.array(np.asarray(channel, dtype=object), dtype="string"),
            "rule": pd.array(np.asarray(rule, dtype=object), dtype="string"),
            "until": pd.Series(np.where(until == NAT, NAT, until * DAY).astype(np.int64).view("datetime64[ns]")),
        }
    )


def _enabled(params: dict, name: str) -> bool:
    return bool(params["rules"].get(name, {}).get("enabled", True))


def _cooldown(data, params, table, date_col, name):
    """Customers within ``days`` after a sale (or visit): until that date + days."""
    if not data.has(table) or not _enabled(params, name):
        return None
    a_day, _ = as_of_bounds(data)
    days = int(params["rules"][name]["days"])
    t = data[table]
    d = day_of_date(t[date_col])
    live = (d <= a_day) & (d >= a_day - days)
    until = d[live] + days
    return _frame(t["customer_id"].to_numpy(object)[live], [ALL] * int(live.sum()), [name] * int(live.sum()), until)


def _booked(data, params):
    """Service reminders wait while an appointment is booked and not yet due."""
    if not data.has("appointments") or not _enabled(params, "reminder_after_service"):
        return None
    _, a_end = as_of_bounds(data)
    ap = data["appointments"]
    booked, due = ns_utc(ap["booked_at"]), ns_utc(ap["scheduled_for"])
    live = (booked <= a_end) & (due > a_end) & (ap["status"] != "cancelled").fillna(True).to_numpy(bool)
    until = np.floor_divide(local_ns(due[live], data.timezone), DAY)
    n = int(live.sum())
    return _frame(ap["customer_id"].to_numpy(object)[live], [ALL] * n, ["reminder_after_service"] * n, until)


def _caps(data, params):
    """A cap reached (one more message would exceed it) in the window ending at as_of."""
    m = messages_of(data)
    _, a_end = as_of_bounds(data)
    windows = []
    if _enabled(params, "cap_total"):
        windows += [(ALL, "cap_total", w) for w in params["rules"]["cap_total"]["windows"]]
    if _enabled(params, "cap_channel"):
        for channel, ws in (params["rules"]["cap_channel"].get("windows") or {}).items():
            windows += [(channel, "cap_channel", w) for w in ws or []]
    if not windows:
        return []
    # the counted rows inside the widest window, once: each window then looks at these few rows only
    widest = max(int(w["days"] * DAY) for _, _, w in windows)
    recent = np.flatnonzero(~exempt_mask(m, params) & (m.t <= a_end) & (m.t > a_end - widest))
    on_channel = {
        ch: recent if ch == ALL else recent[m.channel[recent] == schema.CHANNELS.index(ch)] for ch, _, _ in windows
    }
    return [_cap_window(data, m, on_channel[ch], w, a_end, ch, name) for ch, name, w in windows]


def _cap_window(data, m, rows, w, a_end, channel, name):
    """``rows``: the counted sorted rows of the channel up to as_of (at least those inside the window)."""
    width = int(w["days"] * DAY)
    rows = rows[m.t[rows] > a_end - width]
    first, _ = runs(m.cust[rows])  # rows are sorted by customer
    cust = m.cust[rows][first]
    count = np.diff(np.append(first, len(rows)))
    full = count >= w["max"]
    # the window frees up when its (count - max + 1)-th oldest message leaves it; a cap of 0
    # never frees up (-1: no such message, held indefinitely)
    leaving = take(rows, first[full] + count[full] - w["max"] if w["max"] >= 1 else np.full(int(full.sum()), -1))
    free_at = take(m.t, leaving, 0) + width
    until = np.where(
        leaving >= 0, np.floor_divide(local_ns(free_at - 1, data.timezone), DAY), NAT
    )  # last day still capped
    n = int(full.sum())
    return _frame(m.customers.to_numpy(object)[cust[full]], [channel] * n, [name] * n, until)


def _consent(data, params):
    if not _enabled(params, "no_consent"):
        return None
    cust = data["customers"]
    ids = cust["customer_id"].to_numpy(object)
    parts = []
    for channel, (col, forbid, _) in CONSENT.items():
        if not data.has("customers", col):
            continue
        v = cust[col].astype("boolean")
        bad = (~v.fillna(False)) if forbid == "not true" else (v.fillna(False) if forbid else (~v).fillna(False))
        bad = bad.to_numpy(bool)
        n = int(bad.sum())
        parts.append(_frame(ids[bad], [channel] * n, ["no_consent"] * n, [NAT] * n))
    return pd.concat(parts, ignore_index=True) if parts else None


def _opt_out(data, params):
    if not data.has("communications", "unsubscribed") or not _enabled(params, "after_opt_out"):
        return None
    m = messages_of(data)
    _, a_end = as_of_bounds(data)
    unsub = m.flag(data, "unsubscribed") & (m.t <= a_end) & (m.channel >= 0)
    key = uniq(m.cust[unsub] * len(schema.CHANNELS) + m.channel[unsub])
    n = len(key)
    channels = np.array(schema.CHANNELS, dtype=object)[key % len(schema.CHANNELS)]
    return _frame(m.customers.to_numpy(object)[key // len(schema.CHANNELS)], channels, ["after_opt_out"] * n, [NAT] * n)


def _state_cap(data, params):
    """A customer at a state cap now (SPEC §4 state_contact_cap): held back on the state's
    channels (sms and phone) until the 24-hour window clears. The list has no category, so the
    channel is held back whatever the subject, until the last capped subject's window clears."""
    if not _enabled(params, "state_contact_cap"):
        return None
    from .state_rules import _ruled, state_cap_now  # registers the state rules on first use

    m = messages_of(data)
    _, a_end = as_of_bounds(data)
    cust, free_at = state_cap_now(data, params, a_end)
    if not len(cust):
        return None
    st = _ruled(data, m, params)
    state = st.of_customer[cust]
    until = np.floor_divide(local_ns(free_at - 1, data.timezone), DAY)  # last day still capped
    ids, chans, untils = [], [], []
    for i, r in enumerate(st.rules):
        sel = state == i
        for ch in r.channels:
            ids.append(m.customers.to_numpy(object)[cust[sel]])
            chans.append(np.full(int(sel.sum()), ch, dtype=object))
            untils.append(until[sel])
    n = sum(len(x) for x in ids)
    return _frame(np.concatenate(ids), np.concatenate(chans), ["state_contact_cap"] * n, np.concatenate(untils))
