"""The group index (issue 5 item 5): one page for the group's leadership.

Stores ranked on the headline KPIs (each store's ``kpis.json``) with the group's median and
quartiles, the spread of each KPI across stores, high-severity flag counts, links to each
store's reports and the failed stores with their reasons. Aggregates only: nothing about a
customer is read or shown. The page is built from report-helper pieces (``report.html``,
``report.charts``) into an in-memory notebook and exported like every report, so it has
the same look; every string goes through ``esc``.
"""
from __future__ import annotations

import re

import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import pandas as pd

from .. import outputs
from ..report import charts, html, theme
from ..report.export import notebook_to_html
from ..runner import NOTEBOOKS

# (kpi key, label, number kind, better when) — SPEC §4-6 keys; "lower" ranks small first.
HEADLINE_KPIS: tuple[tuple[str, str, str, str], ...] = (
    ("flags_high_per_1k", "High-severity flags per 1,000 messages", "float", "lower"),
    ("over_cap_customer_share", "Customers over a message cap", "pct", "lower"),
    ("first_year_service_retention", "First-year service retention", "pct", "higher"),
    ("service_customer_retention_12m", "Service customer retention (12 months)", "pct", "higher"),
    ("appointment_show_rate_90d", "Appointment show rate (90 days)", "pct", "higher"),
    ("reminder_booking_rate_90d", "Bookings after a service reminder (90 days)", "pct", "higher"),
    ("response_rate_90d", "Response rate (90 days)", "pct", "higher"),
    ("repurchase_rate", "Repurchase rate", "pct", "higher"),
    ("referral_conversion_12m", "Referral conversion (12 months)", "pct", "higher"),
    ("first_contact_24h_share", "Referrals contacted within 24 hours", "pct", "higher"),
)
KPI_DEFINITIONS = {
    "Rank": "Stores are ordered by their average position across the headline figures they have "
            "data for (1 = best). A figure a store lacks data for does not count for or against it.",
    "High-severity flags per 1,000 messages": "Messages breaking a high-severity rule (no consent, after an "
            "opt-out, quiet hours, a better offer after a purchase) per 1,000 messages sent.",
    "Median and quartiles": "Half of the stores are above the median; a quarter are below the lower "
            "quartile and a quarter above the upper quartile.",
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def store_frame(manifest: dict, group_dir: Path) -> pd.DataFrame:
    """One row per store with a report: its headline KPIs (read from its own kpis.json)."""
    rows = []
    for s in manifest["stores"]:
        if s["status"] == "failed" or not s.get("out_dir"):
            continue
        kpis = outputs.read_kpis(group_dir / s["out_dir"])
        row = {"dealer_id": s["dealer_id"], "dealer_name": s.get("dealer_name") or s["dealer_id"],
               "out_dir": s["out_dir"], "status": s["status"],
               "messages": _number(kpis.get("messages")), "flags_high": _number(kpis.get("flags_high"))}
        for key, *_ in HEADLINE_KPIS:
            row[key] = _number(kpis.get(key))
        if row["flags_high"] is not None and row["messages"]:
            row["flags_high_per_1k"] = row["flags_high"] / row["messages"] * 1000
        rows.append(row)
    return pd.DataFrame(rows, columns=["dealer_id", "dealer_name", "out_dir", "status", "messages", "flags_high",
                                       *[k for k, *_ in HEADLINE_KPIS]])


def rank(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` sorted best first, with ``rank`` (1 = best) from the mean percentile over KPIs."""
    if df.empty:
        return df.assign(rank=pd.Series(dtype="Int64"))
    scores = []
    for key, _, _, better in HEADLINE_KPIS:
        col = pd.to_numeric(df[key], errors="coerce")
        if col.notna().sum() == 0:
            continue
        # Percentile among stores with a value: 1 = best; stores without one stay NaN.
        scores.append(col.rank(pct=True, ascending=(better == "higher")).rename(key))
    if scores:
        score = pd.concat(scores, axis=1).mean(axis=1, skipna=True)
    else:
        score = pd.Series(float("nan"), index=df.index)
    out = df.assign(_score=score).sort_values(["_score", "dealer_id"], ascending=[False, True], na_position="last")
    out["rank"] = range(1, len(out) + 1)
    return out.drop(columns="_score").reset_index(drop=True)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Lower quartile, median and upper quartile of each headline KPI across stores."""
    rows = []
    for key, label, kind, _ in HEADLINE_KPIS:
        col = pd.to_numeric(df[key], errors="coerce").dropna() if key in df else pd.Series(dtype=float)
        q = col.quantile([0.25, 0.5, 0.75]) if len(col) else None
        rows.append({"kpi": label, "kind": kind, "stores": int(len(col)),
                     "q1": None if q is None else float(q[0.25]),
                     "median": None if q is None else float(q[0.5]),
                     "q3": None if q is None else float(q[0.75])})
    return pd.DataFrame(rows)


def _link(href: str, text: str) -> str:
    return f'<a href="{html.esc(href)}">{html.esc(text)}</a>'


def _store_href(out_dir: str, name: str) -> str:
    return "/".join(quote(part) for part in [*Path(out_dir).parts, name])


def _reports(row) -> str:
    links = []
    folder = Path(row["_dir"])
    for _, page, title in NOTEBOOKS:
        if (folder / page).is_file():
            links.append(_link(_store_href(row["out_dir"], page), title))
    return " &middot; ".join(links)


def ranking_table(ranked: pd.DataFrame, group_dir: Path) -> str:
    heads = ["Rank", "Store", "Messages", "High-severity flags", *[label for _, label, _, _ in HEADLINE_KPIS], "Reports"]
    head = "".join(f'<th scope="col">{html.esc(h)}</th>' for h in heads)
    body = []
    for _, row in ranked.assign(_dir=[str(group_dir / d) for d in ranked["out_dir"]]).iterrows():
        cells = [f'<td data-sort="{int(row["rank"])}">{int(row["rank"])}</td>',
                 f"<td>{html.esc(row['dealer_name'])} <span class=\"oc-muted\">({html.esc(row['dealer_id'])})</span></td>",
                 _num_cell(row["messages"], "int"), _num_cell(row["flags_high"], "int")]
        cells += [_num_cell(row[key], kind) for key, _, kind, _ in HEADLINE_KPIS]
        cells.append(f"<td>{_reports(row)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="oc-table-wrap"><table class="oc-table oc-sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _num_cell(value: Any, kind: str) -> str:
    x = _number(value)
    if x is None:
        return '<td class="oc-num oc-na" data-sort="">no data</td>'
    return f'<td class="oc-num" data-sort="{x!r}">{html.esc(html.fmt_number(x, kind))}</td>'


def summary_table(summ: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        "Figure": summ["kpi"],
        "Stores with data": summ["stores"],
        "Lower quartile": [html.fmt_number(v, k) if v is not None else "" for v, k in zip(summ["q1"], summ["kind"])],
        "Median": [html.fmt_number(v, k) if v is not None else "" for v, k in zip(summ["median"], summ["kind"])],
        "Upper quartile": [html.fmt_number(v, k) if v is not None else "" for v, k in zip(summ["q3"], summ["kind"])],
    })
    return html.table(shown, max_rows=None, mask_pii=False)


def spread_chart(df: pd.DataFrame):
    """Each share KPI across stores: one box (quartiles) with every store as a point."""
    import plotly.graph_objects as go

    theme.apply()
    fig = go.Figure()
    for key, label, kind, _ in HEADLINE_KPIS:
        if kind != "pct":
            continue
        col = pd.to_numeric(df[key], errors="coerce")
        keep = col.notna()
        if not keep.any():
            continue
        fig.add_trace(go.Box(
            x=(col[keep] * 100).round(1).tolist(), name=label, orientation="h", boxpoints="all", jitter=0.3,
            pointpos=0, marker_color=theme.ACCENT, line_color=theme.ACCENT, showlegend=False,
            text=charts.labels(df.loc[keep, "dealer_name"]),
            hovertemplate="%{text}: %{x:.1f}%<extra>" + html.esc(label) + "</extra>",
        ))
    if not fig.data:
        return None
    fig.update_layout(title="How the stores spread on each figure", xaxis_title="Percent", xaxis_range=[0, 100],
                      height=max(300, 70 * len(fig.data) + 120))
    fig.update_yaxes(autorange="reversed")
    return fig


def flags_chart(ranked: pd.DataFrame):
    if ranked.empty or ranked["flags_high"].isna().all():
        return None
    # charts.bar escapes the names itself
    part = ranked[["dealer_name", "flags_high"]].dropna().sort_values("flags_high", ascending=False)
    return charts.bar(part, x="dealer_name", y="flags_high", title="High-severity flags by store",
                      y_title="High-severity flags", horizontal=True,
                      height=max(260, 28 * len(part) + 120))


_VALUE = re.compile(r"""value (['"]).*?\1""")


def public_reason(error: str) -> str:
    """A failure reason without the data values it quotes: the index holds no customer data
    (a duplicate customer id or an email would otherwise show); manifest.json keeps them."""
    return _VALUE.sub("value …", error)


def failed_table(manifest: dict, group_dir: Path) -> str:
    failed = [s for s in manifest["stores"] if s["status"] == "failed"]
    if not failed:
        return html.note("Every store ran.", "info")
    rows = []
    for s in failed:
        nb = s.get("failed_notebook")
        diag = _link("/".join(quote(p) for p in Path(nb).parts), Path(nb).name) if nb else ""
        previous = ""
        if s.get("out_dir") and (group_dir / s["out_dir"] / "audit.html").is_file():
            previous = _link(_store_href(s["out_dir"], "audit.html"), "last good audit")
        rows.append(f"<tr><td>{html.esc(s.get('dealer_name') or s['dealer_id'])} "
                    f"<span class=\"oc-muted\">({html.esc(s['dealer_id'])})</span></td>"
                    f"<td>{html.esc(public_reason(s.get('error') or ''))}</td><td>{previous}</td><td>{diag}</td></tr>")
    return (html.note(f"{len(failed)} store(s) failed; their previous reports, if any, were left as they were.",
                      "warn")
            + '<div class="oc-table-wrap"><table class="oc-table"><thead><tr><th scope="col">Store</th>'
            '<th scope="col">Why</th><th scope="col">Previous report</th>'
            '<th scope="col">Executed notebook (for the analyst)</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _cell(*bundles: tuple[dict, dict | None]):
    cell = nbformat.v4.new_code_cell("")
    for data, meta in bundles:
        out = nbformat.v4.new_output("display_data", data=data)
        if meta:
            out.metadata = {html.META_KEY: meta}
        cell.outputs.append(out)
    return cell


def _html(body: str, section: str | None = None):
    return ({"text/html": body, "text/plain": ""}, {"section": section} if section else None)


def group_section(entry: dict):
    """The group audit's link and headline counts (SPEC §9; aggregates only)."""
    if not entry:
        return None
    head = html.heading("The group as one customer base",
                        "Customers shared by the stores and what one store does to another's customers.")
    if entry.get("status") not in ("ok", "skipped"):
        return _cell(_html(head, "group"), _html(html.note("The group audit could not be built this time: "
                                                           + public_reason(str(entry.get("error") or "")), "warn")))
    k = entry.get("kpis") or {}
    tiles = html.tiles([
        html.Tile("Shared customers", k.get("shared_customers"), "int", "Persons who are customers of two or more stores."),
        html.Tile("Messages reaching shared customers", k.get("shared_customer_message_share"), "pct",
                  "Messages sent to shared customers, divided by all messages of the stores.", reason="no messages"),
        html.Tile("Group flags", k.get("group_flags_total"), "int",
                  "Messages that break a group rule (one store's message to another's customer).",
                  tone="bad" if k.get("group_flags_total") else "good"),
    ])
    missing = entry.get("missing") or []
    extra = (html.note(f"{len(missing)} store(s) missing from the group view: "
                       + ", ".join(str(m.get("dealer_name") or m.get("dealer_id")) for m in missing), "warn")
             if missing else "")
    link = f'<p>{_link("group/group_audit.html", "Open the group audit")}</p>'
    return _cell(_html(head, "group"), _html(tiles + extra + link))


def build_index(manifest: dict, group_dir: Path, *, plotlyjs: str = "inline") -> str:
    """The group index page (HTML) for ``manifest`` (see ``batch.run_batch``)."""
    group_dir = Path(group_dir)
    df = store_frame(manifest, group_dir)
    ranked = rank(df)
    counts = manifest.get("counts", {})
    n = len(manifest["stores"])
    finished = manifest.get("finished_at", "")[:10] or None
    cells = [
        _cell(_html(html.header(report="Group overview", dealer_name=manifest.get("group_name") or manifest["group_id"],
                                period=f"{n} stores", as_of=finished, date_label="run on",
                                subtitle="Figures per store, each as of its own report date (shown in its "
                                         "reports); no customer data on this page."))),
        _cell(_html(html.tiles([
            html.Tile("Stores with reports", counts.get("ok", 0) + counts.get("skipped", 0), "int",
                      "Stores whose reports are current (run now, or unchanged since their last run)."),
            html.Tile("Stores that failed", counts.get("failed", 0), "int",
                      "Stores whose run failed this time; see the list below.",
                      tone="bad" if counts.get("failed") else "good"),
            html.Tile("High-severity flags", int(df["flags_high"].sum()) if df["flags_high"].notna().any() else None,
                      "int", "Across all stores with reports.", reason="no store reported them"),
            html.Tile("Messages audited", int(df["messages"].sum()) if df["messages"].notna().any() else None,
                      "int", "Across all stores with reports.", reason="no store reported them"),
        ]))),
        _cell(_html(html.heading("Stores ranked", "Best first. Click a column heading to sort by it."), "ranking"),
              _html(ranking_table(ranked, group_dir) if not ranked.empty
                    else html.note("No store has a report yet.", "skip"))),
        _cell(_html(html.heading("The group's median and quartiles"), "spread"), _html(summary_table(summary(df)))),
    ]
    group_cell = group_section(manifest.get("group") or {})
    if group_cell is not None:
        cells.append(group_cell)
    for fig in (spread_chart(df), flags_chart(ranked)):
        if fig is not None:
            cells.append(_cell((charts.mimebundle(fig), {"role": "chart"})))
    cells.append(_cell(_html(html.heading("Stores that failed"), "failed"), _html(failed_table(manifest, group_dir))))
    cells.append(_cell(_html(html.heading("Definitions"), "definitions"),
                       _html(html.definitions(KPI_DEFINITIONS))))
    nb = nbformat.v4.new_notebook(cells=cells)
    return notebook_to_html(nb, title=f"{manifest.get('group_name') or manifest['group_id']}: group overview",
                            plotlyjs=plotlyjs)
