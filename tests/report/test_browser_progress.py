"""The progress of a store and of a group (SPEC §10), opened in a real headless Chromium.

Two tiny stores run twice as a group with ``--history``: first at the 31 May month-end, then
at the dealer file's date (18 June). T02's recorded runs are removed in between, so its second
run is a first run again: it must show no change. Same browser set-up as test_browser.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers.report import write_two_store_group  # noqa: E402
from helpers.browser import open_page as _open

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PAGES = ("audit.html", "retention.html", "referrals.html")
BAD, GOOD = "rgb(178, 24, 43)", "rgb(27, 120, 55)"  # report.css --oc-bad, --oc-good


@pytest.fixture(scope="module")
def group_out(tmp_path_factory) -> Path:
    from ownercomm_kit.batch import run_batch

    base = tmp_path_factory.mktemp("progress")
    group = write_two_store_group(base, "prog", "Progress <b>Group</b>")
    out = base / "out"
    r = run_batch(group, out=out, workers=2, as_of="2026-05-31", history_months=4)
    assert not r.failed, r.failed
    shutil.rmtree(r.out_dir / "T02" / "runs")
    r = run_batch(group, out=out, workers=2, history_months=4)
    assert not r.failed, r.failed
    return r.out_dir


def test_history_and_runs_on_disk(group_out):
    import pandas as pd

    for store in ("T01", "T02"):
        h = pd.read_csv(group_out / store / "history.csv")
        assert list(h["as_of"]) == ["2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
    assert sorted(p.name for p in (group_out / "T01" / "runs").iterdir()) == ["2026-05-31.json", "2026-06-18.json"]
    assert sorted(p.name for p in (group_out / "T02" / "runs").iterdir()) == ["2026-06-18.json"]


@pytest.mark.parametrize("name", PAGES)
def test_progress_section_drawn_with_baseline_and_coloured_changes(browser, group_out, name):
    seen = _open(browser, group_out / "T01" / name)
    page = seen["page"]
    try:
        assert seen["errors"] == [] and seen["dialogs"] == []
        assert [u for u in seen["requests"] if not u.startswith(("file:", "data:", "blob:"))] == []
        section = page.locator("section#progress")
        assert section.count() == 1
        text = section.inner_text()
        assert "Changes compare with the previous report, of 31 May 2026." in text
        chart = section.locator(".oc-chart svg.main-svg").first
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 300
        # month-end lines, earlier reports, this report and the baseline are drawn
        legend = " ".join(section.locator(".oc-chart .legendtext").all_text_contents())
        for item in ("Month-end history", "Earlier reports", "This report", "Baseline"):
            assert item in legend
        assert section.locator(".oc-chart .shapelayer path").count() >= 1  # the baseline's dashed line
        assert "baseline" in section.locator(".oc-chart .annotation-text").all_text_contents()
        rows = section.locator("table.oc-progress tbody tr")
        assert rows.count() >= 5
        # headline tiles: the change in words, coloured by the figure's better direction
        changes = page.locator("section#headline .oc-tile-change")
        assert changes.count() >= 1
        for i in range(changes.count()):
            el = changes.nth(i)
            t = el.inner_text()
            assert "31 May 2026" in t
            colour = el.evaluate("e => getComputedStyle(e).color")
            cls = el.get_attribute("class")
            if "oc-change-bad" in cls:
                assert t.lstrip("\u25b2\u25bc= ").startswith("Worse") and colour == BAD
            elif "oc-change-good" in cls:
                assert t.lstrip("\u25b2\u25bc= ").startswith("Better") and colour == GOOD
            else:
                assert colour not in (BAD, GOOD)
    finally:
        page.close()


@pytest.mark.parametrize("name", PAGES)
def test_first_run_shows_no_change(browser, group_out, name):
    seen = _open(browser, group_out / "T02" / name)
    page = seen["page"]
    try:
        assert seen["errors"] == []
        assert page.locator(".oc-tile-change").count() == 0
        text = page.locator("section#progress").inner_text()
        assert "No change shown: this is the first recorded run" in text
        # the history is still charted
        assert page.locator("section#progress .oc-chart").count() == 1
        assert page.locator("section#progress .oc-chart svg.main-svg").first.bounding_box()["height"] > 300
        assert "Baseline" not in " ".join(page.locator("section#progress .legendtext").all_text_contents())
    finally:
        page.close()


def test_group_index_shows_changes_and_group_history(browser, group_out):
    seen = _open(browser, group_out / "index.html")
    page = seen["page"]
    try:
        assert seen["errors"] == []
        changes = page.locator("section#changes")
        rows = changes.locator("tbody tr")
        assert rows.count() == 2
        t01, t02 = rows.nth(0).inner_text(), rows.nth(1).inner_text()
        assert "31 May 2026" in t01 and "18 June 2026" in t01
        assert "no earlier run" in t02
        assert changes.locator("tbody tr").nth(1).locator(".oc-change-good, .oc-change-bad").count() == 0
        assert page.locator("section#group-history .oc-chart").count() == 1
        hist = page.locator("section#group-history .oc-chart svg.main-svg")
        assert hist.first.bounding_box()["height"] > 300
        assert "Serious problems (all stores)" in page.locator("section#group-history").inner_text()
    finally:
        page.close()
