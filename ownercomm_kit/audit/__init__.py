"""The communication audit (SPEC §4): every rule, the figures beyond the flags, the suppression list.

``run_audit(data, params)`` (``engine``) is what the audit notebook calls; ``run_rules(data, params,
rules=None)`` runs only the rules (``ownercomm audit``, scripting, benchmarks).

The audit covers every message dated up to ``as_of`` (the dealer's calendar; later ones are
left out, so an earlier ``as_of`` rebuilds the audit as it stood then). ``as_of`` is also the
"now" of the suppression list, of the current cap windows (``over_cap``) and of the 12-month
responsiveness tiers.
"""

from __future__ import annotations

from . import metrics
from .metrics import TIERS
from .rules import FLAG_COLUMNS, RULES, Rule, run_rules, run_rules_timed, up_to_as_of
from . import state_rules  # noqa: E402,F401  registers state_quiet_hours and state_contact_cap (after the others)
from .suppression import suppression_list
from .engine import HEADLINE_KEYS, AuditResult, headline_figures, run_audit

__all__ = [
    "AuditResult",
    "run_audit",
    "run_rules",
    "run_rules_timed",
    "RULES",
    "Rule",
    "FLAG_COLUMNS",
    "DEFINITIONS",
    "TIERS",
    "HEADLINE_KEYS",
    "suppression_list",
    "metrics",
    "up_to_as_of",
    "headline_figures",
]


def __getattr__(name: str):
    if name == "DEFINITIONS":  # the figures' definitions with the kit's default parameters
        return metrics.definitions(None)
    raise AttributeError(name)
