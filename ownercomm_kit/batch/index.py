"""The group index (issue 5 item 5): one page for the group's leadership.

Stores ranked on the headline KPIs (each store's ``kpis.json``) with the group's median and
quartiles, the spread of each KPI across stores, high-severity flag counts, links to each
store's reports and the failed stores with their reasons. Aggregates only: nothing about a
customer is read or shown. The page is built from report-helper pieces (``report.html``,
``report.charts``) into an in-memory notebook and exported like every report, so it has
the same look; every string goes through ``esc``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import pandas as pd

from ..words import plural
from .. import outputs
from ..kpis import history as history_mod
from ..kpis import registry
from ..kpis import runs as runs_mod
from ..report import charts, html, theme
from ..report.export import html_bundle, notebook_to_html, page_cell
from ..run import failure as failure_mod
from ..run.notebooks import NOTEBOOKS
from ..run.resume import read_run_record

# (kpi key, label, number kind, better when) — SPEC §4-6 keys; "lower" ranks small first.
# Labels, units and better-direction of kpis.json figures come from the KPI registry.
HEADLINE_KPIS: tuple[tuple[str, str, str, str], ...] = (
    ("flags_high_per_1k", f"{registry.label('flags_high')} per 1,000 messages", "float", "lower"),
    *(
        (k, registry.label(k), registry.get(k).kind, "higher" if registry.get(k).better == "up" else "lower")
        for k in (
            "over_cap_customer_share",
            "first_year_service_retention",
            "service_customer_retention_12m",
            "appointment_show_rate_90d",
            "reminder_booking_rate_90d",
            "response_rate_90d",
            "repurchase_rate",
            "referral_conversion_12m",
            "first_contact_24h_share",
        )
    ),
)
# The figures whose change since each store's previous run the index shows, and whose group
# history it charts (SPEC §10): the audit's counts and the ranked figures of the registry.
PROGRESS_KEYS: tuple[str, ...] = ("flags_high", "flags_total", *(k for k, *_ in HEADLINE_KPIS if k in registry.KPIS))
KPI_DEFINITIONS = {
    "Rank": "Stores are ordered by their average position across the headline figures they have "
    "data for (1 = best). A figure a store lacks data for does not count for or against it.",
    f"{registry.label('flags_high')} per 1,000 messages": "Flags of the rules whose severity is high (serious) in "
    "each store's own parameters (see the definitions in its audit report) per 1,000 messages sent.",
    "Median and quartiles": "Half of the stores are above the median; a quarter are below the lower "
    "quartile and a quarter above the upper quartile.",
}


PROGRESS_DEFINITIONS = {
    "Change since the previous run": "Each store's figures in its latest report against its own previous recorded "
    "run (the runs/ folder beside its reports): + more, - fewer; percentages move in percentage points "
    "(pts). Better or worse follows each figure: fewer problems is better, a higher retention is better. "
    "A store with no earlier run shows no change.",
    "The group over time": "Each store's figures at its month-ends (history.csv). Counts are added up over the "
    "stores with a figure at that month-end; percentages and money are the median store.",
}


def store_frame(manifest: dict, group_dir: Path) -> pd.DataFrame:
    """One row per store with a report: its headline KPIs (read from its own kpis.json)."""
    rows = []
    for s in manifest["stores"]:
        if s["status"] == "failed" or not s.get("out_dir"):
            continue
        kpis = outputs.read_kpis(group_dir / s["out_dir"])
        row = {
            "dealer_id": s["dealer_id"],
            "dealer_name": s.get("dealer_name") or s["dealer_id"],
            "out_dir": s["out_dir"],
            "status": s["status"],
            "messages": registry.number(kpis.get("messages")),
            "flags_high": registry.number(kpis.get("flags_high")),
        }
        for key, *_ in HEADLINE_KPIS:
            row[key] = registry.number(kpis.get(key))
        if row["flags_high"] is not None and row["messages"]:
            row["flags_high_per_1k"] = row["flags_high"] / row["messages"] * 1000
        rows.append(row)
    return pd.DataFrame(
        rows,
        columns=[
            "dealer_id",
            "dealer_name",
            "out_dir",
            "status",
            "messages",
            "flags_high",
            *[k for k, *_ in HEADLINE_KPIS],
        ],
    )


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
        rows.append(
            {
                "kpi": label,
                "kind": kind,
                "stores": int(len(col)),
                "q1": None if q is None else float(q[0.25]),
                "median": None if q is None else float(q[0.5]),
                "q3": None if q is None else float(q[0.75]),
            }
        )
    return pd.DataFrame(rows)


def _link(href: str, text: str) -> str:
    return f'<a href="{html.esc(href)}">{html.esc(text)}</a>'


def _store_href(out_dir: str, name: str) -> str:
    return "/".join(quote(part) for part in [*Path(out_dir).parts, name])


# The store pages in the order a reader takes them (issue 17 item 2), with short link words.
REPORT_ORDER: tuple[tuple[str, str], ...] = (
    ("audit.html", "Audit"),
    ("retention.html", "Retention"),
    ("referrals.html", "Referrals"),
    ("data_quality.html", "Data quality"),
)
assert {page for page, _ in REPORT_ORDER} == {page for _, page, _ in NOTEBOOKS}


def report_links(folder: Path, out_dir: str) -> list[tuple[str, str, str]]:
    """(href, short title, full title) of each store page that exists, in :data:`REPORT_ORDER`."""
    full = {page: title for _, page, title in NOTEBOOKS}
    return [
        (_store_href(out_dir, page), short, full[page]) for page, short in REPORT_ORDER if (folder / page).is_file()
    ]


def _reports(row) -> str:
    return " &middot; ".join(_link(href, title) for href, title, _ in report_links(Path(row["_dir"]), row["out_dir"]))


def _store_cell(row) -> str:
    """The store's name as the link to its first report, its other reports below it."""
    links = report_links(Path(row["_dir"]), row["out_dir"])
    name = html.esc(row["dealer_name"])
    ident = f' <span class="oc-muted">({html.esc(row["dealer_id"])})</span>'
    if not links:
        return f'<td class="oc-store" data-sort="{name}">{name}{ident}</td>'
    first = f'<a href="{html.esc(links[0][0])}" title="{html.esc(links[0][2])}">{name}</a>'
    more = " &middot; ".join(
        f'<a href="{html.esc(h)}" title="{html.esc(full)}">{html.esc(short)}</a>' for h, short, full in links
    )
    return f'<td class="oc-store" data-sort="{name}">{first}{ident}<span class="oc-store-links">{more}</span></td>'


# Column widths of the ranked table (a fixed layout: it fits a 1,400 px window and a landscape page).
_RANK_WIDTHS = {"rank": "4%", "store": "17%"}


def _th(text: str, width: str = "", title: str = "") -> str:
    style = f' style="width:{width}"' if width else ""
    tip = f' title="{html.esc(title)}"' if title else ""
    return f'<th scope="col"{style}{tip}>{html.esc(text)}</th>'


def ranking_table(ranked: pd.DataFrame, group_dir: Path) -> str:
    """The ranked table: rank, the store (its name links to its reports) and the ranked figures.
    The counts behind them are in :func:`counts_table` (the detail view)."""
    heads = [("Rank", _RANK_WIDTHS["rank"], ""), ("Store", _RANK_WIDTHS["store"], "")]
    heads += [
        (label, "", registry.get(key).definition() if key in registry.KPIS else KPI_DEFINITIONS.get(label, ""))
        for key, label, _, _ in HEADLINE_KPIS
    ]
    head = "".join(_th(h, w, t) for h, w, t in heads)
    body = []
    for _, row in ranked.assign(_dir=[str(group_dir / d) for d in ranked["out_dir"]]).iterrows():
        cells = [f'<td class="oc-num" data-sort="{int(row["rank"])}">{int(row["rank"])}</td>', _store_cell(row)]
        cells += [_num_cell(row[key], kind) for key, _, kind, _ in HEADLINE_KPIS]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="oc-table-wrap"><table class="oc-table oc-sortable oc-rank-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def counts_table(ranked: pd.DataFrame, group_dir: Path) -> str:
    """The detail view of the ranking: each store's counts and every report link, in rank order."""
    heads = [
        "Rank",
        "Store",
        registry.label("messages"),
        registry.label("flags_high"),
        f"{registry.label('flags_high')} per 1,000 messages",
        "Reports",
    ]
    head = "".join(f'<th scope="col">{html.esc(h)}</th>' for h in heads)
    body = []
    for _, row in ranked.assign(_dir=[str(group_dir / d) for d in ranked["out_dir"]]).iterrows():
        cells = [
            f'<td class="oc-num" data-sort="{int(row["rank"])}">{int(row["rank"])}</td>',
            f'<td>{html.esc(row["dealer_name"])} <span class="oc-muted">({html.esc(row["dealer_id"])})</span></td>',
            _num_cell(row["messages"], "int"),
            _num_cell(row["flags_high"], "int"),
            _num_cell(row.get("flags_high_per_1k"), "float"),
            f"<td>{_reports(row)}</td>",
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="oc-table-wrap"><table class="oc-table oc-sortable oc-counts-table"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _num_cell(value: Any, kind: str) -> str:
    x = registry.number(value)
    if x is None:
        return '<td class="oc-num oc-na" data-sort="">no data</td>'
    return f'<td class="oc-num" data-sort="{x!r}">{html.esc(html.fmt_number(x, kind))}</td>'


def summary_table(summ: pd.DataFrame) -> str:
    shown = pd.DataFrame(
        {
            "Figure": summ["kpi"],
            "Stores with data": summ["stores"],
            "Lower quartile": [
                html.fmt_number(v, k) if v is not None else "" for v, k in zip(summ["q1"], summ["kind"])
            ],
            "Median": [html.fmt_number(v, k) if v is not None else "" for v, k in zip(summ["median"], summ["kind"])],
            "Upper quartile": [
                html.fmt_number(v, k) if v is not None else "" for v, k in zip(summ["q3"], summ["kind"])
            ],
        }
    )
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
        fig.add_trace(
            go.Box(
                x=(col[keep] * 100).round(1).tolist(),
                name=label,
                orientation="h",
                boxpoints="all",
                jitter=0.3,
                pointpos=0,
                marker_color=theme.ACCENT,
                line_color=theme.ACCENT,
                showlegend=False,
                text=charts.labels(df.loc[keep, "dealer_name"]),
                hovertemplate="%{text}: %{x:.1f}%<extra>" + html.esc(label) + "</extra>",
            )
        )
    if not fig.data:
        return None
    fig.update_layout(
        title="How the stores spread on each figure",
        xaxis_title="Percent",
        xaxis_range=[0, 100],
        height=max(300, 70 * len(fig.data) + 120),
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def flags_chart(ranked: pd.DataFrame):
    if ranked.empty or ranked["flags_high"].isna().all():
        return None
    # charts.bar escapes the names itself
    part = ranked[["dealer_name", "flags_high"]].dropna().sort_values("flags_high", ascending=False)
    return charts.bar(
        part,
        x="dealer_name",
        y="flags_high",
        title=f"{registry.label('flags_high')} by store",
        y_title=registry.label("flags_high"),
        horizontal=True,
        height=max(260, 28 * len(part) + 120),
    )


# What kind of failure a store had (run.failure kinds), in words.
FAILURE_KINDS = {
    "data": "Blocking data problems",
    "params": "Parameter problems",
    "timeout": "Time limit reached",
    "kernel": "The notebooks' kernel failed",
    "output": "Output folder unusable",
    "other": "Unexpected error",
}


def failure_text(entry: dict) -> str:
    """Why a store (or the group step) failed, rendered from its structured failure (kind,
    where, problems: never a value from the data), not from its error text, which may quote
    the data (an unexpected error's message): the index holds no customer data."""
    doc = entry.get("failure")
    if not isinstance(doc, dict):
        return "It failed; the reason is in manifest.json."
    f = failure_mod.Failure.from_dict(doc)
    return f"{FAILURE_KINDS[f.kind]}: {f.public_line()}"


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
        rows.append(
            f"<tr><td>{html.esc(s.get('dealer_name') or s['dealer_id'])} "
            f'<span class="oc-muted">({html.esc(s["dealer_id"])})</span></td>'
            f"<td>{html.esc(failure_text(s))}</td><td>{previous}</td><td>{diag}</td></tr>"
        )
    return (
        html.note(
            f"{plural(len(failed), 'store')} failed; their previous reports, if any, were left as they were.", "warn"
        )
        + '<div class="oc-table-wrap"><table class="oc-table"><thead><tr><th scope="col">Store</th>'
        '<th scope="col">Why</th><th scope="col">Previous report</th>'
        '<th scope="col">Executed notebook (for the analyst)</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def group_section(entry: dict):
    """The group audit's link and headline counts (SPEC §9; aggregates only)."""
    if not entry:
        return None
    head = html.heading(
        "The group as one customer base",
        "Customers shared by the stores and what one store does to another's customers.",
    )
    if entry.get("status") not in ("ok", "skipped"):
        return page_cell(
            html_bundle(head, "group"),
            html_bundle(html.note("The group audit could not be built this time: " + failure_text(entry), "warn")),
        )
    k = entry.get("kpis") or {}
    tiles = html.tiles(
        [
            html.Tile(
                registry.label("shared_customers"),
                k.get("shared_customers"),
                "int",
                registry.get("shared_customers").definition(),
            ),
            html.Tile(
                registry.label("shared_customer_message_share"),
                k.get("shared_customer_message_share"),
                "pct",
                registry.get("shared_customer_message_share").definition(),
                reason="no messages",
            ),
            html.Tile(
                registry.label("group_flags_total"),
                k.get("group_flags_total"),
                "int",
                registry.get("group_flags_total").definition(),
                tone="bad" if k.get("group_flags_total") else "good",
            ),
        ]
    )
    missing = entry.get("missing") or []
    extra = (
        html.note(
            f"{plural(len(missing), 'store')} missing from the group view: "
            + ", ".join(str(m.get("dealer_name") or m.get("dealer_id")) for m in missing),
            "warn",
        )
        if missing
        else ""
    )
    link = f"<p>{_link('group/group_audit.html', 'Open the group audit')}</p>"
    return page_cell(html_bundle(head, "group"), html_bundle(tiles + extra + link))


def build_index(manifest: dict, group_dir: Path, *, plotlyjs: str = "inline") -> str:
    """The group index page (HTML) for ``manifest`` (see ``batch.run_batch``)."""
    group_dir = Path(group_dir)
    df = store_frame(manifest, group_dir)
    ranked = rank(df)
    counts = manifest.get("counts", {})
    n = len(manifest["stores"])
    finished = manifest.get("finished_at", "")[:10] or None
    cells = [
        page_cell(
            html_bundle(
                html.header(
                    report="Group overview",
                    dealer_name=manifest.get("group_name") or manifest["group_id"],
                    period=f"{n} stores",
                    as_of=finished,
                    date_label="run on",
                    subtitle="Figures per store, each as of its own report date (shown in its "
                    "reports); no customer data on this page.",
                )
            )
        ),
        page_cell(
            html_bundle(
                html.tiles(
                    [
                        html.Tile(
                            "Stores with reports",
                            counts.get("ok", 0) + counts.get("skipped", 0),
                            "int",
                            "Stores whose reports are current (run now, or unchanged since their last run).",
                        ),
                        html.Tile(
                            "Stores that failed",
                            counts.get("failed", 0),
                            "int",
                            "Stores whose run failed this time; see the list below.",
                            tone="bad" if counts.get("failed") else "good",
                        ),
                        html.Tile(
                            registry.label("flags_high"),
                            int(df["flags_high"].sum()) if df["flags_high"].notna().any() else None,
                            "int",
                            "Across all stores with reports.",
                            reason="no store reported them",
                        ),
                        html.Tile(
                            registry.label("messages"),
                            int(df["messages"].sum()) if df["messages"].notna().any() else None,
                            "int",
                            "Across all stores with reports.",
                            reason="no store reported them",
                        ),
                    ]
                )
            )
        ),
        page_cell(
            html_bundle(
                html.heading(
                    "Stores ranked",
                    "Best first. Click a column heading to sort by it; "
                    "a store's name opens its audit, the words below it its other reports.",
                ),
                "ranking",
            ),
            html_bundle(
                ranking_table(ranked, group_dir)
                if not ranked.empty
                else html.note("No store has a report yet.", "skip")
            ),
        ),
        page_cell(
            html_bundle(
                html.heading(
                    "Counts behind the ranking", "Each store's messages and high-severity flags, and every report."
                ),
                "ranking-counts",
            ),
            html_bundle(
                counts_table(ranked, group_dir) if not ranked.empty else html.note("No store has a report yet.", "skip")
            ),
        ),
        page_cell(
            html_bundle(html.heading("The group's median and quartiles"), "spread"),
            html_bundle(summary_table(summary(df))),
        ),
    ]
    group_cell = group_section(manifest.get("group") or {})
    if group_cell is not None:
        cells.append(group_cell)
    for fig in (spread_chart(df), flags_chart(ranked)):
        if fig is not None:
            cells.append(page_cell((charts.mimebundle(fig), {"role": "chart"})))
    cells.append(
        page_cell(
            html_bundle(
                html.heading(
                    "Change since each store's previous run",
                    "Each store against its own previous recorded run (SPEC §10). A store "
                    "with no earlier run shows no change.",
                ),
                "changes",
            ),
            html_bundle(changes_table(manifest, group_dir)),
        )
    )
    group_hist = group_history(manifest, group_dir)
    hist_fig = group_history_chart(group_hist)
    if hist_fig is not None:
        cells.append(
            page_cell(
                html_bundle(
                    html.heading(
                        "The group over time",
                        "Month-end history of the stores (ownercomm history, or batch --history): "
                        "counts are summed over the stores, shares are the median store.",
                    ),
                    "group-history",
                ),
                (charts.mimebundle(hist_fig), {"role": "chart"}),
            )
        )
    cells.append(
        page_cell(
            html_bundle(html.heading("Stores that failed"), "failed"), html_bundle(failed_table(manifest, group_dir))
        )
    )
    cells.append(
        page_cell(
            html_bundle(html.heading("Definitions"), "definitions"),
            html_bundle(
                html.definitions(
                    {
                        **KPI_DEFINITIONS,
                        **PROGRESS_DEFINITIONS,
                        **{registry.label(k): registry.get(k).definition() for k in PROGRESS_KEYS},
                    }
                )
            ),
        )
    )
    nb = nbformat.v4.new_notebook(cells=cells)
    return notebook_to_html(
        nb,
        title=f"{manifest.get('group_name') or manifest['group_id']}: group overview",
        plotlyjs=plotlyjs,
        page_class="oc-wide",
    )


# --------------------------------------------------------------------------- progress (SPEC §10)


def store_progress(group_dir: Path, out_dir: str) -> tuple[dict, "runs_mod.Baseline | None", Any]:
    """(current kpis, the previous recorded run, current as_of) of one store folder."""
    folder = group_dir / out_dir
    kpis = outputs.read_kpis(folder)
    record = read_run_record(folder) or {}
    try:
        as_of = dt.date.fromisoformat(str(record.get("as_of"))[:10])
    except ValueError:
        recorded = runs_mod.read_runs(folder)
        as_of = recorded[-1]["as_of"] if recorded else None
    if as_of is None:
        return kpis, None, None
    return kpis, runs_mod.progress(folder, as_of).baseline, as_of


def changes_table(manifest: dict, group_dir: Path) -> str:
    """One row per store with a report: its previous run's date and each figure's change in words."""
    keys = list(PROGRESS_KEYS)
    head = ["Store", "Report date", "Previous run", *[registry.label(k) for k in keys]]
    body = []
    for s in manifest["stores"]:
        if s["status"] == "failed" or not s.get("out_dir"):
            continue
        kpis, base, as_of = store_progress(group_dir, s["out_dir"])
        cells = [
            f"<td>{html.esc(s.get('dealer_name') or s['dealer_id'])} "
            f'<span class="oc-muted">({html.esc(s["dealer_id"])})</span></td>',
            f"<td>{html.esc(html.long_date(as_of)) if as_of else ''}</td>",
            f"<td>{html.esc(html.long_date(base.as_of)) if base else 'no earlier run'}</td>",
        ]
        for k in keys:
            c = registry.change(k, kpis.get(k), base.kpis.get(k), base.since()) if base else None
            if c is None:
                cells.append('<td class="oc-change oc-na"></td>')
                continue
            tone = f" oc-change-{c.tone}" if c.tone else ""
            arrow = {"up": "\u25b2 ", "down": "\u25bc ", "same": "= "}[c.arrow]
            better = {"good": "better", "bad": "worse"}.get(c.tone, "")
            text = _short_change(k, c)
            cells.append(
                f'<td class="oc-change{tone}" title="{html.esc(c.words)}">{arrow}{html.esc(text)}'
                f"{' (' + better + ')' if better else ''}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        return html.note("No store has a report yet.", "skip")
    widths = {"Store": "12%", "Report date": "7%", "Previous run": "7%"}
    return (
        '<div class="oc-table-wrap"><table class="oc-table oc-changes oc-fit"><thead><tr>'
        + "".join(_th(h, widths.get(h, "")) for h in head)
        + f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _short_change(key: str, c) -> str:
    k = registry.get(key)
    if c.arrow == "same":
        return "no change"
    if k.unit == "share":
        return f"{abs(c.delta) * 100:+.1f} pts".replace("+", "+" if c.delta > 0 else "-")
    sign = "+" if c.delta > 0 else "-"
    return f"{sign}{html.fmt_number(abs(c.delta), k.kind)}"


def group_history(manifest: dict, group_dir: Path) -> pd.DataFrame:
    """The group's month-end history of the progress figures: counts summed over the stores with
    a row at that month-end, shares and money as the median store (``stores``: how many)."""
    frames = []
    for s in manifest["stores"]:
        if s["status"] == "failed" or not s.get("out_dir"):
            continue
        h = history_mod.read(group_dir / s["out_dir"])
        if h is not None and len(h):
            frames.append(h.assign(dealer_id=s["dealer_id"]))
    if not frames:
        return pd.DataFrame(columns=["as_of", "stores", *PROGRESS_KEYS])
    allh = pd.concat(frames, ignore_index=True)
    rows = []
    for as_of, part in allh.groupby("as_of", sort=True):
        row = {"as_of": str(as_of), "stores": int(part["dealer_id"].nunique())}
        for k in PROGRESS_KEYS:
            col = pd.to_numeric(part[k], errors="coerce") if k in part else pd.Series(dtype=float)
            col = col.dropna()
            if not len(col):
                row[k] = None
            elif registry.get(k).unit == "count":
                row[k] = float(col.sum())
            else:
                row[k] = float(col.median())
        rows.append(row)
    return pd.DataFrame(rows, columns=["as_of", "stores", *PROGRESS_KEYS])


def group_history_chart(gh: pd.DataFrame):
    if gh.empty:
        return None
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    keys = [k for k in PROGRESS_KEYS if pd.to_numeric(gh[k], errors="coerce").notna().any()]
    if not keys:
        return None
    theme.apply()
    titles = [
        charts.label(registry.label(k) + (" (all stores)" if registry.get(k).unit == "count" else " (median store)"))
        for k in keys
    ]
    fig = make_subplots(
        rows=len(keys), cols=1, shared_xaxes=True, vertical_spacing=min(0.08, 0.5 / len(keys)), subplot_titles=titles
    )
    x = [pd.Timestamp(d) for d in gh["as_of"]]
    for i, k in enumerate(keys, start=1):
        unit = registry.get(k).unit
        fmt = {"share": ".1%", "money": "$,.0f"}.get(unit, ",.0f")
        fig.add_trace(
            go.Scatter(
                x=x,
                y=list(pd.to_numeric(gh[k], errors="coerce")),
                mode="lines+markers",
                name=charts.label(registry.label(k)),
                showlegend=False,
                line=dict(color=theme.ACCENT),
                customdata=list(gh["stores"]),
                hovertemplate=f"%{{x|%d %b %Y}}: %{{y:{fmt}}} (%{{customdata}} stores)<extra></extra>",
            ),
            row=i,
            col=1,
        )
        if unit == "share":
            fig.update_yaxes(tickformat=".1%", row=i, col=1)
    fig.update_layout(
        template=theme.TEMPLATE_NAME,
        title=dict(text="Headline figures of the group over time"),
        height=140 * len(keys) + 120,
    )
    return fig
