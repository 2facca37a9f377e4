"""ownercomm_kit.arrays: the empty-safe selections every rule and metric relies on."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pandas as pd

from ownercomm_kit.arrays import find_sorted, first_true_at_or_after, from_min, max_or, min_or, take
from ownercomm_kit.audit import suppression_list
from ownercomm_kit.data import from_frames
from ownercomm_kit.params import resolve

EMPTY = np.array([], np.int64)


def test_take_fills_not_found_and_empty_sources():
    assert take(np.array([10, 20, 30]), [2, -1, 0], fill=0).tolist() == [30, 0, 10]
    assert take(EMPTY, [0, -1, 5]).tolist() == [-1, -1, -1]  # numpy would raise IndexError
    assert take(EMPTY, EMPTY).tolist() == []
    assert take(np.array(["a", "b"], dtype=object), [1, -1], fill=None).tolist() == ["b", None]


def test_find_sorted_is_minus_one_when_absent_or_empty():
    keys = np.array([3, 5, 5, 9])
    assert find_sorted(keys, [5, 4, 9, 10, 0]).tolist() == [1, -1, 3, -1, -1]
    assert find_sorted(EMPTY, [1, 2]).tolist() == [-1, -1]
    assert find_sorted(keys, EMPTY).tolist() == []


def test_first_true_at_or_after():
    mask = np.array([False, True, False, False, True, False])
    assert first_true_at_or_after(mask, [0, 1, 2, 5]).tolist() == [1, 1, 4, -1]
    assert first_true_at_or_after(np.zeros(3, bool), [0, 2]).tolist() == [-1, -1]
    assert first_true_at_or_after(np.zeros(0, bool), EMPTY).tolist() == []


def test_reductions_of_empty_arrays_give_the_default():
    assert max_or(EMPTY, 7) == 7 and min_or(EMPTY, -7) == -7
    assert max_or(np.array([1, 4, 2]), 0) == 4 and min_or(np.array([3, 2]), 0) == 2
    assert from_min(np.array([5, 7])).tolist() == [0, 2] and from_min(EMPTY).tolist() == []


def test_a_cap_of_zero_holds_indefinitely_in_the_suppression_list():
    """Found by the property tests: a cap whose max is 0 indexed past the window's messages."""
    p = copy.deepcopy(resolve({"dealer_id": "T", "data_dir": "."}))
    p["rules"]["cap_channel"]["windows"]["email"] = [{"days": 7, "max": 0}]
    data = from_frames(
        {
            "customers": pd.DataFrame({"customer_id": ["C1"]}),
            "communications": pd.DataFrame(
                {
                    "message_id": ["M1"],
                    "customer_id": ["C1"],
                    "sent_at": ["2026-06-17 10:00"],
                    "channel": ["email"],
                    "sender": ["dealer"],
                    "category": ["newsletter"],
                }
            ),
        },
        timezone="America/New_York",
        as_of=dt.date(2026, 6, 18),
    )
    sup = suppression_list(data, p)
    row = sup[(sup["rule"] == "cap_channel") & (sup["channel"] == "email")]
    assert len(row) == 1 and pd.isna(row["until"].iloc[0])


def _first_by_hashing(keys: np.ndarray) -> np.ndarray:
    """The general path: groups numbered in order of first appearance."""
    if len(keys) == 0:
        return np.zeros(0, np.int64)
    group, _ = pd.factorize(keys)
    seen = np.maximum.accumulate(np.concatenate([[-1], group[:-1]]))
    return np.flatnonzero(group > seen)[group]


def _random_keys(rng, n: int, kind: int) -> np.ndarray:
    if kind == 0:
        return rng.integers(-5, 5, n)  # many ties
    if kind == 1:
        return rng.integers(-(2**62), 2**62, n)  # too wide to pack: the general path
    if kind == 2:
        return rng.integers(0, 2**40, n).astype(np.uint64)
    if kind == 3:
        return rng.integers(-100, 100, n).astype(np.int8)  # would overflow int8 arithmetic
    return np.full(n, np.iinfo(np.int64).min) + rng.integers(0, 3, n)  # at the edge of int64


def test_stable_argsort_and_first_occurrence_match_the_general_paths():
    from ownercomm_kit.arrays import first_occurrence, stable_argsort

    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.choice([0, 1, 2, 3, 10, 1000, 5000]))
        keys = _random_keys(rng, n, trial % 5)
        assert stable_argsort(keys).tolist() == np.argsort(keys, kind="stable").tolist()
        assert first_occurrence(keys).tolist() == _first_by_hashing(keys).tolist()
    assert stable_argsort(np.array([2.5, 1.0, 2.5])).tolist() == [1, 0, 2]  # not integers: numpy's
    assert first_occurrence(np.array([True, False, True])).tolist() == [0, 1, 0]
    # a missing key is a key of its own: it never points at another key's first row
    assert first_occurrence(np.array([np.nan, 1.0, np.nan, 1.0])).tolist() == [0, 1, 0, 1]
    assert first_occurrence(np.array(["a", None, "a", None], dtype=object)).tolist() == [0, 1, 0, 1]


def test_searchsorted_sorted_matches_numpy():
    from ownercomm_kit.arrays import searchsorted_sorted

    rng = np.random.default_rng(1)
    for trial in range(100):
        a = np.sort(rng.integers(0, 1000, int(rng.choice([0, 1, 70, 5000]))))
        v = np.sort(rng.integers(-10, 1010, int(rng.choice([0, 1, 65, 3000]))))
        if trial % 7 == 0:
            v = v[::-1].copy()  # not sorted: numpy's own search
        for side in ("left", "right"):
            expected = np.searchsorted(a, v, side).tolist()
            assert searchsorted_sorted(a, v, side, block=64).tolist() == expected
            assert searchsorted_sorted(a, v, side).tolist() == expected
    a = np.array([1.0, 2.0, np.nan])
    assert searchsorted_sorted(a, np.array([np.nan, 1.5]), block=1).tolist() == [2, 1]
    # a scalar or 2-D query: numpy's own search, as before
    a = np.arange(20_000)
    assert int(searchsorted_sorted(a, 3, block=1)) == 3
    v = np.arange(18_000).reshape(9_000, 2)
    assert searchsorted_sorted(a, v, "right", block=64).tolist() == np.searchsorted(a, v, "right").tolist()
    assert find_sorted(np.arange(5), 3) == 3
    assert first_true_at_or_after(np.array([0, 1, 0, 1], bool), 2) == 3


def test_sorted_with_order_when_keys_are_too_wide_to_pack_whole():
    """Keys whose offset and row number need more than 63 bits: sorted by their high bits,
    then the rows sharing them again (a few), or by numpy (many)."""
    from ownercomm_kit.arrays import sorted_with_order

    rng = np.random.default_rng(2)
    for trial in range(60):
        n = int(rng.choice([2, 3, 1000, 20000]))
        high = rng.integers(0, [1000, 2**20, 2**40][trial % 3], n)
        keys = (high << 22) + rng.integers(0, 40, n)  # ties in high bits, in low bits, and whole
        shared = n // [6, 2][trial // 3 % 2]  # a few rows share high bits (sorted again), or many (numpy)
        keys[:shared] = (keys[0] >> 22 << 22) | rng.integers(0, 2**8, shared)
        if trial % 2:
            keys = keys.astype(np.uint64) + np.uint64(2**63)
        order, sorted_keys = sorted_with_order(keys)
        expected = np.argsort(keys, kind="stable")
        assert order.tolist() == expected.tolist()
        assert sorted_keys.dtype == keys.dtype and sorted_keys.tolist() == keys[expected].tolist()


def _text_series(cells: list, large: bool, chunks: int) -> pd.Series:
    import pyarrow as pa

    typ = pa.large_string() if large else pa.string()
    cuts = np.linspace(0, len(cells), chunks + 1).astype(int)
    chunked = pa.chunked_array([pa.array(cells[a:b], typ) for a, b in zip(cuts[:-1], cuts[1:])], typ)
    return pd.Series(pd.arrays.ArrowStringArray(chunked))


def test_factorize_sorted_is_pandas_factorize_sorted(monkeypatch):
    """Two halves hashed apart, their dictionaries unified and sorted: pandas' codes and values."""
    from ownercomm_kit import arrays

    monkeypatch.setattr(arrays, "SPLIT_FACTORIZE_ROWS", 1)
    rng = np.random.default_rng(4)
    words = ["C1", "C10", "c1", "", " C1", "é", "中文", "=1+1", "a\nb", "Z", "C2"]
    for n in (1, 2, 3, 10, 1000):
        for nulls in (0.0, 0.2, 1.0):
            cells = [None if rng.random() < nulls else words[rng.integers(len(words))] for _ in range(n)]
            for large in (True, False):
                for chunks in (1, 3):
                    series = _text_series(cells, large, min(chunks, n))
                    codes, uniques = arrays.factorize_sorted(series)
                    want_codes, want_uniques = pd.factorize(series, sort=True)
                    assert codes.dtype == np.int64
                    assert np.array_equal(codes, want_codes), (n, nulls, large, chunks)
                    pd.testing.assert_index_equal(uniques, want_uniques)


def test_factorize_sorted_takes_pandas_for_short_and_other_columns():
    from ownercomm_kit.arrays import factorize_sorted

    for series in (pd.Series(["b", None, "a"], dtype=object), _text_series(["b", "a", "b"], True, 1)):
        codes, uniques = factorize_sorted(series)
        assert codes.tolist() == pd.factorize(series, sort=True)[0].tolist()
        assert list(uniques) == ["a", "b"]
