"""Sections of the communication audit report (SPEC §4): one function per notebook cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import audit, outputs, service, state_laws, words
from ..audit import catalog
from ..kpis import registry
from . import charts, common, html, progress as progress_section, theme
from .notebook import ReportContext

TIER_WORDS = {"loyal": "Loyal", "self_directed": "Self-directed", "responsive": "Responsive", "dormant": "Dormant"}
# Labels and units from the KPI registry (one label per figure, everywhere).
KPIS = tuple(
    (k, registry.label(k), registry.get(k).kind)
    for k in ("messages", "customers_messaged", "flags_total", "flags_high", "over_cap_customer_share")
)
EMPTY = {
    "over_cap_customer_share": "no customer was messaged",
    "reminder_on_time_share": "no service reminder of the last {reminder_timing_months} months could be set "
    "against a visit",
}
TABLES = ("customers", "communications", "sales", "service_visits", "appointments", "leads", "vehicles")
WORDS = {
    **{k: label for k, label, _ in KPIS},
    "frequency": "Messages per customer per month",
    "over_cap": "Customers over each cap",
    "heatmap": "When messages go out",
    "sender_mix": "Senders per customer-week",
    "fatigue": "Fatigue curve",
    "tiers": "Responsiveness tiers",
    "tier_summary": "Messages by tier",
    "replay": "Replay: what each rule would stop",
    "replay_by_sender": "Replay by sender",
    "top_customers": "Customers hit hardest",
    "suppression": "Suppression list",
    "state_laws": "State laws",
}


def compute(ctx: ReportContext) -> audit.AuditResult:
    result = audit.run_audit(ctx.data, ctx.params)
    ctx.results["audit"] = result
    _share_message_dates(ctx.data)
    ctx.results["reminder_timing"] = reminder_timing_of(ctx)
    return result


def _share_message_dates(data) -> None:
    """The messages' local dates (reminder timing, then the retention notebook) from the local
    days the audit's sorted messages hold, when the audit sorted this very table."""
    from ..audit.windows import messages_if_built
    from ..kpis.common import local_dates

    m = messages_if_built(data)
    if m is None or m.timezone != data.timezone:
        return

    def days():
        out = np.empty(len(m), np.int64)
        out[m.order] = m.local_day()
        return out

    local_dates(data, "communications", "sent_at", days=days)


def reminder_timing_of(ctx: ReportContext) -> dict:
    """Service reminders against each vehicle's estimated due date (service.reminder_timing)."""
    p = ctx.params["retention"]
    defs = service.definitions(p)
    if not ctx.data.has("service_visits"):
        return {"skipped": "no service_visits table in the data", "share": None, "definitions": defs}
    rt = service.reminder_timing(ctx.data, p)
    counts, share = service.timing_summary(rt)
    return {"skipped": None, "share": share, "counts": counts, "reminders": rt, "definitions": defs}


def save(ctx: ReportContext, r: audit.AuditResult) -> None:
    """flags.csv (and the same rows as flags.parquet), suppression.csv (full, for the CRM) and
    the audit's headline counts."""
    outputs.write_csv(r.flags[audit.FLAG_COLUMNS], ctx.path("flags.csv"))
    outputs.write_parquet(r.flags[audit.FLAG_COLUMNS], ctx.path("flags.parquet"))  # same rows, for analysts
    outputs.write_csv(r.suppression[["customer_id", "channel", "rule", "until"]], ctx.path("suppression.csv"))
    outputs.update_kpis(ctx.out_dir, {k: r.headline.get(k) for k in audit.HEADLINE_KEYS})
    if ctx.params.get("group_id"):  # a store of a group batch: what the group step reads (SPEC §9)
        from ..group import extract

        extract.write(ctx.out_dir, ctx.data, r.flags, ctx.params)


def _names(ctx: ReportContext) -> pd.DataFrame:
    c = ctx.data["customers"]
    name = (c["first_name"].astype("string").fillna("") + " " + c["last_name"].astype("string").fillna("")).str.strip()
    return pd.DataFrame({"customer_id": c["customer_id"], "name": name}).drop_duplicates("customer_id")


def _rule_word(rule: str) -> str:
    return catalog.title(rule)


def headline(ctx: ReportContext, r: audit.AuditResult) -> None:
    html.section(
        "headline", "Headline figures", "How much the dealership's customers are messaged, and how often it goes wrong."
    )
    freq = r.frequency
    allrow = freq[(freq["by"] == "all")] if len(freq) else freq
    kpis = dict(r.headline)
    spec = list(KPIS)
    if len(allrow):
        kpis["median_per_month"] = float(allrow["median"].iloc[0])
        spec.append(("median_per_month", "Messages per customer per month (median)", "float"))
    defs = {
        **r.definitions,
        "median_per_month": "The typical customer, in a month in which they got any message: "
        "the median number of messages (all senders and channels).",
    }
    rt = ctx.results.get("reminder_timing") or {}
    skipped = {}
    if rt:
        kpis["reminder_on_time_share"] = rt["share"]
        spec.append(("reminder_on_time_share", "Service reminders sent on time", "pct"))
        defs["reminder_on_time_share"] = rt["definitions"]["reminder_on_time_share"]
        if rt["skipped"]:
            skipped["reminder_on_time_share"] = rt["skipped"]
    tones = {
        "flags_high": "bad" if r.headline.get("flags_high") else "good",
        "over_cap_customer_share": "bad" if (r.headline.get("over_cap_customer_share") or 0) > 0 else "good",
    }
    changes = progress_section.changes(ctx, kpis, [k for k, *_ in KPIS])
    empty = {k: v.format(**ctx.params["retention"]) for k, v in EMPTY.items()}
    html.show(
        common.kpi_tiles(kpis, spec, defs, skipped, empty, tones, changes)
        + progress_section.baseline_line(ctx)
        + common.key_points(key_points(r))
    )


def progress(ctx: ReportContext, r: audit.AuditResult) -> None:
    """Progress: the headline figures over the history and earlier reports, baseline marked (SPEC §10)."""
    progress_section.section(ctx, r.headline, [k for k, *_ in KPIS])


def key_points(r: audit.AuditResult) -> list[str]:
    """The few sentences a dealer principal reads first."""
    f, n = r.flags, int(r.headline.get("messages") or 0)
    if not n:
        return ["There are no messages in the data to audit."]
    if f.empty:
        return [f"None of the {n:,} messages broke a rule."]
    flagged = f["message_id"].nunique()
    points = [f"{words.plural(flagged, 'message')} of {n:,} ({words.share(flagged / n)}) broke at least one rule."]
    by_rule = f.groupby("rule").size().sort_values(ascending=False)
    high = f[f["severity"] == "high"].groupby("rule").size().sort_values(ascending=False)
    top = by_rule.index[0]
    if len(high) and high.index[0] == top:  # one sentence when the most common problem is also serious
        points.append(
            f"Most common problem, and a serious one: {_rule_word(top).lower()} "
            f"({words.plural(int(by_rule.iloc[0]), 'message')})."
        )
    else:
        points.append(
            f"Most common problem: {_rule_word(top).lower()} ({words.plural(int(by_rule.iloc[0]), 'message')})."
        )
        if len(high):
            points.append(
                f"Most frequent serious problem: {_rule_word(high.index[0]).lower()} "
                f"({words.plural(int(high.iloc[0]), 'message')})."
            )
    if len(r.suppression):
        held = int(r.suppression["customer_id"].nunique())
        points.append(
            f"{words.plural(held, 'customer')} should get no marketing on at least one "
            "channel today: import suppression.csv into every sending tool."
        )
    return points


def check_status(skipped: str | None, flags: int) -> str:
    """What "checked" means for one rule: "Checked: 12 flags", "Not checked: needs ...", "Partly checked: ..."."""
    found = words.plural(flags, "flag")
    if skipped is None:
        return f"Checked: {found}"
    if skipped.startswith("partly: "):
        return f"Partly checked ({found}): {skipped.removeprefix('partly: ')}"
    return f"Not checked: {skipped}"


def problems(ctx: ReportContext, r: audit.AuditResult) -> None:
    """What is wrong: flags by rule and severity, in plain words, and the customers hit hardest."""
    html.section(
        "problems",
        "What is wrong",
        "Each problem is one message breaking one rule. Serious problems can cost consent, trust or a sale.",
    )
    f = r.flags
    if f.empty:
        html.show(html.note("No message broke any rule.", "info"))
    else:
        by = f.groupby(["rule", "severity"], observed=True).size().rename("flags").reset_index()
        by["label"] = by["rule"].map(_rule_word)
        order = by.groupby("label")["flags"].sum().sort_values(ascending=False).index
        by["label"] = pd.Categorical(by["label"], categories=list(order), ordered=True)
        by = by.sort_values("label")
        charts.show(
            charts.bar(
                by,
                x="label",
                y="flags",
                color="severity",
                color_kind="severity",
                horizontal=True,
                title="Problems by rule and severity",
                x_title="Messages flagged",
                names=catalog.SEVERITY_WORDS,
                order=["high", "medium", "low"],
                height=max(320, 34 * len(order) + 120),
            )
        )
    rows = []
    counts = f.groupby("rule").size() if len(f) else pd.Series(dtype="int64")
    for name, rule in audit.RULES.items():
        rows.append(
            {
                "problem": rule.title,
                "severity": rule.severity_words(ctx.params),
                "flags": int(counts.get(name, 0)),
                "when_flagged": rule.definition(ctx.params),
                "status": check_status(r.skipped.get(name), int(counts.get(name, 0))),
            }
        )
    html.show(
        html.table(
            pd.DataFrame(rows).sort_values("flags", ascending=False, kind="stable"),
            labels={"when_flagged": "A message is flagged when", "flags": "Messages flagged", "status": "Checked?"},
            max_rows=None,
            mask_pii=False,
        )
    )
    oc = r.over_cap
    if len(oc):
        shown = oc.assign(
            rule=oc["rule"].map(_rule_word),
            channel=oc["channel"].map(lambda c: theme.CHANNEL_LABELS.get(c, "All channels")),
            cap=[f"{m} in {d} days" for m, d in zip(oc["max"], oc["days"])],
        )
        html.show(
            "<h3>Customers over each cap</h3>"
            + html.table(
                shown[
                    [
                        "rule",
                        "channel",
                        "cap",
                        "customers_over_period",
                        "share_period",
                        "customers_at_cap_now",
                        "share_now",
                    ]
                ],
                labels={
                    "rule": "Cap",
                    "channel": "Channel",
                    "cap": "Allowed",
                    "customers_over_period": "Customers over it (whole period)",
                    "share_period": "Share of customers",
                    "customers_at_cap_now": "At the cap today",
                    "share_now": "Share today",
                },
                formats={"share_period": "pct", "share_now": "pct"},
                max_rows=None,
                mask_pii=False,
            )
            + html.paragraph(r.definitions.get("over_cap", ""), "oc-lead")
        )
    high = f[f["severity"] == "high"].sort_values("sent_at", ascending=False) if len(f) else f
    if len(high):
        shown = common.plain_codes(
            high.assign(rule=high["rule"].map(_rule_word))[
                ["sent_at", "customer_id", "channel", "sender", "rule", "detail"]
            ]
        )
        first = shown.index[:10]  # the rows shown: model names in one casing
        shown.loc[first, "detail"] = common.model_casing(shown.loc[first, "detail"], common.data_models(ctx.data))
        html.show(
            "<h3>Latest serious problems</h3>"
            + html.table(
                shown,
                labels={"sent_at": "Sent", "customer_id": "Customer", "rule": "Problem", "detail": "What happened"},
                formats={"sent_at": "date"},
                max_rows=10,
                mask_pii=ctx.mask_pii,
            )
        )
    top = r.top_customers
    if len(top):
        top = top.merge(_names(ctx), on="customer_id", how="left")
        top["rules"] = (
            top["rules"]
            .astype("string")
            .fillna("")
            .map(lambda s: ", ".join(_rule_word(x.strip()) for x in s.split(",") if x.strip()))
        )
        html.show(
            "<h3>Customers hit hardest</h3>"
            + html.table(
                top[["customer_id", "name", "messages", "flagged_messages", "flags", "high_flags", "rules"]],
                labels={
                    "customer_id": "Customer",
                    "messages": "Messages",
                    "flagged_messages": "Messages with a problem",
                    "flags": "Problems",
                    "high_flags": "Serious",
                    "rules": "Which problems",
                },
                max_rows=None,
                mask_pii=ctx.mask_pii,
            )
        )


def suppression(ctx: ReportContext, r: audit.AuditResult) -> None:
    """What to do: the suppression list to import into the CRM."""
    html.section(
        "suppression",
        "What to do: who not to message",
        "Import suppression.csv (beside this report) into every tool that sends messages: these customers "
        "should get no marketing on the channel shown until the date shown (blank: until they say otherwise).",
    )
    s = r.suppression
    if s.empty:
        html.show(html.note("Nobody needs to be held back today.", "info"))
        return
    customers = int(s["customer_id"].nunique())
    forever = int(s.loc[s["until"].isna(), "customer_id"].nunique())
    tiles = [  # one unit: customers (the lines of the file are counted in the sentence below)
        html.Tile(
            "Customers to hold back",
            customers,
            "int",
            "Distinct customers with at least one line in the suppression list.",
        ),
        html.Tile(
            "Customers held back indefinitely",
            forever,
            "int",
            "Customers with at least one line without an end date (no consent, do-not-call or unsubscribed): "
            "they stay on the list until the customer says otherwise.",
        ),
        html.Tile(
            "Customers held back for a while",
            customers - forever,
            "int",
            "Customers whose every line ends on a date (a cool-down, a cap or a state limit).",
        ),
    ]
    by = s.assign(
        rule=s["rule"].map(_rule_word), channel=s["channel"].map(lambda c: theme.CHANNEL_LABELS.get(c, "Every channel"))
    )
    table = pd.crosstab(by["rule"], by["channel"]).reset_index().rename(columns={"rule": "Why"})
    html.show(
        html.tiles(tiles)
        + html.paragraph(f"suppression.csv has {words.plural(len(s), 'line')}: one per customer, channel and reason.")
        + "<h3>Customers held back, by reason and channel</h3>"
        + html.table(table, max_rows=None, mask_pii=False)
        + html.paragraph(r.definitions.get("suppression", ""), "oc-lead")
    )


def one_voice(ctx: ReportContext, r: audit.AuditResult) -> None:
    html.section(
        "one-voice",
        "Does the customer hear one voice?",
        "Manufacturer, sales, marketing, service and F&I each message the customer with their own tools.",
    )
    mix = r.sender_mix
    if len(mix) and int(mix["customer_weeks"].sum()):
        charts.show(
            charts.bar(
                mix.assign(senders=mix["senders"].astype(str)),
                x="senders",
                y="share",
                title="Customer-weeks by how many different senders the customer heard from",
                x_title="Different senders in the week",
                y_title="Share of customer-weeks",
                hover_format=".1%",
            )
        )
        html.show(html.paragraph(r.definitions.get("sender_mix", ""), "oc-lead"))
    freq = r.frequency
    if len(freq):
        by_sender = freq[freq["by"] == "sender"]
        if len(by_sender):
            charts.show(
                charts.bar(
                    by_sender,
                    x="value",
                    y="mean",
                    color="value",
                    color_kind="sender",
                    title="Messages per customer per month, by sender (average)",
                    y_title="Messages",
                    names=theme.SENDER_LABELS,
                    hover_format=".2f",
                )
            )
        shown = freq.assign(
            by=freq["by"].map({"all": "All", "channel": "Channel", "sender": "Sender"}),
            value=freq["value"].map(lambda v: {**theme.CHANNEL_LABELS, **theme.SENDER_LABELS}.get(v, "All messages")),
        )
        html.show(
            html.table(
                shown,
                labels={
                    "by": "By",
                    "value": "Of",
                    "customer_months": "Customer-months",
                    "mean": "Average",
                    "median": "Median",
                    "p90": "90th percentile",
                    "max": "Most",
                },
                formats={"mean": "float", "median": "float", "p90": "float"},
                max_rows=None,
                mask_pii=False,
            )
            + html.paragraph(r.definitions.get("frequency", ""), "oc-lead")
        )


def timing(ctx: ReportContext, r: audit.AuditResult) -> None:
    html.section("timing", "When messages go out", r.definitions.get("heatmap", ""))
    hm = r.heatmap
    if hm.empty or int(hm.to_numpy().sum()) == 0:
        html.show(html.note("No messages to show.", "skip"))
        return
    m = hm.copy()
    m.columns = [f"{int(h):02d}:00" for h in m.columns]
    fig = charts.heatmap(
        m,
        title="Messages by weekday and hour (customer's local time)",
        x_title="Hour",
        value_name="messages",
        height=360,
    )
    qh = ctx.params["rules"]["quiet_hours"]
    matter = _states_that_matter(r)
    if matter:  # the stricter state windows of the states this dealer's customers live in
        _window_lines(fig, _state_window_edges(ctx, matter), (qh["start"], qh["end"]))
    charts.show(fig)
    night = int((r.flags["rule"] == "quiet_hours").sum()) if len(r.flags) else 0
    html.show(
        html.paragraph(
            f"{words.plural(night, 'text or call', 'texts or calls')} went out before "
            f"{catalog.clock(qh['start'])} or from {catalog.clock(qh['end'])} on, local time "
            f"(flagged as '{_rule_word('quiet_hours')}')."
        )
    )
    reminder_timing(ctx)


def reminder_timing(ctx: ReportContext) -> None:
    """Service reminders set against each vehicle's estimated due date (by time or mileage)."""
    rt = ctx.results.get("reminder_timing")
    if not rt:
        return
    parts = ["<h3>Are service reminders sent when the car is due?</h3>"]
    if rt["skipped"]:
        html.show("".join(parts) + html.note(f"Not shown: {rt['skipped']}.", "skip"))
        return
    counts = rt["counts"]
    if int(counts["reminders"].sum()) == 0:
        html.show("".join(parts) + html.note("No service reminder in the last 12 months.", "skip"))
        return
    html.show("".join(parts))
    charts.show(
        charts.bar(
            counts,
            x="timing",
            y="reminders",
            color="timing",
            color_kind="timing",
            names=theme.TIMING_LABELS,
            order=list(counts["timing"]),
            title="Service reminders against the vehicle's estimated due date",
            y_title="Reminders",
        )
    )
    share = rt["share"]
    lead = (
        f"{words.share(share)} of the reminders that could be judged were sent on time. " if share is not None else ""
    )
    html.show(html.paragraph(lead + rt["definitions"]["reminder_timing"], "oc-lead"))


NOT_ADVICE = (
    "These are risk flags, not legal advice: state laws change and have exceptions this audit cannot see "
    "(for example a customer's prior written consent). Ask counsel before acting on them."
)


def _window_lines(fig, windows: dict[str, list[str]], federal: tuple[str, str]) -> None:
    """Dashed lines on an hour heat map where state windows (and the federal one) open and close."""

    def x_of(hhmm: str) -> float:
        h, m = (int(v) for v in hhmm.split(":")[:2])
        return h + m / 60 - 0.5  # category axis: hour h is drawn around x = h

    for hhmm, states in sorted(windows.items()):
        fig.add_vline(
            x=x_of(hhmm),
            line_dash="dash",
            line_color=theme.SEVERITY_COLORS["high"],
            annotation_text=", ".join(states) + " " + hhmm,
            annotation_position="top",
        )
    for hhmm in federal:
        if hhmm not in windows:
            fig.add_vline(
                x=x_of(hhmm),
                line_dash="dot",
                line_color="#555555",
                annotation_text="federal " + hhmm,
                annotation_position="bottom",
            )


def _state_window_edges(ctx: ReportContext, states: list[str]) -> dict[str, list[str]]:
    table = state_laws.state_table(ctx.params)
    edges: dict[str, list[str]] = {}
    for code in states:
        r = table[code]
        for hhmm in (r.start, r.end):
            edges.setdefault(hhmm, []).append(code)
    return edges


def _states_that_matter(r: audit.AuditResult) -> list[str]:
    c = r.states.get("customers_in_ruled_states")
    if c is None or c.empty:
        return []
    return c.loc[c["customers"] > 0, "state"].tolist()


def state_laws_section(ctx: ReportContext, r: audit.AuditResult) -> None:
    """State laws: stricter calling windows and 24-hour caps (SPEC §4 State rules)."""
    html.section(
        "state-laws",
        "State laws",
        "Some states are stricter than the federal calling window and limit repeated sales texts and calls "
        "on one subject. " + NOT_ADVICE,
    )
    st = r.states or {}
    methods = st.get("methods")
    if methods is None:
        html.show(html.note("The state rules did not run.", "skip"))
        return
    f = r.flags[r.flags["rule"].isin(["state_quiet_hours", "state_contact_cap"])] if len(r.flags) else r.flags
    matter = _states_that_matter(r)
    total = int(methods["customers"].sum())
    none = int(methods.loc[methods["method"] == "none", "customers"].sum())
    tiles = [
        html.Tile(
            "Customers in a state with its own law",
            int(st["customers_in_ruled_states"]["customers"].sum()),
            "int",
            "Customers whose state (from the state column, the ZIP code or the phone's area code) is in the "
            "table of state rules below.",
        ),
        html.Tile(
            _rule_word("state_quiet_hours"),
            int((f["rule"] == "state_quiet_hours").sum()) if len(f) else 0,
            "int",
            catalog.get("state_quiet_hours").definition(ctx.params),
        ),
        html.Tile(
            _rule_word("state_contact_cap"),
            int((f["rule"] == "state_contact_cap").sum()) if len(f) else 0,
            "int",
            catalog.get("state_contact_cap").definition(ctx.params),
        ),
        html.Tile(
            "Customers with no state",
            none,
            "int",
            "No state column value, ZIP code or US area code gave a state: no state rule applies to them.",
        ),
    ]
    shown = methods.assign(method=methods["method"].map(state_laws.METHOD_WORDS))
    parts = [
        html.tiles(tiles),
        "<h3>How each customer's state was found</h3>",
        html.table(
            shown,
            labels={"method": "State", "customers": "Customers", "share": "Share of customers"},
            formats={"share": "pct"},
            max_rows=None,
            mask_pii=False,
        ),
        html.paragraph(
            f"{total - none:,} of {total:,} customers have a state; the state column wins, then the "
            "ZIP code's first three digits, then the phone's area code.",
            "oc-lead",
        ),
    ]
    by = st.get("by_state")
    if by is not None and len(by):
        by = by.assign(rule=by["rule"].map(_rule_word))
        parts += [
            "<h3>Flags by state and rule</h3>",
            html.table(
                by,
                labels={"state": "State", "rule": "Problem", "flags": "Messages flagged", "customers": "Customers"},
                max_rows=None,
                mask_pii=False,
            ),
        ]
    elif matter:
        parts.append(html.note("No text or call broke a state rule.", "info"))
    else:
        parts.append(
            html.note("None of the dealer's customers lives in a state of the table: no state rule applied.", "info")
        )
    html.show("".join(parts))
    hm = st.get("heatmap")
    if matter and hm is not None and int(hm.to_numpy().sum()):
        m = hm.copy()
        m.columns = [f"{int(h):02d}:00" for h in m.columns]
        fig = charts.heatmap(
            m,
            title="Texts and calls to customers in "
            + ", ".join(matter)
            + ", by weekday and hour (customer's local time)",
            x_title="Hour",
            value_name="messages",
            height=380,
        )
        qh = ctx.params["rules"]["quiet_hours"]
        _window_lines(fig, _state_window_edges(ctx, matter), (qh["start"], qh["end"]))
        charts.show(fig)
        html.show(
            html.paragraph(
                "Dashed lines: where the state windows open and close; dotted: the federal window.", "oc-lead"
            )
        )
    table = st.get("table")
    if table is not None and len(table):
        table = table.assign(also_exempt=table["also_exempt"].str.replace("_", " "))
        html.show(
            f"<h3>The state rules applied (table version {html.esc(st.get('version') or '')})</h3>"
            + html.table(
                table,
                labels={
                    "state": "State",
                    "law": "Law",
                    "citation": "Citation",
                    "effective": "In force since",
                    "window": "Calling window (local)",
                    "cap": "Limit",
                    "channels": "Channels",
                    "also_exempt": "Also exempt",
                },
                max_rows=None,
                mask_pii=False,
            )
            + html.paragraph(NOT_ADVICE, "oc-lead")
        )


def fatigue(ctx: ReportContext, r: audit.AuditResult) -> None:
    html.section("fatigue", "Do more messages help?", r.definitions.get("fatigue", ""))
    fa = r.fatigue
    if fa.empty:
        html.show(html.note("No messages to show.", "skip"))
        return
    long = fa.melt(
        id_vars="messages_in_month",
        value_vars=["response_rate", "unsubscribe_rate"],
        var_name="measure",
        value_name="rate",
    )
    long["messages_in_month"] = long["messages_in_month"].astype(str)
    charts.show(
        charts.lines(
            long,
            x="messages_in_month",
            y="rate",
            color="measure",
            percent=True,
            title="Response and unsubscribe rate by messages received in the month",
            x_title="Messages the customer got that month",
            y_title="Rate",
            names={"response_rate": "Responded", "unsubscribe_rate": "Unsubscribed"},
        )
    )


def tiers(ctx: ReportContext, r: audit.AuditResult) -> None:
    html.section(
        "tiers", "Are the best customers treated like those who never come in?", r.definitions.get("tiers", "")
    )
    ts = r.tier_summary
    if ts.empty or int(ts["customers"].sum()) == 0:
        html.show(common.skipped_note(r.skipped, "tiers") or html.note("No customer to put in a tier.", "skip"))
        return
    shown = ts.assign(label=ts["tier"].map(lambda t: TIER_WORDS.get(t, t)))
    charts.show(
        charts.bar(
            shown,
            x="label",
            y="messages_per_customer_month",
            color="tier",
            color_kind="tier",
            title="Messages per customer per month, by tier",
            y_title="Messages",
            names=TIER_WORDS,
            hover_format=".2f",
        )
    )
    html.show(
        html.table(
            shown[
                [
                    "label",
                    "customers",
                    "share_of_customers",
                    "messages",
                    "messages_per_customer",
                    "messages_per_customer_month",
                ]
            ],
            labels={
                "label": "Tier",
                "customers": "Customers",
                "share_of_customers": "Share of customers",
                "messages": f"Messages ({ctx.params['audit']['tier_window_months']} months)",
                "messages_per_customer": "Per customer",
                "messages_per_customer_month": "Per customer per month",
            },
            formats={
                "share_of_customers": "pct",
                "messages_per_customer": "float",
                "messages_per_customer_month": "float",
            },
            max_rows=None,
            mask_pii=False,
        )
        + html.paragraph(r.definitions.get("tier_summary", ""), "oc-lead")
    )


def replay(ctx: ReportContext, r: audit.AuditResult) -> None:
    html.section("replay", "Replay: what the rules would have stopped", r.definitions.get("replay", ""))
    rp = r.replay
    if rp.empty:
        html.show(html.note("No messages to replay.", "skip"))
        return
    rules = rp[rp["rule"].isin(list(audit.RULES))].assign(label=lambda x: x["rule"].map(_rule_word))
    rules = rules.sort_values("messages_suppressed", ascending=False, kind="stable")
    charts.show(
        charts.bar(
            rules,
            x="label",
            y="messages_suppressed",
            horizontal=True,
            title="Messages each rule would have stopped",
            x_title="Messages",
            height=max(320, 30 * len(rules) + 120),
        )
    )
    total = rp[~rp["rule"].isin(list(audit.RULES))]
    if len(total):
        row = total.iloc[0]
        html.show(
            html.paragraph(
                f"All rules together would have stopped {int(row['messages_suppressed']):,} messages "
                f"({words.share(float(row['share_of_messages']))} of all messages)."
            )
        )
    rs = r.replay_by_sender
    if len(rs):
        charts.show(
            charts.bar(
                rs,
                x="sender",
                y="messages_suppressed",
                color="sender",
                color_kind="sender",
                title="Messages each sender would lose",
                y_title="Messages",
                names=theme.SENDER_LABELS,
            )
        )
        html.show(
            html.table(
                rs[["sender", "messages", "messages_suppressed", "share_suppressed"]].assign(
                    sender=rs["sender"].map(lambda s: theme.SENDER_LABELS.get(s, s))
                ),
                labels={
                    "sender": "Sender",
                    "messages": "Messages sent",
                    "messages_suppressed": "Would be stopped",
                    "share_suppressed": "Share stopped",
                },
                formats={"share_suppressed": "pct"},
                max_rows=None,
                mask_pii=False,
            )
            + html.paragraph(r.definitions.get("replay_by_sender", ""), "oc-lead")
        )


def data_quality(ctx: ReportContext, r: audit.AuditResult) -> None:
    skipped = {name: why for name, why in r.skipped.items()}
    common.data_quality(ctx, tables=TABLES, skipped=skipped, section_labels=catalog.titles())


def definitions(ctx: ReportContext, r: audit.AuditResult) -> None:
    rules = catalog.definitions(ctx.params, "store")
    tiers_ = {"Severity": catalog.severity_definition(ctx.params)}
    rt = ctx.results.get("reminder_timing") or {}
    timing_defs = (
        {
            "Reminder timing": rt["definitions"]["reminder_timing"],
            "Service reminders sent on time": rt["definitions"]["reminder_on_time_share"],
            "Estimated due date": rt["definitions"]["due_for_service"] + " " + rt["definitions"]["mileage"],
        }
        if rt
        else {}
    )
    common.definitions(ctx, r.definitions, WORDS, {**tiers_, **timing_defs, **rules})
