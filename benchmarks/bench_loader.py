"""Loader speed on one big communications export, against peers measured in the same run.

    .venv/bin/python benchmarks/bench_loader.py [--rows 10000000] [--workdir /tmp/ownercomm-bench-loader]
    .venv/bin/python benchmarks/bench_loader.py --store DATA_DIR [--timezone America/Chicago]

Writes (once, cached) a plain UTF-8 comma CSV of ROWS messages plus their customers, then
times, in this one run:
- the kit: formats.read_raw (text cells as the user sees them) and the whole load_data_dir
  (read + every coercion + every check), and parse_timestamps alone on the sent_at column;
- peers: pandas.read_csv with the C engine and with engine="pyarrow" (typed, no checks),
  DuckDB read_csv_auto (typed, no checks).
Each case runs in a fresh process (its own peak memory); prints seconds, peak RSS and each
figure's ratio to pandas' pyarrow reader, plus the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ownercomm_kit import formats, loader, schema


def make_data(folder: Path, rows: int, seed: int = 7) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / f".done-{rows}"
    if done.exists():
        return
    rng = np.random.default_rng(seed)
    n_customers = max(rows // 100, 1)
    ids = np.char.add("C", np.arange(n_customers).astype(str))
    pacsv.write_csv(
        pa.table({"customer_id": ids, "sms_consent": rng.choice(["Y", "N"], n_customers)}), folder / "customers.csv"
    )
    start = np.datetime64("2024-01-01T00:00:00")
    sent = start + rng.integers(0, 2 * 365 * 86400, rows).astype("timedelta64[s]")
    opened = np.where(rng.random(rows) < 0.2, np.datetime_as_string(sent + 3600, unit="s"), "")
    table = pa.table(
        {
            "message_id": np.char.add("M", np.arange(rows).astype(str)),
            "customer_id": ids[rng.integers(0, n_customers, rows)],
            "sent_at": np.datetime_as_string(sent, unit="s"),
            "channel": rng.choice(np.array(schema.CHANNELS), rows),
            "sender": rng.choice(np.array(schema.SENDERS), rows),
            "category": rng.choice(np.array(schema.CATEGORIES), rows),
            "campaign_id": np.char.add("K", rng.integers(0, 500, rows).astype(str)),
            "offer_price": np.round(rng.uniform(15000, 60000, rows), 2).astype(str),
            "status": rng.choice(np.array(schema.MESSAGE_STATUSES), rows),
            "opened_at": opened,
            "unsubscribed": rng.choice(np.array(["", "N", "Y"]), rows, p=[0.5, 0.49, 0.01]),
        }
    )
    pacsv.write_csv(table, folder / "communications.csv")
    done.touch()


def _case(label: str, path: str, folder: str) -> tuple[float, float]:
    """One measurement in a fresh process: (seconds, that process's peak RSS in GB)."""
    import resource

    t = time.perf_counter()
    if label == "pandas read_csv engine=pyarrow":
        pd.read_csv(path, engine="pyarrow")
    elif label == "pandas read_csv engine=c":
        pd.read_csv(path)
    elif label == "duckdb read_csv_auto -> pandas":
        import duckdb

        duckdb.sql(f"select * from read_csv_auto('{path}')").df()
    elif label == "formats.read_raw (text cells)":
        formats.read_raw(path)
    elif label == "formats.parse_timestamps(sent_at)":
        s = pd.read_csv(path, engine="pyarrow", usecols=["sent_at"], dtype="string")["sent_at"]
        t = time.perf_counter()  # the parse alone
        formats.parse_timestamps(s, "America/Chicago")
    elif label == "loader.load_data_dir (read+coerce+checks)":
        data = loader.load_data_dir(folder, timezone="America/Chicago", strict=False)
        assert not data.errors, data.errors[:3]
    seconds = time.perf_counter() - t
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


CASES = (
    "pandas read_csv engine=pyarrow",
    "pandas read_csv engine=c",
    "duckdb read_csv_auto -> pandas",
    "formats.read_raw (text cells)",
    "formats.parse_timestamps(sent_at)",
    "loader.load_data_dir (read+coerce+checks)",
)


def _store_case(label: str, store: str, tz: str) -> tuple[float, float, float]:
    """One load of a parquet store in a fresh process: (wall s, CPU s, peak RSS GB)."""
    import resource

    t, c = time.perf_counter(), time.process_time()
    if label == "duckdb cap_total (peer)":
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_end_to_end import duckdb_cap_total

        duckdb_cap_total(Path(store) / "communications.parquet")
    else:
        columns = loader.AUDIT_COLUMNS if label.startswith("load_dealer(columns=AUDIT") else None
        params = {"dealer_id": "BENCH", "data_dir": store, "timezone": tz}
        data = loader.load_dealer(params, strict=False, columns=columns)
        assert not data.errors, data.errors[:3]
    return time.perf_counter() - t, time.process_time() - c, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


STORE_CASES = (
    "duckdb cap_total (peer)",
    "load_dealer (every column: run, batch)",
    "load_dealer(columns=AUDIT_COLUMNS) (audit)",
)


def bench_store(store: Path, tz: str) -> None:
    """The load phase of a parquet store (e.g. ``ownercomm synth --format parquet``) against
    DuckDB's cap_total query on its communications file, each in a fresh process."""
    import multiprocessing as mp
    import os

    ctx = mp.get_context("spawn")
    results = {}
    for label in STORE_CASES:
        with ctx.Pool(1) as pool:
            results[label] = pool.apply(_store_case, (label, str(store), tz))
        wall, cpu, peak = results[label]
        print(f"  {label:<44} {wall:7.2f} s   CPU {cpu:6.2f} s   peak {peak:5.2f} GB", flush=True)
    base = results[STORE_CASES[0]][0]
    print(f"ratios to {STORE_CASES[0]} (wall, same run):")
    for label, (wall, _, _) in results.items():
        print(f"  {label:<44} {wall / base:6.2f}x")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    import multiprocessing as mp

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/ownercomm-bench-loader"))
    ap.add_argument("--store", type=Path, help="Instead: time the load of this parquet data folder.")
    ap.add_argument("--timezone", default="America/Chicago", help="The store's zone (with --store).")
    args = ap.parse_args()
    if args.store:
        bench_store(args.store, args.timezone)
        return
    folder = args.workdir / f"rows{args.rows}"
    t = time.perf_counter()
    make_data(folder, args.rows)
    path = folder / "communications.csv"
    print(
        f"data: {path} ({path.stat().st_size / 1e9:.2f} GB, {args.rows:,} rows; made in {time.perf_counter() - t:.1f} s)"
    )
    print("peers read typed columns with no checks; the kit reads text, coerces, and checks everything.")
    results: dict[str, tuple[float, float]] = {}
    ctx = mp.get_context("spawn")
    for label in CASES:
        with ctx.Pool(1) as pool:  # a fresh process each: no warm caches, honest peak memory
            results[label] = pool.apply(_case, (label, str(path), str(folder)))
        print(f"  {label:<42} {results[label][0]:8.2f} s   peak {results[label][1]:5.2f} GB", flush=True)
    base = results[CASES[0]][0]
    print(f"ratios to {CASES[0]} (same run):")
    for label, (sec, _) in results.items():
        print(f"  {label:<42} {sec / base:6.2f}x")
    import os

    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
