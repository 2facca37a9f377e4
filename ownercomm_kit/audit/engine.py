"""``run_audit(data, params)``: every rule, the figures beyond the flags, the suppression list
(SPEC §4), as one :class:`AuditResult` (what the audit notebook shows and saves)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
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


def run_audit(data: DealerData, params: dict, workers: int | None = None) -> AuditResult:
    """Every rule, then the figures beyond the flags. The figures are independent of one
    another (pure functions of the data, the parameters and the flags, sharing the sorted
    messages' thread-safe caches), so they are computed on ``workers`` threads (default: up to
    two, as the rules), which numpy's and Arrow's work shares without the GIL."""
    data = up_to_as_of(data)
    flags, skipped = run_rules(data, params)
    # in the order they were computed one after another: the first that fails is the one raised
    figures = _computed(
        {
            "tiers": lambda: metrics.tiers(data, params),
            "headline": lambda: headline_figures(data, flags, params),
            "suppression": lambda: suppression_list(data, params),
            "frequency": lambda: metrics.frequency(data),
            "over_cap": lambda: metrics.over_cap(data, params),
            "heatmap": lambda: metrics.heatmap(data),
            "sender_mix": lambda: metrics.sender_mix(data),
            "fatigue": lambda: metrics.fatigue(data, params),
            "replay": lambda: metrics.replay(data, flags),
            "replay_by_sender": lambda: metrics.replay_by_sender(data, flags),
            "top_customers": lambda: metrics.top_customers(data, flags, params),
            "definitions": lambda: metrics.definitions(params),
            "states": lambda: state_rules.state_summary(data, params, flags),
        },
        workers,
    )
    tier_summary = metrics.tier_summary(figures["tiers"], params)
    return AuditResult(flags=flags, skipped=skipped, tier_summary=tier_summary, **figures)


def _computed(jobs: dict, workers: int | None) -> dict:
    """name -> jobs[name](), on up to ``workers`` threads; a job's error is raised as it would be
    computing them one after another (the first failing job in ``jobs``' order)."""
    workers = workers or min(2, os.cpu_count() or 1)
    if workers < 2:
        return {name: job() for name, job in jobs.items()}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}
