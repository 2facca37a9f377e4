"""`ownercomm run` of one big synthetic store against DuckDB's cap_total query, in one run (issue 12).

    .venv/bin/python benchmarks/bench_run.py --customers 100000            # builds the store (~4 min)
    .venv/bin/python benchmarks/bench_run.py --kit /tmp/big --customers 100000  # builds it once there, reuses it

The kit's side is the whole command a user types (``ownercomm run DEALER_FILE --force``: CLI
start-up, kernel, every notebook, every page, publishing), its wall and CPU seconds and the
peak RSS of its whole process tree (the CLI and the kernel together, sampled every 50 ms).
The peer, measured alternately in the same run: DuckDB (2 threads) computing cap_total alone
from the store's ``communications.parquet`` (reading the file included). Then where the
store's seconds go (the run's phases, each notebook's biggest cells) and every page's size.

Target: <= 8x DuckDB, peak <= 4 GB, every page <= 2 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_end_to_end import BIN, GB, LAST_CPU, duckdb_cap_total, load_line, measured  # noqa: E402


def store(kit: Path, customers: int, seed: int) -> Path:
    """The dealer file of a synthetic store in ``kit`` (made there unless it is already there)."""
    dealers = sorted((kit / "params" / "dealers").glob("*.yaml"))
    if dealers:
        return dealers[0]
    from bench_end_to_end import synth_store

    t = time.perf_counter()
    dealer = synth_store(kit, customers, seed)
    print(f"synthetic store of {customers:,} customers made in {time.perf_counter() - t:.0f} s")
    return dealer


def cell_seconds(folder: Path) -> list[tuple[str, float, list[tuple[float, str]]]]:
    """(notebook, its cells' seconds, its biggest cells) of a run's executed notebooks."""
    import nbformat

    out = []
    for nb in sorted(folder.glob("*.ipynb"), key=lambda p: p.stat().st_mtime):
        cells = nbformat.read(nb, as_version=4).cells
        secs = [
            (c.metadata.get("papermill", {}).get("duration") or 0.0, (c.source.splitlines() or [""])[0][2:48])
            for c in cells
            if c.cell_type == "code"
        ]
        out.append((nb.stem, sum(s for s, _ in secs), sorted(secs, reverse=True)[:3]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--kit", type=Path, default=None, help="folder of the store (made once, then reused)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_run_"))
    try:
        kit = args.kit.resolve() if args.kit else tmp / "kit"
        dealer = store(kit, args.customers, args.seed)
        comm = next((kit / "data").iterdir()) / "communications.parquet"
        env = dict(os.environ, OWNERCOMM_ROOT=str(kit))
        print(f"{dealer.stem}: {comm.stat().st_size / 1e6:,.0f} MB of communications.parquet   {load_line()}")
        for i in range(args.repeat):
            out_dir = tmp / f"out{i}"
            duck_s, duck_n = duckdb_cap_total(comm)
            duck_cpu = LAST_CPU[0]
            run_s, peak, _ = measured([BIN / "ownercomm", "run", dealer, "--out", out_dir, "--force"], cwd=kit, env=env)
            run_cpu = LAST_CPU[0]
            duck2_s, _ = duckdb_cap_total(comm)  # before and after: the load may change meanwhile
            duck_s, duck_cpu = (duck_s + duck2_s) / 2, (duck_cpu + LAST_CPU[0]) / 2
            print(
                f"  run {i + 1}: ownercomm run {run_s:7.1f} s   (CPU {run_cpu:.1f} s, kernel included)   "
                f"peak {peak / GB:4.2f} GB (process tree)"
            )
            print(
                f"    DuckDB cap_total from parquet {duck_s:6.1f} s   (CPU {duck_cpu:.1f} s, mean of before and after)"
                f"   ({duck_n:,} flagged)"
            )
            print(
                f"    ratio {run_s / duck_s:.1f}x wall, {run_cpu / max(duck_cpu, 1e-9):.1f}x CPU   "
                f"(target <= 8x, peak <= 4 GB)   {load_line()}"
            )
            folder = next(p for p in out_dir.iterdir() if p.is_dir())
            record = json.loads((folder / ".ownercomm-run.json").read_text())
            print(f"    where the seconds go: {len(record.get('outputs', []))} outputs")
            for name, total, top in cell_seconds(folder):
                print(
                    f"      {name:12} cells {total:6.1f} s; biggest: "
                    + ", ".join(f"{s:.1f} s {line!r}" for s, line in top)
                )
            for page in sorted(folder.glob("*.html")):
                size = page.stat().st_size
                print(f"      {page.name:22} {size / 1e6:5.2f} MB {'ok' if size <= 2_000_000 else 'OVER 2 MB'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
