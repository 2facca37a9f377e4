"""Small builders for hand-made audit cases (tests of ownercomm_kit.audit)."""

from __future__ import annotations

import copy

import pandas as pd

from ownercomm_kit import schema
from ownercomm_kit.data import from_frames
from ownercomm_kit.params import load_defaults

DEALER_TZ = "America/New_York"
_DEFAULTS = load_defaults()


def params(**rule_overrides) -> dict:
    """Default parameters, with ``rule_name={key: value}`` overrides."""
    p = copy.deepcopy(_DEFAULTS)
    for name, over in rule_overrides.items():
        section = p["audit"] if name == "audit" else p["rules"][name]
        section.update(over)
    return p


def msg(mid, sent_at, customer="C1", channel="email", sender="dealer", category="newsletter", **extra) -> dict:
    """One message; ``sent_at`` without offset is in the dealer's timezone."""
    return {
        "message_id": mid,
        "customer_id": customer,
        "sent_at": sent_at,
        "channel": channel,
        "sender": sender,
        "category": category,
        **extra,
    }


def dealer(messages: list[dict], customers: list[dict] | None = None, *, timezone=DEALER_TZ, as_of=None, **tables):
    """A DealerData; customers default to every customer messaged, with no optional column.

    Columns no message (or row) carries are absent from the data, as the loader records them.
    """
    if customers is None:
        customers = [{"customer_id": c} for c in dict.fromkeys(m["customer_id"] for m in messages)]
    frames = {"communications": _frame(messages), "customers": _frame(customers)}
    frames.update({k: _frame(v) for k, v in tables.items()})
    return from_frames(frames, timezone=timezone, as_of=as_of)


_TIMES = {c.name for t in schema.TABLES.values() for c in t.columns if c.kind in ("date", "timestamp")}


def _frame(rows: list[dict]) -> pd.DataFrame:
    """Rows to a frame; time strings parsed one by one (ISO, with or without offset)."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    conv = lambda c, v: pd.Timestamp(v) if c in _TIMES and isinstance(v, str) else v  # noqa: E731
    return pd.DataFrame([{c: conv(c, r.get(c)) for c in cols} for r in rows], columns=cols)


def pairs(flags: pd.DataFrame, rule: str | None = None) -> set[tuple[str, str]] | set[str]:
    """Flagged message ids of one rule, or (message_id, rule) pairs of all."""
    if rule is not None:
        return set(flags.loc[flags["rule"] == rule, "message_id"])
    return set(zip(flags["message_id"], flags["rule"]))


def one(flags: pd.DataFrame, rule: str, message_id: str) -> pd.Series:
    row = flags[(flags["rule"] == rule) & (flags["message_id"] == message_id)]
    assert len(row) == 1, f"expected one {rule} flag on {message_id}, got {len(row)}"
    return row.iloc[0]
