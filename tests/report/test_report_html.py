"""report.html and report.charts: escaping, PII masking, tiles, sortable tables, chart bundles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ownercomm_kit.report import charts, html, theme

XSS = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://x","go")'


def test_esc_escapes_markup_quotes_and_blanks_missing():
    assert html.esc(XSS) == "&lt;img src=x onerror=alert(1)&gt;"
    assert html.esc("a\"b'c&") == "a&quot;b&#x27;c&amp;"
    assert [html.esc(v) for v in (None, pd.NA, pd.NaT, float("nan"))] == ["", "", "", ""]


@pytest.mark.parametrize(
    "value, masked",
    [
        ("john.doe@example.com", "j***@example.com"),
        ("  a@b.co ", "a***@b.co"),
        ("not an email", "***"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_email(value, masked):
    assert html.mask_email(value) == masked


@pytest.mark.parametrize(
    "value, masked",
    [
        ("(714) 555-0123", "***-***-0123"),
        ("+1 714 555 0104", "***-***-0104"),
        ("12", "***"),
        (None, None),
    ],
)
def test_mask_phone(value, masked):
    assert html.mask_phone(value) == masked


def test_mask_contact_keeps_postal_codes():
    assert html.mask_contact("92780") == "92780"
    assert html.mask_contact("714-555-0101") == "***-***-0101"
    assert html.mask_contact("ana@example.com") == "a***@example.com"


def test_table_escapes_and_masks_by_default():
    df = pd.DataFrame(
        {
            "name": pd.array([XSS, FORMULA], dtype="string"),
            "email": ["ana@example.com", None],
            "referred_phone": ["714-555-0101", "714 555 0199"],
            "contact": ["bo@example.com", "92780"],
        }
    )
    out = html.table(df)
    assert XSS not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "&quot;http://x&quot;" in out
    assert "ana@example.com" not in out and "a***@example.com" in out
    assert "0101" in out and "555-0101" not in out
    assert "b***@example.com" in out and "92780" in out
    raw = html.table(df, mask_pii=False)
    assert "ana@example.com" in raw and "714-555-0101" in raw


def test_table_sort_keys_headers_and_row_limit():
    df = pd.DataFrame(
        {"customer_id": [f"C{i}" for i in range(5)], "flags": [10, 2, 33, 4, 5], "rate": [0.5, np.nan, 0.25, 1.0, 0.0]}
    )
    out = html.table(df, labels={"flags": "Problems"}, formats={"rate": "pct"}, max_rows=3)
    assert 'class="oc-table oc-sortable"' in out
    assert '<th scope="col" class="oc-num">Problems</th>' in out
    assert '<td data-sort="10.0">10</td>' in out
    assert '<td data-sort="0.5">50.0%</td>' in out
    assert "<td></td>" in out  # NaN is blank, not "nan"
    assert out.count("<tr>") == 1 + 3
    assert "Showing the first 3 of 5 rows." in out


def test_empty_table_says_so():
    assert "Nobody today" in html.table(pd.DataFrame({"a": []}), empty="Nobody today")


def test_tiles_none_is_not_enough_data_never_zero():
    out = html.tiles(
        [
            html.Tile("Repurchase", None, "pct", "Share who bought again.", reason="no sale 36 months ago"),
            html.Tile("Messages", 0, "int", "All messages."),
            html.Tile("Rate", float("nan"), "pct", "x", reason="empty"),
        ]
    )
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
    out = html.header(
        report="Communication audit",
        dealer_name=f"Tiny {XSS} & Sons",
        period="Messages from A to B",
        as_of="2026-06-18",
    )
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
    payload = re.search(r"var fig=(\{.*\});var draw=", out).group(1)
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
    assert "if(!el){return;}" in out and 'id="d1"' in out
    # drawn only when plotly.js is there: now, or once the page's packed copy is unpacked
    assert "var draw=function(){if(window.Plotly){window.Plotly.newPlot(el," in out
    assert "if(window.Plotly){draw();}else{(window.ocCharts=window.ocCharts||[]).push(draw);}" in out


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
    df = pd.DataFrame(
        {
            "referrer_contact": ["714-555-0101", "ana@example.com"],
            "detail": ["Write to bo.smith@example.com today", "no address here"],
            "first_contact_at": ["2026-06-18 10:00", ""],
        }
    )
    out = html.table(df)
    assert "***-***-0101" in out and "a***@example.com" in out
    assert "bo.smith@example.com" not in out and "Write to b***@example.com today" in out
    assert "2026-06-18 10:00" in out  # a timestamp column named *contact_at is not a contact


# --- report sections (no kernel: outputs captured) -----------------------------------------

from helpers.report import AS_OF, TIMEZONE, XSS_NAME, tiny_data, tiny_frames  # noqa: E402

from ownercomm_kit import params as params_mod  # noqa: E402
from ownercomm_kit.data import Problem, from_frames  # noqa: E402
from ownercomm_kit.report import audit_report, notebook, referrals_report, retention_report  # noqa: E402

SECTIONS = {
    "audit": (
        audit_report,
        [
            "headline",
            "problems",
            "suppression",
            "one_voice",
            "timing",
            "state_laws_section",
            "fatigue",
            "tiers",
            "replay",
            "data_quality",
            "definitions",
        ],
    ),
    "retention": (
        retention_report,
        ["headline", "attention", "call_lists", "trends", "cohorts", "data_quality", "definitions"],
    ),
    "referrals": (
        referrals_report,
        [
            "headline",
            "attention",
            "followups",
            "volume",
            "funnel",
            "incentives",
            "advocates",
            "data_quality",
            "definitions",
        ],
    ),
}


@pytest.fixture(scope="module")
def resolved():
    return params_mod.resolve({"dealer_id": "T01", "data_dir": "."})


def _render(report, data, resolved, out_dir):
    module, names = SECTIONS[report]
    ctx = notebook.context(report, resolved, data, out_dir)
    result = module.compute(ctx)
    module.save(ctx, result)
    with html.capture() as got:
        for name in names:
            getattr(module, name)(ctx, result)
    return got


def _page(got) -> str:
    return "".join(b.get("text/html", "") for b, _ in got)


@pytest.mark.parametrize("report", list(SECTIONS))
def test_sections_escape_data_and_declare_their_ids(report, resolved, tmp_path):
    got = _render(report, tiny_data(), resolved, tmp_path)
    page = _page(got)
    assert XSS_NAME not in page and "<b>Corolla</b>" not in page
    ids = [m["section"] for _, m in got if m.get("section")]
    assert len(ids) == len(set(ids)) == len(SECTIONS[report][1])
    assert ids[-2:] == ["data-quality", "definitions"]
    assert "ana.lopez@example.com" not in page


@pytest.mark.parametrize("report", list(SECTIONS))
@pytest.mark.parametrize(
    "kept",
    [
        ("customers", "communications"),
        ("customers",),  # communications table with no rows
    ],
)
def test_sections_degrade_on_minimal_data(report, kept, resolved, tmp_path):
    frames = {k: pd.DataFrame(v) for k, v in tiny_frames().items() if k in kept}
    if "communications" not in frames:
        frames["communications"] = pd.DataFrame(columns=list(pd.DataFrame(tiny_frames()["communications"]).columns))
    data = from_frames(frames, timezone=TIMEZONE, as_of=AS_OF)
    page = _page(_render(report, data, resolved, tmp_path))
    assert "Data quality" in page and "Definitions" in page
    if report != "audit":
        assert "not enough data" in page  # KPIs without a denominator are never shown as 0


def test_retention_empty_kpi_gives_the_reason(resolved, tmp_path):
    data = tiny_data(drop=("appointments",))
    page = _page(_render("retention", data, resolved, tmp_path))
    tile = page.split("Appointments kept (90 days)")[1].split('<div class="oc-tile"')[0]
    assert "not enough data" in tile and "appointments" in tile


def test_data_quality_counts_warnings_masks_values_and_lists_skips(resolved, tmp_path):
    data = tiny_data(drop=("referrals",))
    data.problems = [
        Problem("warning", "customers", "customers.csv", 7, "email", "ana.lopez@example.com", "looks odd", count=3),
        Problem("warning", "sales", "sales.csv", 4, "customer_id", XSS_NAME, "unknown customer (orphan row)", count=2),
    ]
    page = _page(_render("referrals", data, resolved, tmp_path))
    dq = page.split("<h2>Data quality</h2>")[1]
    assert "5 rows raised 2 kinds of warning" in dq
    assert "a***@example.com" in dq and "ana.lopez@example.com" not in dq
    assert "&lt;img src=x" in dq and XSS_NAME not in dq
    assert "no referrals table in the data" in dq and "not in the data" in dq


def test_audit_rule_texts_follow_the_parameters(resolved):
    p = params_mod.resolve(
        {
            "dealer_id": "T01",
            "data_dir": ".",
            "rules": {"quiet_hours": {"start": "09:00"}, "cap_total": {"windows": [{"days": 7, "max": 4}]}},
        }
    )
    from ownercomm_kit.audit import catalog

    assert "before 9 AM" in catalog.get("quiet_hours").definition(p)
    assert "more than 4 in 7 days" in catalog.get("cap_total").definition(p)


def test_audit_save_writes_spec_columns(resolved, tmp_path):
    _render("audit", tiny_data(), resolved, tmp_path)
    flags = pd.read_csv(tmp_path / "flags.csv", dtype=str, keep_default_na=False)
    assert list(flags.columns) == [
        "message_id",
        "customer_id",
        "sent_at",
        "channel",
        "sender",
        "category",
        "rule",
        "severity",
        "detail",
        "related_id",
    ]
    assert {"quiet_hours", "better_offer_after_purchase"} <= set(flags["rule"])
    sup = pd.read_csv(tmp_path / "suppression.csv", dtype=str, keep_default_na=False)
    assert list(sup.columns) == ["customer_id", "channel", "rule", "until"]
    kpis = json.loads((tmp_path / "kpis.json").read_text())
    assert set(kpis) == {"messages", "customers_messaged", "flags_high", "flags_total", "over_cap_customer_share"}


def test_series_names_from_data_are_escaped_once():
    df = pd.DataFrame({"k": ["<b>x</b>", "y"], "n": [1, 2]})
    fig = charts.bar(df, x="k", y="n", color="k", title="t", names={"y": "F&I"})
    assert [t.name for t in fig.data] == ["&lt;b&gt;x&lt;/b&gt;", "F&amp;I"]
    assert "&lt;b&gt;x&lt;/b&gt;: " in fig.data[0].hovertemplate and "&amp;lt;" not in fig.data[0].hovertemplate


# --- notebook set-up ---------------------------------------------------------------------------


def test_parameters_from_namespace_and_keywords():
    ns = {"dealer_id": "X", "as_of": "2026-06-18", "unrelated": 1, "report": None}
    chosen = notebook.parameters_from(ns, {"out_dir": "o"})
    assert chosen["dealer_id"] == "X" and chosen["out_dir"] == "o" and "unrelated" not in chosen
    with pytest.raises(TypeError, match="unknown parameter"):
        notebook.parameters_from(ns, {"dealerid": "X"})


def test_resolve_out_dir_default_and_relative(tmp_path, monkeypatch, kit_root):
    from helpers.report import write_tiny_dealer

    dealer = yaml_load(write_tiny_dealer(tmp_path))
    monkeypatch.chdir(tmp_path)
    resolved, out_dir = notebook.resolve({**dealer, "out_dir": None})
    assert out_dir == Path(resolved["kit_root"]) / "reports" / "T01"
    resolved, out_dir = notebook.resolve({**dealer, "out_dir": "here/out"})
    assert out_dir == tmp_path / "here" / "out"
    assert resolved["as_of"].isoformat() == "2026-06-18"


def test_a_notebook_run_by_hand_makes_the_next_cli_run_redo_the_report(tmp_path, monkeypatch):
    """Without out_dir a notebook writes into reports/<id>/, the CLI's folder: the CLI's run
    record goes, so `ownercomm run` does not skip the store as unchanged."""
    from ownercomm_kit.run.resume import RUN_RECORD

    kit = tmp_path / "kit"
    (kit / "params").mkdir(parents=True)
    (kit / "params" / "defaults.yaml").write_bytes(
        (Path(__file__).resolve().parents[2] / "params" / "defaults.yaml").read_bytes()
    )
    store = kit / "reports" / "T01"
    store.mkdir(parents=True)
    (store / RUN_RECORD).write_text("{}")
    monkeypatch.setenv("OWNERCOMM_ROOT", str(kit))
    chosen = {"dealer_id": "T01", "data_dir": str(tmp_path), "timezone": "UTC"}
    _, out_dir = notebook.resolve(chosen)
    assert out_dir == store and (store / RUN_RECORD).exists()  # resolving has no side effect
    notebook.forget_published_run(chosen, out_dir)  # what the set-up cell does next
    assert not (store / RUN_RECORD).exists()
    (store / RUN_RECORD).write_text("{}")
    chosen["out_dir"] = str(tmp_path / "o")
    notebook.forget_published_run(chosen, notebook.resolve(chosen)[1])
    assert (store / RUN_RECORD).exists()  # an explicit out_dir (the CLI's staging) leaves it alone


def test_context_reads_mask_pii_and_rejects_unknown_report(tmp_path, resolved):
    data = tiny_data()
    ctx = notebook.context("audit", {**resolved, "report": {"mask_pii": False}}, data, tmp_path / "o")
    assert ctx.mask_pii is False and (tmp_path / "o").is_dir()
    assert notebook.context("audit", resolved, data, tmp_path).mask_pii is True
    with pytest.raises(ValueError, match="unknown report"):
        notebook.context("auditing", resolved, data, tmp_path)


def test_header_names_the_dealer_and_the_period(tmp_path, resolved):
    ctx = notebook.context("audit", {**resolved, "dealer_name": "Tiny <b>Motors</b>"}, tiny_data(), tmp_path)
    out = notebook.header_html(ctx)
    assert "Tiny &lt;b&gt;Motors&lt;/b&gt;" in out and "Communication audit" in out
    assert "Messages sent from" in out and "18 June 2026" in out
    assert "report date 18 June 2026" in out
    group = html.header(
        report="Group overview", dealer_name="G", period="3 stores", as_of="2026-11-25", date_label="run on"
    )
    assert "run on 25 November 2026" in group and "report date" not in group


def test_audit_period_ends_at_the_last_message_up_to_as_of(tmp_path, resolved):
    """An earlier as_of: the header names the last message the audit covers, never a day past as_of."""
    import datetime as dt

    data = tiny_data()
    data.as_of = dt.date(2026, 6, 10)
    ctx = notebook.context("audit", resolved, data, tmp_path)
    out = notebook.header_html(ctx)
    sent = data["communications"]["sent_at"]
    last = sent[sent.dt.date <= data.as_of].max().date()
    assert f"{last.day} June 2026" in out and "11 June 2026" not in out and "18 June 2026" not in out


def yaml_load(path):
    import yaml

    return yaml.safe_load(Path(path).read_text())


def test_jupyterlab_stylesheet_only_styles_the_report():
    css = notebook.lab_css()
    rules = re.findall(r"(?m)^([^{}/@][^{]*)\{", css)
    selectors = [s.strip() for r in rules for s in r.split(",")]
    assert selectors and all(s.startswith((".oc-", ":root")) for s in selectors), selectors
    assert "@media print" not in css
    assert re.findall(r"--([\w-]+):", css) and all(v.startswith("oc-") for v in re.findall(r"--([\w-]+):", css))
