"""Every report opened in a real headless Chromium (issue 6 item 5).

A batch of two tiny hostile stores is run once; each page (audit, retention, referrals,
data quality, the group index) is then opened from disk with the network cut off, and we
check what a dealer principal would meet: every chart drawn, no code or prompt, no console
error, no request leaving the machine, hostile names inert, contacts masked, the group
index free of customer data. Debian's chromium is driven by Playwright's Python package
(``executable_path``); Playwright's own browser download does not work here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from helpers.browser import open_page as _open
from helpers.report import DEALER_NAME, FORMULA_NAME, XSS_NAME, write_two_store_group

pytestmark = [pytest.mark.slow, pytest.mark.browser]

STORE_PAGES = ("audit.html", "retention.html", "referrals.html", "data_quality.html")
# Pages that must draw at least one chart (data quality is tables only when nothing is wrong).
CHART_PAGES = ("audit.html", "retention.html", "referrals.html", "index.html")


@pytest.fixture(scope="module")
def group_out(tmp_path_factory) -> Path:
    """Two stores of hostile data run as a group; returns the group's output folder."""
    from ownercomm_kit.batch import run_batch

    base = tmp_path_factory.mktemp("browser")
    group = write_two_store_group(base, "hostile", "Hostile <script>alert(2)</script> Group")
    result = run_batch(group, out=base / "out", workers=2)
    assert not result.failed, result.failed
    return result.out_dir


def _pages(group_out: Path) -> list[Path]:
    pages = [group_out / "index.html"]
    for store in ("T01", "T02"):
        pages += [group_out / store / name for name in STORE_PAGES]
    return pages


def test_every_report_exists(group_out):
    missing = [str(p) for p in _pages(group_out) if not p.is_file()]
    assert not missing


@pytest.mark.parametrize("name", ["index.html", *STORE_PAGES])
def test_page_offline_clean_and_drawn(browser, group_out, name):
    path = group_out / name if name == "index.html" else group_out / "T01" / name
    seen = _open(browser, path)
    page = seen["page"]
    try:
        # Nothing leaves the machine: only the file itself and inline data/blob URLs.
        leaving = [u for u in seen["requests"] if not u.startswith(("file:", "data:", "blob:"))]
        assert leaving == []
        assert seen["errors"] == []
        assert seen["dialogs"] == []  # no alert() from a hostile value ran
        assert page.evaluate("typeof window.Plotly") == "object" or name not in CHART_PAGES
        assert page.evaluate("document.documentElement.getAttribute('data-oc-plotly')") == "ready"
        assert path.stat().st_size <= 2_000_000  # lean: the packed library and the report, nothing beside

        # Detail sections start folded: open them all (their charts are drawn at their width then).
        page.evaluate("document.querySelectorAll('details.oc-details').forEach(d => d.open = true)")
        page.wait_for_timeout(300)
        charts = page.eval_on_selector_all(
            ".oc-chart",
            """els => els.map(el => {
                 const svg = el.querySelector('svg.main-svg');
                 const box = svg ? svg.getBoundingClientRect() : null;
                 return {drawn: !!svg, w: box ? box.width : 0, h: box ? box.height : 0,
                         marks: el.querySelectorAll('.trace, .hm, .bars path, .point, image').length};
               })""",
        )
        if name in CHART_PAGES:
            assert charts, "no chart on the page"
        undrawn = [c for c in charts if not (c["drawn"] and c["w"] > 100 and c["h"] > 100)]
        assert undrawn == [], f"{len(undrawn)} of {len(charts)} charts not drawn"

        # No code, no prompts: the reader sees a report, not a notebook.
        assert page.locator(".jp-InputArea, .input_area, .jp-InputPrompt, .prompt, .highlight").count() == 0
        text = page.inner_text("body")
        for code_marker in ("import ownercomm_kit", "ok.report", "In [", "Traceback", "def "):
            assert code_marker not in text
    finally:
        page.close()


def test_hostile_values_stay_inert_text(browser, group_out):
    for path in (group_out / "T01" / "audit.html", group_out / "T01" / "retention.html"):
        seen = _open(browser, path)
        page = seen["page"]
        try:
            assert seen["dialogs"] == []
            # The markup in the data never became elements ...
            assert page.locator('img[src="x"]').count() == 0
            assert page.evaluate("document.querySelectorAll('h1 b, header b, title b').length") == 0
            text = page.inner_text("body")
            # ... and the dealer's name reads exactly as typed.
            assert DEALER_NAME in text
        finally:
            page.close()
    seen = _open(browser, group_out / "T01" / "audit.html")
    try:
        text = seen["page"].inner_text("body")
        assert XSS_NAME in text or "Doe" in text  # the hostile customer is named as text where listed
    finally:
        seen["page"].close()


def test_contacts_are_masked_in_html(browser, group_out):
    for name in STORE_PAGES:
        seen = _open(browser, group_out / "T01" / name)
        try:
            text = seen["page"].content()
            assert "ana.lopez@example.com" not in text
            assert "555-0101" not in text and "5550101" not in text
        finally:
            seen["page"].close()


def test_group_index_holds_no_customer_data(browser, group_out):
    seen = _open(browser, group_out / "index.html")
    page = seen["page"]
    try:
        # Everything the page carries but the plotly.js library itself (whose source has
        # words of its own): text, attributes, and the chart data in inline scripts.
        carried = page.evaluate(
            """() => [document.body.innerText,
                      ...[...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.value)),
                      ...[...document.scripts].filter(s => s.text.length < 500000).map(s => s.text)].join('\\n')"""
        )
        for private in ("Lopez", "ana.lopez", "Chen", "Finn", "HYPERLINK", "onerror", "555-01", "example.com"):
            assert private not in carried
        text = page.inner_text("body")
        assert "Hostile <script>alert(2)</script> Group" in text  # the group's own name, as text
        # Each store links to its reports, and the links resolve on disk.
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.getAttribute('href'))")
        local = [h for h in hrefs if h.endswith(".html")]
        assert any("T01/audit.html" in h for h in local)
        assert all((group_out / h).is_file() for h in local if not h.startswith(("#", "http")))
    finally:
        page.close()


def test_tables_sort_on_click(browser, group_out):
    seen = _open(browser, group_out / "T01" / "audit.html")
    page = seen["page"]
    try:
        table = page.locator("table.oc-sortable").filter(has=page.locator("tbody tr:nth-child(2)")).first
        first_col = lambda: table.locator("tbody tr td:first-child").all_inner_texts()  # noqa: E731
        header = table.locator("thead th").first
        header.click()
        once = first_col()
        header.click()
        twice = first_col()
        assert once != twice or len(set(once)) == 1
        assert sorted(once) == sorted(twice)
    finally:
        page.close()


def test_print_stylesheet_keeps_charts(browser, group_out):
    seen = _open(browser, group_out / "T01" / "audit.html")
    page = seen["page"]
    try:
        page.emulate_media(media="print")
        visible = page.eval_on_selector_all(".oc-chart", "els => els.filter(e => e.offsetHeight > 0).length")
        assert visible > 0
        pdf = page.pdf(format="A4")
        assert pdf[:4] == b"%PDF" and len(pdf) > 10_000
    finally:
        page.close()


def test_csv_cells_cannot_run_formulas(group_out):
    """No CSV cell starts a formula; a hostile value is text (quoted where it would start one)."""
    found = False
    for path in sorted((group_out / "T01").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                for cell in row:
                    if "HYPERLINK" in cell:
                        found = True
                        if cell.lstrip("'").startswith("="):
                            assert cell.startswith("'"), f"{path.name}: {cell!r}"
                    assert not cell.startswith(("=", "+", "@", "\t", "\r")), f"{path.name}: {cell!r}"
    assert found, "the hostile customer should appear in at least one call list"
    assert FORMULA_NAME.startswith("=")
