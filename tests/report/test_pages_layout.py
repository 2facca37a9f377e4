"""Page layout and charts of issue 17 (items 1, 2, 4), without a browser: the table of contents
and folding sections of the template, the group index's store links and ranked table, and the
charts that answer their text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from ownercomm_kit import params
from ownercomm_kit.batch import index
from ownercomm_kit.kpis import registry
from ownercomm_kit.report import charts, export, html
from ownercomm_kit.report.export import html_bundle, notebook_to_html, page_cell


def _page(sections, **kw) -> str:
    cells = [page_cell(html_bundle(html.header(report="R", dealer_name="D <b>", period="p", as_of="2026-06-18")))]
    for sid, title in sections:
        cells.append(
            page_cell(html_bundle(html.heading(title, "lead"), sid), html_bundle("<p>body of " + sid + "</p>"))
        )
    return notebook_to_html(nbformat.v4.new_notebook(cells=cells), title="t", plotlyjs="shared", **kw)


def test_long_page_gets_a_table_of_contents_in_section_order():
    secs = [
        ("this-week", "What to do this week"),
        ("headline", "Headline figures"),
        ("problems", "What <is> wrong"),
        ("fatigue", "Fatigue"),
        ("definitions", "Definitions"),
    ]
    page = _page(secs)
    nav = re.search(r'<nav class="oc-toc".*?</nav>', page, re.S).group(0)
    assert re.findall(r'href="#([^"]+)"', nav) == [s for s, _ in secs]
    assert "What &lt;is&gt; wrong" in nav  # titles stay escaped
    assert "<nav" not in _page(secs[:4])  # a short page has none


def test_first_screen_never_folds_detail_starts_folded_rest_open():
    page = _page([("this-week", "T"), ("headline", "H"), ("problems", "P"), ("fatigue", "F"), ("definitions", "D")])

    def block(sid):
        return re.search(rf'<section id="{sid}" class="oc-section">(.*?)</section>', page, re.S).group(1)

    assert "<details" not in block("this-week") and "<details" not in block("headline")
    assert '<details class="oc-details" open>' in block("problems")
    assert '<details class="oc-details">' in block("fatigue") and '<details class="oc-details">' in block("definitions")
    assert "<summary><h2>F</h2>" in block("fatigue") and "body of fatigue" in block("fatigue")
    assert export.section_fold(None) == "" and export.section_fold("anything-else") == "open"


def test_print_css_opens_folded_sections_and_hides_the_toc():
    css = (export.TEMPLATE_DIR / "ownercomm" / "static" / "report.css").read_text()
    prints = "".join(re.findall(r"@media print \{(.*?)\n\}", css, re.S))
    assert "::details-content" in prints and ".oc-toc { display:none; }" in prints
    js = (export.TEMPLATE_DIR / "ownercomm" / "static" / "sort.js").read_text()
    assert "beforeprint" in js and "d.open = true" in js


def test_only_the_index_is_landscape():
    assert "size: landscape" in _page([("a", "A")], page_class="oc-wide")
    assert "size: landscape" not in _page([("a", "A")])
    hostile = _page([("a", "A")], page_class='oc-wide" onload="x')
    assert 'class="oc-report oc-wide ' in hostile and 'onload="' not in hostile


# --- the group index ---------------------------------------------------------------------


def _store(gdir: Path, dealer_id: str, pages, kpis=None) -> dict:
    (gdir / dealer_id).mkdir(parents=True)
    (gdir / dealer_id / "kpis.json").write_text(json.dumps(kpis or {"messages": 100, "flags_high": 1}))
    for p in pages:
        (gdir / dealer_id / p).write_text("<html></html>")
    return {
        "dealer_id": dealer_id,
        "dealer_name": f"Store <{dealer_id}>",
        "status": "ok",
        "out_dir": dealer_id,
        "outputs": [],
        "error": None,
        "failed_notebook": None,
        "seconds": 1.0,
    }


def test_store_name_links_to_its_first_report_then_all_in_order(tmp_path):
    gdir = tmp_path / "g"
    stores = [
        _store(gdir, "A", ["data_quality.html", "referrals.html", "audit.html", "retention.html"]),
        _store(gdir, "B", ["retention.html", "data_quality.html"]),
        _store(gdir, "C", []),
    ]
    manifest = {"group_id": "g", "group_name": "G", "finished_at": "2026-07-01", "counts": {"ok": 3}, "stores": stores}
    page = index.build_index(manifest, gdir, plotlyjs="shared")
    ranking = re.search(r'<section id="ranking".*?</section>', page, re.S).group(0)
    cells = dict(re.findall(r'<td class="oc-store" data-sort="Store &lt;(\w)&gt;">(.*?)</td>', ranking, re.S))
    assert re.findall(r'href="([^"]+)"', cells["A"]) == [
        "A/audit.html",
        "A/audit.html",
        "A/retention.html",
        "A/referrals.html",
        "A/data_quality.html",
    ]
    assert re.match(r'<a href="A/audit.html"[^>]*>Store &lt;A&gt;</a>', cells["A"])
    assert re.findall(r'href="([^"]+)"', cells["B"]) == ["B/retention.html", "B/retention.html", "B/data_quality.html"]
    assert "href" not in cells["C"] and "Store &lt;C&gt;" in cells["C"]  # no page: no link to nowhere
    # every column of the ranked table is a ranked figure (counts go to the detail view)
    heads = re.findall(r"<th [^>]*>([^<]*)</th>", re.search(r"<thead>.*?</thead>", ranking, re.S).group(0))
    assert heads == ["Rank", "Store", *[label for _, label, _, _ in index.HEADLINE_KPIS]]
    counts = re.search(r'<section id="ranking-counts".*?</section>', page, re.S).group(0)
    assert registry.label("messages") in counts and counts.index("A/audit.html") < counts.index("A/retention.html")
    assert 'class="oc-report oc-wide"' in page


# --- charts ------------------------------------------------------------------------------


def test_reports_hide_the_mode_bar():
    assert charts.CONFIG["displayModeBar"] is False
    fig = charts.bar(pd.DataFrame({"x": ["a"], "y": [1]}), x="x", y="y", title="t")
    assert '"displayModeBar": false' in charts.figure_html(fig)
    assert charts.mimebundle(fig)[charts.PLOTLY_MIME]["config"]["displayModeBar"] is False


def test_cohort_heatmap_shows_counts_and_greys_small_cells():
    cells = pd.DataFrame(
        {
            "q": ["2025Q1", "2025Q1", "2025Q2"],
            "n": ["Q+1", "Q+2", "Q+1"],
            "vehicles": [40, 40, 4],
            "share": [0.5, 0.25, 1.0],
        }
    )
    fig = charts.cohort_heatmap(cells, row="q", col="n", share="share", count="vehicles", min_count=10, title="c")
    main, grey = fig.data
    z = np.asarray(main.z, dtype=float)
    assert z[0, 0] == 0.5 and np.isnan(z[1, 0])  # the 4-vehicle cell has no colour of a rate
    assert list(main.text[0]) == ["50%<br>of 40", "25%<br>of 40"]
    assert np.asarray(grey.z, dtype=float)[1, 0] == 1 and grey.colorscale[0][1] == charts.SMALL_COLOR
    assert grey.text[1][0] == "4" and grey.showscale is False
    big = charts.cohort_heatmap(
        cells.assign(vehicles=50), row="q", col="n", share="share", count="vehicles", min_count=10, title="c"
    )
    assert len(big.data) == 1  # nothing to grey


def test_small_multiples_one_scale_per_table():
    months = pd.date_range("2026-01-01", periods=3, freq="MS")
    df = pd.DataFrame(
        {
            "month": list(months) * 2,
            "table": ["communications"] * 3 + ["sales"] * 3,
            "rows": [1000, 1200, 1100, 5, 0, 6],
        }
    )
    fig = charts.small_multiples(
        df, x="month", y="rows", facet="table", title="Rows per month", names={"sales": "Vehicle sales"}
    )
    assert [t.yaxis for t in fig.data] == ["y", "y2"]  # each its own y axis
    assert fig.layout.yaxis2.matches is None and fig.layout.yaxis.matches is None
    assert [a.text for a in fig.layout.annotations] == ["communications", "Vehicle sales"]
    assert list(fig.data[1].y) == [5, 0, 6]
    assert charts.has_values(fig)


def test_add_line_over_bars():
    fig = charts.bar(pd.DataFrame({"m": ["a", "b"], "n": [3, 4]}), x="m", y="n", title="t")
    charts.add_line(fig, ["a", "b"], [1, 2], name="Contacted within 24 hours")
    assert fig.data[-1].type == "scatter" and list(fig.data[-1].y) == [1, 2]
    assert fig.data[-1].name == "Contacted within 24 hours" and fig.layout.showlegend


@pytest.mark.parametrize("bad", [0, -1, "ten"])
def test_cohort_min_vehicles_is_checked(tmp_path, bad):
    dealer = {"dealer_id": "X", "data_dir": str(tmp_path), "retention": {"cohort_min_vehicles": bad}}
    with pytest.raises(params.ParamsError) as e:
        params.resolve(dealer)
    assert "cohort_min_vehicles" in str(e.value) + "\n".join(getattr(e.value, "problems", []))
    assert params.resolve({"dealer_id": "X", "data_dir": str(tmp_path)})["retention"]["cohort_min_vehicles"] == 10
