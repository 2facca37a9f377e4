"""One object per key of kpis.json (SPEC §5-7): key, label, unit, better direction, definition.

Every page that names a figure reads its label here, so "Serious problems" is called the same
on the audit page, in the group index, in history.csv's companion charts and in the progress
section. ``better`` says which way is an improvement (``up``, ``down`` or ``none`` for plain
volumes such as messages sent): the change against a baseline is worded and coloured from it.

Definitions are built from the dealer's own parameters (the same templates the reports show:
``retention.DEFINITION_TEMPLATES``, ``referrals.DEFINITION_TEMPLATES``, ``audit.metrics.definitions``),
so a dealer with a 6-month window reads "6 months" everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

UNITS = ("count", "share", "money")
BETTER = ("up", "down", "none")
# The number kind of report.html.fmt_number for each unit.
KIND = {"count": "int", "share": "pct", "money": "money"}


@dataclass(frozen=True)
class KPI:
    key: str
    label: str  # plain words, one per figure, used everywhere
    unit: str  # count | share | money
    better: str  # up | down | none
    report: str  # audit | retention | referrals | group: the page whose headline shows it
    noun: str = ""  # what a count counts, for "12 fewer serious problems" (count KPIs)

    def __post_init__(self) -> None:
        assert self.unit in UNITS and self.better in BETTER, self

    @property
    def kind(self) -> str:
        return KIND[self.unit]

    def definition(self, params: Mapping[str, Any] | None = None) -> str:
        """The definition shown to the dealer, with the dealer's parameters filled in."""
        return _definition(self, params)


def _definition(k: KPI, params: Mapping[str, Any] | None) -> str:
    if k.report == "audit":
        from ..audit import metrics

        return metrics.definitions(dict(params) if params else None).get(k.key, "")
    if k.report == "group":
        from ..group.page import KPI_DEFINITIONS

        return KPI_DEFINITIONS.get(k.key, "")
    if k.report == "retention":
        from .. import retention as mod
    else:
        from .. import referrals as mod
    if params and params.get(k.report):
        try:
            return mod.definitions(params[k.report]).get(k.key, "")
        except (KeyError, TypeError, ValueError):
            pass
    return mod.DEFINITIONS.get(k.key, "")


_ALL: tuple[KPI, ...] = (
    # The audit's headline counts (SPEC §7).
    KPI("messages", "Messages sent", "count", "none", "audit", "messages"),
    KPI("customers_messaged", "Customers messaged", "count", "none", "audit", "customers messaged"),
    KPI("flags_total", "Problems found", "count", "down", "audit", "problems"),
    KPI("flags_high", "Serious problems", "count", "down", "audit", "serious problems"),
    KPI("over_cap_customer_share", "Customers over a message cap", "share", "down", "audit"),
    # Retention (SPEC §5).
    KPI("first_year_service_retention", "First-year service retention", "share", "up", "retention"),
    KPI("service_customer_retention_12m", "Service customers who came back", "share", "up", "retention"),
    KPI("appointment_show_rate_90d", "Appointments kept (90 days)", "share", "up", "retention"),
    KPI("reminder_booking_rate_90d", "Reminders followed by a booking", "share", "up", "retention"),
    KPI("response_rate_90d", "Messages answered (90 days)", "share", "up", "retention"),
    KPI("repurchase_rate", "Customers who bought again", "share", "up", "retention"),
    KPI("segment_active_share", "Customers active in service", "share", "up", "retention"),
    KPI("segment_recently_lost_share", "Customers recently lost to service", "share", "down", "retention"),
    KPI("segment_defected_share", "Customers who stopped coming", "share", "down", "retention"),
    KPI("segment_never_serviced_share", "Buyers never serviced", "share", "down", "retention"),
    KPI("declined_work_recovery_90d", "Declined work won back", "share", "up", "retention"),
    # Referrals (SPEC §6).
    KPI("referrals_12m", "Referrals (12 months)", "count", "up", "referrals", "referrals"),
    KPI("advocate_rate_12m", "Customers who referred someone", "share", "up", "referrals"),
    KPI("referral_conversion_12m", "Referrals that bought", "share", "up", "referrals"),
    KPI("first_contact_24h_share", "Contacted within 24 hours", "share", "up", "referrals"),
    KPI("acknowledgment_rate", "Advocates thanked", "share", "up", "referrals"),
    KPI("referral_revenue_12m", "Sales from referrals", "money", "up", "referrals"),
    # The group step (SPEC §9): in the group's manifest.json, not in a store's kpis.json.
    KPI("shared_customers", "Shared customers", "count", "none", "group", "shared customers"),
    KPI("shared_customer_message_share", "Messages reaching shared customers", "share", "down", "group"),
    KPI("group_flags_total", "Group flags", "count", "down", "group", "group flags"),
)

KPIS: dict[str, KPI] = {k.key: k for k in _ALL}


def get(key: str) -> KPI:
    return KPIS[key]


def label(key: str) -> str:
    """The figure's label; an unknown key (a newer kit's figure in an old record) as itself."""
    k = KPIS.get(key)
    return k.label if k else key


def by_report(report: str) -> list[KPI]:
    return [k for k in _ALL if k.report == report]


def number(value: Any) -> float | None:
    """A figure as a float; None for a missing, NaN or non-numeric value."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


@dataclass(frozen=True)
class Change:
    """A figure's change against its baseline, in words and with a tone for the colour."""

    key: str
    old: float
    new: float
    delta: float
    words: str  # "12 fewer serious problems than on 31 May 2026"
    tone: str  # good | bad | "" (no direction, or no change)
    arrow: str  # up | down | same


def change(key: str, new: Any, old: Any, since: str) -> Change | None:
    """``new`` against ``old`` (the baseline's value), in words: None when either is missing.

    ``since`` is the baseline in words ("on 31 May 2026"). A figure without a baseline value
    has no change (not a zero change): the caller shows nothing.
    """
    k = KPIS.get(key)
    a, b = number(old), number(new)
    if k is None or a is None or b is None:
        return None
    delta = b - a
    from ..report.html import fmt_number

    eps = 1e-9 if k.unit != "share" else 5e-4  # shares are shown to 0.1 point
    if abs(delta) < eps:
        return Change(key, a, b, 0.0, f"the same as {since}", "", "same")
    up = delta > 0
    if k.unit == "count":
        n = abs(delta)
        amount = fmt_number(int(n) if float(n).is_integer() else n, "int" if float(n).is_integer() else "float")
        noun = k.noun or k.label.lower()
        if n == 1:  # "1 fewer serious problem"
            noun = (
                noun.replace("customers", "customer")
                .replace("problems", "problem")
                .replace("messages", "message")
                .replace("referrals", "referral")
            )
        words = f"{amount} {'more' if up else 'fewer'} {noun} than {since}"
    elif k.unit == "share":
        pts = abs(delta) * 100
        words = f"{pts:.1f} percentage points {'higher' if up else 'lower'} than {since}"
    else:
        words = f"{fmt_number(abs(delta), 'money')} {'more' if up else 'less'} than {since}"
    if k.better == "none":
        tone = ""
    else:
        tone = "good" if (up == (k.better == "up")) else "bad"
    return Change(key, a, b, delta, words, tone, "up" if up else "down")
