"""``group_audit.html``: the group's marketing lead reads the group as one customer base.

Built like the group index (cells of HTML and charts through the kit's exporter): aggregates
first (shared customers, the share of messages reaching them, flags by rule, flags by pair of
stores, which store messages shared customers most), then examples. Every name from the data
is escaped by ``report.html``; contacts never appear, and text is masked as in every page.
"""

from __future__ import annotations

import nbformat
import pandas as pd

from ..report import charts, html
from ..report.export import html_bundle, notebook_to_html, page_cell
from .persons import span_counts
from ..audit import catalog
from ..kpis import registry
from .rules import GROUP_RULES

# The group KPIs (SPEC §9, the group's manifest.json); their labels are the KPI registry's.
KPI_DEFINITIONS = {
    "shared_customers": "Persons who are customers of two or more stores of the group.",
    "shared_customer_message_share": "Messages sent by the stores to shared customers, divided by all messages the "
    "stores sent (up to each store's report date).",
    "group_flags_total": "Messages that break a group rule: something one store did to a customer of another, "
    "or the stores together sending a person too many messages.",
}
DEFINITIONS = {
    "Person": "Customer records of the group's stores that are one person: the same email (trimmed, lower "
    "case), or the same phone number and the same last name (accents, case, spacing and punctuation ignored).",
    **{registry.label(k): d for k, d in KPI_DEFINITIONS.items()},
}


def _chart(fig):
    return (charts.mimebundle(fig), {"role": "chart"})


def build_page(
    *,
    group_name: str,
    stores,
    missing,
    persons: pd.DataFrame,
    flags: pd.DataFrame,
    per_store: pd.DataFrame,
    kpis: dict,
    params: dict,
    as_of,
    plotlyjs: str = "inline",
) -> str:
    mask = bool((params.get("report") or {}).get("mask_pii", True))
    names = {s.dealer_id: s.dealer_name for s in stores}
    n_examples = int((params.get("group") or {}).get("examples") or 25)
    cells = [
        page_cell(
            html_bundle(
                html.header(
                    report="Group audit",
                    dealer_name=group_name,
                    period=f"{len(stores)} stores as one customer base",
                    as_of=as_of,
                    subtitle="Customers shared by the group's stores, and what one store does to another's customers.",
                )
            )
        )
    ]
    if missing:
        cells.append(
            page_cell(
                html_bundle(
                    html.note(
                        "Missing from this group view: "
                        + "; ".join(f"{m['dealer_name']} ({m['reason']})" for m in missing)
                        + ". Their customers and messages are not counted here.",
                        "warn",
                    )
                )
            )
        )
    cells.append(
        page_cell(
            html_bundle(
                html.tiles(
                    [
                        html.Tile(
                            registry.label("shared_customers"),
                            kpis.get("shared_customers"),
                            "int",
                            KPI_DEFINITIONS["shared_customers"],
                        ),
                        html.Tile(
                            registry.label("shared_customer_message_share"),
                            kpis.get("shared_customer_message_share"),
                            "pct",
                            KPI_DEFINITIONS["shared_customer_message_share"],
                            reason="no messages",
                        ),
                        html.Tile(
                            registry.label("group_flags_total"),
                            kpis.get("group_flags_total"),
                            "int",
                            KPI_DEFINITIONS["group_flags_total"],
                            tone="bad" if kpis.get("group_flags_total") else "good",
                        ),
                        html.Tile(
                            "Persons",
                            int(persons["person_id"].nunique()) if len(persons) else 0,
                            "int",
                            "Distinct persons among all customer records of the group.",
                        ),
                    ]
                ),
                "headline",
            )
        )
    )
    spans = span_counts(persons)
    cells.append(
        page_cell(
            html_bundle(
                html.heading(
                    "Customers of several stores",
                    "Persons by how many stores they are customers of, and which key matched "
                    "their records (email, phone with last name, or both).",
                ),
                "shared",
            ),
            html_bundle(
                html.table(
                    spans,
                    labels={
                        "stores": "Stores",
                        "email": "By email",
                        "phone_name": "By phone and last name",
                        "both": "By both",
                        "persons": "Persons",
                    },
                    empty="No customer is shared by two stores.",
                )
            ),
        )
    )
    # flags by rule
    by_rule = pd.DataFrame(
        {
            "rule": [catalog.title(r) for r in GROUP_RULES],
            "flags": [int((flags["rule"] == r).sum()) for r in GROUP_RULES],
        }
    )
    cells.append(
        page_cell(
            html_bundle(html.heading("Group flags by rule"), "rules"),
            html_bundle(html.table(by_rule, labels={"rule": "Rule", "flags": "Flags"})),
        )
    )
    if len(flags):
        cells.append(
            page_cell(
                _chart(
                    charts.bar(by_rule, x="rule", y="flags", title="Group flags by rule", horizontal=True, y_title="")
                )
            )
        )
    # flags by pair of stores
    cells.append(
        page_cell(
            html_bundle(
                html.heading(
                    "Flags by pair of stores",
                    "Rows: the store that sent the message; columns: the store whose record "
                    "(purchase, visit, opt-out or messages) makes it a conflict.",
                ),
                "pairs",
            )
        )
    )
    if len(flags):
        order = [s.dealer_id for s in stores]
        pair = pd.crosstab(flags["dealer_id"], flags["related_dealer_id"]).reindex(
            index=order, columns=order, fill_value=0
        )
        pair = pair.loc[(pair.sum(axis=1) > 0), (pair.sum(axis=0) > 0)]
        pair.index = [names.get(d, d) for d in pair.index]
        pair.columns = [names.get(d, d) for d in pair.columns]
        cells.append(
            page_cell(
                _chart(
                    charts.heatmap(
                        pair,
                        title="Group flags by sending store and conflicting store",
                        x_title="store whose record makes the conflict",
                        y_title="store that sent",
                        value_name="flags",
                    )
                )
            )
        )
    else:
        cells.append(page_cell(html_bundle(html.note("No group flags.", "info"))))
    # which store messages shared customers most
    ps = per_store.copy()
    ps["share"] = (ps["shared_messages"] / ps["messages"]).where(ps["messages"] > 0)
    ps = ps.sort_values(["shared_messages", "dealer_id"], ascending=[False, True])
    cells.append(
        page_cell(
            html_bundle(html.heading("Which stores message shared customers most"), "stores"),
            html_bundle(
                html.table(
                    ps[["dealer_name", "messages", "shared_messages", "share"]],
                    labels={
                        "dealer_name": "Store",
                        "messages": "Messages",
                        "shared_messages": "To shared customers",
                        "share": "Share",
                    },
                    formats={"share": "pct"},
                    max_rows=None,
                )
            ),
        )
    )
    if len(ps) and ps["shared_messages"].sum() > 0:
        cells.append(
            page_cell(
                _chart(
                    charts.bar(
                        ps,
                        x="dealer_name",
                        y="shared_messages",
                        title="Messages to shared customers by store",
                        y_title="messages",
                    )
                )
            )
        )
    # examples
    ex = flags.head(n_examples)
    ex = pd.DataFrame(
        {
            "store": [names.get(d, d) for d in ex["dealer_id"]],
            "rule": [catalog.title(r) for r in ex["rule"]],
            "sent_at": ex["sent_at"].astype("string").str.slice(0, 10),
            "detail": ex["detail"],
            "related_store": [names.get(d, d) for d in ex["related_dealer_id"]],
        }
    )
    cells.append(
        page_cell(
            html_bundle(
                html.heading(
                    "Examples",
                    f"The first {n_examples} group flags in time order; the full "
                    "list is group_flags.csv, and what each store must hold back is "
                    "group_suppression.csv.",
                ),
                "examples",
            ),
            html_bundle(
                html.table(
                    ex,
                    labels={
                        "store": "Sent by",
                        "rule": "Rule",
                        "sent_at": "Sent (UTC date)",
                        "detail": "What happened",
                        "related_store": "Conflicting store",
                    },
                    mask_pii=mask,
                    max_rows=None,
                    empty="No group flags.",
                )
            ),
        )
    )
    cells.append(
        page_cell(
            html_bundle(html.heading("Definitions"), "definitions"),
            html_bundle(html.definitions({**DEFINITIONS, **catalog.definitions(params, "group")})),
        )
    )
    nb = nbformat.v4.new_notebook(cells=cells)
    return notebook_to_html(nb, title=f"{group_name}: group audit", plotlyjs=plotlyjs)
