"""`ownercomm run`: one dealer's notebooks run into its report folder, atomically, with resume.

:func:`run_dealer` checks the store (parameters, notebooks, data folder), takes the store's
lock, skips an unchanged store (``run.resume``), runs the notebooks in a fresh kernel
(``run.kernels``, ``run.engine``) into a staging folder and swaps it in (``run.publish``),
or keeps the failure (``run.failure``: why, as data) and the executed notebooks.
:func:`run_task` is a batch worker's entry point.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__, errors, params, paths, procs
from . import failure as failure_mod
from . import kernels, publish, resume
from .failure import Failure
from .kernels import KERNELS, notebook_imports
from .notebooks import notebook_parameters, notebook_specs, notebooks_for

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    dealer_id: str
    status: str  # ok | failed | skipped
    seconds: float = 0.0
    error: str | None = None  # one line
    out_dir: str | None = None
    outputs: list[str] = field(default_factory=list)  # file names inside out_dir
    failed_notebook: str | None = None  # path of the executed notebook that failed
    dealer_name: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # kernel, execute, export, write
    failure: dict | None = None  # why it failed, as data (run.failure.Failure.to_dict())

    def to_dict(self) -> dict:
        return asdict(self)

    def fail(self, failure: Failure) -> None:
        """Record ``failure``: its dict, and its one line as ``error``."""
        self.failure, self.error = failure.to_dict(), failure.line()


@dataclass
class _Store:
    """A dealer whose parameters, notebooks and folders have been checked."""

    dealer_file: Path
    group_file: Path | None
    as_of: dt.date | None
    resolved: dict
    root: Path
    target: Path
    specs: list
    data_dir: Path


def _prepare(dealer_file: Path, group_file: Path | None, out, as_of, notebooks_dir, result: RunResult) -> _Store | None:
    """Check everything a run needs before touching any folder; None (and ``result.failure``) if not."""
    try:
        run_as_of = params.parse_as_of(as_of)
    except ValueError:
        result.fail(Failure("params", f"as_of {as_of!r} is not a date (YYYY-MM-DD)"))
        return None
    try:
        resolved = params.resolve(dealer_file=dealer_file, group_file=group_file, overrides={"as_of": run_as_of})
    except errors.ParamsError as e:
        result.fail(failure_mod.from_exception(e))
        return None
    root = Path(resolved["kit_root"])
    result.dealer_id, result.dealer_name = resolved["dealer_id"], resolved["dealer_name"]
    if not paths.SAFE_ID.match(result.dealer_id):
        result.fail(
            Failure(
                "params",
                f"{dealer_file}: dealer_id {result.dealer_id!r} must be letters, digits, "
                "'.', '_' or '-' (it names the report folder)",
            )
        )
        return None
    target = (Path(out).resolve() if out else paths.reports_dir(root)) / result.dealer_id
    result.out_dir = str(target)
    try:
        specs = notebook_specs(notebooks_dir or notebooks_for(root))
    except errors.StoreFailure as e:
        result.fail(e.failure)
        return None
    data_dir = Path(resolved["data_dir"])
    if not data_dir.is_dir():
        result.fail(Failure("data", f"data folder not found: {data_dir}"))
        return None
    return _Store(dealer_file, group_file, run_as_of, resolved, root, target, specs, data_dir)


def run_dealer(
    dealer_file: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    as_of: str | dt.date | None = None,
    force: bool = False,
    group_file: str | os.PathLike | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    timeout: float | None = None,
    startup_timeout: float = 60,
    kernel_retries: int = 2,
    prestart: bool | str = False,
    shared_plotlyjs: str | None = None,
    history_months: int | None = None,
) -> RunResult:
    """Run one dealer's notebooks into ``<out>/<dealer_id>/`` (SPEC §7).

    Never raises for a store problem: the result says ``failed`` with a one-line reason
    (``error``) and the failure as data (``failure``). ``timeout`` bounds the whole store in
    seconds. ``prestart`` starts and warms the next store's kernel in this process while this
    one runs (batch workers); ``"auto"``: only when the pool's spare budget says another store
    is likely to follow in this worker (``run.kernels.SpareBudget``). ``shared_plotlyjs``: with ``report.plotlyjs: shared``, the
    relative URL of a copy the caller already wrote (a batch's ``../plotly.min.js``) instead of
    one in the store folder. ``history_months``: also rebuild the store's ``history.csv``
    (``ownercomm history``) before its reports, which chart it (SPEC §10).

    The store folder keeps its recorded runs (``runs/``) and its history across runs; a
    successful run records its kpis.json as ``runs/<as_of>.json`` (an earlier record of the
    same as_of is kept unless ``force``).
    """
    started = time.perf_counter()
    dealer_file = Path(dealer_file).resolve()
    result = RunResult(dealer_id=dealer_file.stem, status="failed")
    store = _prepare(dealer_file, Path(group_file).resolve() if group_file else None, out, as_of, notebooks_dir, result)
    if store is None:
        return result
    target = store.target
    deadline = time.monotonic() - (time.perf_counter() - started) + timeout if timeout else None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with procs.store_lock(target):  # one run of a store per output folder at a time
            _run_locked(
                store,
                result,
                started=started,
                deadline=deadline,
                force=force,
                timeout=timeout,
                startup_timeout=startup_timeout,
                kernel_retries=kernel_retries,
                prestart=prestart,
                shared_plotlyjs=shared_plotlyjs,
                history_months=history_months,
            )
    except procs.AlreadyRunning as e:
        result.fail(
            Failure(
                "other",
                f"already running: another run of {result.dealer_id} is writing to "
                f"{target.parent} (lock file {e}); wait for it to finish, or choose another --out",
            )
        )
    except OSError as e:  # the output folder cannot be made or locked (read-only, full, no right)
        fault = errors.output_error(e, target.parent, within=[target.parent])
        result.fail(failure_mod.from_exception(fault or e))
    result.seconds = round(time.perf_counter() - started, 3)
    return result


# The time limit's last resort (a timer in the main thread) leaves a cell this long to stop
# on its own first: nbclient's own cell timeout then names the cell and the executed notebook
# is kept for diagnosis. So a store stops at most this long after its --timeout.
TIMEOUT_GRACE = 2.0


def _run_locked(
    store: _Store,
    result: RunResult,
    *,
    started: float,
    deadline: float | None,
    force: bool,
    timeout: float | None,
    startup_timeout: float,
    kernel_retries: int,
    prestart: bool | str,
    shared_plotlyjs: str | None,
    history_months: int | None = None,
) -> None:
    """``run_dealer`` once the store's lock is held: resume check, run, publish or keep the failure."""
    target = store.target
    publish.recover(target)
    fp = resume.fingerprint(
        dealer_file=store.dealer_file,
        group_file=store.group_file,
        data_dir=store.data_dir,
        root=store.root,
        notebooks=[s[0] for s in store.specs],
        as_of=store.as_of,
    )
    if (
        not force
        and resume.is_up_to_date(target, fp)
        and (not history_months or (resume.read_run_record(target) or {}).get("history_months") == history_months)
    ):
        result.status = "skipped"
        result.outputs = resume.read_run_record(target).get("outputs", [])
        return

    staging = publish.staging_for(target)
    try:
        staging.mkdir()
        _carry_progress(store, staging, history_months)
        limit = deadline - time.monotonic() + TIMEOUT_GRACE if deadline is not None else None
        with procs.time_limit(limit, lambda: errors.StoreTimeout(timeout)):
            _run_into(
                store,
                staging,
                result,
                deadline=deadline,
                startup_timeout=startup_timeout,
                kernel_retries=kernel_retries,
                prestart=prestart,
                shared_plotlyjs=shared_plotlyjs,
            )
        t = time.perf_counter()
        outputs = sorted(
            str(p.relative_to(staging))
            for p in staging.rglob("*")
            if p.is_file() and not p.name.startswith(".") and not _carried(p.relative_to(staging))
        )
        report_as_of = _report_as_of(store, staging)
        resume.write_run_record(
            staging,
            {
                "fingerprint": fp,
                "dealer_id": result.dealer_id,
                "kit_version": __version__,
                "as_of": report_as_of.isoformat() if report_as_of else None,
                "history_months": history_months,
                "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "outputs": outputs,
            },
        )
        _record_kpis(store, staging, fp, force, report_as_of)
        publish.publish(staging, target)
        result.timings["write"] = time.perf_counter() - t
        result.status, result.outputs = "ok", outputs
    except errors.StoreFailure as e:  # a notebook failed
        f = e.failure
        fault = (
            errors.output_error_in_text(f.error, f.detail, target.parent, within=[target.parent])
            if f.kind == "other"
            else None
        )
        if fault:  # a full disk seen by a notebook: what it wrote may be cut short, keep nothing
            result.fail(failure_mod.from_exception(fault))
        else:
            result.fail(f)
            kept = publish.keep_failed_safely(staging, target)
            if kept and e.notebook_path:
                result.failed_notebook = str(Path(kept) / Path(e.notebook_path).name)
    except errors.StoreTimeout as e:
        result.fail(failure_mod.from_exception(e))
        publish.keep_failed_safely(staging, target)
    except Exception as e:  # noqa: BLE001 - one store's surprise must not stop a batch
        fault = errors.output_error(e, target.parent, within=[target.parent])
        if fault:
            result.fail(failure_mod.from_exception(fault))
        else:
            if not isinstance(e, errors.KitError):
                log.exception("store %s failed", result.dealer_id)
            result.fail(failure_mod.from_exception(e))
            publish.keep_failed_safely(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        result.seconds = round(time.perf_counter() - started, 3)
        if result.timings:  # the rest: imports, parameters, fingerprint, kernel shutdown
            result.timings["other"] = max(0.0, result.seconds - sum(result.timings.values()))
        result.timings = {k: round(v, 3) for k, v in result.timings.items()}


def _run_into(
    store: _Store,
    staging: Path,
    result: RunResult,
    *,
    deadline: float | None,
    startup_timeout: float,
    kernel_retries: int,
    prestart: bool | str,
    shared_plotlyjs: str | None,
) -> None:
    """Execute the store's notebooks in a fresh kernel, everything written into ``staging``."""
    from .engine import execute_store

    t = time.perf_counter()
    startup_timeout = procs.remaining(deadline, startup_timeout)  # the kernel's start counts too
    kernel = KERNELS.take(startup_timeout=startup_timeout, retries=kernel_retries)
    result.timings["kernel"] = time.perf_counter() - t
    budget = kernels.BUDGET if prestart == "auto" else None

    def warm_imports():
        return notebook_imports(s[0] for s in store.specs)

    try:
        if prestart is True:
            KERNELS.prestart(warm_imports())
        elif budget is not None:  # early only when every worker will surely take one more store
            kernels.warm_spare(budget, budget.workers, warm_imports)
        parameters = notebook_parameters(store.dealer_file, store.group_file, store.as_of, staging, store.resolved)
        plotlyjs = str((store.resolved.get("report") or {}).get("plotlyjs") or "inline")
        if plotlyjs == "shared" and shared_plotlyjs:
            plotlyjs = shared_plotlyjs
        execute_store(
            kernel,
            store.specs,
            parameters,
            staging,
            root=store.root,
            plotlyjs=plotlyjs,
            dealer_name=result.dealer_name,
            deadline=deadline,
            startup_timeout=startup_timeout,
            timings=result.timings,
        )
        if budget is not None:  # this worker is about to take the next waiting store: warm its kernel
            kernels.warm_spare(budget, 1, warm_imports)
    finally:
        kernel.shutdown()


def _carried(rel: Path) -> bool:
    """Recorded runs and the history: the store's past, kept across runs, not a run's outputs."""
    from ..kpis import history, runs

    return rel.parts[0] == runs.RUNS_DIR or str(rel) == history.HISTORY_FILE


def _carry_progress(store: _Store, staging: Path, history_months: int | None) -> None:
    """The store's recorded runs and history into ``staging`` (its pages read them, and the
    folder swapped in keeps them); with ``history_months``, the history rebuilt first."""
    from ..kpis import history, runs

    runs.carry_over(store.target, staging)
    if history_months:
        from ..loader import load_dealer

        try:
            data = load_dealer(store.resolved, strict=True)
        except errors.DataError:
            return  # the notebooks stop on it and say every problem
        history.write(history.compute(data, store.resolved, history_months), staging)


def _report_as_of(store: _Store, staging: Path) -> dt.date | None:
    """The as_of the run's reports used (their set-up leaves it in the folder), else the run's."""
    from ..kpis import runs

    as_of = runs.marked_as_of(staging) or store.as_of
    (staging / runs.AS_OF_MARK).unlink(missing_ok=True)
    return as_of


def _record_kpis(store: _Store, staging: Path, fp: str, force: bool, as_of: dt.date | None) -> None:
    """``runs/<as_of>.json`` of this run: its kpis.json, as_of and inputs' fingerprint."""
    from .. import outputs
    from ..kpis import runs

    if as_of is None:
        return
    runs.record_run(
        staging,
        as_of=as_of,
        fingerprint=fp,
        kpis=outputs.read_kpis(staging),
        dealer_id=store.resolved["dealer_id"],
        force=force,
    )


def run_task(task: dict) -> dict:
    """A batch worker's entry point: ``run_dealer(**task)`` as a plain dict (picklable)."""
    task = {k: v for k, v in task.items() if k != "dealer_id"}
    dealer_file = task.pop("dealer_file")
    if task.get("prestart") == "auto":
        if kernels.BUDGET is None:  # not in a local pool worker: no spare
            task["prestart"] = False
        else:
            kernels.BUDGET.claim(KERNELS.has_spare())
    try:
        return run_dealer(dealer_file, **task).to_dict()
    except BaseException as e:  # noqa: BLE001 - even a KeyboardInterrupt in a worker is this store's
        if isinstance(e, KeyboardInterrupt):
            raise
        result = RunResult(dealer_id=Path(dealer_file).stem, status="failed")
        result.fail(failure_mod.from_exception(e))
        return result.to_dict()
