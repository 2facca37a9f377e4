"""The CSV writer's byte-level paths (issue 12) against pandas' own text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ownercomm_kit import csv_arrow


@pytest.mark.parametrize("tz", ["America/Chicago", "Asia/Kolkata", "Pacific/Chatham", "UTC", "America/St_Johns"])
def test_time_stamps_equal_pandas_text_over_the_whole_range(tz):
    rng = np.random.default_rng(3)
    secs = rng.integers(-9_000_000_000, 9_000_000_000, 3000)  # 1684 to 2255, leap days and DST edges included
    secs = np.concatenate([secs, [0, -1, 951_782_400, 951_868_800, 4_107_542_399, 1_710_054_000, 1_730_613_600]])
    s = pd.Series(pd.to_datetime(secs, unit="s", utc=True)).dt.tz_convert(tz).astype(pd.DatetimeTZDtype("ns", tz))
    s[5] = pd.NaT
    got = csv_arrow.render(s).to_pylist()
    assert got == ["" if pd.isna(v) else str(v) for v in s]


def test_calendar_arithmetic_equals_numpy():
    days = np.arange(-110_000, 110_000, 7)
    year, month, day = csv_arrow._civil(days)
    d = days.astype("datetime64[D]")
    assert np.array_equal(year, d.astype("datetime64[Y]").astype(np.int64) + 1970)
    assert np.array_equal(month, d.astype("datetime64[M]").astype(np.int64) % 12 + 1)
    assert np.array_equal(day, (d - d.astype("datetime64[M]")).astype(np.int64) + 1)


@pytest.mark.parametrize(
    "cells",
    [
        ["a,b", 'say "hi"', "line\nbreak", "cr\rhere", "plain", "", None, "=1+1", "'x"],
        ["é,ü", "naïve\r\n", "中文", "ok"],
    ],
)
def test_quoting_and_formulas_equal_to_csv(cells):
    df = pd.DataFrame({"a": pd.array(cells, dtype="string"), "b": pd.array(cells[::-1], dtype="string")})
    from ownercomm_kit.outputs import neutralize_formulas

    expected = neutralize_formulas(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")
    assert csv_arrow.frame_bytes(df) == expected
    assert csv_arrow.frame_bytes(df, chunk_rows=2) == expected  # quoting per chunk, slices with offsets
