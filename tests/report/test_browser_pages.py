"""The pages as a principal and a group analyst meet them (issue 17 items 1, 2, 4), in headless
Chromium: the shipped sample group is run once, then its pages are opened offline.

- every store page opens with "What to do this week" (at most three actions, files that exist);
- the group index fits a 1,400 px window, its store names link to pages that exist, in the order
  audit, retention, referrals, data quality, and it prints whole on a landscape page;
- folded sections open from the table of contents and print open;
- no "(s)" plurals on any page.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from helpers.browser import chromium, open_page as _open

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
STORE_REPORTS = ("audit.html", "retention.html", "referrals.html")
LINK_ORDER = ("audit.html", "retention.html", "referrals.html", "data_quality.html")
# Landscape A4 and Letter, less 10 mm margins each side, in CSS pixels (96 per inch).
PRINT_WIDTHS = {"A4": round((297 - 20) / 25.4 * 96), "Letter": round((11 - 20 / 25.4) * 96)}


@pytest.fixture(scope="module")
def sample_out(tmp_path_factory) -> Path:
    """The shipped sample group, run as the README says; returns its output folder."""
    from ownercomm_kit.batch import run_batch

    out = tmp_path_factory.mktemp("sample-pages")
    result = run_batch(ROOT / "params" / "groups" / "sample.yaml", out=out, workers=2)
    assert not result.failed, result.failed
    return result.out_dir


@pytest.fixture(scope="module")
def browser():
    """A 1,400 px wide window: the width the index must fit."""
    yield from chromium(1400)


def _stores(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and (p / "audit.html").is_file())


def _all_pages(out: Path) -> list[Path]:
    pages = [out / "index.html", *sorted(out.glob("group/*.html"))]
    for store in _stores(out):
        pages += sorted(store.glob("*.html"))
    return pages


def _overflows(page) -> dict:
    return page.evaluate("""() => ({
        doc: document.documentElement.scrollWidth, view: window.innerWidth,
        wide: Array.from(document.querySelectorAll('.oc-table-wrap'))
                   .filter(w => w.offsetParent !== null && w.scrollWidth > w.clientWidth + 1)
                   .map(w => (w.closest('section') || {}).id)})""")


# --- the first screen --------------------------------------------------------------------


@pytest.mark.parametrize("report", STORE_REPORTS)
def test_first_screen_lists_actions(browser, sample_out, report):
    for store in _stores(sample_out):
        seen = _open(browser, store / report)
        page = seen["page"]
        try:
            assert seen["errors"] == []
            first = page.locator("section.oc-section").first
            assert first.get_attribute("id") == "this-week"
            assert "What to do this week" in first.inner_text()
            box = first.bounding_box()
            assert box and box["y"] < 900  # on the first screen, before the tiles
            assert page.locator("#headline").bounding_box()["y"] > box["y"]
            items = page.locator("#this-week li.oc-action")
            assert 1 <= items.count() <= 3, f"{store.name}/{report}: {items.count()} actions"
            for text in items.all_inner_texts():
                n, _, sentence = text.strip().partition("\n")
                assert re.fullmatch(r"[\d,]+", n.strip()) and int(n.replace(",", "")) > 0
                assert n.strip() in sentence  # the number is in the sentence too
                assert "(s)" not in sentence
            for code in page.locator("#this-week .oc-file").all_inner_texts():
                assert (store / code).is_file(), f"{store.name}/{report} names {code}, which is not there"
        finally:
            page.close()


def test_audit_page_has_a_sticky_toc_and_folded_detail(browser, sample_out):
    store = _stores(sample_out)[0]
    seen = _open(browser, store / "audit.html")
    page = seen["page"]
    try:
        toc = page.locator("nav.oc-toc")
        assert toc.count() == 1
        hrefs = toc.locator("a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
        ids = page.locator("section.oc-section").evaluate_all("els => els.map(s => '#' + s.id)")
        assert hrefs == ids
        page.mouse.wheel(0, 6000)
        page.wait_for_timeout(200)
        assert toc.bounding_box()["y"] <= 1  # still at the top after scrolling
        # A folded detail section opens from the table of contents, and its charts get drawn.
        folded = page.locator("details.oc-details:not([open])")
        assert folded.count() >= 2
        sid = folded.first.evaluate("d => d.closest('section').id")
        toc.locator(f'a[href="#{sid}"]').click()
        page.wait_for_timeout(400)
        assert page.locator(f"#{sid} details").evaluate("d => d.open")
        widths = page.locator(f"#{sid} .oc-chart svg.main-svg").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().width)"
        )
        assert all(w > 300 for w in widths)
        # The first screen never folds.
        assert page.locator("#this-week details, #headline details").count() == 0
        # Printed, every section is open: a folded one's content takes room on paper.
        page.emulate_media(media="print")
        closed = page.locator("details.oc-details:not([open])").first
        sid = closed.evaluate("d => d.closest('section').id")
        height = page.evaluate(f"""() => Array.from(document.querySelectorAll('#{sid} details > :not(summary)'))
                                           .reduce((h, e) => h + e.getBoundingClientRect().height, 0)""")
        assert height > 20
        assert toc.is_hidden()
    finally:
        page.close()


def test_charts_have_no_mode_bar(browser, sample_out):
    seen = _open(browser, _stores(sample_out)[0] / "retention.html")
    page = seen["page"]
    try:
        assert page.locator(".oc-chart svg.main-svg").count() > 0
        assert page.locator(".modebar-btn").count() == 0
    finally:
        page.close()


# --- the group index ---------------------------------------------------------------------


def test_index_fits_1400_px_without_horizontal_scroll(browser, sample_out):
    seen = _open(browser, sample_out / "index.html")
    page = seen["page"]
    try:
        page.set_viewport_size({"width": 1400, "height": 900})
        page.wait_for_timeout(200)
        got = _overflows(page)
        assert got["doc"] <= 1400 and got["wide"] == [], got
        # also with every detail section opened
        page.evaluate("document.querySelectorAll('details.oc-details').forEach(d => d.open = true)")
        page.wait_for_timeout(300)
        got = _overflows(page)
        assert got["doc"] <= 1400 and got["wide"] == [], got
        # every column of the ranked table inside the window
        right = page.eval_on_selector_all(
            "#ranking table thead th", "ths => ths.map(t => t.getBoundingClientRect().right)"
        )
        assert len(right) >= 12 and max(right) <= 1400
    finally:
        page.close()


def test_store_names_link_to_their_reports_in_order(browser, sample_out):
    seen = _open(browser, sample_out / "index.html")
    page = seen["page"]
    try:
        rows = page.locator("#ranking table tbody tr")
        assert rows.count() == len(_stores(sample_out))
        for i in range(rows.count()):
            cell = rows.nth(i).locator("td.oc-store")
            links = cell.locator("a").evaluate_all("els => els.map(a => [a.textContent, a.href])")
            name_text, name_href = links[0]
            assert name_text.strip() and name_text.strip() in cell.inner_text()
            targets = [Path(unquote(urlparse(href).path)) for _, href in links]
            assert all(t.is_file() for t in targets), targets
            assert targets[0].name == "audit.html"
            pages = [t.name for t in targets[1:]]
            assert pages == [p for p in LINK_ORDER if p in pages] and len(pages) == 4
        # the detail view lists the same reports in the same order
        for href in page.locator("#ranking-counts a").evaluate_all("els => els.map(a => a.href)"):
            assert Path(unquote(urlparse(href).path)).is_file()
    finally:
        page.close()


@pytest.mark.parametrize("paper", sorted(PRINT_WIDTHS))
def test_index_prints_every_column_on_landscape(browser, sample_out, paper):
    seen = _open(browser, sample_out / "index.html")
    page = seen["page"]
    try:
        sheet = page.evaluate("""() => Array.from(document.styleSheets).flatMap(s => Array.from(s.cssRules))
                                     .filter(r => r instanceof CSSPageRule).map(r => r.style.size)""")
        assert "landscape" in sheet
        page.emulate_media(media="print")
        page.set_viewport_size({"width": PRINT_WIDTHS[paper], "height": 700})
        page.wait_for_timeout(300)
        for table in ("#ranking table", "#ranking-counts table", "#changes table"):
            cols = page.eval_on_selector_all(
                f"{table} thead th",
                """ths => ths.map(t => {
                const b = t.getBoundingClientRect(); return [b.left, b.right, b.width]; })""",
            )
            assert cols, table
            assert all(w > 20 for _, _, w in cols), (table, cols)
            assert max(r for _, r, _ in cols) <= PRINT_WIDTHS[paper] + 1, (table, paper, cols)
        assert _overflows(page)["wide"] == []
        pdf = page.pdf(prefer_css_page_size=True)
        assert pdf[:4] == b"%PDF"
    finally:
        page.close()


# --- wording -----------------------------------------------------------------------------

_PLURAL = re.compile(r"\w+\(s\)")


def _parenthesized_plurals(page) -> list[str]:
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    text = page.inner_text("body")
    return [text[max(0, m.start() - 40) : m.end() + 20].replace("\n", " ") for m in _PLURAL.finditer(text)]


def test_no_parenthesized_plurals_in_the_first_screen_index_and_group_page(browser, sample_out):
    """What this branch writes: the index and the group page (the actions: see above)."""
    found = []
    for path in [sample_out / "index.html", *sorted(sample_out.glob("group/*.html"))]:
        seen = _open(browser, path)
        try:
            found += [f"{path.name}: {t}" for t in _parenthesized_plurals(seen["page"])]
        finally:
            seen["page"].close()
    assert found == []  # the first screen's actions are checked in test_first_screen_lists_actions


def test_no_parenthesized_plurals_in_any_page(browser, sample_out):
    found = []
    for path in _all_pages(sample_out):
        seen = _open(browser, path)
        try:
            found += [f"{path.relative_to(sample_out)}: {t}" for t in _parenthesized_plurals(seen["page"])]
        finally:
            seen["page"].close()
    assert found == []
