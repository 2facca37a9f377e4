"""Where stores run: one interface, two implementations (issue 5 item 2).

- :class:`LocalPool`: a process pool on this machine (``concurrent.futures`` with a
  ``forkserver`` context: workers are long-lived, so papermill, nbconvert and the kernel
  machinery are imported once per worker, not once per notebook).
- :class:`DaskCluster`: an existing Dask distributed cluster (``--scheduler tcp://host:port``).
  The same function is submitted; every worker needs the kit installed and must reach the
  dealers' data folders and the output folder at the same paths (a shared file system).

Both yield ``(task, result)`` as stores finish, in completion order. A store's own failure is
already a result (``run_store`` never raises); an executor only has to survive its workers.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
from pathlib import Path
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator, Protocol

from .. import datafolder, procs

log = logging.getLogger(__name__)
Task = dict
Result = dict

CONNECT_TIMEOUT = 20  # seconds to reach a Dask scheduler
POOL_RESTARTS = 2
# What a worker needs to run a store (papermill, the kernel machinery, the HTML export).
PRELOAD = (
    "ownercomm_kit.lean",  # first: nbformat's jsonschema without its slow, unused IRI grammar
    "ownercomm_kit.run.store",
    "ownercomm_kit.run.engine",
    "papermill",
    "nbclient",
    "jupyter_client",
    "ownercomm_kit.report.export",
)  # a worker process dying (not a store failing) restarts the pool this often


# The extra store at once of the default local pool (see concurrency_rule).
MIN_TAIL_GAIN = 0.15  # the share of the batch's CPU work the idle tail must reach
MEMORY_SHARE = 0.8  # of the memory available now, what the stores at once may use
STORE_BASE_BYTES = 512 * 2**20  # a worker and its kernel with the notebooks' imports
# A store's peak memory per byte of its data files: measured ~4-5 GB for a 100k-customer store
# of ~1 GB of CSV; parquet (compressed, typed) grows more once read.
BYTES_PER_DATA_BYTE = {".parquet": 15, ".pq": 15}
BYTES_PER_DATA_BYTE_OTHER = 5


def concurrency_rule(
    n: int, slots: int, *, spread: bool, estimates: list[int] | None = None, available: int | None = None
) -> int:
    """How many of ``n`` stores run at once on ``slots`` cores (a pure function).

    ``slots``, or with ``spread`` (the default worker count) one more when all of these hold:
    - the stores do not divide evenly, so the last round would leave cores idle while its
      stores run alone (3 stores on 2 cores: one store runs alone for a third of the batch);
    - that idle tail is a real share of the work, ``(slots - n % slots) / n >=
      MIN_TAIL_GAIN``: the stores are CPU bound, so one more at once only wins the tail, and
      over a large group it would only add a store's memory all along (301 stores on 2 cores);
    - ``estimates`` (each store's peak bytes) are known and the ``slots + 1`` largest fit in
      ``MEMORY_SHARE`` of ``available`` bytes.
    """
    base = max(1, min(slots, n))
    if not spread or n <= slots or n % slots == 0:
        return base
    if (slots - n % slots) / n < MIN_TAIL_GAIN:
        return base
    if estimates is None or available is None or len(estimates) < n:
        return base
    need = sum(sorted(estimates, reverse=True)[: slots + 1])
    return slots + 1 if need <= available * MEMORY_SHARE else base


def store_estimate(data_dir: str | os.PathLike | None) -> int:
    """A store's peak memory in bytes, from the sizes of its data files (see the constants)."""
    total = STORE_BASE_BYTES
    if not data_dir:
        return total
    try:
        files = datafolder.data_files(data_dir, subfolders=True)  # what the loader may read
    except OSError:
        return total
    for path in files:
        try:
            size = (Path(data_dir) / path).stat().st_size
        except OSError:
            continue
        total += size * BYTES_PER_DATA_BYTE.get(path.suffix.lower(), BYTES_PER_DATA_BYTE_OTHER)
    return total


def available_memory() -> int | None:
    """Bytes of memory available now (psutil), or None when unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - unknown: the rule then adds no store
        return None


class Executor(Protocol):
    name: str
    slots: int  # how many stores run at once

    def run(self, fn: Callable[[Task], Result], tasks: list[Task]) -> Iterator[tuple[Task, Result]]: ...

    def close(self) -> None: ...


def crashed(task: Task, reason: str) -> Result:
    """The result of a store whose worker died under it."""
    return {
        "dealer_id": task.get("dealer_id") or "?",
        "status": "failed",
        "seconds": 0.0,
        "error": reason,
        "out_dir": None,
        "outputs": [],
        "failed_notebook": None,
        "dealer_name": None,
        "timings": {},
    }


class LocalPool:
    name = "local"

    def __init__(self, workers: int | None = None):
        self.slots = max(1, workers or os.cpu_count() or 1)
        self.spread = workers is None  # the default: see concurrency()
        self.planned: tuple[int, int] | None = None  # (stores, at once) of plan()

    def plan(self, data_dirs: list[str | None]) -> int:
        """How many of these stores (their data folders) run at once: :func:`concurrency_rule`
        with their estimated memory; kept for the pool of these stores."""
        n, slots = len(data_dirs), self.slots
        at_once = concurrency_rule(n, slots, spread=self.spread)  # the cheap checks first
        if self.spread and n > slots and n % slots and (slots - n % slots) / n >= MIN_TAIL_GAIN:
            estimates = [store_estimate(d) for d in data_dirs]
            at_once = concurrency_rule(n, slots, spread=True, estimates=estimates, available=available_memory())
        self.planned = (n, at_once)
        return at_once

    def concurrency(self, n: int) -> int:
        """How many of ``n`` stores run at once: what :meth:`plan` said for them, else
        ``slots`` (a pool restarted for fewer stores gets no extra worker)."""
        if self.planned and self.planned[0] == n:
            return self.planned[1]
        return max(1, min(self.slots, n))

    @staticmethod
    def _context():
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            # Imported once in the fork server; every worker forks with them loaded.
            ctx.set_forkserver_preload(list(PRELOAD))
            return ctx
        return multiprocessing.get_context("spawn")

    def start(self) -> None:
        """Start the fork server now: it imports ``PRELOAD`` while the caller still reads the
        group and its notebooks, instead of after (the pool's workers fork from it later)."""
        self.start_server()

    @classmethod
    def start_server(cls) -> None:
        """``start`` without a pool (one fork server per process: a later start is a no-op)."""
        if cls._context().get_start_method() == "forkserver":
            from multiprocessing import forkserver

            try:
                forkserver.ensure_running()
            except OSError as e:  # the pool will try again, and say why
                log.debug("fork server not started early: %s", e)

    def _pool(self, n: int) -> ProcessPoolExecutor:
        from ..run.kernels import SpareBudget

        ctx = self._context()
        at_once = self.concurrency(n)
        # Workers die with the fork server (which dies with this process) and stop cleanly
        # on SIGTERM: see procs. They share one spare-kernel budget (tasks' prestart="auto").
        return ProcessPoolExecutor(
            max_workers=at_once,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(os.getpid(), SpareBudget(ctx, n, at_once)),
        )

    def run(self, fn, tasks):
        pending = list(tasks)
        attempts: dict[int, int] = {}
        restarts = 0
        while pending:
            pool = self._pool(len(pending))
            futures = {pool.submit(functools.partial(procs.call_in_worker, fn), t): t for t in pending}
            pending = []
            broken = False
            try:
                todo = set(futures)
                while todo:
                    done, todo = wait(todo, return_when=FIRST_COMPLETED)
                    for fut in done:
                        task = futures[fut]
                        try:
                            yield task, fut.result()
                        except BrokenProcessPool:
                            # Which store killed its worker is unknown: every store caught in
                            # the crash is tried again in a fresh pool, a bounded number of times.
                            broken = True
                            n = attempts[id(task)] = attempts.get(id(task), 0) + 1
                            if n > POOL_RESTARTS or restarts >= POOL_RESTARTS:
                                yield task, crashed(task, "the worker process died while running this store")
                            else:
                                pending.append(task)
                        except Exception as e:  # noqa: BLE001 - e.g. a result that did not pickle
                            yield task, crashed(task, f"{type(e).__name__}: {e}")
            except BaseException:  # stopped (SIGTERM, Ctrl-C) or abandoned: the workers stop now,
                procs.stop_workers(getattr(pool, "_processes", None) or {})  # each unwinding its store
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            if broken:
                restarts += 1

    def close(self) -> None:
        pass


def _init_worker(batch_pid: int, budget) -> None:
    from ..run import kernels

    procs.worker_init(batch_pid)
    kernels.BUDGET = budget


class DaskCluster:
    name = "dask"

    def __init__(self, address: str):
        from distributed import Client

        self.address = address
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT)
        except OSError as e:
            raise ConnectionError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        info = self.client.scheduler_info()
        self.slots = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def concurrency(self, n: int) -> int:
        return max(1, min(self.slots, n))

    def run(self, fn, tasks):
        from distributed import as_completed

        futures, tasks_by_key = [], {}
        for t in tasks:
            # pure=False: a re-run of an unchanged task must run (the store decides to skip);
            # retries=1: a store whose worker was lost runs once more on another.
            fut = self.client.submit(
                fn, t, pure=False, retries=1, key=f"ownercomm-{t['dealer_id']}-{os.urandom(4).hex()}"
            )
            futures.append(fut)
            tasks_by_key[fut.key] = t
        for fut in as_completed(futures):
            task = tasks_by_key[fut.key]
            try:
                yield task, fut.result()
            except Exception as e:  # noqa: BLE001 - a worker died or the function could not run there
                yield task, crashed(task, f"on the Dask cluster: {type(e).__name__}: {e}")
            finally:
                fut.release()

    def close(self) -> None:
        self.client.close()
