"""Enum columns read from parquet dictionaries keep their codes (``formats.known_codes``), and the
audit's messages take them instead of factorizing the column again: the same codes, the same
flags, the same CSV bytes; a column changed after the load is factorized as before."""

from __future__ import annotations

import gc
import io

import numpy as np
import pandas as pd
import pytest

from ownercomm_kit import formats, loader
from ownercomm_kit.audit.rules import run_rules_table
from ownercomm_kit.audit.windows import _build
from ownercomm_kit.formats import readers
from ownercomm_kit.params import load_defaults

from test_flagtable import TZ, hostile, synth  # the same dealers as the flag table tests

ENUMS = ("channel", "sender", "category")


def _parquet_dealer(tmp_path, frames) -> loader.DealerData:
    folder = tmp_path / "store"
    folder.mkdir()
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False, row_group_size=97)
    return loader.load_dealer({"dealer_id": "SYN", "data_dir": str(folder), "timezone": TZ}, strict=False)


def _flags(data) -> tuple[pd.DataFrame, bytes]:
    table, _, _ = run_rules_table(data, load_defaults())
    buf = io.BytesIO()
    table.write_csv(buf)
    return table.frame(), buf.getvalue()


@pytest.mark.parametrize("messy", [False, True])
def test_known_codes_give_the_same_messages_and_flags(tmp_path, monkeypatch, messy):
    frames = synth(seed=5)
    if messy:  # unknown values and nulls: the column is not canonical, the loader rewrites it
        frames = hostile(frames)
    data = _parquet_dealer(tmp_path, frames)
    comm = data["communications"]
    known = {c: formats.known_codes(comm[c]) for c in ENUMS}
    if not messy:
        assert all(v is not None for v in known.values())  # read as dictionaries, kept as read
    for c, found in known.items():
        if found is not None:
            codes, values = found
            text = np.asarray([*values, None], dtype=object)[codes]  # -1 picks the null
            assert list(pd.array(text, dtype="string")) == list(comm[c].array), c
    fast = _build(comm, TZ)
    fast_flags, fast_bytes = _flags(data)
    monkeypatch.setattr(formats, "known_codes", lambda series: None)
    slow = _build(comm, TZ)
    for c in ENUMS:
        assert np.array_equal(getattr(fast, c), getattr(slow, c)), c
        a_codes, a_values = fast.raw[c]
        b_codes, b_values = slow.raw[c]
        a = np.asarray(list(a_values) + [None], dtype=object)[a_codes]
        b = np.asarray(list(b_values) + [None], dtype=object)[b_codes]
        assert list(pd.array(a, dtype="string")) == list(pd.array(b, dtype="string")), c
    data.__dict__.pop("_audit_messages", None)  # the messages are cached on the data: build anew
    slow_flags, slow_bytes = _flags(data)
    pd.testing.assert_frame_equal(fast_flags, slow_flags)
    assert fast_bytes == slow_bytes and len(fast_flags) > 0


def test_a_column_changed_after_the_load_is_factorized_again(tmp_path):
    data = _parquet_dealer(tmp_path, synth(seed=6))
    comm = data["communications"]
    assert formats.known_codes(comm["channel"]) is not None
    changed = comm["channel"].copy()
    changed.iloc[0] = "email" if changed.iloc[0] != "email" else "sms"
    assert formats.known_codes(changed) is None
    assert formats.known_codes(comm["channel"].iloc[1:]) is None  # a slice is another array
    assert formats.known_codes(pd.Series(["sms"], dtype="string")) is None
    assert formats.known_codes(pd.Series(["sms"], dtype=object)) is None


def test_the_codes_go_with_their_column(tmp_path):
    gc.collect()
    before = len(readers._CODES)
    data = _parquet_dealer(tmp_path, synth(seed=7))
    assert len(readers._CODES) > before
    del data
    gc.collect()
    assert len(readers._CODES) == before
