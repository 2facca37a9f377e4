"""Shared test set-up: tests run from any folder and never touch the real reports/."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def kit_root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _allocator_left_alone(monkeypatch):
    """The CLI's group callback sets the C allocator and the environment for the process it
    runs in (``procs.one_arena``); in-process CLI tests must not change pytest's own, nor the
    environment of the processes later tests start. tests/test_procs.py checks it apart."""
    monkeypatch.setattr("ownercomm_kit.procs.one_arena", lambda: False)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, offline, one per test module (tests/helpers/browser.py)."""
    from helpers.browser import chromium

    yield from chromium()


# Hypothesis profiles (tests/e2e/test_properties.py): ``ci`` (the default) is derandomized, so CI
# tries the same dealers every run and stays fast; ``nightly`` tries many more, at random, and
# ``dev`` is in between. Choose with HYPOTHESIS_PROFILE=nightly (or dev).
# Every failure found so far is kept as an explicit @example in the tests (in git); the local
# example database (tests/.hypothesis/, not committed) replays a new failure on the next run
# until it is turned into such an @example.
try:
    import os

    from hypothesis import HealthCheck, settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    _common = dict(
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )
    _database = DirectoryBasedExampleDatabase(str(ROOT / "tests" / ".hypothesis" / "examples"))
    settings.register_profile("ci", max_examples=45, derandomize=True, **_common)  # derandomized: no database
    settings.register_profile("dev", max_examples=150, database=_database, **_common)
    settings.register_profile("nightly", max_examples=2000, database=_database, **_common)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # hypothesis is a test extra; only tests/e2e/test_properties.py needs it
    pass
