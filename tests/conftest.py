"""Shared test set-up: tests run from any folder and never touch the real reports/."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def kit_root() -> Path:
    return ROOT


# Hypothesis profiles (tests/test_properties.py): ``ci`` (the default) keeps the suite fast and
# reproducible; ``nightly`` tries many more dealers. Choose with HYPOTHESIS_PROFILE=nightly.
# Failures found are kept as explicit @example cases in the tests (in git), so the local
# example database (.hypothesis/, ignored) is only a cache.
try:
    import os

    from hypothesis import HealthCheck, settings

    _common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                         HealthCheck.function_scoped_fixture])
    settings.register_profile("ci", max_examples=45, derandomize=True, print_blob=True, **_common)
    settings.register_profile("nightly", max_examples=2000, print_blob=True, **_common)
    settings.register_profile("dev", max_examples=150, print_blob=True, **_common)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # hypothesis is a test extra; only tests/test_properties.py needs it
    pass
