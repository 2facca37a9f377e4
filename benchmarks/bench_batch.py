"""`ownercomm batch` against a hand-scripted loop, on the same synthetic stores, in one run.

The loop is what a consultant would script: for every store and every notebook, the
papermill CLI, then `jupyter nbconvert --to html --no-input`. The batch is the kit's command
(`ownercomm batch GROUP --force`, default local pool). Both run on the same stores with the
same notebooks; the script checks that both give the same kpis.json per store, then prints
the seconds, the speed-up and where the remaining time goes.

    .venv/bin/python benchmarks/bench_batch.py --stores 6 --customers 300

Target (issue 5 item 7): at least 8x on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ownercomm_kit import paths  # noqa: E402
from ownercomm_kit.run.notebooks import notebook_specs  # noqa: E402

BIN = Path(sys.executable).parent


def sh(args: list[str], cwd: Path, env: dict | None = None) -> float:
    t = time.perf_counter()
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.exit(f"failed: {' '.join(map(str, args))}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t


def make_stores(kit: Path, stores: int, customers: int, seed: int) -> Path:
    (kit / "params").mkdir(parents=True)
    shutil.copy(paths.defaults_file(ROOT), kit / "params" / "defaults.yaml")
    sh(
        [
            BIN / "ownercomm",
            "synth",
            kit,
            "--dealers",
            stores,
            "--customers",
            customers,
            "--seed",
            seed,
            "--group-id",
            "bench",
            "--quiet",
        ],
        cwd=kit,
    )
    return kit / "params" / "groups" / "bench.yaml"


def naive_loop(kit: Path, dealer_files: list[Path], notebooks: list[tuple[Path, str, str]], out: Path) -> dict:
    """papermill CLI + nbconvert CLI, notebook by notebook, store by store."""
    env = dict(os.environ, OWNERCOMM_ROOT=str(kit))
    times = {"papermill": 0.0, "nbconvert": 0.0, "executing cells": 0.0}
    for dealer in dealer_files:
        store = out / dealer.stem
        store.mkdir(parents=True)
        for nb_path, _, _ in notebooks:
            executed = store / nb_path.name
            times["papermill"] += sh(
                [BIN / "papermill", nb_path, executed, "-f", dealer, "-p", "out_dir", store, "--no-progress-bar"],
                cwd=kit,
                env=env,
            )
            times["nbconvert"] += sh(
                [BIN / "jupyter", "nbconvert", "--to", "html", "--no-input", executed], cwd=kit, env=env
            )
            cells = nbformat.read(executed, as_version=4).cells
            times["executing cells"] += sum(c.metadata.get("papermill", {}).get("duration") or 0 for c in cells)
    return times


def cell_breakdown(folder: Path, top: int = 6) -> tuple[float, list[tuple[float, str, str]]]:
    """Seconds of cell execution in the batch's executed notebooks, by (notebook, cell's first line)."""
    agg: dict[tuple[str, str], float] = {}
    for path in sorted(folder.glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            first = (cell.source.splitlines() or [""])[0].lstrip("# ")[:60]
            key = (path.stem, first)
            agg[key] = agg.get(key, 0.0) + (cell.metadata.get("papermill", {}).get("duration") or 0)
    ranked = sorted(((v, nb, first) for (nb, first), v in agg.items()), reverse=True)
    return sum(agg.values()), ranked[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stores", type=int, default=6)
    ap.add_argument("--customers", type=int, default=300)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workers", type=int, default=None, help="default: the number of cores")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument(
        "--skip-loop",
        action="store_true",
        help="time only `ownercomm batch` (the hand-scripted loop is slow; for before/after runs)",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        kit = tmp / "kit"
        group = make_stores(kit, args.stores, args.customers, args.seed)
        dealer_files = sorted((kit / "params" / "dealers").glob("*.yaml"))
        notebooks = notebook_specs(paths.notebooks_dir(ROOT))
        print(
            f"{len(dealer_files)} stores x {len(notebooks)} notebooks "
            f"({', '.join(p.stem for p, _, _ in notebooks)}), {args.customers} customers each, "
            f"{os.cpu_count()} cores"
        )

        t, wall_t0 = time.perf_counter(), time.time()
        cmd = [BIN / "ownercomm", "batch", group, "--out", tmp / "batch", "--force"]
        if args.workers:
            cmd += ["--workers", args.workers]
        sh(cmd, cwd=kit)
        batch_s = time.perf_counter() - t
        span = (wall_t0, wall_t0 + batch_s)

        manifest = json.loads((tmp / "batch" / "bench" / "manifest.json").read_text())
        if args.skip_loop:
            print(f"\nownercomm batch: {batch_s:.1f} s, {batch_s / len(dealer_files):.1f} s per store")
            batch_breakdown(manifest, batch_s, tmp / "batch" / "bench", span)
            return

        t = time.perf_counter()
        naive = naive_loop(kit, dealer_files, notebooks, tmp / "naive")
        naive_s = time.perf_counter() - t

        same = all(
            json.loads((tmp / "batch" / "bench" / s["dealer_id"] / "kpis.json").read_text())
            == json.loads((tmp / "naive" / s["dealer_id"] / "kpis.json").read_text())
            for s in manifest["stores"]
            if s["status"] == "ok"
        )
        failed = [s["dealer_id"] for s in manifest["stores"] if s["status"] != "ok"]

        print()
        print(f"{'':34}{'seconds':>9}{'per store':>11}")
        print(f"{'hand-scripted loop (CLIs)':34}{naive_s:9.1f}{naive_s / len(dealer_files):11.1f}")
        print(f"{'ownercomm batch':34}{batch_s:9.1f}{batch_s / len(dealer_files):11.1f}")
        print(
            f"speed-up: {naive_s / batch_s:.1f}x   (target 8x)   same kpis.json per store: {'yes' if same else 'NO'}"
            + (f"   failed stores: {failed}" if failed else "")
        )

        print("\nwhere the loop's time goes (seconds, all stores):")
        pm, nbc, cells = naive["papermill"], naive["nbconvert"], naive["executing cells"]
        print(
            f"  papermill CLI {pm:7.1f}  of which executing cells {cells:.1f}, "
            f"start-up + imports + kernel start + saves {pm - cells:.1f}"
        )
        print(f"  nbconvert CLI {nbc:7.1f}  (start-up, imports, plotly.js in every page)")
        batch_breakdown(manifest, batch_s, tmp / "batch" / "bench", span)
    finally:
        if args.keep:
            print(f"\nkept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def notebook_span(folder: Path) -> tuple[float, float] | None:
    """(first start, last end) of the batch's executed notebooks (papermill's time stamps), epoch seconds."""
    import datetime as dt

    starts, ends = [], []
    for path in folder.glob("*/*.ipynb"):
        pm = nbformat.read(path, as_version=4).metadata.get("papermill", {})
        if pm.get("start_time") and pm.get("end_time"):
            starts.append(dt.datetime.fromisoformat(pm["start_time"]).timestamp())
            ends.append(dt.datetime.fromisoformat(pm["end_time"]).timestamp())
    return (min(starts), max(ends)) if starts else None


def batch_breakdown(manifest: dict, batch_s: float, folder: Path, span: tuple[float, float] | None = None) -> None:
    """Where the batch's time goes: the manifest's phases, the biggest cells."""
    phases: dict[str, float] = {}
    for s in manifest["stores"]:
        for k, v in (s.get("timings") or {}).items():
            phases[k] = phases.get(k, 0.0) + v
    total = sum(phases.values())
    workers = manifest["workers"]
    print(
        f"\nwhere the batch's time goes (seconds summed over stores, {workers} workers in parallel; "
        f"wall {batch_s:.1f}):"
    )
    labels = {
        "kernel": "kernel start/wait + set-up",
        "execute": "executing notebooks (papermill API)",
        "export": "HTML export (in-process)",
        "write": "fingerprint + atomic publish",
        "other": "imports, parameters, kernel shutdown",
    }
    for k in ("kernel", "execute", "export", "write", "other"):
        if k in phases:
            print(f"  {labels[k]:40}{phases[k]:7.1f}  {phases[k] / total:5.0%}")
    cells_total, cells = cell_breakdown(folder)
    print(f"  of 'executing notebooks', cells ran {cells_total:.1f} s; the biggest:")
    for v, nb, first in cells:
        print(f"    {v:6.1f}  {nb:11}{first}")
    group = manifest.get("group") or {}
    group_s = float(group.get("seconds") or 0.0)
    if group_s:
        steps = ", ".join(f"{k} {v:.1f}" for k, v in (group.get("timings") or {}).items() if k != "bucket_count")
        print(f"  {'group step (after the stores)':40}{group_s:7.1f}  ({steps})")
    nbs = notebook_span(folder)
    if span and nbs:  # the batch's timeline: before the first notebook, the notebooks, after the last
        print(
            f"  timeline (wall): {nbs[0] - span[0]:.1f} s before the first notebook starts (process start, CLI, "
            f"fork server, kernel start), {nbs[1] - nbs[0]:.1f} s of notebooks on {os.cpu_count()} cores, "
            f"{span[1] - nbs[1]:.1f} s after the last one ends (export, publish, group step, index, exit)"
        )
    else:
        overhead = batch_s - total / max(1, workers) - group_s
        print(
            f"  {'process start, CLI, idle workers, index':40}{max(0.0, overhead):7.1f}  "
            "(wall minus per-worker work and the group step)"
        )


if __name__ == "__main__":
    main()
