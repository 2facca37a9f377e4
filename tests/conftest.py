"""Shared test set-up: tests run from any folder and never touch the real reports/."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def kit_root() -> Path:
    return ROOT
