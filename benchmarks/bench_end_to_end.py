"""Whole commands as a user runs them, against DuckDB's cap_total query on the same parquet (issue 12).

    .venv/bin/python benchmarks/bench_end_to_end.py audit --messages 10000000   # flag-heavy store
    .venv/bin/python benchmarks/bench_end_to_end.py audit --data-dir /tmp/fh10m --repeat 3  # build once, reuse
    .venv/bin/python benchmarks/bench_end_to_end.py audit --synth-customers 20000  # realistic synth store
    .venv/bin/python benchmarks/bench_end_to_end.py run --synth-customers 100000   # ownercomm run + page sizes

``audit``: ``ownercomm audit DATA_DIR --out flags.csv`` in a subprocess (the CLI: start-up,
imports, reading the parquet files, every rule, writing every flag), its wall time and peak
memory (RSS of the process tree, sampled every 50 ms). The flag-heavy store is random (send
times spread over the whole day: quiet-hours flags; texts without consent): most messages
are flagged. ``run``: ``ownercomm run DEALER_FILE --force`` of a synthetic store (every
notebook, every page), then the size of each page.

The peer, in the same run: DuckDB (2 threads) computing cap_total alone from the same
``communications.parquet`` (reading the file included), as in ``bench_audit.py``.
Targets: audit <= 3x DuckDB, peak <= 6 GB; run <= 8x, peak <= 4 GB; every page <= 2 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GB = 1024**3
TZ = "America/Chicago"
LAST_CPU = [0.0]


def measured(cmd: list, cwd: Path, env: dict | None = None) -> tuple[float, int, str]:
    """(seconds, peak RSS of the process and its children, stdout) of one command; the CPU
    seconds it used (it and its children) are kept in ``LAST_CPU`` (on a shared machine wall
    seconds depend on the others' load, CPU seconds much less)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak, stop = [0], threading.Event()

    def sample():
        try:
            p = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            try:
                rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    before = os.times()
    out, err = proc.communicate()
    secs = time.perf_counter() - t0
    after = os.times()
    LAST_CPU[0] = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    stop.set()
    th.join()
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{err[-3000:]}")
    return secs, peak[0], out


def duckdb_cap_total(parquet: Path) -> tuple[float, int]:
    """Seconds (reading the parquet included) and flagged messages of DuckDB's cap_total."""
    import duckdb

    sys.path.insert(0, str(ROOT))
    from ownercomm_kit.params import load_defaults

    p = load_defaults(ROOT)
    exempt = ", ".join(repr(c) for c in p["audit"]["exempt_categories"])
    from bench_audit import cap_total_window_sql  # the same DuckDB reading as the engine benchmark

    counts, over = cap_total_window_sql(p["rules"]["cap_total"]["windows"])
    sql = f"""
        SELECT count(*) FROM (
            SELECT message_id, {counts}
            FROM read_parquet('{parquet}') WHERE category NOT IN ({exempt})
        ) WHERE {over}"""
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    t0, c0 = time.perf_counter(), time.process_time()
    n = con.execute(sql).fetchone()[0]
    secs = time.perf_counter() - t0
    LAST_CPU[0] = time.process_time() - c0
    con.close()
    return secs, int(n)


def flag_heavy_store(folder: Path, messages: int, seed: int) -> Path:
    """bench_audit's random dealer written as canonical parquet files (one per table)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.path.insert(0, str(ROOT))
    import bench_audit

    data = bench_audit._random_dealer(messages, seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in data.tables.items():
        if name in data.missing_tables or not len(df):
            continue
        df.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def synth_store(kit: Path, customers: int, seed: int) -> Path:
    """One synthetic store (parquet) in a scratch kit; returns its dealer file."""
    (kit / "params").mkdir(parents=True)
    shutil.copy(ROOT / "params" / "defaults.yaml", kit / "params" / "defaults.yaml")
    measured(
        [
            BIN / "ownercomm",
            "synth",
            kit,
            "--dealers",
            1,
            "--customers",
            customers,
            "--seed",
            seed,
            "--format",
            "parquet",
            "--group-id",
            "bench",
            "--quiet",
        ],
        cwd=kit,
    )
    return next((kit / "params" / "dealers").glob("*.yaml"))


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def bench_audit_cmd(args, tmp: Path) -> None:
    env = dict(os.environ, OWNERCOMM_ROOT=str(ROOT))
    if args.synth_customers:
        kit = tmp / "kit"
        dealer = synth_store(kit, args.synth_customers, args.seed)
        data_dir = next((kit / "data").iterdir())
        cmd = [BIN / "ownercomm", "audit", data_dir, "--params", dealer, "--out", tmp / "flags.csv"]
        env["OWNERCOMM_ROOT"] = str(kit)
        what = f"synthetic store of {args.synth_customers:,} customers"
    else:
        data_dir = args.data_dir or flag_heavy_store(tmp / "data", args.messages, args.seed)
        if args.data_dir and not (data_dir / "communications.parquet").is_file():
            flag_heavy_store(data_dir, args.messages, args.seed)  # built once, reused by later runs
        cmd = [BIN / "ownercomm", "audit", data_dir, "--timezone", TZ, "--out", tmp / "flags.csv"]
        what = f"flag-heavy random store of {args.messages:,} messages (send times over the whole day)"
    print(what)
    print(load_line())
    best = {"kit": float("inf"), "duck": float("inf"), "kit_cpu": float("inf"), "duck_cpu": float("inf"), "peak": 0}
    for i in range(args.repeat):
        kit_s, peak, out = measured(cmd, cwd=tmp, env=env)
        kit_cpu = LAST_CPU[0]
        duck_s, duck_n = duckdb_cap_total(data_dir / "communications.parquet")
        duck_cpu = LAST_CPU[0]
        first = out.splitlines()[0] if out else ""
        print(f"  run {i + 1}: {first}")
        print(f"    ownercomm audit (end to end) {kit_s:7.1f} s   (CPU {kit_cpu:.1f} s)   peak {peak / GB:4.2f} GB")
        print(f"    DuckDB cap_total from parquet {duck_s:6.1f} s   (CPU {duck_cpu:.1f} s)   ({duck_n:,} flagged)")
        print(
            f"    ratio {kit_s / duck_s:.1f}x wall, {kit_cpu / max(duck_cpu, 1e-9):.1f}x CPU   "
            f"(target <= 3x, peak <= 6 GB)   {load_line()}"
        )
        size = (tmp / "flags.csv").stat().st_size
        print(f"    flags.csv {size / 1e6:,.0f} MB")
        best.update(
            kit=min(best["kit"], kit_s),
            duck=min(best["duck"], duck_s),
            kit_cpu=min(best["kit_cpu"], kit_cpu),
            duck_cpu=min(best["duck_cpu"], duck_cpu),
            peak=max(best["peak"], peak),
        )
    print(
        f"  best of {args.repeat}: ownercomm audit {best['kit']:.1f} s, DuckDB {best['duck']:.1f} s: "
        f"ratio {best['kit'] / best['duck']:.1f}x wall, {best['kit_cpu'] / max(best['duck_cpu'], 1e-9):.1f}x CPU; "
        f"peak {best['peak'] / GB:.2f} GB   {load_line()}"
    )
    if args.phases:
        # a fresh process, as the command: its imports and first touches of memory count
        extra = ["--timezone", TZ] if not args.synth_customers else ["--params", dealer]
        _, _, out = measured(
            [sys.executable, __file__, "_phases", data_dir, tmp / "phases.csv", *extra], cwd=tmp, env=env
        )
        floors = [line for line in out.splitlines() if line.startswith("FLOORS ")]
        print("\n".join(line for line in out.splitlines() if not line.startswith("FLOORS ")))
        if floors:
            start, read_s, write_s = (float(x) for x in floors[0].split()[1:])
            budget = 3 * best["duck"] - start - read_s - write_s
            print(
                f"    the 3x target leaves {budget:.1f} s (3 x DuckDB's {best['duck']:.1f} s, less start-up, "
                "Arrow's read and its CSV formatting) for the load's checks, the sort, every rule and every sentence"
            )


def phases(data_dir: Path, out: Path, timezone: str | None, dealer: Path | None) -> None:
    """Where one ``ownercomm audit`` spends its time, phase by phase, in this fresh process
    (what the command does, in its order and with its allocator settings), then the floors any
    engine reading this parquet with Arrow and formatting this CSV would pay. Prints one line each."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from ownercomm_kit.procs import keep_freed_memory, one_arena

    one_arena()
    keep_freed_memory()
    from ownercomm_kit import loader, outputs
    from ownercomm_kit.audit.rules import run_rules_table, up_to_as_of
    from ownercomm_kit.audit.windows import messages_of
    from ownercomm_kit.commands._common import resolve_params

    marks = [("start-up and imports", time.perf_counter() - t0)]

    def mark(what: str, since: float) -> float:
        now = time.perf_counter()
        marks.append((what, now - since))
        return now

    t = time.perf_counter()
    resolved = resolve_params(data_dir, dealer, timezone, None)
    data = loader.load_dealer(resolved, strict=True, columns=loader.AUDIT_COLUMNS)
    t = mark("load: read, types, checks", t)
    data = up_to_as_of(data)
    messages_of(data)
    t = mark("sort the messages once", t)
    flags, _, seconds = run_rules_table(data, resolved)
    t = mark(f"{len(seconds)} rules on 2 threads, flag table", t)
    with outputs.atomic_open(out, "wb") as f:
        flags.write_csv(f)
    mark(f"write flags.csv ({len(flags):,} rows)", t)
    total = sum(s for _, s in marks)
    print(f"    phases of one audit, in one process ({total:.1f} s):")
    for what, s in marks:
        print(f"      {what:<38} {s:5.1f} s")
    slow = sorted(seconds.items(), key=lambda kv: -kv[1])[:4]
    print("      slowest rules (each on its thread): " + ", ".join(f"{n} {s:.1f} s" for n, s in slow))
    del flags, data

    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    parquet = data_dir / "communications.parquet"
    wanted = [c for c in loader.AUDIT_COLUMNS["communications"] if c in pq.read_schema(parquet).names]
    pa.set_cpu_count(2)
    t = time.perf_counter()
    pq.read_table(parquet, columns=wanted)
    read_s = time.perf_counter() - t
    with open(out, encoding="utf-8") as f:
        names = f.readline().strip().split(",")  # the kit's header: plain names
    as_text = pcsv.ConvertOptions(column_types={n: pa.large_string() for n in names})
    text = pcsv.read_csv(out, convert_options=as_text)  # the flags' cells, as the CSV has them
    # into memory: the formatting alone (the disk's write-back would make it vary from run to run)
    sink = pa.BufferOutputStream()
    t = time.perf_counter()
    pcsv.write_csv(text, sink)
    write_s = time.perf_counter() - t
    del sink, text
    print("    floors, same machine, same minute:")
    print(f"      Arrow reads the {len(wanted)} audited columns     {read_s:5.1f} s")
    print(f"      Arrow formats the same CSV, text ready  {write_s:5.1f} s")
    print(f"FLOORS {marks[0][1]:.3f} {read_s:.3f} {write_s:.3f}")


def bench_run_cmd(args, tmp: Path) -> None:
    kit = tmp / "kit"
    t = time.perf_counter()
    dealer = synth_store(kit, args.synth_customers, args.seed)
    data_dir = next((kit / "data").iterdir())
    print(f"synthetic store of {args.synth_customers:,} customers made in {time.perf_counter() - t:.0f} s")
    print(load_line())
    env = dict(os.environ, OWNERCOMM_ROOT=str(kit))
    for i in range(args.repeat):
        out_dir = tmp / f"out{i}"
        run_s, peak, _ = measured([BIN / "ownercomm", "run", dealer, "--out", out_dir, "--force"], cwd=kit, env=env)
        run_cpu = LAST_CPU[0]
        duck_s, duck_n = duckdb_cap_total(data_dir / "communications.parquet")
        duck_cpu = LAST_CPU[0]
        print(
            f"  run {i + 1}: ownercomm run {run_s:7.1f} s   (CPU {run_cpu:.1f} s, kernel included)   peak {peak / GB:4.2f} GB"
        )
        print(f"    DuckDB cap_total from parquet {duck_s:6.1f} s   (CPU {duck_cpu:.1f} s)   ({duck_n:,} flagged)")
        print(
            f"    ratio {run_s / duck_s:.1f}x wall, {run_cpu / max(duck_cpu, 1e-9):.1f}x CPU   "
            f"(target <= 8x, peak <= 4 GB)   {load_line()}"
        )
        pages = sorted(out_dir.rglob("*.html"))
        for p in pages:
            size = p.stat().st_size
            print(f"    {p.name:22} {size / 1e6:5.2f} MB {'ok' if size <= 2_000_000 else 'OVER 2 MB'}")
        flags = next(out_dir.rglob("flags.csv"), None)
        if flags:
            print(
                f"    flags.csv {flags.stat().st_size / 1e6:,.0f} MB, flags.parquet "
                f"{flags.with_suffix('.parquet').stat().st_size / 1e6:,.0f} MB"
            )
        timings = next(out_dir.rglob("*.ipynb"), None)
        if timings:
            import nbformat

            for nb in sorted(out_dir.rglob("*.ipynb")):
                cells = nbformat.read(nb, as_version=4).cells
                secs = [
                    (c.metadata.get("papermill", {}).get("duration") or 0, (c.source.splitlines() or [""])[0][:50])
                    for c in cells
                    if c.cell_type == "code"
                ]
                total = sum(s for s, _ in secs)
                top = ", ".join(f"{s:.1f}s {line!r}" for s, line in sorted(secs, reverse=True)[:3])
                print(f"    {nb.stem:12} cells {total:6.1f} s; biggest: {top}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["audit", "run"])
    ap.add_argument("--messages", type=int, default=10_000_000, help="audit: messages of the flag-heavy store")
    ap.add_argument(
        "--synth-customers",
        type=int,
        default=0,
        help="a synthetic store of this many customers instead (run: default 100000)",
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="audit: the flag-heavy store's folder, built there on the first run and reused after",
    )
    ap.add_argument(
        "--phases",
        action="store_true",
        help="audit: then one more audit in a fresh process, timed phase by phase, and the floors of "
        "Arrow reading the same columns and formatting the same CSV in memory",
    )
    if sys.argv[1:2] == ["_phases"]:  # the fresh process of --phases
        rest = sys.argv[2:]
        opts = dict(zip(rest[2::2], rest[3::2]))
        dealer = opts.get("--params")
        phases(Path(rest[0]), Path(rest[1]), opts.get("--timezone"), Path(dealer) if dealer else None)
        return
    args = ap.parse_args()
    if args.what == "run" and not args.synth_customers:
        args.synth_customers = 100_000
    tmp = Path(tempfile.mkdtemp(prefix="bench_e2e_"))
    try:
        (bench_audit_cmd if args.what == "audit" else bench_run_cmd)(args, tmp)
    finally:
        if args.keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
