"""The consultant's data-quality tables of one dealer (the page: ``report/data_quality.py``).

Pure functions from a (non-strictly) loaded :class:`DealerData` and the resolved parameters
to DataFrames: per table the rows, date range and source file; per column the share of
non-empty cells; the mapping used; every problem with a suggested fix; and which report
sections the data can and cannot support. ``report.data_quality`` renders them as the
data-quality page.
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


def _rule_needs() -> tuple[Need, ...]:
    """The audit rules' rows, from the rule catalog (each rule's needs and partial supports)."""
    from .audit import catalog

    return tuple(N("audit", what, needs, without) for what, needs, without in catalog.support_rows())


def _kpi(key: str) -> str:
    from .kpis import registry

    return registry.label(key)


def _support() -> tuple[Need, ...]:
    return (
        N("audit", "every rule and the headline figures", ("customers", "communications"), "the audit cannot run"),
        *_rule_needs(),
        N(
            "audit",
            "fatigue curve and responsiveness tiers",
            ("communications.responded_at",),
            "no response rates: every customer looks unresponsive",
        ),
        N(
            "retention",
            f"{_kpi('first_year_service_retention')} and the cohort heat map",
            ("sales.vin", "service_visits.vin"),
            "KPI empty",
        ),
        N(
            "retention",
            f"{_kpi('service_customer_retention_12m')}, lapsed customers, due-for-service list",
            ("service_visits",),
            "KPI and lists empty",
        ),
        N("retention", f"{_kpi('appointment_show_rate_90d')} and weekly appointments", ("appointments",), "KPI empty"),
        N("retention", _kpi("reminder_booking_rate_90d"), ("appointments", "communications"), "KPI empty"),
        N("retention", _kpi("response_rate_90d"), ("communications.responded_at",), "KPI empty"),
        N("retention", _kpi("repurchase_rate"), ("sales",), "KPI empty"),
        N("retention", "warranty-expiring list", ("vehicles.warranty_end",), "list empty"),
        N("retention", "birthday milestones", ("customers.birth_date",), "no birthdays in the milestones list"),
        N("retention", "purchase-anniversary milestones", ("sales",), "no anniversaries in the milestones list"),
        N("referrals", "the referral report", ("referrals",), "the referral report is empty"),
        N("referrals", _kpi("advocate_rate_12m"), ("referrals", ("sales", "service_visits")), "KPI empty"),
        N(
            "referrals",
            f"{_kpi('first_contact_24h_share')} and the follow-up list",
            ("referrals.first_contact_at",),
            "KPI empty",
        ),
        N("referrals", _kpi("acknowledgment_rate"), ("referrals.acknowledged_at",), "KPI empty"),
        N("referrals", _kpi("referral_revenue_12m"), ("referrals.sale_id", "sales.price"), "KPI empty"),
        N("referrals", "incentive categories", ("referrals.incentive_category",), "no comparison by incentive"),
        N(
            "retention",
            "lifecycle segments, segment flow and the recently-lost list",
            (("sales", "service_visits"),),
            "segment KPIs empty",
        ),
        N(
            "retention",
            "visits that put a customer in a segment other than never serviced",
            ("service_visits",),
            "every customer with a sale is never serviced",
        ),
        N(
            "retention",
            "due for service by mileage, estimated mileage",
            ("service_visits.mileage",),
            "vehicles are due by time only",
        ),
        N(
            "retention",
            "due for service per vehicle",
            ("service_visits.vin",),
            "each customer's visits count as one vehicle",
        ),
        N(
            "retention",
            f"{_kpi('declined_work_recovery_90d')}, declined-work list and amounts by description",
            ("declined_work",),
            "KPI and list empty",
        ),
        N(
            "retention",
            "declined work matched to the vehicle",
            ("declined_work.vin",),
            "declined items are matched to any later visit of the customer",
        ),
        N("retention", "amounts of declined work", ("declined_work.amount",), "no amounts shown"),
        N("retention", "retention by vehicle age band", ("vehicles.model_year", "service_visits.vin"), "table empty"),
        N("audit", "reminder timing against estimated due dates", ("service_visits",), "section skipped"),
    )


def __getattr__(name: str):
    # SUPPORT is built on first use: the rule rows come from the rule catalog, which imports the audit.
    if name == "SUPPORT":
        return _support()
    raise AttributeError(name)


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
    for need in _support():
        missing = []
        for item in need.needs:
            options = item if isinstance(item, tuple) else (item,)
            if not any(available(data, o) for o in options):
                missing.append(" or ".join(options))
        rows.append(
            {
                "report": need.report,
                "section": need.section,
                "supported": not missing,
                "missing": ", ".join(missing),
                "without it": need.without if missing else "",
            }
        )
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
        rows.append(
            {
                "table": name,
                "file": data.sources.get(name) or "",
                "status": "missing" if name in data.missing_tables else "loaded",
                "rows": int(len(df)),
                "date column": col or "",
                "first date": first,
                "last date": last,
            }
        )
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
        return pd.DataFrame(
            {
                "month": pd.Series(dtype="datetime64[ns]"),
                "table": pd.Series(dtype="string"),
                "rows": pd.Series(dtype="int64"),
            }
        )
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
            rows.append(
                {
                    "table": name,
                    "column": col.name,
                    "required": col.required,
                    "in the data": present,
                    "filled": share,
                }
            )
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
    (
        r"orphan",
        "Export the customers table in full (all customers, not a filtered list), or ignore if these "
        "are deleted customers.",
    ),
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
