"""How fast `ownercomm synth` makes a big dealer, against peers measured in the same run.

    .venv/bin/python benchmarks/bench_synth.py [--customers 100000] [--skip-csv]

Target (issue 2): 100,000 customers (about 10 million messages) in under a minute on a
2-core machine, written as parquet. Measured here, in this run:

- ``generate``: ``generate_dealer`` (lives, clean messages, injection, canonical frames);
- ``write parquet`` / ``write csv``: the eight tables through Arrow's writers;
- peers: pandas ``DataFrame.to_csv`` of the same communications table, and faker called
  once per customer (what a row-by-row generator would pay for the people alone),
  extrapolated from a sample, against the pooled faker + numpy draw that synth uses.

CPU seconds are printed beside wall seconds: on a shared machine the wall clock also
measures the neighbours.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ownercomm_kit.synth import generate_dealer  # noqa: E402
from ownercomm_kit.synth.output import write_table  # noqa: E402
from ownercomm_kit.synth.pool import people, pool  # noqa: E402


class Clock:
    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w
        self.cpu = time.process_time() - self.c


def faker_row_by_row(n: int, seed: int) -> float:
    """Seconds per customer when faker makes each one (name, email, phone, postal code)."""
    from faker import Faker

    fk = Faker("en_US")
    fk.seed_instance(seed)
    t = time.perf_counter()
    for _ in range(n):
        fk.first_name(), fk.last_name(), fk.email(), fk.phone_number(), fk.postcode()
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-csv", action="store_true", help="skip the (slower) CSV writers")
    args = ap.parse_args()
    rows = []

    with Clock("generate") as g:
        frames, truth = generate_dealer("D001", args.customers, args.seed, timezone="America/Los_Angeles")
    n_msg = len(frames["communications"])
    rows.append(g)
    out = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        with Clock("write parquet (8 tables)") as wp:
            for name, df in frames.items():
                write_table(df, name, out / "pq", "parquet")
        rows.append(wp)
        if not args.skip_csv:
            with Clock("write csv (8 tables, Arrow)") as wc:
                for name, df in frames.items():
                    write_table(df, name, out / "csv", "csv")
            rows.append(wc)
            comm = frames["communications"]
            naive = comm.assign(
                **{c: comm[c].dt.tz_localize(None) for c in comm.columns if str(comm[c].dtype).startswith("datetime64")}
            )
            with Clock("peer: pandas to_csv (communications only)") as pc:
                naive.to_csv(out / "naive.csv", index=False)
            rows.append(pc)
        size = {
            fmt: sum(p.stat().st_size for p in (out / fmt).glob("*")) for fmt in ("pq", "csv") if (out / fmt).exists()
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)

    pool(args.seed)  # built once per run, as in synth
    with Clock("people: pooled faker + numpy") as pp:
        people(np.random.default_rng(0), args.customers, args.seed, "America/Los_Angeles")
    rows.append(pp)
    per_row = faker_row_by_row(2000, args.seed)

    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"\n{args.customers:,} customers, {n_msg:,} messages, {len(truth):,} injected (ground truth rows)")
    print(f"{'step':45s} {'wall s':>8s} {'cpu s':>8s}")
    for r in rows:
        print(f"{r.name:45s} {r.wall:8.1f} {r.cpu:8.1f}")
    total = g.wall + wp.wall
    print(
        f"\nsynth to parquet, wall: {total:.1f} s (target < 60 s); "
        f"{n_msg / max(g.wall, 1e-9) / 1e6:.2f} M messages/s generated"
    )
    if not args.skip_csv:
        print(
            f"csv vs parquet writing: {wc.wall / wp.wall:.1f}x slower; "
            f"pandas to_csv of communications alone vs Arrow csv of all tables: {pc.wall / wc.wall:.1f}x"
        )
    print(
        f"faker row by row would take {per_row * args.customers:.1f} s for the people alone: "
        f"{per_row * args.customers / pp.wall:.0f}x the pooled draw ({pp.wall:.2f} s)"
    )
    for fmt, b in size.items():
        print(f"size on disk ({fmt}): {b / 1e6:.0f} MB")
    print(f"peak memory (max RSS): {peak_gb:.1f} GB")


if __name__ == "__main__":
    main()
