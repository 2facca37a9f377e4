"""report.html and report.charts: escaping, PII masking, tiles, sortable tables, chart bundles."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from ownercomm_kit.report import charts, html, theme

XSS = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://x","go")'


def test_esc_escapes_markup_quotes_and_blanks_missing():
    assert html.esc(XSS) == "&lt;img src=x onerror=alert(1)&gt;"
    assert html.esc('a"b\'c&') == "a&quot;b&#x27;c&amp;"
    assert [html.esc(v) for v in (None, pd.NA, pd.NaT, float("nan"))] == ["", "", "", ""]


@pytest.mark.parametrize("value, masked", [
    ("john.doe@example.com", "j***@example.com"),
    ("  a@b.co ", "a***@b.co"),
    ("not an email", "***"),
    ("", ""),
    (None, None),
])
def test_mask_email(value, masked):
    assert html.mask_email(value) == masked


@pytest.mark.parametrize("value, masked", [
    ("(714) 555-0123", "***-***-0123"),
    ("+1 714 555 0104", "***-***-0104"),
    ("12", "***"),
    (None, None),
])
def test_mask_phone(value, masked):
    assert html.mask_phone(value) == masked


def test_mask_contact_keeps_postal_codes():
    assert html.mask_contact("92780") == "92780"
    assert html.mask_contact("714-555-0101") == "***-***-0101"
    assert html.mask_contact("ana@example.com") == "a***@example.com"


def test_table_escapes_and_masks_by_default():
    df = pd.DataFrame({
        "name": pd.array([XSS, FORMULA], dtype="string"),
        "email": ["ana@example.com", None],
        "referred_phone": ["714-555-0101", "714 555 0199"],
        "contact": ["bo@example.com", "92780"],
    })
    out = html.table(df)
    assert XSS not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "&quot;http://x&quot;" in out
    assert "ana@example.com" not in out and "a***@example.com" in out
    assert "0101" in out and "555-0101" not in out
    assert "b***@example.com" in out and "92780" in out
    raw = html.table(df, mask_pii=False)
    assert "ana@example.com" in raw and "714-555-0101" in raw


def test_table_sort_keys_headers_and_row_limit():
    df = pd.DataFrame({"customer_id": [f"C{i}" for i in range(5)], "flags": [10, 2, 33, 4, 5],
                       "rate": [0.5, np.nan, 0.25, 1.0, 0.0]})
    out = html.table(df, labels={"flags": "Problems"}, formats={"rate": "pct"}, max_rows=3)
    assert 'class="oc-table oc-sortable"' in out
    assert "<th scope=\"col\" class=\"oc-num\">Problems</th>" in out
    assert '<td data-sort="10.0">10</td>' in out
    assert '<td data-sort="0.5">50.0%</td>' in out
    assert "<td></td>" in out  # NaN is blank, not "nan"
    assert out.count("<tr>") == 1 + 3
    assert "Showing the first 3 of 5 rows." in out


def test_empty_table_says_so():
    assert "Nobody today" in html.table(pd.DataFrame({"a": []}), empty="Nobody today")


def test_tiles_none_is_not_enough_data_never_zero():
    out = html.tiles([
        html.Tile("Repurchase", None, "pct", "Share who bought again.", reason="no sale 36 months ago"),
        html.Tile("Messages", 0, "int", "All messages."),
        html.Tile("Rate", float("nan"), "pct", "x", reason="empty"),
    ])
    first, second, third = out.split('<div class="oc-tile"')[1:]
    assert "not enough data" in first and "no sale 36 months ago" in first
    assert "0%" not in first and ">0<" not in first
    assert '<div class="oc-tile-value">0</div>' in second
    assert "not enough data" in third and "nan" not in third.lower()


def test_tile_values_formats():
    assert html.fmt_number(0.3251, "pct") == "32.5%"
    assert html.fmt_number(29000, "money") == "$29,000"
    assert html.fmt_number(1234567, "int") == "1,234,567"
    assert html.fmt_number(pd.Timestamp("2026-06-18"), "date") == "2026-06-18"


def test_header_escapes_dealer_name_and_shows_period():
    out = html.header(report="Communication audit", dealer_name=f"Tiny {XSS} & Sons", period="Messages from A to B",
                      as_of="2026-06-18")
    assert XSS not in out and "Tiny &lt;img" in out and "&amp; Sons" in out
    assert "18 June 2026" in out


def test_definitions_and_notes_escape():
    assert XSS not in html.definitions({XSS: XSS}) + html.note(XSS) + html.bullets([XSS]) + html.paragraph(XSS)


def test_capture_records_sections_and_roles():
    with html.capture() as got:
        html.section("flags", "What is wrong", "intro")
        html.show("<p>x</p>")
    assert got[0][1] == {"section": "flags"}
    assert got[0][0]["text/html"].startswith("<h2>What is wrong</h2>")
    assert got[1][1] == {}
    assert got[0][0]["text/plain"] == "What is wrong intro"


# --- charts ----------------------------------------------------------------------------


def _fig(label=XSS):
    df = pd.DataFrame({"x": [label, "b"], "y": [1, 2]})
    return charts.bar(df, x="x", y="y", title=f"Title {label}")


def test_chart_bundle_has_plotly_json_and_html():
    bundle = charts.mimebundle(_fig())
    assert set(bundle) == {charts.PLOTLY_MIME, "text/html", "text/plain"}
    assert bundle[charts.PLOTLY_MIME]["data"][0]["type"] == "bar"
    assert bundle[charts.PLOTLY_MIME]["config"]["displaylogo"] is False
    assert bundle["text/html"].startswith('<div class="oc-chart"')


def test_chart_html_cannot_break_out_of_its_script():
    fig = _fig("</script><script>alert(1)</script>")
    out = charts.figure_html(fig)
    # One script element: the data's "</script>" is \u003c\u002fscript\u003e inside the JSON.
    assert out.count("<script") == 1 and out.count("</script>") == 1
    assert "alert(1)</script>" not in out
    payload = re.search(r"var fig=(\{.*\});window", out).group(1)
    doc = json.loads(payload)
    # Plotly shows the label as text (escaped for its HTML-like labels), not as markup.
    assert doc["data"][0]["x"][0] == "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"


def test_chart_labels_from_data_are_escaped_for_plotly():
    fig = _fig()
    assert fig.data[0].x[0] == "&lt;img src=x onerror=alert(1)&gt;"
    assert fig.layout.title.text.startswith("Title &lt;img")
    assert 'aria-label="Title &lt;img src=x onerror=alert(1)&gt;"' in charts.figure_html(fig)


def test_chart_without_plotly_on_page_does_nothing():
    out = charts.figure_html(_fig(), div_id="d1")
    assert "if(!el||!window.Plotly){return;}" in out and 'id="d1"' in out


def test_theme_colours_are_fixed_per_channel_and_sender():
    df = pd.DataFrame({"channel": ["sms", "email"], "n": [1, 2]})
    fig = charts.bar(df, x="channel", y="n", color="channel", color_kind="channel", title="t")
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours == {"sms": theme.CHANNEL_COLORS["sms"], "email": theme.CHANNEL_COLORS["email"]}
    assert set(theme.SENDER_COLORS) == {"oem", "sales", "dealer", "service", "fi"}
    assert fig.layout.template.layout.font.family == theme.FONT


def test_show_emits_chart_role():
    with html.capture() as got:
        charts.show(_fig())
    assert got[0][1] == {"role": "chart"}
    assert charts.PLOTLY_MIME in got[0][0]


def test_heatmap_and_funnel_and_lines_build():
    m = pd.DataFrame([[1, 0], [2, 5]], index=["Mon", XSS], columns=[0, 1])
    hm = charts.heatmap(m, title="h", value_name="messages")
    assert list(hm.data[0].y) == ["Mon", "&lt;img src=x onerror=alert(1)&gt;"]
    fu = charts.funnel(["Referred", "Bought"], [4, 1], title="f")
    assert list(fu.data[0].x) == [4, 1]
    ln = charts.lines(pd.DataFrame({"x": ["1", "2"], "y": [0.1, 0.2]}), x="x", y="y", title="l", percent=True)
    assert ln.layout.yaxis.tickformat == ".0%"


def test_contact_columns_and_emails_inside_text_are_masked():
    df = pd.DataFrame({
        "referrer_contact": ["714-555-0101", "ana@example.com"],
        "detail": ["Write to bo.smith@example.com today", "no address here"],
        "first_contact_at": ["2026-06-18 10:00", ""],
    })
    out = html.table(df)
    assert "***-***-0101" in out and "a***@example.com" in out
    assert "bo.smith@example.com" not in out and "Write to b***@example.com today" in out
    assert "2026-06-18 10:00" in out  # a timestamp column named *contact_at is not a contact
