"""The consultant's data-quality view of one dealer (issue 7, ``notebooks/onboarding.ipynb``).

Pure functions from a (non-strictly) loaded :class:`DealerData` and the resolved parameters
to DataFrames: per table the rows, date range and source file; per column the share of
non-empty cells; the mapping used; every problem with a suggested fix; and which report
sections the data can and cannot support. ``sections`` renders them with the shared
report look (``ownercomm_kit.report.html``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from . import schema
from .data import DealerData, Problem

# ------------------------------------------------------------------ what each report needs


@dataclass(frozen=True)
class Need:
    """A report section and what it needs: each item is "table", "table.column", or a
    tuple of those of which any one is enough."""

    report: str
    section: str
    needs: tuple
    without: str  # what happens without it, in plain words


N = Need
SUPPORT: tuple[Need, ...] = (
    N("audit", "every rule and the headline figures", ("customers", "communications"), "the audit cannot run"),
    N("audit", "duplicate_campaign", ("communications.campaign_id",), "rule skipped"),
    N("audit", "promo_after_purchase", ("sales",), "rule skipped"),
    N("audit", "better_offer_after_purchase",
      ("sales.model", "sales.price", "communications.model", "communications.offer_price"), "rule skipped"),
    N("audit", "reminder_after_service", (("service_visits", "appointments"),), "rule skipped"),
    N("audit", "conquest_to_owner", (("sales", "vehicles"),), "rule skipped"),
    N("audit", "promo_during_open_lead", ("leads",), "rule skipped"),
    N("audit", "no_consent for email", ("customers.email_opt_in",), "email is not checked for consent"),
    N("audit", "no_consent for sms", ("customers.sms_consent",), "sms is not checked for consent"),
    N("audit", "no_consent for phone", ("customers.phone_dnc",), "phone is not checked against do-not-call"),
    N("audit", "no_consent for mail", ("customers.mail_opt_out",), "mail is not checked for opt-outs"),
    N("audit", "after_opt_out", ("communications.unsubscribed",), "rule skipped"),
    N("audit", "quiet_hours in each customer's own time zone", ("customers.timezone",),
      "quiet hours use the dealer's time zone for everyone"),
    N("audit", "non_preferred_channel", ("customers.preferred_channel",), "rule skipped"),
    N("audit", "state_quiet_hours and state_contact_cap (the customer's state)",
      (("customers.state", "customers.postal_code", "customers.phone"),), "state rules skipped"),
    N("audit", "state rules from the customer's own state column", ("customers.state",),
      "the state comes from the ZIP code or the phone's area code only"),
    N("audit", "fatigue curve and responsiveness tiers", ("communications.responded_at",),
      "no response rates: every customer looks unresponsive"),
    N("retention", "first_year_service_retention and the cohort heat map", ("sales.vin", "service_visits.vin"),
      "KPI empty"),
    N("retention", "service_customer_retention_12m, lapsed customers, due-for-service list", ("service_visits",),
      "KPI and lists empty"),
    N("retention", "appointment_show_rate_90d and weekly appointments", ("appointments",), "KPI empty"),
    N("retention", "reminder_booking_rate_90d", ("appointments", "communications"), "KPI empty"),
    N("retention", "response_rate_90d", ("communications.responded_at",), "KPI empty"),
    N("retention", "repurchase_rate", ("sales",), "KPI empty"),
    N("retention", "warranty-expiring list", ("vehicles.warranty_end",), "list empty"),
    N("retention", "birthday milestones", ("customers.birth_date",), "no birthdays in the milestones list"),
    N("retention", "purchase-anniversary milestones", ("sales",), "no anniversaries in the milestones list"),
    N("referrals", "the referral report", ("referrals",), "the referral report is empty"),
    N("referrals", "advocate_rate_12m", ("referrals", ("sales", "service_visits")), "KPI empty"),
    N("referrals", "first_contact_24h_share and the follow-up list", ("referrals.first_contact_at",), "KPI empty"),
    N("referrals", "acknowledgment_rate", ("referrals.acknowledged_at",), "KPI empty"),
    N("referrals", "referral_revenue_12m", ("referrals.sale_id", "sales.price"), "KPI empty"),
    N("referrals", "incentive categories", ("referrals.incentive_category",), "no comparison by incentive"),
    N("retention", "lifecycle segments, segment flow and the recently-lost list", (("sales", "service_visits"),),
      "segment KPIs empty"),
    N("retention", "visits that lead to a segment other than never_serviced", ("service_visits",),
      "every customer with a sale is never_serviced"),
    N("retention", "due for service by mileage, estimated mileage", ("service_visits.mileage",),
      "vehicles are due by time only"),
    N("retention", "due for service per vehicle", ("service_visits.vin",),
      "each customer's visits count as one vehicle"),
    N("retention", "declined_work_recovery_90d, declined-work list and amounts by description", ("declined_work",),
      "KPI and list empty"),
    N("retention", "declined work matched to the vehicle", ("declined_work.vin",),
      "declined items are matched to any later visit of the customer"),
    N("retention", "amounts of declined work", ("declined_work.amount",), "no amounts shown"),
    N("retention", "retention by vehicle age band", ("vehicles.model_year", "service_visits.vin"), "table empty"),
    N("audit", "reminder timing against estimated due dates", ("service_visits",), "section skipped"),
)


def available(data: DealerData, item: str) -> bool:
    """A table with rows, or a column with at least one value."""
    table, _, column = item.partition(".")
    if not data.has(table) or data[table].empty:
        return False
    if not column:
        return True
    return data.has(table, column) and bool(data[table][column].notna().any())


def support(data: DealerData) -> pd.DataFrame:
    """Each report section: supported or not, and what is missing (SPEC §2: degrade and say so)."""
    rows = []
    for need in SUPPORT:
        missing = []
        for item in need.needs:
            options = item if isinstance(item, tuple) else (item,)
            if not any(available(data, o) for o in options):
                missing.append(" or ".join(options))
        rows.append({
            "report": need.report,
            "section": need.section,
            "supported": not missing,
            "missing": ", ".join(missing),
            "without it": need.without if missing else "",
        })
    return pd.DataFrame(rows, columns=["report", "section", "supported", "missing", "without it"])


# ------------------------------------------------------------------ tables and columns


def tables_overview(data: DealerData) -> pd.DataFrame:
    """Per table: file read, rows, first and last date of its main date column."""
    rows = []
    for name in schema.TABLES:
        df = data[name]
        first = last = None
        col = schema.EVENT_DATE_COLUMN.get(name)
        if col and not df.empty and df[col].notna().any():
            first, last = _as_date(df[col].min(), data.timezone), _as_date(df[col].max(), data.timezone)
        rows.append({
            "table": name,
            "file": data.sources.get(name) or "",
            "status": "missing" if name in data.missing_tables else "loaded",
            "rows": int(len(df)),
            "date column": col or "",
            "first date": first,
            "last date": last,
        })
    return pd.DataFrame(rows)


def _as_date(value, timezone: str):
    ts = pd.Timestamp(value)
    return (ts.tz_convert(timezone) if ts.tzinfo else ts).date()


def monthly_rows(data: DealerData) -> pd.DataFrame:
    """Rows per calendar month of each dated table (month, table, rows), months without rows
    included as 0 between a table's first and last month, so a missing month shows."""
    parts = []
    for name, col in schema.EVENT_DATE_COLUMN.items():
        s = data[name][col].dropna()
        if s.empty:
            continue
        local = s.dt.tz_convert(data.timezone).dt.tz_localize(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else s
        months = local.dt.to_period("M")
        counts = months.value_counts().reindex(pd.period_range(months.min(), months.max(), freq="M"), fill_value=0)
        parts.append(pd.DataFrame({"month": counts.index.to_timestamp(), "table": name, "rows": counts.to_numpy()}))
    if not parts:
        return pd.DataFrame({"month": pd.Series(dtype="datetime64[ns]"), "table": pd.Series(dtype="string"),
                             "rows": pd.Series(dtype="int64")})
    return pd.concat(parts, ignore_index=True)


# A month with no rows is suspicious only in a table that usually has this many a month
# (a small store may sell no car in a month; it does not send no message in one).
GAP_MIN_MONTHLY_ROWS = 10


def gaps(monthly: pd.DataFrame) -> pd.DataFrame:
    """Months with no rows inside a busy table's date range: often a month missing from the export."""
    typical = monthly.groupby("table")["rows"].transform("median")
    return monthly[(monthly["rows"] == 0) & (typical >= GAP_MIN_MONTHLY_ROWS)].reset_index(drop=True)


def coverage(data: DealerData) -> pd.DataFrame:
    """Per column of each loaded table: required or not, present in the file, share non-empty."""
    rows = []
    for name, table in schema.TABLES.items():
        if name in data.missing_tables:
            continue
        df = data[name]
        for col in table.columns:
            present = data.has(name, col.name)
            share = float(df[col.name].notna().mean()) if present and len(df) else None
            rows.append({
                "table": name,
                "column": col.name,
                "required": col.required,
                "in the data": present,
                "filled": share,
            })
    return pd.DataFrame(rows, columns=["table", "column", "required", "in the data", "filled"])


def mapping_used(params: dict) -> pd.DataFrame:
    """The dealer file's files, mapping and values blocks as one readable table."""
    rows = []
    for table, ref in sorted((params.get("files") or {}).items()):
        rows.append({"block": "files", "table or column": table, "theirs": str(ref), "canonical": table})
    for table, cols in sorted((params.get("mapping") or {}).items()):
        for theirs, ours in (cols or {}).items():
            rows.append({"block": "mapping", "table or column": table, "theirs": str(theirs), "canonical": str(ours)})
    for col, vals in sorted((params.get("values") or {}).items()):
        for theirs, ours in (vals or {}).items():
            rows.append({"block": "values", "table or column": col, "theirs": str(theirs), "canonical": str(ours)})
    return pd.DataFrame(rows, columns=["block", "table or column", "theirs", "canonical"])


# ------------------------------------------------------------------ problems and fixes

# How to fix each kind of problem the loader and validation report, by what its message says.
_FIXES = (
    (r"add to the dealer file: (.*)", None),  # validation already wrote the fix: quote it
    (r"not found in .*expected", "Export the table, or name its file in the dealer file's files: block."),
    (r"duplicate", "Ids must be unique: remove the repeated rows from the export, or export one row per id."),
    (r"orphan", "Export the customers table in full (all customers, not a filtered list), or ignore if these "
                "are deleted customers."),
    (r"after as_of", "Set as_of to the export date, or check the time zone and date format of this column."),
    (r"empty in all", "Ask the dealer for this column in the next export; what needs it is skipped meanwhile."),
    (r"date|time", "Check the date format (US 06/18/2026, ISO 2026-06-18 or an Excel date) and fix the cell."),
    (r"number|numeric", "Remove text from the cell (units, notes); currency signs and thousands separators are fine."),
    (r"boolean|yes/no|Y/N", "Use Y/N, Yes/No, 1/0 or TRUE/FALSE in this column."),
    (r"map to", "Keep one of the columns: rename or remove the others, or map one explicitly in mapping:."),
)


def suggested_fix(problem: Problem) -> str:
    for pattern, fix in _FIXES:
        m = re.search(pattern, problem.message, flags=re.I)
        if m:
            return fix if fix is not None else f"Add to the dealer file: {m.group(1)}"
    return "Check the cell in the export and correct it at the source."


def problems_table(problems: list[Problem]) -> pd.DataFrame:
    """Every problem, errors first, each with a suggested fix."""
    rows = [
        {
            "level": p.level,
            "table": p.table or "",
            "file": p.file or "",
            "row": p.row,
            "column": p.column or "",
            "value": p.value,
            "problem": p.message,
            "cells": p.count,
            "suggested fix": suggested_fix(p),
        }
        for p in sorted(problems, key=lambda p: p.level != "error")
    ]
    cols = ["level", "table", "file", "row", "column", "value", "problem", "cells", "suggested fix"]
    return pd.DataFrame(rows, columns=cols).astype({"row": "Int64"})


# ------------------------------------------------------------------ the notebook's sections


@dataclass
class QualityContext:
    """What each section of the onboarding notebook needs."""

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
    from .load_cache import load_cached  # shared with the report notebooks of the same kernel
    from .report import html, notebook

    resolved, _ = notebook.resolve(notebook.parameters_from(namespace, given))
    data, infos = load_cached(resolved, strict=False)
    mask = (resolved.get("report") or {}).get("mask_pii", True)
    ctx = QualityContext(resolved, data, infos, mask_pii=mask is not False)
    notebook.show_style()
    html.publish(html.header(
        report="Data quality", dealer_name=ctx.dealer_name, period=_period(data), as_of=data.as_of,
        subtitle=f"Dealer {data.dealer_id} · data folder {resolved['data_dir']} · times in {data.timezone}",
    ))
    return ctx


def _period(data: DealerData) -> str:
    over = tables_overview(data)
    firsts, lasts = over["first date"].dropna(), over["last date"].dropna()
    if firsts.empty:
        return "No dated rows in the data"
    return f"Data from {min(firsts).isoformat()} to {max(lasts).isoformat()}"


def headline(ctx: QualityContext) -> None:
    from .report import html

    data = ctx.data
    sup = support(data)
    errors, warnings = data.errors, data.warnings
    loaded = len(schema.TABLES) - len(data.missing_tables)
    html.section("summary", "Is the data ready?",
                 "Whether the reports can run on these files, and how much of them the data supports.")
    html.show(html.tiles([
        html.Tile("Tables found", loaded, definition=f"of the {len(schema.TABLES)} tables of the data model"),
        html.Tile("Blocking problems", sum(p.count for p in errors), tone="bad" if errors else "good",
                  definition="cells or files the reports cannot run with; fix these first"),
        html.Tile("Warnings", sum(p.count for p in warnings), definition="rows read, but maybe not as the dealer expects"),
        html.Tile("Report sections supported", int(sup["supported"].sum()),
                  definition=f"of {len(sup)} sections and rules that need particular data"),
    ]))
    if errors:
        html.show(html.note("The reports will stop on the blocking problems below. Each one says where it is "
                            "and how to fix it; fix them in the dealer file or the export, then run this again.", "warn"))
    else:
        html.show(html.note("No blocking problem: the reports can run on this data.", "info"))


def problems(ctx: QualityContext) -> None:
    from .report import html

    html.section("problems", "Problems and how to fix them",
                 "Every problem found while reading the files: blocking ones first. Rows are spreadsheet rows "
                 "(the header is row 1).")
    df = problems_table(ctx.data.problems)
    if ctx.mask_pii:
        df = _mask_values(df)
    html.show(html.table(df, max_rows=500, mask_pii=False, empty="No problems: every file was read as expected."))


def _mask_values(df: pd.DataFrame) -> pd.DataFrame:
    """Problem values that are emails or phones, masked like everywhere else in the reports."""
    from .report import html

    maskers = html.pii_columns({c for t in schema.TABLES.values() for c in t.column_names})
    out = df.copy()
    out["value"] = [
        maskers[c](v) if c in maskers and isinstance(v, str) else v
        for c, v in zip(out["column"].astype("object"), out["value"].astype("object"))
    ]
    return out


def tables(ctx: QualityContext) -> None:
    from .report import html

    html.section("tables", "Tables", "Which file each table was read from, how, how many rows, and which dates.")
    over = tables_overview(ctx.data)
    info = {i.table: i for i in ctx.infos}
    over["how read"] = [_how_read(info.get(t)) for t in over["table"]]
    over = over.rename(columns={"rows": "rows loaded"})
    html.show(html.table(over, max_rows=None, mask_pii=False, formats={"first date": "date", "last date": "date"}))


def months(ctx: QualityContext) -> None:
    from .report import charts, html

    html.section("months", "Rows per month",
                 "How many rows each table has per calendar month. A dip to zero inside the range is often a "
                 "month missing from the export; ask the dealer for it.")
    monthly = monthly_rows(ctx.data)
    if monthly.empty:
        html.show(html.note("No dated rows in the data.", "skip"))
        return
    from .report.common import TABLE_WORDS

    charts.show(charts.small_multiples(monthly, x="month", y="rows", facet="table", title="Rows per month",
                                       y_title="Rows", names={t: w.capitalize() for t, w in TABLE_WORDS.items()}))
    missing = gaps(monthly)
    if len(missing):
        html.show(html.note("Months with no rows: " + "; ".join(
            f"{t}: {', '.join(m.strftime('%Y-%m') for m in part['month'])}" for t, part in missing.groupby("table", sort=False)
        ), "warn"))


def _how_read(info) -> str:
    if info is None or not info.file:
        return ""
    parts = [p for p in (info.encoding, {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(info.separator or "", ""))
             if p]
    lost = info.rows_read - info.rows_kept
    text = ", ".join(parts)
    return text + (f"; {lost} of {info.rows_read} rows left out" if lost else "")


def _headers_text(headers: list) -> str:
    """Their headers, each quoted as a cell at most (a garbage file's first line is not echoed)."""
    from .validation import MAX_HEADERS_QUOTED, _cell_text

    shown = [_cell_text(h) for h in headers[:MAX_HEADERS_QUOTED]]
    more = len(headers) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def columns(ctx: QualityContext) -> None:
    from .report import html

    html.section("columns", "Columns",
                 "For each table, which of the dealer's columns fills each canonical column and how often it is "
                 "filled. Low coverage means the reports see less than the dealer has.")
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
            body.append(html.note("Columns in the file that nothing reads (map one in the dealer file if it holds a "
                                  f"canonical column): {_headers_text(ignored)}", "info"))
    html.show("".join(body))


def mapping(ctx: QualityContext) -> None:
    from .report import html

    html.section("mapping", "Mapping used",
                 "The dealer file's files, mapping and values blocks: how the dealer's names were translated. "
                 "`ownercomm onboard` writes them; edit the dealer file to correct a guess.")
    html.show(html.table(mapping_used(ctx.params), max_rows=None, mask_pii=False,
                         empty="No mapping: the files use the canonical names."))


def report_support(ctx: QualityContext) -> None:
    from .report import html

    html.section("support", "What the reports can show",
                 "Report sections and rules that need particular tables or columns, and what happens without them.")
    sup = support(ctx.data)
    missing = sup[~sup["supported"]]
    body = []
    if len(missing):  # what the dealer will not see comes first
        body.append(html.note(f"{len(missing)} of {len(sup)} sections cannot be shown in full:", "skip"))
        body.append(html.bullets(f"{r.report}: {r.section}: {r['without it']} (needs {r.missing})" for _, r in missing.iterrows()))
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
    from .report import html

    html.section("definitions", "Definitions", "What the words on this page mean.")
    html.show(html.definitions(DEFINITIONS))
