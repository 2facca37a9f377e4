"""`ownercomm batch`: every store of a dealer group, isolated, resumable, with a group index.

``run_batch(group_file, ...)`` reads the group (SPEC §3), runs each store with
:func:`ownercomm_kit.runner.run_task` on an executor (a local process pool, or a Dask cluster
given a scheduler address), and writes ``<out>/<group_id>/manifest.json`` and ``index.html``.
A store's failure is recorded with its reason; every other store still runs.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import __version__, outputs, params, paths, procs
from ..runner import default_out, notebook_specs, notebooks_for, run_task
from .executors import DaskCluster, Executor, LocalPool

MANIFEST = "manifest.json"
INDEX = "index.html"


@dataclass
class Group:
    group_id: str
    group_name: str
    file: Path
    root: Path
    dealer_files: list[Path]
    report: dict = field(default_factory=dict)  # the group's report settings (defaults < group)


class BatchInterrupted(KeyboardInterrupt):
    """The batch was stopped (SIGTERM, Ctrl-C); the manifest of the stores that finished is
    written (``result``), the running ones were stopped and left nothing behind."""

    def __init__(self, reason: str, result: "BatchResult"):
        super().__init__(reason)
        self.reason, self.result = reason, result


@dataclass
class BatchResult:
    group: Group
    out_dir: Path
    stores: list[dict]
    seconds: float
    manifest: Path
    index: Path

    group_step: dict = field(default_factory=dict)  # the group step's manifest entry (SPEC §9)

    @property
    def failed(self) -> list[dict]:
        return [s for s in self.stores if s["status"] == "failed"]


def read_group(group_file: str | os.PathLike) -> Group:
    """The group file, checked; its dealers as dealer file paths (SPEC §3).

    A dealer is an id (read from ``../dealers/<id>.yaml`` beside the group file) or a path to
    a dealer file (relative to the group file's folder, else to the kit root).
    """
    group_file = Path(group_file).resolve()
    doc = params.read_yaml(group_file)
    root = paths.root_of_params_file(group_file) or paths.kit_root()
    problems = []
    for key in ("group_id", "dealers"):
        if not doc.get(key):
            problems.append(f"{group_file}: {key} is required")
    dealers = doc.get("dealers") or []
    if dealers and not isinstance(dealers, list):
        problems.append(f"{group_file}: dealers must be a list of dealer ids or dealer file paths")
        dealers = []
    group_id = str(doc.get("group_id") or "")  # its safety as a folder name: params_schema
    files: list[Path] = []
    for entry in dealers:
        if entry is None or isinstance(entry, (dict, list)) or not str(entry).strip():
            problems.append(f"{group_file}: dealers: {entry!r} is not a dealer id or a dealer file path")
            continue
        files.append(_dealer_path(str(entry), group_file, root))
    stems = [f.stem for f in files]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        problems.append(f"{group_file}: dealers listed more than once: {', '.join(dupes)}")
    report = {}
    try:  # the group's own layer over the defaults, validated like every layer, its problems listed with the rest
        merged = params.resolve({"dealer_id": "group", "data_dir": "."}, group_file=group_file, root=root)
        report = dict(merged.get("report") or {})
    except params.ParamsError as e:
        problems += [p for p in e.problems if p not in problems]
    # Every dealer file, checked before any store runs: its parameters, and one id per store.
    ids: dict[str, list[Path]] = {}
    for f in dict.fromkeys(files):
        if not f.is_file():  # that store fails alone, saying so; the others still run
            continue
        try:
            resolved = params.resolve(dealer_file=f, group_file=group_file)
        except params.ParamsError as e:
            problems += [p for p in e.problems if p not in problems]
            continue
        ids.setdefault(resolved["dealer_id"], []).append(f)
    for dealer_id, owners in ids.items():
        if len(owners) > 1:
            problems.append(
                f"{group_file}: dealer_id {dealer_id!r} is used by {len(owners)} dealer files "
                f"({', '.join(str(o) for o in owners)}); each store needs its own dealer_id, else one "
                f"store's reports and customers would land in another's folder")
    if problems:
        raise params.ParamsError(problems)
    return Group(group_id=group_id, group_name=str(doc.get("group_name") or group_id), file=group_file,
                 root=root, dealer_files=files, report=report)


def _dealer_path(entry: str, group_file: Path, root: Path) -> Path:
    if entry.endswith((".yaml", ".yml")) or "/" in entry or os.sep in entry:
        p = Path(entry).expanduser()
        if p.is_absolute():
            return p
        beside = (group_file.parent / p).resolve()
        return beside if beside.is_file() else (root / p).resolve()
    return (group_file.parent.parent / "dealers" / f"{entry}.yaml").resolve()


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    return DaskCluster(scheduler) if scheduler else LocalPool(workers)


def run_batch(
    group_file: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    as_of: str | None = None,
    timeout: float | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    executor: Executor | None = None,
    on_result: Callable[[dict], None] | None = None,
    history_months: int | None = None,
) -> BatchResult:
    """Run every store of the group into ``<out>/<group_id>/``; never stops at a failed store.

    ``timeout``: seconds per store. ``on_result`` is called with each store's result as it
    finishes (the CLI's progress bar). ``history_months``: each store that runs also rebuilds
    its ``history.csv`` over that many month-ends (``ownercomm history``), before its reports.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc)
    group = read_group(group_file)
    # The same notebooks for every store: a missing one is the kit's problem, said once.
    notebook_specs(notebooks_dir or notebooks_for(group.root))
    group_dir = (Path(out).resolve() if out else default_out(group.root)) / group.group_id
    group_dir.mkdir(parents=True, exist_ok=True)
    shared = None
    if group.report.get("plotlyjs") == "shared":
        from ..report import export

        export.write_shared_plotlyjs(group_dir)
        shared = f"../{export.SHARED_PLOTLYJS}"
    own_executor = executor is None
    executor = executor or make_executor(workers, scheduler)
    from .warm import warm_group_step

    warm_group_step(shared or "inline")  # the group step's imports, while the stores run
    tasks = []
    for i, dealer_file in enumerate(group.dealer_files):
        tasks.append({
            "dealer_file": str(dealer_file), "dealer_id": dealer_file.stem, "out": str(group_dir),
            "group_file": str(group.file), "force": force, "as_of": as_of, "timeout": timeout,
            "notebooks_dir": str(notebooks_dir) if notebooks_dir else None,
            "shared_plotlyjs": shared,
            "history_months": history_months,
            # Warm the next kernel only where another store will follow on that worker.
            "prestart": i < len(group.dealer_files) - executor.slots,
        })
    results: dict[str, dict] = {}
    stopped = None
    try:
        # closing(): a stop ends the executor's run (its workers) now, not at garbage collection
        with contextlib.closing(executor.run(run_task, tasks)) as finished:
            for task, result in finished:
                results[task["dealer_file"]] = result
                if on_result:
                    on_result(result)
        stores = [_manifest_entry(results[t["dealer_file"]], group_dir) for t in tasks if t["dealer_file"] in results]
        # SPEC §9: the group step, on the stores that succeeded, on the same cluster as the stores
        group_entry = _group_step(group, group_dir, stores, executor, as_of=as_of, force=force,
                                  plotlyjs=shared or "inline")  # the page sits one folder down, like a store's
    except KeyboardInterrupt as e:  # SIGTERM (see runner.sigterm_interrupts) or Ctrl-C
        stopped = procs.stop_reason(e)[0]
        stores = [_manifest_entry(results[t["dealer_file"]], group_dir) for t in tasks if t["dealer_file"] in results]
        group_entry = {"status": "skipped", "error": f"the batch was stopped by {stopped}"}
    finally:
        if own_executor:
            executor.close()
    seconds = round(time.perf_counter() - started, 3)
    manifest = {
        "group_id": group.group_id, "group_name": group.group_name, "group_file": str(group.file),
        "kit_version": __version__, "executor": executor.name, "workers": executor.slots,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": seconds,
        "counts": {s: sum(1 for r in stores if r["status"] == s) for s in ("ok", "skipped", "failed")},
        "stores": stores,
        "group": group_entry,
    }
    if stopped:
        not_run = [t["dealer_id"] for t in tasks if t["dealer_file"] not in results]
        manifest["stopped"] = {"by": stopped, "not_finished": not_run}
    manifest_path = outputs.write_json(manifest, group_dir / MANIFEST)
    if stopped:  # the manifest says what finished; the index waits for a whole run
        raise BatchInterrupted(stopped, BatchResult(group=group, out_dir=group_dir, stores=stores, seconds=seconds,
                                                    manifest=manifest_path, index=group_dir / INDEX))
    from . import index  # plotly and nbconvert: only once the stores are done
    page = index.build_index(manifest, group_dir, plotlyjs="shared" if shared else "inline")
    index_path = outputs.write_text(page, group_dir / INDEX)
    return BatchResult(group=group, out_dir=group_dir, stores=stores, seconds=seconds,
                       manifest=manifest_path, index=index_path, group_step=group_entry)


def _group_step(group: Group, group_dir: Path, stores: list[dict], executor, *, as_of, force, plotlyjs) -> dict:
    """The group step's manifest entry; its failure is recorded, never raised (the stores'
    reports stand on their own)."""
    from ..group import step

    started = time.perf_counter()
    try:
        merged = params.resolve({"dealer_id": group.group_id, "data_dir": "."}, group_file=group.file, root=group.root)
        return step.run_group_step(group_dir, {"group_id": group.group_id, "group_name": group.group_name,
                                               "stores": stores}, merged, as_of=params.parse_as_of(as_of),
                                   force=force, client=getattr(executor, "client", None), plotlyjs=plotlyjs)
    except Exception as e:  # noqa: BLE001 - recorded in the manifest and said by the CLI
        return {"status": "failed", "error": f"{type(e).__name__}: {e}",
                "seconds": round(time.perf_counter() - started, 3)}


def _manifest_entry(result: dict, group_dir: Path) -> dict:
    """A store's line in manifest.json; paths relative to the group folder."""
    def rel(p):
        if not p:
            return None
        try:
            return str(Path(p).relative_to(group_dir))
        except ValueError:
            return str(p)

    folder = rel(result.get("out_dir"))
    return {
        "dealer_id": result["dealer_id"],
        "dealer_name": result.get("dealer_name"),
        "status": result["status"],
        "seconds": result.get("seconds"),
        "error": result.get("error"),
        "out_dir": folder,
        "outputs": [f"{folder}/{o}" for o in result.get("outputs", [])] if folder else [],
        "failed_notebook": rel(result.get("failed_notebook")),
        "timings": result.get("timings") or {},
    }


def is_tty(stream=None) -> bool:
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()
