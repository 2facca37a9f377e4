"""The SPEC §4 state rules: ``state_quiet_hours`` and ``state_contact_cap`` (risk flags, not legal advice).

The table of state laws is ``params["state_rules"]`` (``state_laws.state_table``); a customer's
state comes from customers.state, else the ZIP prefix, else the phone's area code
(``state_laws.customer_states``). Readings that the tests pin:

- a state's law covers the messages dated (dealer's calendar, as every "message date") on or after
  its ``effective`` date: earlier ones are neither flagged nor counted;
- state rules concern solicitations: only non-exempt messages are flagged or counted, exempt
  meaning ``audit.exempt_categories`` (recall, transactional) plus the state's own
  ``exempt_categories`` (MD: service_reminder, warranty);
- state_quiet_hours: a message on one of the state's channels whose time of day in the
  customer's timezone (else the dealer's, as quiet_hours) is outside [start, end); a message
  that quiet_hours flags (its channels, its window) is left to quiet_hours. With quiet_hours
  turned off, nothing is "already flagged by quiet_hours";
- state_contact_cap: the customer's counted messages (state channels, non-exempt) of this
  message's category in (t - cap_hours, t], every sender, this one included, ties of sent_at
  ordered by message_id as in every window rule; above the cap is flagged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import schema, state_laws
from ..data import DealerData
from . import text as tx
from .catalog import Support, category_words
from .rules import _tod, customer_local, empty_flags, make_flags, rule
from ..arrays import searchsorted_sorted
from .windows import DAY, MARGIN_DAYS, Messages, messages_of

NEEDS = [("customers", "state"), ("customers", "postal_code"), ("customers", "phone")]


def customer_states(data: DealerData) -> pd.DataFrame:
    """customer_id, state, state_method of every row of customers (cached on the data)."""
    cached = getattr(data, "_state_cache", None)
    cust = data["customers"]
    if cached is not None and cached[0] is cust:
        return cached[1]
    out = state_laws.customer_states(cust, lambda col: data.has("customers", col))
    try:
        data._state_cache = (cust, out)
    except AttributeError:  # a frozen container: compute again next time
        pass
    return out


class Ruled:
    """The state rules of these parameters as arrays, and each messaged customer's ruled state."""

    def __init__(self, data: DealerData, m: Messages, params: dict):
        self.rules = list(state_laws.state_table(params).values())
        codes = [r.state for r in self.rules]
        states = customer_states(data)
        idx = pd.Index(codes).get_indexer(pd.Index(states["state"].fillna("")))
        cc = m.customer_codes(states["customer_id"])
        self.of_customer = np.full(len(m.customers), -1, np.int64)  # index into self.rules, -1: none
        ok = cc >= 0
        self.of_customer[cc[ok]] = idx[ok]
        k = len(self.rules)
        base = set(params.get("audit", {}).get("exempt_categories", schema.EXEMPT_CATEGORIES))
        # [state (+ none), category (+ unknown)] -> exempt; [state, channel] -> the state's channel
        self.exempt = np.ones((k + 1, len(schema.CATEGORIES) + 1), bool)
        self.channel = np.zeros((k + 1, len(schema.CHANNELS) + 1), bool)
        for i, r in enumerate(self.rules):
            ex = base | set(r.exempt_categories)
            self.exempt[i, :-1] = [c in ex for c in schema.CATEGORIES]
            self.exempt[i, -1] = False
            self.channel[i, :-1] = [c in r.channels for c in schema.CHANNELS]
        self.start = np.array([_tod(r.start) for r in self.rules] + [0], np.int64)
        self.end = np.array([_tod(r.end) for r in self.rules] + [DAY], np.int64)
        self.cap = np.array([r.cap if r.cap is not None else -1 for r in self.rules] + [-1], np.int64)
        self.hours = np.array([r.cap_hours for r in self.rules] + [0.0])
        # a law covers messages dated (dealer's calendar) on or after its effective date
        self.effective = np.array([_day(r.effective) for r in self.rules] + [np.iinfo(np.int64).max], np.int64)
        self.names = np.array([state_laws.state_name(r.state) + "'s" for r in self.rules] + [""], dtype=object)
        self.cites = np.array([r.citation for r in self.rules] + [""], dtype=object)

    def row_state(self, m: Messages) -> np.ndarray:
        """Per sorted row: index of the customer's ruled state (k = none, the last row of the luts)."""
        s = self.of_customer[m.cust]
        return np.where(s >= 0, s, len(self.rules))

    def counted(self, m: Messages) -> tuple[np.ndarray, np.ndarray]:
        """(state per row, rows a state rule looks at: a ruled customer, a state channel, not exempt)."""
        s = self.row_state(m)
        ok = self.channel[s, m.channel] & ~self.exempt[s, m.category] & (s < len(self.rules))
        if len(self.rules) and (self.effective[:-1] > np.iinfo(np.int64).min).any():
            ok &= m.local_day() >= self.effective[s]
        return s, ok


def _day(text: str) -> int:
    """Days since 1970-01-01 of an effective date (no date: the law always applied)."""
    try:
        return int(np.datetime64(str(text).strip()[:10], "D").astype(np.int64))
    except ValueError:
        return int(np.iinfo(np.int64).min)


def _ruled(data: DealerData, m: Messages, params: dict) -> Ruled:
    return m.cached(("state_rules", _params_key(params), id(data["customers"])), lambda: Ruled(data, m, params))


def _params_key(params: dict) -> str:
    import json

    return json.dumps(
        [params.get("state_rules"), params.get("audit", {}).get("exempt_categories")], sort_keys=True, default=str
    )


def _state_partial(data: DealerData) -> str | None:
    states = customer_states(data)
    none = int((states["state_method"] == "none").sum())
    if none:
        return f"{none:,} of {len(states):,} customers have no state (no state rule applies to them)"
    return None


@rule(
    "state_quiet_hours",
    needs_any=NEEDS,
    family="timing",
    partial=_state_partial,
    scope="state",
    title="Outside a state's calling hours",
    define=lambda p: (
        "A text or call outside the calling window of the customer's state ("
        + _state_windows(p)
        + "), in the customer's local time, and not already a night-time text or call. Risk flag, not legal advice."
    ),
    example="Texted at 8:30 PM customer's time, outside Florida's window (8 AM to 8 PM)",
    support=[
        Support(
            "from the customer's own state column",
            ("customers.state",),
            "the state comes from the ZIP code or the phone's area code only",
        )
    ],
)
def state_quiet_hours(data: DealerData, params: dict) -> pd.DataFrame:
    m = messages_of(data)
    st = _ruled(data, m, params)
    if not st.rules:
        return empty_flags(data)
    s, counted = st.counted(m)
    rows = np.flatnonzero(counted)
    local, own_zone = customer_local(data, m, rows)
    tod = np.mod(local, DAY)
    s = s[rows]
    outside = (tod < st.start[s]) | (tod >= st.end[s])
    qh = params["rules"].get("quiet_hours", {})
    if qh.get("enabled", True):  # what quiet_hours flags stays with quiet_hours
        qch = np.isin(
            m.channel[rows], [schema.CHANNELS.index(c) for c in qh.get("channels", []) if c in schema.CHANNELS]
        )
        q0, q1 = _tod(qh["start"]), _tod(qh["end"])
        federal = (tod < q0) | (tod >= q1) if q0 <= q1 else (tod < q0) & (tod >= q1)
        outside &= ~(qch & federal)
    rows, tod, own_zone, s = rows[outside], tod[outside], own_zone[outside], s[outside]
    start = np.array([tx.clock_param(r.start) for r in st.rules] + [""], dtype=object)
    end = np.array([tx.clock_param(r.end) for r in st.rules] + [""], dtype=object)
    detail = tx.join(
        tx.lookup(m.channel[rows], schema.CHANNELS, tx.VERB),
        " at ",
        tx.clock(tod),
        tx.pick_words((" dealer's time", " customer's time"), own_zone),
        ", outside ",
        tx.pick_words(st.names, s),
        " calling window ",
        tx.pick_words(start, s),
        " to ",
        tx.pick_words(end, s),
        " (",
        tx.pick_words(st.cites, s),
        ")",
    )
    return make_flags(data, m, "state_quiet_hours", params, rows, detail)


def over_state_cap(m: Messages, st: Ruled, s: np.ndarray, counted: np.ndarray):
    """Counted rows above their state's cap: (rows, count in the window, first row of the window).

    One pass per distinct cap window: rows stable-sorted by category keep their global order, so
    the count of same-category rows in [window start, row] is one ``searchsorted`` away.
    """
    capped = counted & (st.cap[s] >= 0)
    rows_all = np.flatnonzero(capped)
    o = rows_all[np.argsort(m.category[rows_all], kind="stable")]  # radix on int8: by category, then row
    n1 = len(m) + 1
    key = m.category[o].astype(np.int64) * n1 + o  # sorted
    pos = np.arange(len(o))
    out_rows, out_count, out_first = [], [], []
    for hours in np.unique(st.hours[s[o]]):
        sel = st.hours[s[o]] == hours
        j = _window_start_of(m, o[sel], int(round(float(hours) * 3600)) * 10**9)
        lo = np.searchsorted(key, m.category[o[sel]].astype(np.int64) * n1 + j, "left")
        count = pos[sel] - lo + 1
        over = count > st.cap[s[o[sel]]]
        out_rows.append(o[sel][over])
        out_count.append(count[over])
        out_first.append(o[lo[over]])
    if not out_rows:
        return np.array([], np.int64), np.array([], np.int64), np.array([], np.int64)
    rows, count, first = (np.concatenate(x) for x in (out_rows, out_count, out_first))
    order = np.argsort(rows, kind="stable")
    return rows[order], count[order], first[order]


def _window_start_of(m: Messages, rows: np.ndarray, width: int) -> np.ndarray:
    """``Messages.window_start`` for some rows only (the customers of law states are few)."""
    if m.uniq_t is None and width % m.unit == 0 and width <= MARGIN_DAYS * DAY:
        lo = m.key[rows] - (width // m.unit - 1)  # t > t_row - width, in key units
    elif m.uniq_t is None and width % m.unit == 0:
        lo = np.maximum(m.key[rows] - (width // m.unit - 1), m.cust[rows] * m.span)
    else:
        lo = m.lo_key(m.cust[rows], m.t[rows] - width)
    return searchsorted_sorted(m.key, lo, "left")


@rule(
    "state_contact_cap",
    needs_any=NEEDS,
    family="windows",
    partial=_state_partial,
    scope="state",
    title="Over a state's limit on one subject",
    define=lambda p: (
        "More texts and calls on one subject (the kind of message) in the state's time limit than its "
        "law allows, from every sender together, counting this one ("
        + _state_caps(p)
        + "). Risk flag, not legal advice."
    ),
    example="4th text or call about offers in 24 hours to a customer in Florida (limit 3)",
)
def state_contact_cap(data: DealerData, params: dict) -> pd.DataFrame:
    m = messages_of(data)
    st = _ruled(data, m, params)
    if not st.rules:
        return empty_flags(data)
    s, counted = st.counted(m)
    rows, count, first = over_state_cap(m, st, s, counted)
    s = s[rows]
    hours = np.array([f"{r.cap_hours:g}" for r in st.rules] + [""], dtype=object)
    detail = tx.join(
        tx.ordinal(count),
        " text or call about ",
        tx.lookup(m.category[rows], schema.CATEGORIES, tx.CATEGORY),
        " in ",
        tx.pick_words(hours, s),
        " hours (",
        tx.pick_words(st.names, s),
        " cap ",
        tx.num(st.cap[s]),
        " per subject, ",
        tx.pick_words(st.cites, s),
        ")",
    )
    return make_flags(data, m, "state_contact_cap", params, rows, detail, m.related(first))


# ---------------------------------------------------------------- beyond the flags


def state_cap_now(data: DealerData, params: dict, a_end: int):
    """Customers at a state cap at ``a_end`` (one more message of a category would break it):
    (customer codes, the instant the last capped category's window frees up), one per customer."""
    m = messages_of(data)
    st = _ruled(data, m, params)
    if not st.rules or not len(m):
        return np.array([], np.int64), np.array([], np.int64)
    s, counted = st.counted(m)
    width = (st.hours * 3600 * 10**9).astype(np.int64)[s]
    live = counted & (st.cap[s] >= 1) & (m.t <= a_end) & (m.t > a_end - width)
    rows = np.flatnonzero(live)
    ncat = len(schema.CATEGORIES) + 1
    # (customer, category) runs, in time order within each run
    key = m.cust[rows].astype(np.int64) * ncat + (m.category[rows].astype(np.int64) + 1)
    o = np.argsort(key, kind="stable")
    rows, key = rows[o], key[o]
    new = np.ones(len(key), bool)
    new[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(new)
    count = np.diff(np.append(starts, len(key)))
    cap = st.cap[s[rows[starts]]]
    full = count >= cap
    # the window frees up when its (count - cap + 1)-th oldest message leaves it
    leaving = rows[starts[full] + count[full] - cap[full]]
    free_at = m.t[leaving] + width[leaving]
    cust = m.cust[rows[starts[full]]]
    if not len(cust):
        return cust, free_at
    frame = pd.DataFrame({"c": cust, "f": free_at}).groupby("c", sort=True)["f"].max()
    return frame.index.to_numpy(np.int64), frame.to_numpy(np.int64)


def state_summary(data: DealerData, params: dict, flags: pd.DataFrame) -> dict:
    """What the report's "State laws" section shows: methods, flags by state and rule, the table."""
    states = customer_states(data)
    methods = state_laws.method_counts(states)
    ruled = set(state_laws.state_table(params))
    f = flags[flags["rule"].isin(["state_quiet_hours", "state_contact_cap"])]
    by_state = pd.DataFrame(columns=["state", "rule", "flags", "customers"])
    if len(f):
        st = states.drop_duplicates("customer_id").set_index("customer_id")["state"]
        f = f.assign(state=f["customer_id"].astype("string").map(st))
        by_state = (
            f.groupby(["state", "rule"], observed=True)
            .agg(flags=("message_id", "size"), customers=("customer_id", "nunique"))
            .reset_index()
        )
    per_state = states["state"].value_counts()
    customers = pd.DataFrame({"state": sorted(ruled), "customers": [int(per_state.get(c, 0)) for c in sorted(ruled)]})
    return {
        "methods": methods,
        "by_state": by_state,
        "customers_in_ruled_states": customers,
        "table": state_laws.table_frame(params),
        "version": state_laws.table_version(params),
        "heatmap": law_heatmap(data, params),
    }


def law_heatmap(data: DealerData, params: dict) -> pd.DataFrame:
    """Texts and calls (the states' channels) to customers of a law state, by weekday and hour of
    the customer's local time (the dealer's when unknown): where the stricter windows bite."""
    from .metrics import WEEKDAYS  # metrics imports rules; imported here to keep the rule module light

    m = messages_of(data)
    st = _ruled(data, m, params)
    cols = pd.Index(range(24), name="hour")
    if not st.rules or not len(m):
        return pd.DataFrame(0, index=pd.Index(WEEKDAYS, name="weekday"), columns=cols)
    s = st.row_state(m)
    rows = np.flatnonzero((s < len(st.rules)) & st.channel[s, m.channel])
    local, _ = customer_local(data, m, rows)
    weekday = (np.floor_divide(local, DAY) + 3) % 7  # 1970-01-01 was a Thursday
    hour = np.mod(local, DAY) // (3600 * 10**9)
    counts = np.bincount(weekday * 24 + hour, minlength=7 * 24).reshape(7, 24)
    return pd.DataFrame(counts, index=pd.Index(WEEKDAYS, name="weekday"), columns=cols)


def _state_windows(params: dict) -> str:
    from .catalog import clock

    table = state_laws.state_table(params)
    return "; ".join(f"{c} {clock(r.start)} to {clock(r.end)}" for c, r in table.items()) or "no state in the table"


def _state_caps(params: dict) -> str:
    table = state_laws.state_table(params)
    parts = [
        f"{c} {r.cap} in {r.cap_hours:g} hours"
        + (f", {', '.join(category_words(x) for x in r.exempt_categories)} exempt" if r.exempt_categories else "")
        for c, r in table.items()
        if r.cap is not None
    ]
    return "; ".join(parts) or "no state caps contacts"
