"""`ownercomm history` against one `ownercomm audit` per month-end (SPEC §10).

    .venv/bin/python benchmarks/bench_history.py                      # 1M messages, 24 month-ends
    .venv/bin/python benchmarks/bench_history.py --messages 200000 --months 12

Writes one synthetic store (``ownercomm synth``'s generator, parquet) into a temporary folder,
then times, each as its own process, as a user would run them:
  - ``ownercomm history DEALER --months N``: every §4-6 figure (audit counts, retention and
    referral KPIs, flags per rule and month) at N month-ends, from one load and one run of
    the rules;
  - N x ``ownercomm audit --params DEALER --as-of <month-end>``: the rules alone, one process,
    one load and one run per month-end (less work per month-end than the history does).
It checks that each month-end's ``flags_total`` in history.csv equals the rows of that
month-end's flags.csv, and prints seconds and the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

MESSAGES_PER_CUSTOMER = 99  # what the generator gives over its three years (measured on the sample)


def _ownercomm() -> list[str]:
    exe = Path(sys.executable).with_name("ownercomm")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ownercomm_kit.cli"]


def _run(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([*_ownercomm(), *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000, help="about this many messages")
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument(
        "--audits",
        type=int,
        default=None,
        help="run only this many of the per-month audits and scale their time up (default: all)",
    )
    ap.add_argument("--keep", type=Path, default=None, help="generate into (and keep) this folder")
    a = ap.parse_args(argv)

    from ownercomm_kit.kpis.history import month_ends
    from ownercomm_kit.synth.output import write_group

    folder = a.keep or Path(tempfile.mkdtemp(prefix="oc-bench-history-"))
    try:
        t = time.perf_counter()
        customers = max(a.messages // MESSAGES_PER_CUSTOMER, 10)
        write_group(
            folder,
            dealers=1,
            customers=customers,
            seed=7,
            inject_rate=0.01,
            inject=True,
            fmt="parquet",
            as_of=dt.date(2026, 10, 31),
            group_id="bench",
            data_subdir="data",
            ground_truth_dir="gt",
            progress=None,
        )
        dealer = next((folder / "params" / "dealers").glob("*.yaml"))
        n = len(pd.read_parquet(next((folder / "data").glob("*/communications.parquet")), columns=["message_id"]))
        print(f"store: {n:,} messages, {customers:,} customers (generated in {time.perf_counter() - t:.1f} s)")

        out = folder / "out"
        t_hist = _run(["history", str(dealer), "--months", str(a.months), "--out", str(out)])
        hist = pd.read_csv(next(out.glob("*/history.csv")), dtype={"as_of": str})
        print(f"ownercomm history --months {a.months}: {t_hist:8.1f} s  ({t_hist / a.months:.2f} s per month-end)")

        ends = month_ends(dt.date(2026, 10, 31), a.months)
        chosen = ends if not a.audits or a.audits >= len(ends) else ends[:: max(len(ends) // a.audits, 1)][: a.audits]
        t_audits = 0.0
        for end in chosen:
            flags = folder / f"flags-{end}.csv"
            t_audits += _run(["audit", "--params", str(dealer), "--as-of", end.isoformat(), "--out", str(flags)])
            rows = sum(1 for _ in flags.open(encoding="utf-8")) - 1
            expected = int(hist.loc[hist["as_of"] == end.isoformat(), "flags_total"].iloc[0])
            assert rows == expected, f"{end}: audit wrote {rows} flags, history says {expected}"
            flags.unlink()
        scale = len(ends) / len(chosen)
        t_all = t_audits * scale
        note = f" (measured {len(chosen)}, scaled x{scale:.1f})" if scale != 1 else ""
        print(
            f"{len(ends)} x ownercomm audit --as-of:      {t_all:8.1f} s  ({t_audits / len(chosen):.2f} s per "
            f"month-end){note}"
        )
        print(
            f"ratio: {len(ends)} audits / history = {t_all / t_hist:.1f}x "
            "(the history also computes every retention and referral KPI; flags_total agreed at each month-end)"
        )
    finally:
        if a.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
