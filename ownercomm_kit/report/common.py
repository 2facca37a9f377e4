"""Sections every report has: KPI tiles, data quality, definitions (written once)."""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import pandas as pd

from .. import schema, words
from . import html
from .notebook import ReportContext

TABLE_WORDS = {
    "customers": "customers",
    "vehicles": "vehicles",
    "sales": "vehicle sales",
    "service_visits": "service visits",
    "appointments": "service appointments",
    "communications": "messages sent",
    "leads": "sales leads",
    "referrals": "referrals",
    "declined_work": "declined work",
}


def kpi_tiles(
    kpis: Mapping[str, Any],
    spec: Sequence[tuple[str, str, str]],
    definitions: Mapping[str, str],
    skipped: Mapping[str, str],
    empty: Mapping[str, str],
    tones: Mapping[str, str] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> str:
    """Tiles of ``(key, label, kind)``; a None KPI shows "not enough data" and why.

    ``changes``: key -> ``kpis.registry.Change`` against the report's baseline (none: no change shown).

    The reason is the analytics' ``skipped`` entry (a missing table or column) or else the
    report's plain sentence for an empty denominator (``empty[key]``).
    """
    items = []
    for key, label, kind in spec:
        value = kpis.get(key)
        reason = skipped.get(key) or empty.get(key, "nothing to count in the period")
        from .progress import tile_change

        items.append(
            html.Tile(
                label=label,
                value=value,
                kind=kind,
                definition=definitions.get(key, ""),
                reason=reason,
                tone=(tones or {}).get(key, ""),
                **tile_change((changes or {}).get(key)),
            )
        )
    return html.tiles(items)


CODE_COLUMNS = (
    "milestone",
    "due_reason",
    "reason",
    "category",
    "status",
    "outcome",
    "pay_type",
    "service_type",
    "incentive_category",
    "new_used",
)
_CAPS_WORD = re.compile(r"\b(?:[A-Z]{4,}|[a-z]{4,})\b")


def model_words(value: Any) -> Any:
    """One casing for make and model names: 'CAMRY' and 'camry' -> 'Camry'; short or mixed words as they are
    ('BMW', 'RAV4', 'CR-V', 'F-150'), VINs untouched."""
    if not isinstance(value, str):
        return value
    head, sep, tail = value.partition(" (VIN ")
    return _CAPS_WORD.sub(lambda m: m.group(0).capitalize(), head) + sep + tail


def model_casing(text: pd.Series, models: Sequence[Any]) -> pd.Series:
    """Sentences (the flags' detail, kept as they are in flags.csv) with the data's model names in
    one casing: "a sales promotion for an ELANTRA" -> "... for an Elantra"."""
    names = {str(m) for m in models if isinstance(m, str) and m.strip()}
    fix = {m: model_words(m) for m in names if model_words(m) != m}
    if not fix or text.empty:
        return text
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(m) for m in sorted(fix, key=len, reverse=True)) + r")\b")
    return text.map(lambda v: pattern.sub(lambda x: fix[x.group(0)], v) if isinstance(v, str) else v)


def data_models(data) -> list[str]:
    """Every model name the dealer's data holds (sales, vehicles, messages)."""
    out: set[str] = set()
    for table in ("sales", "vehicles", "communications"):
        if data.has(table, "model"):
            out.update(str(m) for m in data[table]["model"].dropna().unique())
    return sorted(out)


def mail_contact(channel: Any, contact: Any) -> Any:
    """A mail contact is the customer's postal code: say so ('Postal code 92780')."""
    if isinstance(channel, str) and channel == "mail" and isinstance(contact, str) and contact.strip():
        return f"Postal code {contact.strip()}"
    return contact


def plain_codes(df: pd.DataFrame) -> pd.DataFrame:
    """Codes as plain words (tables for the reader; the CSVs keep the codes): channels, senders,
    codes such as ``purchase_anniversary`` ("Purchase anniversary"), one casing for models, and a
    mail contact shown as the postal code it is."""
    from . import theme

    out = df.copy()
    if "contact" in out.columns and "channel" in out.columns:
        out["contact"] = [
            mail_contact(ch, c) for ch, c in zip(out["channel"].astype("object"), out["contact"].astype("object"))
        ]
    for col, words_ in (("channel", theme.CHANNEL_LABELS), ("sender", theme.SENDER_LABELS)):
        if col in out.columns:
            out[col] = out[col].map(lambda v, w=words_: w.get(v, v))
    for col in CODE_COLUMNS:
        if col in out.columns and (pd.api.types.is_string_dtype(out[col]) or out[col].dtype == object):
            out[col] = out[col].map(lambda v: words.code_words(v) if isinstance(v, str) and v else v)
    for col in ("vehicle", "model", "make"):
        if col in out.columns:
            out[col] = out[col].map(model_words)
    return out


def key_points(points: Sequence[str]) -> str:
    """ "In short": the sentences under the headline tiles."""
    return f'<div class="oc-key"><h3>In short</h3>{html.bullets(points)}</div>' if points else ""


def skipped_note(skipped: Mapping[str, str], key: str) -> str | None:
    """A boxed "skipped" note when ``key`` could not be computed, else None."""
    why = skipped.get(key)
    return html.note(f"Not shown: {why}.", "skip") if why else None


def data_quality(
    ctx: ReportContext, *, tables: Sequence[str], skipped: Mapping[str, str], section_labels: Mapping[str, str]
) -> None:
    """Which tables and columns the report used, what was missing, what was skipped, warnings."""
    data = ctx.data
    html.section(
        "data-quality",
        "Data quality",
        "What this report could use from the dealer's files, what was missing, and what was skipped because of it.",
    )
    rows = []
    for t in tables:
        present = data.has(t)
        absent = [c for c in data.missing_columns.get(t, []) if present]
        rows.append(
            {
                "table": TABLE_WORDS.get(t, t),
                "file": data.sources.get(t, "") if present else "not in the data",
                "rows": len(data[t]) if present else 0,
                "missing_optional_columns": ", ".join(absent) if absent else ("" if present else "all"),
            }
        )
    body = [
        html.table(
            pd.DataFrame(rows),
            labels={"missing_optional_columns": "Optional columns missing"},
            max_rows=None,
            mask_pii=False,
        )
    ]
    if skipped:
        body.append("<h3>Skipped for lack of data</h3>")
        body.append(html.bullets(f"{section_labels.get(k, k)}: {why}" for k, why in skipped.items()))
    else:
        body.append(html.note("Every section of this report had the data it needs.", "info"))
    warnings = [p for p in data.problems if p.level == "warning"]
    body.append("<h3>Warnings found while reading the files</h3>")
    if warnings:
        total = sum(p.count for p in warnings)
        body.append(
            html.paragraph(
                f"{words.plural(total, 'row')} raised {words.plural(len(warnings), 'kind')} of warning. They do not stop the report, "
                "but the rows concerned may be counted differently from what the dealer expects."
            )
        )
        body.append(
            html.table(warnings_frame(warnings, ctx.mask_pii), max_rows=30, mask_pii=False, labels={"count": "Rows"})
        )
    else:
        body.append(html.note("No warnings: every row was read as expected.", "info"))
    html.show("".join(body))


def warnings_frame(problems: list, mask_pii: bool) -> pd.DataFrame:
    """Warnings for the reader: where, the example value (masked when it is an email or phone), what."""
    try:
        from ..validation import summary_frame

        df = summary_frame(problems)
    except ImportError:  # pragma: no cover - validation ships with the loader
        df = pd.DataFrame([vars(p) for p in problems])
    df = df[["table", "file", "row", "column", "value", "message", "count"]].copy()
    if mask_pii:
        maskers = html.pii_columns(c for t in schema.TABLES.values() for c in t.column_names)
        df["value"] = [
            maskers[c](v) if c in maskers and isinstance(v, str) else v
            for c, v in zip(df["column"].astype("object"), df["value"].astype("object"))
        ]
    return df.rename(columns={"row": "first_row"})


def definitions(
    ctx: ReportContext, defs: Mapping[str, str], labels: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> None:
    """Every figure of the report, in words."""
    html.section("definitions", "Definitions", "How each figure in this report is counted.")
    items = {labels.get(k, k): v for k, v in defs.items()}
    items.update(extra or {})
    items["Report date"] = (
        f"{html.long_date(ctx.as_of)}: the 'today' of this report. Windows such as 'the last 90 days' end on "
        "this date and include it; a re-run with the same data gives the same figures."
    )
    html.show(html.definitions(items))
