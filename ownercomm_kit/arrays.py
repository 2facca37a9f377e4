"""Empty-safe array operations, shared by the audit's rules and metrics.

numpy raises on an empty selection where an analysis expects "nothing": indexing an empty
array (``a[0]``, ``a[idx]`` with any index), and reducing one (``a.max()``, ``a.min()``).
A valid dealer produces empty selections all the time (nobody unsubscribed, no reminders,
a header-only table, one customer), so the analytics never index or reduce a selection
directly: they go through these helpers, whose "not found" is an explicit position of -1
or a default value the caller chooses.
"""

from __future__ import annotations

import numpy as np

NOT_FOUND = -1


def take(values, pos, fill=NOT_FOUND) -> np.ndarray:
    """``values[pos]`` where ``pos >= 0``, else ``fill``; safe when ``values`` is empty (every
    position is then "not found") and when ``pos`` is."""
    values, pos = np.asarray(values), np.asarray(pos, dtype=np.int64)
    if len(values) == 0:
        dtype = np.result_type(values.dtype, np.asarray(fill).dtype) if values.dtype != object else object
        return np.full(len(pos), fill, dtype=dtype)
    ok = pos >= 0
    return np.where(ok, values[np.where(ok, pos, 0)], fill)


def find_sorted(sorted_keys, queries) -> np.ndarray:
    """Position of each query in ``sorted_keys`` (non-decreasing; the first of equal keys),
    -1 when a query is not among them; safe when either side is empty."""
    keys, queries = np.asarray(sorted_keys), np.asarray(queries)
    if len(keys) == 0:
        return np.full(len(queries), NOT_FOUND, np.int64)
    at = np.minimum(np.searchsorted(keys, queries, "left"), len(keys) - 1)
    return np.where(keys[at] == queries, at, NOT_FOUND).astype(np.int64)


def first_true_at_or_after(mask, start) -> np.ndarray:
    """For each start position, the first row >= start where ``mask`` is true (-1 when none)."""
    pos = np.flatnonzero(mask)
    at = np.searchsorted(pos, np.asarray(start, dtype=np.int64), "left")
    return take(pos, np.where(at < len(pos), at, NOT_FOUND))


def max_or(values, default):
    """The largest value, or ``default`` for an empty array."""
    values = np.asarray(values)
    return values.max() if len(values) else default


def min_or(values, default):
    """The smallest value, or ``default`` for an empty array."""
    values = np.asarray(values)
    return values.min() if len(values) else default


def from_min(values) -> np.ndarray:
    """``values`` minus their smallest value (an empty array stays empty)."""
    values = np.asarray(values)
    return values - min_or(values, 0)
