"""The first screen of a store page: "What to do this week" (issue 17 item 1).

At most three actions, each with its number and the file staff use for it, chosen from the
store's own results: the most urgent kinds first (what can cost consent or a sale before what
is merely worth doing), zero counts left out, and a file named only when it is there beside
the report. The choosing is pure (:func:`audit_actions`, :func:`retention_actions`,
:func:`referrals_actions`, :func:`choose`); :func:`show` renders it in a notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from ..words import plural
from . import html

MAX_ACTIONS = 3
TITLE = "What to do this week"


@dataclass(frozen=True)
class Action:
    """One thing to do: ``text`` (a sentence with its number), ``count``, the ``file`` to use
    (None: nothing to open), ``urgency`` (lower first)."""

    text: str
    count: int
    file: str | None
    urgency: int


def choose(
    candidates: Iterable[Action], exists: Callable[[str], bool] | None = None, limit: int = MAX_ACTIONS
) -> list[Action]:
    """The actions to show: counts above zero, whose file exists (when ``exists`` is given),
    most urgent first, then the larger count; at most ``limit``."""
    kept = [a for a in candidates if a.count > 0 and (a.file is None or exists is None or exists(a.file))]
    kept.sort(key=lambda a: (a.urgency, -a.count))
    return kept[:limit]


def _customers(frame: pd.DataFrame | None) -> int:
    if frame is None or len(frame) == 0:
        return 0
    if "customer_id" in frame.columns:
        return int(frame["customer_id"].nunique())
    return int(len(frame))


# --- audit -----------------------------------------------------------------------------


def audit_actions(result: Any, rule_words: dict[str, str] | None = None) -> list[Action]:
    """Candidates of the audit: hold back the suppression list, stop what breaks a serious
    rule, fix the most common problem."""
    if rule_words is None:
        from ..audit import catalog

        rule_words = catalog.titles()
    out: list[Action] = []
    n = _customers(result.suppression)
    out.append(
        Action(
            f"Import suppression.csv into every sending tool: {plural(n, 'customer')} to hold back "
            "from marketing on at least one channel",
            n,
            "suppression.csv",
            0,
        )
    )
    flags = result.flags
    if len(flags):
        high = flags[flags["severity"] == "high"]
        n_high = int(high["message_id"].nunique())
        if n_high:
            top = high.groupby("rule").size().sort_values(ascending=False, kind="stable")
            word = rule_words.get(str(top.index[0]), str(top.index[0])).lower()
            out.append(
                Action(
                    f"Find out who sent the {plural(n_high, 'message')} that broke a serious rule "
                    f"(most often: {word}) and stop them: flags.csv, severity high",
                    n_high,
                    "flags.csv",
                    1,
                )
            )
        by_rule = flags.groupby("rule")["message_id"].nunique().sort_values(ascending=False, kind="stable")
        rule = str(by_rule.index[0])
        if not len(high) or rule not in set(high["rule"]):
            n_rule = int(by_rule.iloc[0])
            out.append(
                Action(
                    f"Fix the most common problem, {rule_words.get(rule, rule).lower()}: "
                    f"{plural(n_rule, 'message')} in flags.csv",
                    n_rule,
                    "flags.csv",
                    2,
                )
            )
    return out


# --- retention -------------------------------------------------------------------------

# (result attribute, file, urgency, sentence with {n}: a count phrase)
RETENTION = (
    ("due_for_service", "due_for_service.csv", 0, "Call the {n} due for service: due_for_service.csv"),
    (
        "recently_lost",
        "recently_lost.csv",
        1,
        "Win back the {n} who stopped coming in 12 to 24 months ago: recently_lost.csv",
    ),
    (
        "declined_work",
        "declined_work.csv",
        2,
        "Offer to book the {n} declined on a repair order and not done yet: declined_work.csv",
    ),
    (
        "warranty_expiring",
        "warranty_expiring.csv",
        3,
        "Offer an extended warranty to the {n} whose warranty ends soon: warranty_expiring.csv",
    ),
    (
        "milestones",
        "milestones.csv",
        4,
        "Send a personal note to the {n} with a birthday or purchase anniversary coming up: milestones.csv",
    ),
)


def retention_actions(result: Any) -> list[Action]:
    out = []
    for attr, filename, urgency, sentence in RETENTION:
        if (getattr(result, "skipped", {}) or {}).get(attr):
            continue
        frame = getattr(result, attr, None)
        if attr == "declined_work":
            n = 0 if frame is None else int(len(frame))
            noun = plural(n, "item of work", "items of work")
        else:
            n = _customers(frame)
            noun = plural(n, "customer")
        out.append(Action(sentence.format(n=noun), n, filename, urgency))
    return out


# --- referrals -------------------------------------------------------------------------


def referrals_actions(result: Any) -> list[Action]:
    out = []
    skipped = getattr(result, "skipped", {}) or {}
    f = result.followups
    if not skipped.get("followups") and len(f):
        late = int(f["action"].eq("contact_referred").sum())
        thank = int(f["action"].eq("thank_advocate").sum())
        out.append(
            Action(
                f"Call the {plural(late, 'person', 'people')} referred who are still waiting for a first "
                "call: referral_followups.csv"
                if late != 1
                else "Call the 1 person referred who is still waiting for a first call: referral_followups.csv",
                late,
                "referral_followups.csv",
                0,
            )
        )
        out.append(
            Action(
                f"Thank the {plural(thank, 'advocate')} whose referral bought: referral_followups.csv",
                thank,
                "referral_followups.csv",
                1,
            )
        )
    an = result.anomalies
    if not skipped.get("anomalies") and an is not None and len(an):
        n = int(an["referral_id"].nunique()) if "referral_id" in an.columns else int(len(an))
        out.append(
            Action(
                f"Check the {plural(n, 'referral')} that look wrong (self-referral or several advocates) "
                "before paying a reward: see What needs attention below"
                if n != 1
                else "Check the 1 referral that looks wrong (self-referral or several advocates) before paying "
                "a reward: see What needs attention below",
                n,
                None,
                2,
            )
        )
    return out


# --- rendering -------------------------------------------------------------------------


def candidates(report: str, result: Any) -> list[Action]:
    if report == "audit":
        return audit_actions(result)
    if report == "retention":
        return retention_actions(result)
    if report == "referrals":
        return referrals_actions(result)
    raise ValueError(f"no actions for the report {report!r}")


def render(actions: list[Action]) -> str:
    """The block's HTML: a numbered list, each action's number in bold, its file marked."""
    if not actions:
        return html.note("Nothing urgent this week: no list below has anyone on it.", "info")
    items = []
    for a in actions:
        text = html.esc(a.text)
        if a.file:
            f = html.esc(a.file)
            text = text.replace(f, f'<span class="oc-file">{f}</span>')
        items.append(
            f'<li class="oc-action"><span class="oc-action-n">{a.count:,}</span>'
            f'<span class="oc-action-text">{text}</span></li>'
        )
    return f'<ol class="oc-actions">{"".join(items)}</ol>'


def block(report: str, result: Any, out_dir: str | Path | None) -> str:
    """The "What to do this week" HTML of one report's results (files looked up in ``out_dir``)."""
    folder = Path(out_dir) if out_dir is not None else None
    exists = (lambda name: (folder / name).is_file()) if folder is not None else None
    return render(choose(candidates(report, result), exists))


def show(ctx: Any, result: Any) -> None:
    """The notebook cell: the block as the page's first section (``this-week``)."""
    html.publish(
        html.heading(TITLE, "The few things that matter most now, with the file beside this report to use for each.")
        + block(ctx.report, result, ctx.out_dir),
        section="this-week",
    )
