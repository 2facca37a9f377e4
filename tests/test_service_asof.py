"""service._asof: string keys hashed by Arrow give the same join as keys as Python objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ownercomm_kit import service


def _sides(seed, n_left, n_right):
    rng = np.random.default_rng(seed)
    keys = ["Ç1", "k2", "VIN3", "\x00c9", None]
    day = lambda n: pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D")  # noqa: E731
    left = pd.DataFrame({"key": pd.array(rng.choice(keys, n_left), dtype="string"), "sent_date": day(n_left)})
    right = pd.DataFrame(
        {
            "key": pd.array(rng.choice(keys, n_right), dtype="string"),
            "visit_date": day(n_right),
            "x": np.arange(n_right),
        }
    )
    return left.sort_values("sent_date", kind="stable"), right.sort_values("visit_date", kind="stable")


@pytest.mark.parametrize("seed,n_left,n_right", [(0, 50, 40), (1, 1, 30), (2, 30, 1), (3, 0, 5), (4, 5, 1)])
def test_asof_string_keys_as_object_keys(seed, n_left, n_right):
    left, right = _sides(seed, n_left, n_right)
    fast = service._asof(left, right, "sent_date", "visit_date", "key")
    general = service._asof(
        left.astype({"key": object}), right.astype({"key": object}), "sent_date", "visit_date", "key"
    )
    pd.testing.assert_frame_equal(fast, general.astype({"key": fast["key"].dtype}))
