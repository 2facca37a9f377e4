"""The kernels a store's notebooks run in: one fresh kernel per store, a spare one warmed ahead.

Each store gets ONE fresh kernel shared by its notebooks in sequence; between notebooks the
user namespace is reset (``InteractiveShell.reset(new_session=True)``), so imported modules
stay loaded but no variable leaks from one notebook to the next. A spare kernel is started
and warmed with the notebooks' own import statements while the current store runs
(``KernelPool.prestart``).
"""

from __future__ import annotations

import ast
import atexit
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Iterable

from .. import procs
from ..errors import KernelError, KernelStartError
from .failure import one_line

log = logging.getLogger(__name__)

KERNEL_NAME = "python3"


# What the kit's notebook set-up imports lazily (reading the exports, plotly's data layer):
# warmed too when the notebooks use the kit. Measured: the first set-up in a kernel costs
# ~1.6 s more than the next one without these.
KIT_LAZY_IMPORTS = (
    "ownercomm_kit.loader",
    "ownercomm_kit.formats",
    "ownercomm_kit.validation",
    "pyarrow.csv",
    "pyarrow.parquet",
    "charset_normalizer",
    "narwhals",
)


def notebook_imports(notebook_paths: Iterable[Path]) -> list[str]:
    """Modules the notebooks import: a spare kernel imports them ahead of time."""
    import nbformat

    modules: list[str] = []
    for path in notebook_paths:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:  # magics: the notebook itself will say so
                continue
            for node in tree.body:
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    # `from pkg import mod` imports a submodule: try both (a miss is harmless).
                    names = [node.module, *(f"{node.module}.{a.name}" for a in node.names if a.name != "*")]
                modules += [n for n in names if n not in modules]
    if any(m.split(".")[0] == "ownercomm_kit" for m in modules):
        modules += [m for m in KIT_LAZY_IMPORTS if m not in modules]
    return modules


class StoreKernel:
    """One fresh kernel for one store; its notebooks run in it one after the other."""

    def __init__(self, km, client, sockets: str | None = None):
        self.km = km
        self.sockets = sockets  # folder of the kernel's IPC socket files
        self.client = client  # blocking client: warm-up, set-up and resets
        self._nb_client = None  # asynchronous client for nbclient, made in the store's thread
        self.thread = threading.get_ident()

    @classmethod
    def start(
        cls, *, startup_timeout: float = 60, retries: int = 2, warm_imports: Iterable[str] = (), wait: bool = True
    ) -> "StoreKernel":
        """Start a kernel; start-up flakiness (port taken, kernel dying early, timeouts) is retried."""
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        last: Exception | None = None
        for attempt in range(retries + 1):
            # IPC sockets in a private folder: no TCP port (or socket file) to collide with
            # another kernel's ("address in use", or worse, messages from a neighbour).
            sockets = tempfile.mkdtemp(prefix="oc-k-")
            km = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=os.path.join(sockets, "k"))
            try:
                if km.kernel_spec is not None and threading.current_thread() is threading.main_thread():
                    # the kernel dies with this process (procs); only from the main thread, since
                    # Linux ties the death signal to the launching thread (a Dask worker's
                    # thread may end before its process: there ipykernel's own parent poller remains)
                    km.kernel_spec.argv = procs.bound_kernel_argv(km.kernel_spec.argv)
                run_sync(km.start_kernel)()
                kernel = cls(km, km.blocking_client(), sockets)
                kernel.client.start_channels()
                if warm_imports:
                    # Queued now, run by the kernel as soon as it is up, while we do other work.
                    kernel.client.execute(_warm_code(warm_imports), silent=True, store_history=False)
                if wait:
                    kernel.wait_ready(startup_timeout)
                return kernel
            except BaseException as e:  # noqa: BLE001 - zmq/jupyter raise several types for the same flake
                with procs.shielded():
                    _shutdown_km(km)
                    shutil.rmtree(sockets, ignore_errors=True)
                if not isinstance(e, Exception):  # a time limit or a stop: no retry, no kernel left
                    raise
                last = e
                log.warning("kernel start attempt %d failed: %s", attempt + 1, e)
        raise KernelStartError(f"kernel did not start after {retries + 1} attempts: {one_line(last)}")

    def wait_ready(self, timeout: float) -> None:
        self.client.wait_for_ready(timeout=timeout)

    def notebook_client(self, timeout: float):
        """The asynchronous client nbclient executes with, shared by the store's notebooks.

        nbclient would otherwise connect (and wait for the kernel's iopub) once per notebook.
        """
        if self._nb_client is None:
            from jupyter_core.utils import run_sync

            kc = self.km.client()
            kc.start_channels()
            run_sync(kc.wait_for_ready)(timeout=timeout)
            kc.allow_stdin = False
            self._nb_client = kc
        return self._nb_client

    def is_alive(self) -> bool:
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:  # noqa: BLE001
            return False

    def run_silently(self, code: str, timeout: float = 60) -> None:
        """Run set-up code: no output, no execution count; an error is raised here."""
        reply = self.client.execute_interactive(
            code, silent=True, store_history=False, timeout=timeout, output_hook=lambda msg: None
        )
        content = reply["content"]
        if content.get("status") != "ok":
            raise KernelError(f"kernel set-up failed: {content.get('ename')}: {content.get('evalue')}")

    def reset(self) -> None:
        """Forget the previous notebook's variables; keep imported modules (the speed-up)."""
        self.run_silently("get_ipython().reset(new_session=True, aggressive=False)")

    def shutdown(self) -> None:
        with procs.shielded():  # a time limit must not leave the kernel half shut down
            for client in (self.client, self._nb_client):
                try:
                    if client is not None:
                        client.stop_channels()
                except Exception:  # noqa: BLE001
                    pass
            _shutdown_km(self.km)
            if self.sockets:
                shutil.rmtree(self.sockets, ignore_errors=True)


def _warm_code(modules: Iterable[str]) -> str:
    # Each import on its own: a module that fails to import is the notebook's business.
    lines = ["import importlib as _il"]
    lines += [f"try:\n    _il.import_module({m!r})\nexcept Exception:\n    pass" for m in modules]
    lines.append("del _il")
    if any(m == "plotly" or m.startswith("plotly.") for m in modules):
        # plotly picks its renderer on first use (~1.3 s of environment probing): do it now.
        lines.append("import plotly.io as _pio\n_pio.renderers.default\ndel _pio")
    return "\n".join(lines)


def _shutdown_km(km) -> None:
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)  # also removes the connection file and sockets
            return
    except Exception as e:  # noqa: BLE001 - best effort: the kernel also exits with its parent
        log.debug("kernel shutdown: %s", e)
    try:
        run_sync(km.cleanup_resources)()
    except Exception:  # noqa: BLE001
        pass


class KernelPool:
    """At most one spare kernel per process, started (and warmed) while a store runs."""

    def __init__(self):
        self._spare: StoreKernel | None = None
        self._finalizer_pid: int | None = None
        atexit.register(self.close)

    def _close_at_exit(self) -> None:
        # Pool workers leave through os._exit, which skips atexit; multiprocessing's exit
        # finalizers still run there, but only in the process that registered them (this
        # module may have been imported in the fork server): register in this process.
        if self._finalizer_pid != os.getpid():
            import multiprocessing.util

            multiprocessing.util.Finalize(self, self.close, exitpriority=10)
            self._finalizer_pid = os.getpid()

    def take(self, *, startup_timeout: float, retries: int) -> StoreKernel:
        spare, self._spare = self._spare, None
        if spare is not None:
            if spare.thread == threading.get_ident() and spare.is_alive():
                try:
                    spare.wait_ready(startup_timeout)
                    return spare
                except Exception as e:  # noqa: BLE001
                    log.warning("spare kernel not usable: %s", e)
                except BaseException:  # a time limit or a stop: the spare goes too
                    spare.shutdown()
                    raise
            spare.shutdown()
        return StoreKernel.start(startup_timeout=startup_timeout, retries=retries)

    def has_spare(self) -> bool:
        return self._spare is not None

    def prestart(self, warm_imports: Iterable[str]) -> bool:
        """Start (and warm) a spare kernel if there is none; False when it could not start."""
        if self._spare is not None:
            return True
        self._close_at_exit()
        try:
            self._spare = StoreKernel.start(retries=0, warm_imports=warm_imports, wait=False)
        except KernelStartError as e:  # the next store starts its own
            log.warning("could not prestart a kernel: %s", e)
            return False
        return True

    def close(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.shutdown()


KERNELS = KernelPool()


class SpareBudget:
    """Shared by a batch's pool workers, so that a spare kernel is warmed only where it is
    likely to be used: a worker takes its next store from a common queue, so a spare warmed
    by one worker is wasted (a kernel's start and imports, seconds of CPU on busy cores) when
    another worker takes the store. It counts the stores not yet taken and the spares warm;
    a worker warms one when more stores wait than spares are warm (``reserve``)."""

    def __init__(self, ctx, stores: int, workers: int):
        self._waiting = ctx.Value("i", stores)
        self._spares = ctx.Value("i", 0)
        self.workers = workers

    def claim(self, had_spare: bool) -> None:
        """A worker takes a store (with its spare kernel if it had one)."""
        with self._waiting.get_lock():
            self._waiting.value = max(0, self._waiting.value - 1)
        if had_spare:
            self.release()

    def release(self) -> None:
        with self._spares.get_lock():
            self._spares.value = max(0, self._spares.value - 1)

    def reserve(self, ahead: int) -> bool:
        """One more spare, if at least ``ahead`` waiting stores have none (True: warm it)."""
        with self._waiting.get_lock(), self._spares.get_lock():
            if self._waiting.value - self._spares.value >= max(1, ahead):
                self._spares.value += 1
                return True
        return False

    def counts(self) -> tuple[int, int]:
        return self._waiting.value, self._spares.value


# In a batch's local pool worker: its pool's budget (``batch.executors``); tasks with
# ``prestart="auto"`` warm their spare by it.
BUDGET: SpareBudget | None = None


def warm_spare(budget: SpareBudget | None, ahead: int, warm_imports) -> None:
    """Warm a spare kernel in this process if the budget allows (see SpareBudget)."""
    if budget is None or KERNELS.has_spare() or not budget.reserve(ahead):
        return
    if not KERNELS.prestart(warm_imports()):
        budget.release()
