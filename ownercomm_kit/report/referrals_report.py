"""Sections of the referral report (SPEC §6): one function per notebook cell."""

from __future__ import annotations

from .. import outputs, referrals, words
from ..kpis import registry
from . import charts, common, html, progress as progress_section
from .notebook import ReportContext

# Labels and units from the KPI registry (one label per figure, everywhere).
KPIS = tuple((k, registry.label(k), registry.get(k).kind) for k in referrals.KPI_KEYS)
EMPTY_TEMPLATES = {  # why a figure is empty, with the dealer's window (``empty_reasons``)
    "advocate_rate_12m": "no customer bought or came in for service in the last {window_months} months",
    "referral_conversion_12m": "no referral in the last {window_months} months",
    "first_contact_24h_share": "no referral in the last {window_months} months",
    "acknowledgment_rate": "no referral in the last {window_months} months",
}


def empty_reasons(p: dict) -> dict[str, str]:
    return {k: v.format(**p) for k, v in EMPTY_TEMPLATES.items()}


LABELS = {
    **{k: label for k, label, _ in KPIS},
    "monthly": "Referrals per month",
    "funnel": "From referral to sale",
    "by_incentive": "By incentive",
    "top_advocates": "Top advocates",
    "followups": "Follow-ups (call list)",
    "anomalies": "Referrals to check",
}
TABLES = ("customers", "sales", "service_visits", "referrals")
STAGE_WORDS = {"new": "Referred", "contacted": "Contacted", "appointment": "Came in", "sold": "Bought"}
ACTION_WORDS = {"contact_referred": "Call the person referred", "thank_advocate": "Thank the advocate"}
ANOMALY_WORDS = {"self_referral": "Self-referral", "several_advocates": "Referred by several advocates"}


def compute(ctx: ReportContext) -> referrals.ReferralResult:
    result = referrals.compute(ctx.data, ctx.params)
    ctx.results["referrals"] = result
    return result


def save(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    outputs.write_csv(r.followups, ctx.path("referral_followups.csv"))
    outputs.update_kpis(ctx.out_dir, {k: r.kpis.get(k) for k in referrals.KPI_KEYS})


def _no_programme(r: referrals.ReferralResult) -> str | None:
    why = r.skipped.get("monthly")
    return html.note(f"No referral programme data: {why}. The sections below stay empty.", "skip") if why else None


def headline(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    html.section(
        "headline", "Headline figures", "How many customers send their friends, and what happens to those referrals."
    )
    changes = progress_section.changes(ctx, r.kpis, [k for k, *_ in KPIS])
    parts = [
        _no_programme(r) or "",
        common.kpi_tiles(
            r.kpis, KPIS, r.definitions, r.skipped, empty_reasons(ctx.params["referrals"]), changes=changes
        ),
        progress_section.baseline_line(ctx),
        common.key_points(key_points(r, ctx.params["referrals"]["first_contact_hours"])),
    ]
    html.show("".join(parts))


def progress(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    """Progress: the headline figures over the history and earlier reports, baseline marked (SPEC §10)."""
    progress_section.section(ctx, r.kpis, [k for k, *_ in KPIS])


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def _is(n: int) -> str:
    return "is" if n == 1 else "are"


def key_points(r: referrals.ReferralResult, hours: float = 24) -> list[str]:
    if r.skipped.get("monthly"):
        return []
    f = r.followups
    late = int(f["action"].eq("contact_referred").sum()) if len(f) else 0
    thank = int(f["action"].eq("thank_advocate").sum()) if len(f) else 0
    points = []
    if not r.skipped.get("followups"):
        points.append(
            f"{words.plural(late, 'referral')} waited more than {words.plural(hours, 'hour')} without a call, and "
            f"{words.plural(thank, 'advocate')} whose referral bought {_was(thank)} not thanked: "
            "see referral_followups.csv."
        )
    if len(r.anomalies):
        points.append(
            f"{words.plural(len(r.anomalies), 'referral')} {'looks' if len(r.anomalies) == 1 else 'look'} "
            "wrong (self-referral or several advocates): check them "
            "before paying a reward."
        )
    return points


def attention(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    """What is wrong: referrals going cold, advocates not thanked, referrals that look wrong."""
    html.section(
        "attention",
        "What needs attention",
        "A referral is a warm lead only for a day or two, and an advocate who is not thanked rarely refers again.",
    )
    parts = []
    f = r.followups
    late = int(f["action"].eq("contact_referred").sum()) if len(f) else 0
    thank = int(f["action"].eq("thank_advocate").sum()) if len(f) else 0
    if not r.skipped.get("followups"):
        parts.append(
            html.bullets(
                [
                    f"{words.plural(late, 'referral')} {_was(late)} not contacted within {words.plural(ctx.params['referrals']['first_contact_hours'], 'hour')} and {_is(late)} still waiting.",
                    f"{words.plural(thank, 'advocate')} whose referral bought {'has' if thank == 1 else 'have'} not been thanked.",
                ]
            )
        )
    an = r.anomalies
    parts.append("<h3>Referrals to check</h3>")
    note = common.skipped_note(r.skipped, "anomalies")
    if note:
        parts.append(note)
    else:
        parts.append(html.paragraph(r.definitions.get("anomalies", ""), "oc-lead"))
        shown = an.assign(anomaly=an["anomaly"].map(lambda v: ANOMALY_WORDS.get(v, v))) if len(an) else an
        parts.append(
            html.table(
                shown,
                labels={
                    "referral_id": "Referral",
                    "anomaly": "What",
                    "matched_on": "Matched on",
                    "referrer_id": "Advocate",
                    "referrer_name": "Advocate's name",
                    "referred_name": "Person referred",
                    "referred_at": "Referred on",
                    "detail": "Detail",
                },
                max_rows=20,
                mask_pii=ctx.mask_pii,
                empty="Nothing suspicious found.",
            )
        )
    html.show("".join(parts))


def followups(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    html.section(
        "follow-ups",
        "Who to call",
        "Referrals to act on now. The full list with contact details is in referral_followups.csv; "
        "here contact details are masked.",
    )
    note = common.skipped_note(r.skipped, "followups")
    f = r.followups
    cols = ["action", "reason", "referrer_name", "referrer_contact", "referred_name", "referred_contact", "referred_at"]
    shown = f[cols].assign(action=f["action"].map(lambda v: ACTION_WORDS.get(v, v))) if len(f) else f
    html.show(
        (note or "")
        + html.table(
            shown,
            labels={
                "action": "To do",
                "reason": "Why",
                "referrer_name": "Advocate",
                "referrer_contact": "Advocate contact",
                "referred_name": "Person referred",
                "referred_contact": "Their contact",
                "referred_at": "Referred on",
            },
            max_rows=25,
            mask_pii=ctx.mask_pii,
            empty="Nothing to follow up today.",
        )
    )


def volume(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    html.section("volume", "Referrals per month", r.definitions.get("monthly", ""))
    if r.skipped.get("monthly"):
        html.show(common.skipped_note(r.skipped, "monthly"))
        return
    m = r.monthly.assign(other=lambda x: x["referrals"] - x["sold"])
    long = m.melt(id_vars="month", value_vars=["sold", "other"], var_name="kind", value_name="count")
    fig = charts.bar(
        long,
        x="month",
        y="count",
        color="kind",
        title="Referrals received per month",
        y_title="Referrals",
        names={"sold": "Bought", "other": "Not (yet) bought"},
        order=["sold", "other"],
    )
    hours = ctx.params["referrals"]["first_contact_hours"]
    charts.show(
        charts.add_line(fig, m["month"], m["contacted_24h"], name=f"Contacted within {words.plural(hours, 'hour')}")
    )


def funnel(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    html.section("funnel", "From referral to sale", r.definitions.get("funnel", ""))
    if r.skipped.get("funnel") or not len(r.funnel) or int(r.funnel["referrals"].iloc[0]) == 0:
        html.show(
            common.skipped_note(r.skipped, "funnel")
            or html.note(
                f"No referral in the last {words.plural(ctx.params['referrals']['window_months'], 'month')}.", "skip"
            )
        )
        return
    stages = [STAGE_WORDS.get(s, s) for s in r.funnel["stage"]]
    charts.show(
        charts.funnel(
            stages,
            r.funnel["referrals"].tolist(),
            title=f"Referrals of the last {words.plural(ctx.params['referrals']['window_months'], 'month')} by the furthest stage reached",
        )
    )


def incentives(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    html.section("incentives", "Which incentives work", r.definitions.get("by_incentive", ""))
    note = common.skipped_note(r.skipped, "by_incentive")
    if note:
        html.show(note)
        return
    b = r.by_incentive
    if int(b["referrals"].sum()):
        charts.show(
            charts.bar(
                b,
                x="incentive_category",
                y="conversion",
                color="incentive_category",
                color_kind="incentive",
                title=f"{registry.label('referral_conversion_12m')}, by incentive",
                y_title=registry.label("referral_conversion_12m"),
                hover_format=".1%",
                names={k: k.capitalize() for k in referrals.INCENTIVES},
            )
        )
    b = b.assign(incentive_category=b["incentive_category"].astype("string").str.capitalize())
    html.show(
        html.table(
            b,
            labels={
                "incentive_category": "Incentive",
                "referrals": "Referrals",
                "sold": "Bought",
                "conversion": registry.label("referral_conversion_12m"),
                "reward_spent": "Rewards",
                "cost_per_sale": "Rewards per sale",
            },
            formats={"conversion": "pct", "reward_spent": "money", "cost_per_sale": "money"},
            max_rows=None,
            mask_pii=False,
        )
    )


def advocates(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    html.section("advocates", "Top advocates", r.definitions.get("top_advocates", ""))
    html.show(
        common.skipped_note(r.skipped, "top_advocates")
        or html.table(
            r.top_advocates,
            labels={
                "customer_id": "Customer",
                "name": "Name",
                "referrals": "Referrals",
                "sold": "Bought",
                "revenue": "Sales",
                "rewards": "Rewards",
            },
            formats={"revenue": "money", "rewards": "money"},
            max_rows=None,
            mask_pii=ctx.mask_pii,
            empty=f"No referral in the last {words.plural(ctx.params['referrals']['window_months'], 'month')}.",
        )
    )


def data_quality(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    common.data_quality(ctx, tables=TABLES, skipped=r.skipped, section_labels=LABELS)


def definitions(ctx: ReportContext, r: referrals.ReferralResult) -> None:
    common.definitions(ctx, r.definitions, LABELS)
