"""HTML pieces every report shares: header, sections, tiles, tables, notes, definitions.

Every value that comes from a dealer's data goes through :func:`esc` (data is hostile: a
customer may be called ``<img src=x onerror=alert(1)>``), and emails and phone numbers are
masked unless the ``report.mask_pii`` parameter says otherwise (SPEC §8).

Each function returns a string; :func:`publish` displays one as a notebook output, with
metadata the nbconvert template reads (a section's id, a style block to skip).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import pandas as pd

META_KEY = "ownercomm"  # output metadata namespace read by templates/ownercomm/index.html.j2


def esc(value: Any) -> str:
    """Text safe inside HTML content and attribute values; missing values are empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return html.escape(str(value), quote=True)


# --- PII -------------------------------------------------------------------------------

_EMAIL = re.compile(r"^\s*([^@\s]+)@([^@\s]+)\s*$")


def mask_email(value: Any) -> Any:
    """``john.doe@example.com`` -> ``j***@example.com`` (the domain helps staff, the name is private)."""
    if not isinstance(value, str) or not value.strip():
        return value
    m = _EMAIL.match(value)
    if not m:
        return "***"
    return f"{m.group(1)[0]}***@{m.group(2)}"


def mask_phone(value: Any) -> Any:
    """``(714) 555-0123`` -> ``***-***-0123``: the last four digits, enough to tell two apart."""
    if not isinstance(value, str) or not value.strip():
        return value
    digits = re.sub(r"\D", "", value)
    return f"***-***-{digits[-4:]}" if len(digits) >= 4 else "***"


def pii_columns(columns: Iterable[str]) -> dict[str, Callable[[Any], Any]]:
    """Columns holding emails or phones, by name (``email``, ``referred_phone``, ``referrer_contact``...)."""
    out: dict[str, Callable[[Any], Any]] = {}
    for c in columns:
        name = str(c).lower()
        if "email" in name or "e_mail" in name:
            out[c] = mask_email
        elif "phone" in name and "dnc" not in name:
            out[c] = mask_phone
        elif "contact" in name and not name.endswith(("_at", "_date")):
            out[c] = mask_contact  # email or phone, as the customer prefers
    return out


_EMAIL_IN_TEXT = re.compile(r"[^@\s<>\"',;()]+@[^@\s<>\"',;()]+\.[A-Za-z]{2,}")


def mask_frame(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy with the email and phone columns masked, and any email address inside other text."""
    out = df.copy()
    maskers = pii_columns(out.columns if columns is None else columns)
    for col in out.columns:
        s = out[col]
        if col in maskers:
            out[col] = s.astype("object").map(maskers[col])
        elif pd.api.types.is_string_dtype(s) or s.dtype == object:
            out[col] = s.map(
                lambda v: _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)), v) if isinstance(v, str) else v
            )
    return out


_POSTAL = re.compile(r"Postal code [0-9]{5}(?:-[0-9]{4})?")


def mask_contact(value: Any) -> Any:
    """A free contact cell (email or phone, as the customer prefers)."""
    if not isinstance(value, str):
        return value
    if "@" in value:
        return mask_email(value)
    if _POSTAL.fullmatch(value):  # a mail contact as the reports show it (report.common.mail_contact): not private
        return value
    # A phone has at least 7 digits; a postal code (the contact for mail) is not private.
    return mask_phone(value) if len(re.sub(r"\D", "", value)) >= 7 else value


# --- formatting ------------------------------------------------------------------------


def fmt_number(value: Any, kind: str = "int") -> str:
    """``int`` 1,234; ``pct`` 12.5%; ``money`` $31,000; ``float`` 1.5; ``days``; ``date``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if kind == "pct":
        from ..words import share

        return share(value)
    if kind == "money":
        return f"${float(value):,.0f}"
    if kind == "float":
        return f"{float(value):,.1f}"
    if kind == "date":
        return _date(value)
    if kind == "int":
        try:
            return f"{int(round(float(value))):,}"
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def _date(value: Any) -> str:
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None or (ts.hour, ts.minute, ts.second) != (0, 0, 0):
            return ts.strftime("%Y-%m-%d %H:%M")
        return ts.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def long_date(value: Any) -> str:
    """``18 June 2026`` for headers."""
    if value is None:
        return ""
    d = pd.Timestamp(value)
    return f"{d.day} {d.strftime('%B %Y')}"


def _cell(value: Any) -> tuple[str, str]:
    """(display text, sort key) of one table cell; the sort key is numeric when it can be."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "", ""
    if isinstance(value, bool):
        return ("yes" if value else "no"), str(int(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")), repr(float(value))
    if isinstance(value, (pd.Timestamp, dt.date)):
        text = _date(value)
        return text, text
    return str(value), ""


# --- building blocks -------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """A headline figure: label, value (None = not enough data), kind of number, definition."""

    label: str
    value: Any
    kind: str = "int"
    definition: str = ""
    reason: str = ""  # why the value is None, in plain words
    tone: str = ""  # "bad", "good" or "" (colours the value)
    change: str = ""  # the change against the report's baseline, in words (SPEC §10); "" = none shown
    change_tone: str = ""  # "good", "bad" or "" (no better direction, or no change)
    change_arrow: str = ""  # "up", "down" or "same": which way the number moved


def tiles(items: Sequence[Tile]) -> str:
    parts = []
    for t in items:
        missing = t.value is None or (isinstance(t.value, float) and math.isnan(t.value))
        if missing:
            value = '<div class="oc-tile-value oc-na">not enough data</div>'
            why = f'<div class="oc-tile-reason">{esc(t.reason)}</div>' if t.reason else ""
        else:
            value = f'<div class="oc-tile-value">{esc(fmt_number(t.value, t.kind))}</div>'
            why = ""
        tone = f" oc-{t.tone}" if t.tone and not missing else ""
        change = ""
        if t.change and not missing:
            arrow = {"up": "\u25b2 ", "down": "\u25bc ", "same": "= "}.get(t.change_arrow, "")
            ctone = f" oc-change-{t.change_tone}" if t.change_tone else ""
            change = f'<div class="oc-tile-change{ctone}">{arrow}{esc(t.change)}</div>'
        parts.append(
            f'<div class="oc-tile{tone}"><div class="oc-tile-label">{esc(t.label)}</div>{value}{change}{why}'
            f'<div class="oc-tile-def">{esc(t.definition)}</div></div>'
        )
    return f'<div class="oc-tiles">{"".join(parts)}</div>'


def header(
    *, report: str, dealer_name: str, period: str, as_of: Any, subtitle: str = "", date_label: str = "report date"
) -> str:
    """The top of a report: which report, which dealer, which period (``date_label``: what the
    date is, e.g. a group index's "run on")."""
    sub = f'<p class="oc-subtitle">{esc(subtitle)}</p>' if subtitle else ""
    return (
        '<header class="oc-header">'
        f'<div class="oc-kicker">{esc(report)}</div>'
        f"<h1>{esc(dealer_name)}</h1>"
        f'<p class="oc-period">{esc(period)} &middot; {esc(date_label)} {esc(long_date(as_of))}</p>{sub}'
        "</header>"
    )


def heading(title: str, intro: str = "") -> str:
    lead = f'<p class="oc-lead">{esc(intro)}</p>' if intro else ""
    return f"<h2>{esc(title)}</h2>{lead}"


def paragraph(text: str, cls: str = "") -> str:
    c = f' class="{esc(cls)}"' if cls else ""
    return f"<p{c}>{esc(text)}</p>"


def note(text: str, kind: str = "info") -> str:
    """A boxed remark: ``info``, ``warn`` (something is off), ``skip`` (not enough data)."""
    return f'<div class="oc-note oc-note-{esc(kind)}">{esc(text)}</div>'


def bullets(items: Iterable[str]) -> str:
    lis = "".join(f"<li>{esc(i)}</li>" for i in items)
    return f"<ul>{lis}</ul>" if lis else ""


def definitions(items: Mapping[str, str]) -> str:
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items.items())
    return f'<dl class="oc-defs">{rows}</dl>'


def table(
    df: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    formats: Mapping[str, str] | None = None,
    max_rows: int | None = 50,
    mask_pii: bool = True,
    caption: str = "",
    empty: str = "Nothing to show.",
) -> str:
    """A sortable table (click a header) of ``df``; values escaped, PII masked.

    ``labels`` renames columns for the reader; ``formats`` gives a column's kind for
    :func:`fmt_number` (``pct``, ``money``, ``date``...). Only the first ``max_rows`` rows
    are shown, and the table says how many there are in all.
    """
    if df is None or len(df) == 0:
        return note(empty, "info")
    labels = labels or {}
    formats = formats or {}
    total = len(df)
    shown = df.head(max_rows) if max_rows else df
    if mask_pii:
        shown = mask_frame(shown)
    nowrap = {
        c
        for c in shown.columns
        if formats.get(c) == "date"
        or pd.api.types.is_datetime64_any_dtype(shown[c])
        or c in pii_columns([c])
        or c == "contact"
    }
    head = "".join(
        f'<th scope="col" class="{_align(shown[c])}">{esc(labels.get(c, _humanize(c)))}</th>' for c in shown.columns
    )
    rows = []
    for rec in shown.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(shown.columns, rec):
            if col in formats:
                text = fmt_number(value, formats[col])
                key = _cell(value)[1]
            else:
                text, key = _cell(value)
            attr = f' data-sort="{esc(key)}"' if key else ""
            if col in nowrap:
                attr += ' class="oc-nowrap"'
            cells.append(f"<td{attr}>{esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    more = (
        f'<p class="oc-more">Showing the first {max_rows:,} of {total:,} rows.</p>'
        if max_rows and total > max_rows
        else ""
    )
    return (
        f'<div class="oc-table-wrap"><table class="oc-table oc-sortable">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


def _align(s: pd.Series) -> str:
    return "oc-num" if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) else ""


def _humanize(name: Any) -> str:
    text = str(name).replace("_", " ")
    return text[:1].upper() + text[1:]


# --- notebook output -------------------------------------------------------------------


def publish(body: str, *, section: str | None = None, role: str | None = None) -> None:
    """Display ``body`` as an HTML output; ``section`` makes the template wrap the cell's
    outputs in ``<section id=...>``; ``role="style"`` outputs are for JupyterLab only."""
    meta: dict[str, Any] = {}
    if section:
        meta["section"] = section
    if role:
        meta["role"] = role
    emit({"text/html": body, "text/plain": _plain(body)}, meta)


_captured: list[tuple[dict, dict]] | None = None


def emit(bundle: dict[str, Any], meta: Mapping[str, Any] | None = None) -> None:
    """Display a raw mime bundle (or record it inside :func:`capture`)."""
    metadata = {META_KEY: dict(meta)} if meta else None
    if _captured is not None:
        _captured.append((bundle, dict(meta or {})))
        return
    from IPython.display import display

    display(bundle, raw=True, metadata=metadata)


@contextlib.contextmanager
def capture() -> Iterator[list[tuple[dict, dict]]]:
    """Collect what sections display, as (bundle, ownercomm metadata) pairs (tests, scripts)."""
    global _captured
    previous, _captured = _captured, []
    try:
        yield _captured
    finally:
        _captured = previous


def section(section_id: str, title: str, intro: str = "") -> None:
    """Start a report section: a heading whose output tells the template the section id."""
    publish(heading(title, intro), section=section_id)


def show(body: str) -> None:
    publish(body)


def _plain(body: str) -> str:
    """A short text stand-in (what a text-only viewer shows)."""
    text = re.sub(r"<[^>]+>", " ", body)
    text = html.unescape(re.sub(r"\s+", " ", text)).strip()
    return text[:200]
