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


def string_offsets(arr) -> np.ndarray:
    """The ``len(arr) + 1`` value offsets of an Arrow string or binary array (either offset
    width), read in place from its buffer and from its slice's own offset: where each cell's
    bytes start and end in the data buffer (``arr.buffers()[2]``), with no string built."""
    import pyarrow as pa

    wide = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    return np.frombuffer(arr.buffers()[1], dtype=np.int64 if wide else np.int32)[arr.offset : arr.offset + len(arr) + 1]


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
    at = np.minimum(searchsorted_sorted(keys, queries, "left"), len(keys) - 1)
    return np.where(keys[at] == queries, at, NOT_FOUND).astype(np.int64)


def first_true_at_or_after(mask, start) -> np.ndarray:
    """For each start position, the first row >= start where ``mask`` is true (-1 when none)."""
    pos = np.flatnonzero(mask)
    at = searchsorted_sorted(pos, np.asarray(start, dtype=np.int64), "left")
    return take(pos, np.where(at < len(pos), at, NOT_FOUND))


def small_codes(codes, distinct: int) -> np.ndarray:
    """Codes into ``distinct`` values (-1 for none) as int8 when they fit, else int32: a
    10M-row enum column's codes in 10 MB, not 80."""
    return np.asarray(codes).astype(np.int8 if distinct < 127 else np.int32, copy=False)


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


def stable_argsort(keys) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` of integer keys (see ``sorted_with_order``)."""
    return sorted_with_order(keys)[0]


def sorted_with_order(keys) -> tuple[np.ndarray, np.ndarray]:
    """(``np.argsort(keys, kind="stable")``, the keys in that order) of integer keys.

    numpy sorts plain int64 several times faster than it argsorts, so the row number goes
    into the low bits of the key's offset from the smallest key, and one ``np.sort`` of those
    integers gives the order (equal keys stay in row order). Keys too wide for that are
    sorted by their high bits first (the low bits dropped: offset >> drop and the row number
    still fit), then the few rows sharing their high bits with another are sorted again by the
    whole key. Not integers, or too many such rows: numpy's stable argsort."""
    keys = np.asarray(keys)
    n = len(keys)
    if n < 2 or keys.dtype.kind not in "iu":
        order = np.argsort(keys, kind="stable")
        return order, keys[order]
    lo, hi = int(keys.min()), int(keys.max())
    bits = (n - 1).bit_length()
    drop = max((hi - lo).bit_length() + bits - 63, 0)
    if hi - lo >= 2**63:
        order = np.argsort(keys, kind="stable")
        return order, keys[order]
    # Two arrays of n are made here (the offsets, the row numbers) and worked on in place: on a
    # virtual machine each fresh array's first touch costs more than the sort itself.
    off = _offsets_from(keys, lo)
    packed = off >> drop if drop else off
    packed <<= bits
    order = np.arange(n, dtype=np.int64)
    packed |= order
    packed.sort()
    np.bitwise_and(packed, (1 << bits) - 1, out=order)
    if not drop:
        packed >>= bits
        return order, _back(packed, keys, lo)
    ks = off[order]
    high = ks >> drop
    same = high[1:] == high[:-1]
    if same.any():
        shared = np.zeros(n, bool)
        shared[1:] |= same
        shared[:-1] |= same
        slots = np.flatnonzero(shared)
        if len(slots) > n // 4:  # many rows close together: numpy's sort
            order = np.argsort(keys, kind="stable")
            return order, keys[order]
        # runs of equal high bits are in order of them, so one sort of all their rows by the
        # whole offset puts each run's rows back into that run's slots, in row order on ties
        again, ks[slots] = sorted_with_order(ks[slots])
        order[slots] = order[slots][again]
    return order, _back(ks, keys, lo)


def _offsets_from(keys: np.ndarray, lo: int) -> np.ndarray:
    """keys - lo as int64 (wraps back into range when the difference fits, as it does here)."""
    if keys.dtype.kind == "u":
        return (keys.astype(np.uint64) - np.uint64(lo)).view(np.int64)
    return np.subtract(keys, np.int64(lo), dtype=np.int64)  # one new array, not a copy and then another


def _back(off: np.ndarray, keys: np.ndarray, lo: int) -> np.ndarray:
    """Offsets back to keys of the keys' dtype (``off``, the caller's own, is reused)."""
    if keys.dtype.kind == "u":
        return (off.view(np.uint64) + np.uint64(lo)).astype(keys.dtype)
    off += np.int64(lo)
    return off.astype(keys.dtype, copy=False)


def first_occurrence(keys) -> np.ndarray:
    """For each element, the position of the first element holding the same key (its own
    position when it is the first). Integer keys: runs of ``sorted_with_order``'s sorted keys
    (equal keys stay in row order, so a run's first row is the key's first position); other
    keys: hashing, where NaN and None are one key, like any value."""
    keys = np.asarray(keys)
    n = len(keys)
    if n == 0:
        return np.zeros(0, np.int64)
    if keys.dtype.kind not in "iu":
        import pandas as pd

        # groups numbered in order of first appearance (use_na_sentinel=False: a missing key is a
        # group of its own, not -1, which would point at another key's first row)
        group, _ = pd.factorize(keys, use_na_sentinel=False)
        seen = np.maximum.accumulate(np.concatenate([[-1], group[:-1]]))
        return np.flatnonzero(group > seen)[group].astype(np.int64)
    order, ks = sorted_with_order(keys)
    start = np.ones(n, bool)
    start[1:] = ks[1:] != ks[:-1]
    out = np.empty(n, np.int64)
    out[order] = order[start][np.cumsum(start) - 1]  # the smallest position of each key's run
    return out


def searchsorted_sorted(a: np.ndarray, v: np.ndarray, side: str = "left", block: int = 8192) -> np.ndarray:
    """``np.searchsorted(a, v, side)`` for non-decreasing ``v`` (unsorted ``v``: numpy's own
    search; not integers: numpy's too): block by block, each block searched in the slice of ``a`` between its first and
    last answers, which stays in cache (about twice as fast on millions of rows)."""
    a, v = np.asarray(a), np.asarray(v)
    ints = a.dtype.kind in "iu" and v.dtype.kind in "iu" and v.ndim == 1  # a scalar or 2-D query: numpy's
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


# From this many cells, ``factorize_sorted`` hashes an Arrow text column in two halves at once.
SPLIT_FACTORIZE_ROWS = 1_000_000


def factorize_sorted(values):
    """``pd.factorize(values, sort=True)``: (int64 codes, -1 for NA; the sorted distinct values).
    A long Arrow text column is hashed in two halves on two threads (Arrow's hashing releases
    the GIL), their dictionaries unified, then sorted as pandas sorts them; the same codes and
    values. Anything else is pandas' own."""
    import pandas as pd

    if not isinstance(values.array, pd.arrays.ArrowStringArray) or len(values) < SPLIT_FACTORIZE_ROWS:
        return pd.factorize(values, sort=True)
    arr = values.array._pa_array
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.compute as pc

    half = len(arr) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(pc.dictionary_encode, (arr.slice(0, half), arr.slice(half))))
    coded = pa.chunked_array([c for p in parts for c in p.chunks], parts[0].type).unify_dictionaries()
    dictionary = coded.chunk(0).dictionary  # one dictionary for every chunk once unified (both halves hold cells)
    uniques = pd.arrays.ArrowStringArray(pa.chunked_array([dictionary]), dtype=values.dtype)
    order = uniques.argsort()  # the sort pandas applies to its uniques
    rank = np.empty(len(order) + 1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    rank[-1] = -1  # a null's index, filled with -1, picks it
    codes = np.empty(len(arr), dtype=np.int64)
    at = 0
    for c in coded.chunks:  # straight into the codes: no array per chunk, then another joined
        np.take(rank, pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False), out=codes[at : at + len(c)])
        at += len(c)
    return codes, pd.Index(uniques.take(order))
