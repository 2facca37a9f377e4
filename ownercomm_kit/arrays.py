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


def _packed_offsets(keys: np.ndarray) -> tuple[np.ndarray, int] | None:
    """(keys minus their smallest, as int64; the bits a row number needs) when an offset and a
    row number fit in 63 bits together, else None (also for keys that are not integers)."""
    n = len(keys)
    if n < 2 or keys.dtype.kind not in "iu":
        return None
    lo, hi = int(keys.min()), int(keys.max())
    bits = (n - 1).bit_length()
    if (hi - lo) >> (63 - bits):
        return None
    if keys.dtype.kind == "u":
        return (keys.astype(np.uint64) - np.uint64(lo)).view(np.int64), bits
    return keys.astype(np.int64) - np.int64(lo), bits  # wraps back into range: hi - lo fits


def stable_argsort(keys) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` of integer keys. Where each key's offset from the
    smallest and a row number fit in 63 bits together, one ``np.sort`` of ``offset << bits |
    row`` (numpy sorts plain int64 several times faster than it argsorts, and the row number
    in the low bits keeps equal keys in their order); otherwise numpy's stable argsort."""
    keys = np.asarray(keys)
    packed = _packed_offsets(keys)
    if packed is None:
        return np.argsort(keys, kind="stable")
    off, bits = packed
    off <<= bits
    off |= np.arange(len(keys), dtype=np.int64)
    off.sort()
    off &= (1 << bits) - 1
    return off


def first_occurrence(keys) -> np.ndarray:
    """For each element, the position of the first element holding the same key (its own
    position when it is the first). Integer keys: a sort of packed integers (see
    ``stable_argsort``) where they fit, else hashing."""
    keys = np.asarray(keys)
    n = len(keys)
    packed = _packed_offsets(keys)
    if packed is None:
        if n == 0:
            return np.zeros(0, np.int64)
        import pandas as pd

        group, _ = pd.factorize(keys)  # groups numbered in order of first appearance
        seen = np.maximum.accumulate(np.concatenate([[-1], group[:-1]]))
        return np.flatnonzero(group > seen)[group].astype(np.int64)
    off, bits = packed
    off <<= bits
    off |= np.arange(n, dtype=np.int64)
    off.sort()
    pos = off & ((1 << bits) - 1)
    off >>= bits
    start = np.ones(n, bool)
    start[1:] = off[1:] != off[:-1]
    out = np.empty(n, np.int64)
    out[pos] = pos[start][np.cumsum(start) - 1]  # the smallest position of each key's run
    return out


def searchsorted_sorted(a: np.ndarray, v: np.ndarray, side: str = "left", block: int = 8192) -> np.ndarray:
    """``np.searchsorted(a, v, side)`` for non-decreasing ``v`` (unsorted ``v``: numpy's own
    search; not integers: numpy's too): block by block, each block searched in the slice of ``a`` between its first and
    last answers, which stays in cache (about twice as fast on millions of rows)."""
    a, v = np.asarray(a), np.asarray(v)
    ints = a.dtype.kind in "iu" and v.dtype.kind in "iu"
    if not ints or len(v) <= block or len(a) <= block or np.any(v[1:] < v[:-1]):
        return np.searchsorted(a, v, side)
    out = np.empty(len(v), np.int64)
    for s in range(0, len(v), block):
        q = v[s : s + block]
        lo = int(np.searchsorted(a, q[0], side))
        hi = int(np.searchsorted(a, q[-1], side))
        out[s : s + block] = np.searchsorted(a[lo:hi], q, side)
        out[s : s + block] += lo
    return out
