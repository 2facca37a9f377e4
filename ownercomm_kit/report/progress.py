"""Progress against a baseline (SPEC §10): the change on the headline tiles and the progress section.

A report finds its past in its own output folder (the runner carries ``runs/`` and
``history.csv`` across runs): ``kpis.runs.progress`` chooses the baseline. Every label, unit
and better-direction comes from the KPI registry.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import pandas as pd

from ..kpis import registry, runs
from . import charts, html, theme
from .notebook import ReportContext

BETTER_WORDS = {"good": "Better", "bad": "Worse"}


def of(ctx: ReportContext) -> runs.Progress:
    """The report's progress (baseline, recorded runs, history), read once per context."""
    if "progress" not in ctx.results:
        requested = ctx.params.get("baseline")
        ctx.results["progress"] = runs.progress(ctx.out_dir, ctx.as_of, _date(requested))
    return ctx.results["progress"]


def _date(value: Any):
    from ..params import parse_as_of

    try:
        return parse_as_of(value)
    except ValueError:
        return None


def changes(ctx: ReportContext, kpis: Mapping[str, Any], keys: Iterable[str]) -> dict[str, registry.Change]:
    """Each figure's change against the baseline; a figure without one is left out (no change shown)."""
    p = of(ctx)
    if p.baseline is None:
        return {}
    out = {}
    for key in keys:
        c = registry.change(key, kpis.get(key), p.baseline.kpis.get(key), p.baseline.since())
        if c is not None:
            out[key] = c
    return out


def tile_change(c: registry.Change | None) -> dict[str, str]:
    """The keyword arguments of ``html.Tile`` for a change (none: nothing shown)."""
    if c is None:
        return {}
    words = c.words
    if c.tone in BETTER_WORDS:
        words = f"{BETTER_WORDS[c.tone]}: {words}"
    return {"change": words, "change_tone": c.tone, "change_arrow": c.arrow}


def baseline_line(ctx: ReportContext) -> str:
    """One sentence under the tiles: what the changes compare with, or why there are none."""
    p = of(ctx)
    if p.baseline is None:
        return html.paragraph(f"No change shown: {p.note}.", "oc-lead oc-baseline")
    b = p.baseline
    if not b.chosen:
        text = f"Changes compare with the previous report, of {html.long_date(b.as_of)}."
    elif b.source == "history":
        text = (
            f"Changes compare with the figures at {html.long_date(b.as_of)} (the month-end history), the "
            "baseline chosen in the dealer file."
        )
    else:
        text = f"Changes compare with the report of {html.long_date(b.as_of)}, the baseline chosen in the dealer file."
    return html.paragraph(text, "oc-lead oc-baseline")


def section(ctx: ReportContext, kpis: Mapping[str, Any], keys: Iterable[str]) -> None:
    """The progress section: every headline figure over the history and the recorded runs,
    with the baseline marked, and a table of baseline, now and change."""
    keys = [k for k in keys if k in registry.KPIS]
    p = of(ctx)
    html.section(
        "progress",
        "Progress",
        "Did it get better? Each headline figure at past month-ends (ownercomm history) and at earlier "
        "recorded runs of this report, with this report's value and the baseline marked.",
    )
    series = {k: p.series(k) for k in keys}
    has_past = any(s["value"].notna().any() for s in series.values())
    parts = [baseline_line(ctx)]
    if not has_past:
        parts.append(
            html.note(
                "No earlier figures yet. Run `ownercomm history` for this dealer (or `ownercomm batch --history N`) "
                "to chart past month-ends; each later run is then compared with this one.",
                "skip",
            )
        )
        html.show("".join(parts))
        return
    html.show("".join(parts))
    charts.show(chart(ctx, kpis, keys, series))
    html.show(table(ctx, kpis, keys))


def chart(ctx: ReportContext, kpis: Mapping[str, Any], keys: list[str], series: Mapping[str, pd.DataFrame]):
    """Small multiples, one panel per figure: month-end line, recorded runs, this report, baseline."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    p = of(ctx)
    fig = make_subplots(
        rows=len(keys),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.08, 0.5 / len(keys)),
        subplot_titles=[charts.label(registry.label(k)) for k in keys],
    )
    now = pd.Timestamp(ctx.as_of)
    base = pd.Timestamp(p.baseline.as_of) if p.baseline else None
    for i, key in enumerate(keys, start=1):
        k = registry.get(key)
        s = series[key]
        fmt = {"share": ".1%", "money": "$,.0f"}.get(k.unit, ",.0f")
        first = i == 1
        hist = s[s["source"] == "history"].sort_values("as_of")
        if len(hist):
            fig.add_trace(
                go.Scatter(
                    x=list(hist["as_of"]),
                    y=list(hist["value"]),
                    mode="lines+markers",
                    name="Month-end history",
                    legendgroup="history",
                    showlegend=first,
                    line=dict(color=theme.ACCENT),
                    marker=dict(size=5),
                    hovertemplate=f"%{{x|%d %b %Y}}: %{{y:{fmt}}}<extra>month-end</extra>",
                ),
                row=i,
                col=1,
            )
        rec = s[s["source"] == "run"].sort_values("as_of")
        if len(rec):
            fig.add_trace(
                go.Scatter(
                    x=list(rec["as_of"]),
                    y=list(rec["value"]),
                    mode="markers",
                    name="Earlier reports",
                    legendgroup="runs",
                    showlegend=first,
                    marker=dict(color="#E69F00", size=10, symbol="diamond"),
                    hovertemplate=f"%{{x|%d %b %Y}}: %{{y:{fmt}}}<extra>report</extra>",
                ),
                row=i,
                col=1,
            )
        value = registry.number(kpis.get(key))
        if value is not None:
            fig.add_trace(
                go.Scatter(
                    x=[now],
                    y=[value],
                    mode="markers",
                    name="This report",
                    legendgroup="now",
                    showlegend=first,
                    marker=dict(color=theme.SEVERITY_COLORS["high"], size=12, symbol="star"),
                    hovertemplate=f"%{{x|%d %b %Y}}: %{{y:{fmt}}}<extra>this report</extra>",
                ),
                row=i,
                col=1,
            )
        if base is not None:
            bval = registry.number(p.baseline.kpis.get(key))
            if bval is not None:
                fig.add_trace(
                    go.Scatter(
                        x=[base],
                        y=[bval],
                        mode="markers",
                        name="Baseline",
                        legendgroup="base",
                        showlegend=first,
                        marker=dict(color="rgba(0,0,0,0)", size=16, symbol="circle", line=dict(color="#222", width=2)),
                        hovertemplate=f"baseline %{{x|%d %b %Y}}: %{{y:{fmt}}}<extra></extra>",
                    ),
                    row=i,
                    col=1,
                )
            fig.add_vline(x=base, line_dash="dash", line_color="#5f6b7a", row=i, col=1)
        if k.unit == "share":
            fig.update_yaxes(tickformat=".1%", row=i, col=1)
    if base is not None:
        fig.add_annotation(
            x=base,
            y=1,
            xref="x",
            yref="paper",
            text="baseline",
            showarrow=False,
            yanchor="bottom",
            font=dict(size=11, color="#5f6b7a"),
        )
    theme.apply()
    fig.update_layout(
        template=theme.TEMPLATE_NAME,
        title=dict(text="Headline figures over time"),
        height=140 * len(keys) + 140,
        legend=dict(orientation="h", y=-0.04, yanchor="top"),
    )
    return fig


def table(ctx: ReportContext, kpis: Mapping[str, Any], keys: list[str]) -> str:
    """Figure, value at the baseline, value now, change in words (coloured)."""
    p = of(ctx)
    ch = changes(ctx, kpis, keys)
    head = [
        "Figure",
        f"Baseline{' (' + html.long_date(p.baseline.as_of) + ')' if p.baseline else ''}",
        f"This report ({html.long_date(ctx.as_of)})",
        "Change",
    ]
    rows = []
    for key in keys:
        k = registry.get(key)
        old = p.baseline.kpis.get(key) if p.baseline else None
        c = ch.get(key)
        change = tile_change(c)
        tone = f' class="oc-change oc-change-{c.tone}"' if c is not None and c.tone else ' class="oc-change"'
        rows.append(
            f"<tr><td>{html.esc(k.label)}</td>"
            f'<td class="oc-num">{html.esc(html.fmt_number(registry.number(old), k.kind)) or "no data"}</td>'
            f'<td class="oc-num">{html.esc(html.fmt_number(registry.number(kpis.get(key)), k.kind)) or "no data"}</td>'
            f"<td{tone}>{html.esc(change.get('change', ''))}</td></tr>"
        )
    return (
        '<div class="oc-table-wrap"><table class="oc-table oc-progress"><thead><tr>'
        + "".join(f'<th scope="col">{html.esc(h)}</th>' for h in head)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
