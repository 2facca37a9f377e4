"""Headless Chromium for the page tests: Debian's chromium driven by Playwright's Python
package (``executable_path``; Playwright's own browser download does not work here), offline,
with a fresh profile. The ``browser`` fixture (tests/conftest.py) yields :func:`chromium`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def need_chromium():
    if CHROMIUM:
        return
    if os.environ.get("CI"):  # CI installs it: a missing browser there is a failure, not a skip
        pytest.fail("chromium is not installed (.ci/run installs the Debian package)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def chromium(width: int = 1280):
    """A persistent offline context of a fresh profile (a generator: yield it from a fixture)."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="oc-chromium-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            offline=True,
            viewport={"width": width, "height": 900},
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def open_page(browser, path: Path) -> dict:
    """Open a report from disk; what it did: requests, console errors, dialogs, the page."""
    seen = {"requests": [], "errors": [], "dialogs": []}
    page = browser.new_page()
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))

    def dialog(d):
        seen["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.goto(path.as_uri(), wait_until="load")
    # the page unpacks its compressed plotly.js (DecompressionStream), then draws the charts
    page.wait_for_function("document.documentElement.getAttribute('data-oc-plotly') !== null", timeout=30_000)
    page.wait_for_timeout(300)  # plotly draws on load; give its layout pass a moment
    seen["page"] = page
    return seen
