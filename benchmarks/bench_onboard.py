"""Onboarding speed on a big DMS-style export, against reading the same files in the same run.

    .venv/bin/python benchmarks/bench_onboard.py                  # 5,000 customers (~450k messages)
    .venv/bin/python benchmarks/bench_onboard.py --customers 20000

Generates one synthetic dealer, writes it the way a DMS exports it (Windows-1252, semicolons,
US dates with AM/PM, Y/N, vendor headers and words; tests/helpers/onboard.DMS), then times:
  - peer: ``pandas.read_csv(dtype=str)`` of every file (knowing encoding and separator);
  - peer: the kit's loader on the written dealer file (detects, maps, coerces, validates);
  - the kit's ``onboard`` (detects, reads, recognises tables, columns, values; writes the file).
and prints seconds and ratios. Onboarding runs once per dealer, so "about one load" is the aim.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers.onboard import DMS, cp1252_only, tables_from_data, write_shape  # noqa: E402

from ownercomm_kit import onboard, params  # noqa: E402
from ownercomm_kit.data import from_frames  # noqa: E402
from ownercomm_kit.loader import load_dealer  # noqa: E402
from ownercomm_kit.synth import generate_dealer  # noqa: E402

TZ = "America/Chicago"


def timed(label: str, fn):
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    print(f"  {label:<44} {seconds:7.2f} s", flush=True)
    return out, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dms"
        print(f"Preparing a DMS-style export of {args.customers:,} customers ...", flush=True)
        frames, _ = generate_dealer("B1", args.customers, args.seed, timezone=TZ)
        tables = cp1252_only(tables_from_data(from_frames(frames, timezone=TZ)))
        write_shape(folder, tables, DMS)
        rows = {t: len(df) for t, df in tables.items()}
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"  {sum(rows.values()):,} rows ({rows['communications']:,} messages), {size:.0f} MB\n")

        print("Times:")
        _, t_pandas = timed(
            "peer: pandas.read_csv(dtype=str), every file",
            lambda: [pd.read_csv(p, sep=";", encoding="cp1252", dtype=str) for p in folder.iterdir()],
        )
        out = Path(tmp) / "B1.yaml"
        result, t_onboard = timed(
            "kit: ownercomm onboard (read + recognise + write)",
            lambda: onboard.onboard(folder, "B1", timezone=TZ, out=out),
        )
        data, t_load = timed(
            "peer: kit loader on the dealer file it wrote",
            lambda: load_dealer(params.resolve(dealer_file=out), strict=False),
        )
        assert not result.onboarding.decisions, result.onboarding.decisions
        assert not data.errors, data.errors[:3]

        print("\nRatios (lower is better):")
        print(f"  onboard / pandas.read_csv   {t_onboard / t_pandas:6.2f}x")
        print(f"  onboard / kit loader        {t_onboard / t_load:6.2f}x")


if __name__ == "__main__":
    main()
