"""``run_audit(data, params)``: every rule, the figures beyond the flags, the suppression list
(SPEC §4), as one :class:`AuditResult` (what the audit notebook shows and saves)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..data import DealerData
from . import metrics
from .rules import run_rules, up_to_as_of
from . import state_rules  # noqa: E402  registers state_quiet_hours and state_contact_cap (after the others)
from .suppression import suppression_list

HEADLINE_KEYS = ("messages", "customers_messaged", "flags_high", "flags_total", "over_cap_customer_share")


@dataclass
class AuditResult:
    flags: pd.DataFrame  # FLAG_COLUMNS, one row per (message, rule)
    skipped: dict[str, str]  # rule -> why it was skipped ("partly: ..." when it ran on part of the data)
    suppression: pd.DataFrame  # customer_id, channel, rule, until (NaT = indefinitely)
    frequency: pd.DataFrame
    over_cap: pd.DataFrame
    heatmap: pd.DataFrame  # weekday x hour (customer's local time)
    sender_mix: pd.DataFrame
    fatigue: pd.DataFrame
    tiers: pd.DataFrame
    tier_summary: pd.DataFrame
    replay: pd.DataFrame
    replay_by_sender: pd.DataFrame
    top_customers: pd.DataFrame
    headline: dict = field(default_factory=dict)  # exactly HEADLINE_KEYS (SPEC §7 kpis.json)
    definitions: dict = field(default_factory=lambda: metrics.definitions(None))  # with the dealer's parameters
    states: dict = field(default_factory=dict)  # the "State laws" section: methods, flags by state, the table


def headline_figures(data: DealerData, flags: pd.DataFrame, params: dict) -> dict:
    """The audit's headline counts (SPEC §7 kpis.json) of ``data`` (already up to its as_of)
    and its flags: what the report shows and what ``ownercomm history`` records per month-end."""
    comm = data["communications"]
    customers = metrics.customers_messaged(data)
    return {
        "messages": int(len(comm)),
        "customers_messaged": customers,
        "flags_high": int((flags["severity"] == "high").sum()),
        "flags_total": int(len(flags)),
        "over_cap_customer_share": metrics.over_cap_customer_share(data, flags, params, customers=customers),
    }


def run_audit(data: DealerData, params: dict) -> AuditResult:
    data = up_to_as_of(data)
    flags, skipped = run_rules(data, params)
    tiers = metrics.tiers(data, params)
    headline = headline_figures(data, flags, params)
    return AuditResult(
        flags=flags,
        skipped=skipped,
        suppression=suppression_list(data, params),
        frequency=metrics.frequency(data),
        over_cap=metrics.over_cap(data, params),
        heatmap=metrics.heatmap(data),
        sender_mix=metrics.sender_mix(data),
        fatigue=metrics.fatigue(data, params),
        tiers=tiers,
        tier_summary=metrics.tier_summary(tiers, params),
        replay=metrics.replay(data, flags),
        replay_by_sender=metrics.replay_by_sender(data, flags),
        top_customers=metrics.top_customers(data, flags, params),
        headline=headline,
        definitions=metrics.definitions(params),
        states=state_rules.state_summary(data, params, flags),
    )
