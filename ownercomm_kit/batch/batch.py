"""`ownercomm batch`: every store of a dealer group, isolated, resumable, with a group index.

``run_batch(group_file, ...)`` reads the group (SPEC §3, ``group_file``), runs each store with
:func:`ownercomm_kit.run.store.run_task` on an executor (a local process pool, or a Dask cluster
given a scheduler address), runs the group step (SPEC §9), and writes
``<out>/<group_id>/manifest.json`` (``manifest``) and ``index.html`` (``index``).
A store's failure is recorded with its reason; every other store still runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import __version__, outputs, params, paths, procs
from ..run import failure
from ..run.notebooks import notebook_specs, notebooks_for
from ..run.store import run_task
from . import manifest
from .executors import DaskCluster, Executor, LocalPool
from .group_file import Group, read_group
from .manifest import INDEX, MANIFEST


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
    on_group: Callable[[Group], None] | None = None,
) -> BatchResult:
    """Run every store of the group into ``<out>/<group_id>/``; never stops at a failed store.

    ``timeout``: seconds per store. ``on_result`` is called with each store's result as it
    finishes (the CLI's progress bar). ``history_months``: each store that runs also rebuilds
    its ``history.csv`` over that many month-ends (``ownercomm history``), before its reports.
    ``on_group`` is called with the group once it is read and checked (before any store runs).
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc)
    own_executor = executor is None
    if own_executor and not scheduler:
        executor = make_executor(workers)
        executor.start()  # the workers' imports, while the group is read
    group = read_group(group_file)
    if on_group:
        on_group(group)
    # The same notebooks for every store: a missing one is the kit's problem, said once.
    notebook_specs(notebooks_dir or notebooks_for(group.root))
    group_dir = (Path(out).resolve() if out else paths.reports_dir(group.root)) / group.group_id
    group_dir.mkdir(parents=True, exist_ok=True)
    shared = None
    if group.report.get("plotlyjs") == "shared":
        from ..report import export

        export.write_shared_plotlyjs(group_dir)
        shared = f"../{export.SHARED_PLOTLYJS}"
    executor = executor or make_executor(workers, scheduler)
    from .warm import warm_group_step

    warm_group_step(shared or "inline")  # the group step's imports, while the stores run
    n = len(group.dealer_files)
    if hasattr(executor, "plan"):
        at_once = executor.plan([group.data_dirs.get(f) for f in group.dealer_files])
    else:
        at_once = executor.concurrency(n) if hasattr(executor, "concurrency") else executor.slots
    tasks = []
    for i, dealer_file in enumerate(group.dealer_files):
        tasks.append(
            {
                "dealer_file": str(dealer_file),
                "dealer_id": dealer_file.stem,
                "out": str(group_dir),
                "group_file": str(group.file),
                "force": force,
                "as_of": as_of,
                "timeout": timeout,
                "notebooks_dir": str(notebooks_dir) if notebooks_dir else None,
                "shared_plotlyjs": shared,
                "history_months": history_months,
                # Warm the next kernel only where another store will follow on that worker:
                # a local pool's workers decide as they go, by their shared budget.
                "prestart": "auto" if isinstance(executor, LocalPool) else i < n - at_once,
            }
        )
    results: dict[str, dict] = {}
    stopped = None
    try:
        # closing(): a stop ends the executor's run (its workers) now, not at garbage collection
        with contextlib.closing(executor.run(run_task, tasks)) as finished:
            for task, result in finished:
                results[task["dealer_file"]] = result
                if on_result:
                    on_result(result)
        stores = [
            manifest.store_entry(results[t["dealer_file"]], group_dir) for t in tasks if t["dealer_file"] in results
        ]
        # SPEC §9: the group step, on the stores that succeeded, on the same cluster as the stores
        group_entry = _group_step(
            group, group_dir, stores, executor, as_of=as_of, force=force, plotlyjs=shared or "inline"
        )  # the page sits one folder down, like a store's
    except KeyboardInterrupt as e:  # SIGTERM (see procs.sigterm_interrupts) or Ctrl-C
        stopped = procs.stop_reason(e)[0]
        stores = [
            manifest.store_entry(results[t["dealer_file"]], group_dir) for t in tasks if t["dealer_file"] in results
        ]
        group_entry = {"status": "skipped", "error": f"the batch was stopped by {stopped}"}
    finally:
        if own_executor:
            executor.close()
    seconds = round(time.perf_counter() - started, 3)
    doc = {
        "group_id": group.group_id,
        "group_name": group.group_name,
        "group_file": str(group.file),
        "kit_version": __version__,
        "executor": executor.name,
        "workers": executor.slots,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": seconds,
        "counts": manifest.counts(stores),
        "stores": stores,
        "group": group_entry,
    }
    if stopped:
        not_run = [t["dealer_id"] for t in tasks if t["dealer_file"] not in results]
        doc["stopped"] = {"by": stopped, "not_finished": not_run}
    manifest_path = outputs.write_json(doc, group_dir / MANIFEST)
    if stopped:  # the manifest says what finished; the index waits for a whole run
        raise BatchInterrupted(
            stopped,
            BatchResult(
                group=group,
                out_dir=group_dir,
                stores=stores,
                seconds=seconds,
                manifest=manifest_path,
                index=group_dir / INDEX,
            ),
        )
    from . import index  # plotly and nbconvert: only once the stores are done

    page = index.build_index(doc, group_dir, plotlyjs="shared" if shared else "inline")
    index_path = outputs.write_text(page, group_dir / INDEX)
    return BatchResult(
        group=group,
        out_dir=group_dir,
        stores=stores,
        seconds=seconds,
        manifest=manifest_path,
        index=index_path,
        group_step=group_entry,
    )


def _group_step(group: Group, group_dir: Path, stores: list[dict], executor, *, as_of, force, plotlyjs) -> dict:
    """The group step's manifest entry; its failure is recorded, never raised (the stores'
    reports stand on their own)."""
    from ..group import step

    started = time.perf_counter()
    try:
        merged = params.resolve({"dealer_id": group.group_id, "data_dir": "."}, group_file=group.file, root=group.root)
        return step.run_group_step(
            group_dir,
            {"group_id": group.group_id, "group_name": group.group_name, "stores": stores},
            merged,
            as_of=params.parse_as_of(as_of),
            force=force,
            client=getattr(executor, "client", None),
            plotlyjs=plotlyjs,
        )
    except Exception as e:  # noqa: BLE001 - recorded in the manifest and said by the CLI
        return {
            "status": "failed",
            "error": f"{type(e).__name__}: {e}",
            "seconds": round(time.perf_counter() - started, 3),
            "failure": failure.from_exception(e).to_dict(),
        }
