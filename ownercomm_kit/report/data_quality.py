"""The data-quality page (``notebooks/data_quality.ipynb`` -> ``data_quality.html``): the
consultant's view of one dealer's data, built like the other report pages.

The set-up loads the data NON-strictly (blocking problems are shown, not raised), so the page
exists even when the reports cannot run. Each section renders a table of ``quality`` (pure
functions of a loaded :class:`DealerData`) with the shared report look (``report.html``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import schema
from ..data import DealerData
from ..quality import coverage, gaps, mapping_used, monthly_rows, problems_table, support, tables_overview
from . import html


@dataclass
class QualityContext:
    """What each section of the data-quality notebook needs."""

    params: dict
    data: DealerData
    infos: list  # loader.TableInfo per table: file, encoding, separator, rows read/kept, headers used
    mask_pii: bool = True

    @property
    def dealer_name(self) -> str:
        return str(self.params.get("dealer_name") or self.data.dealer_id)


def start(namespace=None, /, **given) -> QualityContext:
    """The set-up cell: resolve the parameters cell, load the data NON-strictly (blocking
    problems are reported, not raised), show the header."""
    from ..load_cache import load_cached  # shared with the report notebooks of the same kernel
    from . import notebook

    resolved, _ = notebook.resolve(notebook.parameters_from(namespace, given))
    data, infos = load_cached(resolved, strict=False)
    mask = (resolved.get("report") or {}).get("mask_pii", True)
    ctx = QualityContext(resolved, data, infos, mask_pii=mask is not False)
    notebook.show_style()
    html.publish(
        html.header(
            report="Data quality",
            dealer_name=ctx.dealer_name,
            period=_period(data),
            as_of=data.as_of,
            subtitle=f"Dealer {data.dealer_id} · data folder {resolved['data_dir']} · times in {data.timezone}",
        )
    )
    return ctx


def _period(data: DealerData) -> str:
    over = tables_overview(data)
    firsts, lasts = over["first date"].dropna(), over["last date"].dropna()
    if firsts.empty:
        return "No dated rows in the data"
    return f"Data from {min(firsts).isoformat()} to {max(lasts).isoformat()}"


def headline(ctx: QualityContext) -> None:
    data = ctx.data
    sup = support(data)
    errors, warnings = data.errors, data.warnings
    loaded = len(schema.TABLES) - len(data.missing_tables)
    html.section(
        "summary",
        "Is the data ready?",
        "Whether the reports can run on these files, and how much of them the data supports.",
    )
    html.show(
        html.tiles(
            [
                html.Tile("Tables found", loaded, definition=f"of the {len(schema.TABLES)} tables of the data model"),
                html.Tile(
                    "Blocking problems",
                    sum(p.count for p in errors),
                    tone="bad" if errors else "good",
                    definition="cells or files the reports cannot run with; fix these first",
                ),
                html.Tile(
                    "Warnings",
                    sum(p.count for p in warnings),
                    definition="rows read, but maybe not as the dealer expects",
                ),
                html.Tile(
                    "Report sections supported",
                    int(sup["supported"].sum()),
                    definition=f"of {len(sup)} sections and rules that need particular data",
                ),
            ]
        )
    )
    if errors:
        html.show(
            html.note(
                "The reports will stop on the blocking problems below. Each one says where it is "
                "and how to fix it; fix them in the dealer file or the export, then run this again.",
                "warn",
            )
        )
    else:
        html.show(html.note("No blocking problem: the reports can run on this data.", "info"))


def problems(ctx: QualityContext) -> None:
    html.section(
        "problems",
        "Problems and how to fix them",
        "Every problem found while reading the files: blocking ones first. Rows are spreadsheet rows "
        "(the header is row 1).",
    )
    df = problems_table(ctx.data.problems)
    if ctx.mask_pii:
        df = _mask_values(df)
    html.show(html.table(df, max_rows=500, mask_pii=False, empty="No problems: every file was read as expected."))


def _mask_values(df: pd.DataFrame) -> pd.DataFrame:
    """Problem values that are emails or phones, masked like everywhere else in the reports."""
    maskers = html.pii_columns({c for t in schema.TABLES.values() for c in t.column_names})
    out = df.copy()
    out["value"] = [
        maskers[c](v) if c in maskers and isinstance(v, str) else v
        for c, v in zip(out["column"].astype("object"), out["value"].astype("object"))
    ]
    return out


def tables(ctx: QualityContext) -> None:
    html.section("tables", "Tables", "Which file each table was read from, how, how many rows, and which dates.")
    over = tables_overview(ctx.data)
    info = {i.table: i for i in ctx.infos}
    over["how read"] = [_how_read(info.get(t)) for t in over["table"]]
    over = over.rename(columns={"rows": "rows loaded"})
    html.show(html.table(over, max_rows=None, mask_pii=False, formats={"first date": "date", "last date": "date"}))


def months(ctx: QualityContext) -> None:
    from . import charts

    html.section(
        "months",
        "Rows per month",
        "How many rows each table has per calendar month. A dip to zero inside the range is often a "
        "month missing from the export; ask the dealer for it.",
    )
    monthly = monthly_rows(ctx.data)
    if monthly.empty:
        html.show(html.note("No dated rows in the data.", "skip"))
        return
    from .common import TABLE_WORDS

    charts.show(
        charts.small_multiples(
            monthly,
            x="month",
            y="rows",
            facet="table",
            title="Rows per month",
            y_title="Rows",
            names={t: w.capitalize() for t, w in TABLE_WORDS.items()},
        )
    )
    missing = gaps(monthly)
    if len(missing):
        html.show(
            html.note(
                "Months with no rows: "
                + "; ".join(
                    f"{t}: {', '.join(m.strftime('%Y-%m') for m in part['month'])}"
                    for t, part in missing.groupby("table", sort=False)
                ),
                "warn",
            )
        )


def _how_read(info) -> str:
    if info is None or not info.file:
        return ""
    parts = [
        p
        for p in (
            info.encoding,
            {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(info.separator or "", ""),
        )
        if p
    ]
    lost = info.rows_read - info.rows_kept
    text = ", ".join(parts)
    return text + (f"; {lost} of {info.rows_read} rows left out" if lost else "")


def _headers_text(headers: list) -> str:
    """Their headers, each quoted as a cell at most (a garbage file's first line is not echoed)."""
    from ..validation import MAX_HEADERS_QUOTED, _cell_text

    shown = [_cell_text(h) for h in headers[:MAX_HEADERS_QUOTED]]
    more = len(headers) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def columns(ctx: QualityContext) -> None:
    html.section(
        "columns",
        "Columns",
        "For each table, which of the dealer's columns fills each canonical column and how often it is "
        "filled. Low coverage means the reports see less than the dealer has.",
    )
    cov = coverage(ctx.data)
    info = {i.table: i for i in ctx.infos}
    if cov.empty:
        html.show(html.note("No table could be read.", "warn"))
        return
    body = []
    for table, part in cov.groupby("table", sort=False):
        headers = info[table].columns if table in info else {}
        part = part.assign(**{"their column": [headers.get(c, "") for c in part["column"]]})
        part = part[["column", "their column", "required", "in the data", "filled"]]
        ignored = info[table].ignored_columns if table in info else []
        body.append(f"<h3>{html.esc(table)}</h3>")
        body.append(html.table(part, max_rows=None, mask_pii=False, formats={"filled": "pct"}))
        if ignored:
            body.append(
                html.note(
                    "Columns in the file that nothing reads (map one in the dealer file if it holds a "
                    f"canonical column): {_headers_text(ignored)}",
                    "info",
                )
            )
    html.show("".join(body))


def mapping(ctx: QualityContext) -> None:
    html.section(
        "mapping",
        "Mapping used",
        "The dealer file's files, mapping and values blocks: how the dealer's names were translated. "
        "`ownercomm onboard` writes them; edit the dealer file to correct a guess.",
    )
    html.show(
        html.table(
            mapping_used(ctx.params),
            max_rows=None,
            mask_pii=False,
            empty="No mapping: the files use the canonical names.",
        )
    )


def report_support(ctx: QualityContext) -> None:
    html.section(
        "support",
        "What the reports can show",
        "Report sections and rules that need particular tables or columns, and what happens without them.",
    )
    sup = support(ctx.data)
    missing = sup[~sup["supported"]]
    body = []
    if len(missing):  # what the dealer will not see comes first
        body.append(html.note(f"{len(missing)} of {len(sup)} sections cannot be shown in full:", "skip"))
        body.append(
            html.bullets(
                f"{r.report}: {r.section}: {r['without it']} (needs {r.missing})" for _, r in missing.iterrows()
            )
        )
    else:
        body.append(html.note("The data supports every section of the three reports.", "info"))
    body.append(html.table(sup.sort_values("supported", kind="stable"), max_rows=None, mask_pii=False))
    html.show("".join(body))


DEFINITIONS = {
    "Blocking problem": "A missing required table or column, a date that cannot be read, a duplicated id or a value "
    "outside the allowed set in a required column. The reports stop until it is fixed.",
    "Warning": "Rows read but maybe not as the dealer expects: an unknown customer, a date after the report date, "
    "an unknown value in an optional column, an empty optional column.",
    "Filled": "Share of the table's rows in which the column has a value.",
    "Supported": "The tables and columns a section needs are present and not empty.",
    "Report date": "The 'today' of the reports: the as_of parameter, else the last date seen in the data "
    "that is not after the day the reports are run.",
    "Ids in the CSV files": "A cell that starts with = + - @, a tab, a carriage return or an apostrophe is "
    "written with one apostrophe in front ('=A1) in every CSV file the kit writes "
    "(flags, suppression, call lists), so a spreadsheet shows it as text and never runs "
    "it as a formula. Ids are kept otherwise: to match the CRM's id when importing "
    "suppression.csv, remove that one leading apostrophe. The data check warns about "
    "such ids.",
}


def definitions(ctx: QualityContext) -> None:
    html.section("definitions", "Definitions", "What the words on this page mean.")
    html.show(html.definitions(DEFINITIONS))
