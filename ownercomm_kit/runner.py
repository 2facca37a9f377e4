"""`ownercomm run`: execute one dealer's notebooks with papermill, atomically, with resume.

Where a plain loop (papermill CLI, then nbconvert CLI, per notebook) spends its time, and what
this module does instead (see benchmarks/bench_batch.py for the figures):

- CLI start-up (Python, papermill and nbconvert imports, ~1-2 s per call): the papermill API is
  called from a long-lived process (the batch workers import it once).
- One kernel per notebook: each store gets ONE fresh kernel shared by its notebooks in sequence;
  between notebooks the user namespace is reset (``InteractiveShell.reset(new_session=True)``),
  so imported modules stay loaded but no variable leaks from one notebook to the next.
- Kernel start and the notebooks' imports: a spare kernel is started and warmed with the
  notebooks' own import statements while the current store runs (``prestart=True``).
- papermill's save after every cell: ``request_save_on_cell_execute=False``; the executed
  notebook is written once at the end (papermill still writes it on a failure).
- nbconvert CLI per notebook: the HTML is exported in-process (``report.export``).

papermill's own parameter injection is used unchanged (engine ``ownercomm`` only passes a
kernel manager and a deadline), so an executed notebook equals one from plain papermill.
"""
from __future__ import annotations

import ast
import atexit
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import __version__, errors, params, paths, procs
from .datafolder import data_files

log = logging.getLogger(__name__)

# The notebooks of a dealer, in the order they run: (notebook stem, HTML name, HTML title).
# SPEC §7 names. The data-quality notebook is optional: it runs when it exists.
# Data quality first: it loads non-strictly, so when a later notebook stops on blocking data
# its page explaining every problem is already made (kept in _failed/ with the notebooks).
NOTEBOOKS: tuple[tuple[str, str, str], ...] = (
    ("data_quality", "data_quality.html", "Data quality"),
    ("audit", "audit.html", "Communication audit"),
    ("retention", "retention.html", "Retention"),
    ("referrals", "referrals.html", "Referrals"),
)
REQUIRED_NOTEBOOKS = ("audit", "retention", "referrals")


# A dealer or group id becomes a folder name: no separators, no "..", nothing hidden.
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
RUN_RECORD = ".ownercomm-run.json"  # fingerprint and outputs of the last good run, in the store folder
FAILURE_LINE_MAX = 500               # a store's one-line reason in the manifest and the index
FAILED_DIR = "_failed"               # executed notebooks of the last failed run, for diagnosis
KERNEL_NAME = "python3"


class StoreFailure(Exception):
    """A store could not be run; ``str()`` is the one-line reason."""

    def __init__(self, reason: str, notebook_path: str | None = None):
        super().__init__(reason)
        self.notebook_path = notebook_path


class KernelStartError(StoreFailure):
    """The kernel did not come up (after the bounded retries)."""


@dataclass
class RunResult:
    dealer_id: str
    status: str                      # ok | failed | skipped
    seconds: float = 0.0
    error: str | None = None         # one line
    out_dir: str | None = None
    outputs: list[str] = field(default_factory=list)   # file names inside out_dir
    failed_notebook: str | None = None                 # path of the executed notebook that failed
    dealer_name: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # kernel, execute, export, write

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- notebooks

def notebook_specs(notebooks_dir: str | os.PathLike | None = None) -> list[tuple[Path, str, str]]:
    """(notebook path, HTML name, title) of the notebooks that run, in order.

    A missing required notebook is an error (the run would silently lose a report).
    """
    folder = Path(notebooks_dir) if notebooks_dir else paths.notebooks_dir()
    specs, missing = [], []
    for stem, html, title in NOTEBOOKS:
        path = folder / f"{stem}.ipynb"
        if path.is_file():
            specs.append((path, html, title))
        elif stem in REQUIRED_NOTEBOOKS:
            missing.append(str(path))
    if missing:
        raise StoreFailure(f"notebook(s) not found: {', '.join(missing)}")
    return specs


# What the kit's notebook set-up imports lazily (reading the exports, plotly's data layer):
# warmed too when the notebooks use the kit. Measured: the first set-up in a kernel costs
# ~1.6 s more than the next one without these.
KIT_LAZY_IMPORTS = ("ownercomm_kit.loader", "ownercomm_kit.formats", "ownercomm_kit.validation",
                    "pyarrow.csv", "pyarrow.parquet", "charset_normalizer", "narwhals")


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


# --------------------------------------------------------------------------- parameters

def notebook_parameters(dealer_file: Path, group_file: Path | None, as_of: dt.date | None,
                        out_dir: Path, resolved: dict) -> dict:
    """The parameters papermill injects: the dealer file's content, data_dir absolute, + run keys."""
    raw = params.read_yaml(dealer_file)
    chosen = {k: raw.get(k) for k in params.NOTEBOOK_PARAMETERS if k in raw}
    chosen["data_dir"] = resolved["data_dir"]
    run_as_of = as_of if as_of is not None else params.parse_as_of(raw.get("as_of"))
    chosen["as_of"] = run_as_of.isoformat() if run_as_of else None
    chosen["group_file"] = str(group_file) if group_file else None
    chosen["out_dir"] = str(out_dir)
    return _plain(chosen)


def _plain(value: Any) -> Any:
    """YAML dates and the like as strings: papermill writes parameters as Python literals."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


# --------------------------------------------------------------------------- fingerprint

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: Path | None) -> str | None:
    return _sha(path.read_bytes()) if path and path.is_file() else None


def fingerprint(*, dealer_file: Path, group_file: Path | None, data_dir: Path, root: Path,
                notebooks: Iterable[Path], as_of: dt.date | None) -> str:
    """Hash of everything a store's reports depend on (SPEC §7 resume).

    Everything by content: data files too, so a copied or re-saved export with the same bytes
    is no change, and new bytes under an old modification time are one (BLAKE2b reads about
    1 GB/s, small beside loading the same files).
    """
    data = []
    if data_dir.is_dir():
        for p in data_files(data_dir, subfolders=True):
            with open(p, "rb") as f:
                data.append([str(p.relative_to(data_dir)), hashlib.file_digest(f, "blake2b").hexdigest()])
    doc = {
        "kit_version": __version__,
        "kit_code": kit_code_hash(),
        "as_of": as_of.isoformat() if as_of else None,
        "dealer_file": _file_sha(dealer_file),
        "group_file": _file_sha(group_file),
        "defaults": _file_sha(paths.defaults_file(root)),
        "notebooks": {p.name: _file_sha(p) for p in notebooks},
        "data": data,
    }
    return _sha(json.dumps(doc, sort_keys=True).encode())


_KIT_CODE: dict[str, str] = {}


def kit_code_hash() -> str:
    """Hash of the kit's own code, templates, assets and shipped notebooks and defaults
    (every file of the installed package but bytecode), computed once per process.

    A changed rule or page template re-runs a store even when the version string did not
    move (a developer's checkout, a patched install).
    """
    if "sha" not in _KIT_CODE:
        h = hashlib.sha256()
        for p in sorted(paths.PACKAGE_DIR.rglob("*")):
            rel = p.relative_to(paths.PACKAGE_DIR)
            if not p.is_file() or "__pycache__" in rel.parts or p.suffix in (".pyc", ".pyo"):
                continue
            h.update(str(rel.as_posix()).encode() + b"\0" + p.read_bytes() + b"\0")
        _KIT_CODE["sha"] = h.hexdigest()
    return _KIT_CODE["sha"]


def read_run_record(store_dir: Path) -> dict | None:
    try:
        return json.loads((store_dir / RUN_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_up_to_date(store_dir: Path, fp: str) -> bool:
    record = read_run_record(store_dir)
    if not record or record.get("fingerprint") != fp:
        return False
    return all((store_dir / name).is_file() for name in record.get("outputs", []))


# --------------------------------------------------------------------------- kernels

class StoreKernel:
    """One fresh kernel for one store; its notebooks run in it one after the other."""

    def __init__(self, km, client, sockets: str | None = None):
        self.km = km
        self.sockets = sockets        # folder of the kernel's IPC socket files
        self.client = client          # blocking client: warm-up, set-up and resets
        self._nb_client = None        # asynchronous client for nbclient, made in the store's thread
        self.thread = threading.get_ident()

    @classmethod
    def start(cls, *, startup_timeout: float = 60, retries: int = 2,
              warm_imports: Iterable[str] = (), wait: bool = True) -> "StoreKernel":
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
        raise KernelStartError(f"kernel did not start after {retries + 1} attempts: {_one_line(last)}")

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
        reply = self.client.execute_interactive(code, silent=True, store_history=False, timeout=timeout,
                                                output_hook=lambda msg: None)
        content = reply["content"]
        if content.get("status") != "ok":
            raise StoreFailure(f"kernel set-up failed: {content.get('ename')}: {content.get('evalue')}")

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

    def prestart(self, warm_imports: Iterable[str]) -> None:
        if self._spare is not None:
            return
        self._close_at_exit()
        try:
            self._spare = StoreKernel.start(retries=0, warm_imports=warm_imports, wait=False)
        except KernelStartError as e:  # the next store starts its own
            log.warning("could not prestart a kernel: %s", e)

    def close(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.shutdown()


KERNELS = KernelPool()


# --------------------------------------------------------------------------- papermill engine

def _register_engine() -> None:
    """papermill engine ``ownercomm``: nbclient on a given kernel, with a store deadline."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    if "ownercomm" in papermill_engines._engines:
        return

    class StoreEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None,
                                     deadline=None, kc=None, **kwargs):
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            if deadline is not None:
                # nbclient asks per cell: the time left of the store's budget.
                kwargs["timeout_func"] = lambda cell: max(1, int(deadline - time.monotonic()) + 1)
            final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log=logger, log_output=log_output,
                                 stdout_file=stdout_file, stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, **final)
            client.kc = kc  # connected and ready: nbclient then skips its own connection
            try:
                return client.execute()
            except (CellTimeoutError, DeadKernelError) as e:
                # Recorded as the running cell's error, so papermill writes the notebook and
                # raises its usual PapermillExecutionError naming the cell.
                _mark_running_cell(nb_man, e)
                return nb_man.nb
            finally:
                if kc is None and client.kc is not None:  # the kernel outlives this notebook
                    try:
                        client.kc.stop_channels()
                    except Exception:  # noqa: BLE001
                        pass

    papermill_engines.register("ownercomm", StoreEngine)


def _mark_running_cell(nb_man, error: Exception) -> None:
    import nbformat

    ename = "TimeoutError" if isinstance(error, TimeoutError) else "DeadKernelError"
    evalue = ("the store's time limit was reached while this cell ran" if ename == "TimeoutError"
              else "the kernel died while this cell ran (out of memory?)")
    # papermill has already marked the cell complete: the interrupted one is the last started.
    started = [c for c in nb_man.nb.cells
               if c.get("cell_type") == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if started:
        cell = started[-1]
        cell.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[]))
        nb_man.cell_exception(cell)
    nb_man.nb.metadata.papermill["exception"] = True


# --------------------------------------------------------------------------- one store

def _failure_line(notebook: str, error) -> str:
    """`audit.ipynb, cell 5: DataError: 2 blocking data problem(s): ERROR ...; ERROR ...`."""
    ename = getattr(error, "ename", type(error).__name__)
    evalue = str(getattr(error, "evalue", error) or "")
    lines = [ln.strip() for ln in evalue.splitlines() if ln.strip()]
    count = getattr(error, "exec_count", None)
    head = f"{notebook}{f', cell {count}' if count is not None else ''}: {ename}: "
    if ename == "DataError" and lines:
        return head + _whole_problems(lines[0], lines[1:], FAILURE_LINE_MAX - len(head))
    # the headline: pandas and others put hints on the following lines
    return (head + (lines[0] if lines else ""))[:FAILURE_LINE_MAX]


def _whole_problems(headline: str, problems: list[str], room: int) -> str:
    """``headline: p1; p2; and N more``: whole problems only (a value cut in half misleads)."""
    shown: list[str] = []
    for i, p in enumerate(problems[:3]):
        rest = len(problems) - i - 1
        more = f"; and {rest} more" if rest else ""
        if len(f"{headline}: {'; '.join([*shown, p])}{more}") > room and shown:
            break
        shown.append(p)
    rest = len(problems) - len(shown)
    text = f"{headline}: {'; '.join(shown)}{f'; and {rest} more' if rest else ''}"
    return text if len(text) <= room else text[: room - 1] + "…"


def _one_line(e: Exception | None) -> str:
    text = str(e or "").strip().splitlines()
    return f"{type(e).__name__}: {text[-1] if text else ''}"


def execute_store(kernel: StoreKernel, specs, parameters: dict, staging: Path, *, root: Path,
                  plotlyjs: str, dealer_name: str, deadline: float | None,
                  startup_timeout: float, timings: dict) -> None:
    """Run the store's notebooks in ``kernel``, writing everything into ``staging``."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _register_engine()
    t = time.perf_counter()
    # The kernel works in the store's own output folder and finds the kit like the CLI does.
    kernel.run_silently(
        "import os as _os\n"
        f"_os.chdir({str(staging)!r})\n"
        f"_os.environ['OWNERCOMM_ROOT'] = {str(root)!r}\n"
        "del _os"
    )
    timings["kernel"] = timings.get("kernel", 0.0) + time.perf_counter() - t
    for i, (nb_path, html_name, title) in enumerate(specs):
        out_nb = staging / nb_path.name
        t = time.perf_counter()
        if i:
            kernel.reset()
        try:
            nb = papermill.execute_notebook(
                str(nb_path), str(out_nb), parameters=parameters, engine_name="ownercomm",
                km=kernel.km, kernel_name=KERNEL_NAME, request_save_on_cell_execute=False,
                autosave_cell_every=0, progress_bar=False, start_timeout=startup_timeout,
                deadline=deadline, kc=kernel.notebook_client(startup_timeout),
            )
        except PapermillExecutionError as e:
            raise StoreFailure(_failure_line(nb_path.name, e), str(out_nb)) from None
        timings["execute"] = timings.get("execute", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        html = export_html(nb, title=f"{dealer_name}: {title}", plotlyjs=plotlyjs)
        _atomic_write(html, staging / html_name)
        timings["export"] = timings.get("export", 0.0) + time.perf_counter() - t
    if plotlyjs == "shared":  # one copy in the store folder (a batch passes its group's copy instead)
        from .report import export

        export.write_shared_plotlyjs(staging)


def _atomic_write(text: str, path: Path) -> None:
    """A page written whole or not at all (a time limit or a full disk leaves no half page)."""
    from .outputs import write_text

    write_text(text, path)


def export_html(nb, *, title: str, plotlyjs: str = "inline") -> str:
    """The report helper's export (its exporter and plotly.js are cached per process)."""
    from .report.export import notebook_to_html

    return notebook_to_html(nb, title=title, plotlyjs=plotlyjs)


# --------------------------------------------------------------------------- publishing

def _publish(staging: Path, target: Path) -> None:
    """Swap the staging folder in as the store folder; the old one goes only after."""
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _keep_failed(staging: Path, target: Path) -> str | None:
    """Move the failed run's executed notebooks (and the pages already made, such as
    data_quality.html) to ``<target>/_failed/``; the last good reports stay."""
    notebooks = sorted([*staging.glob("*.ipynb"), *staging.glob("*.html")])
    if not notebooks:
        return None
    target.mkdir(parents=True, exist_ok=True)
    failed = target / FAILED_DIR
    fresh = target / f".{FAILED_DIR}.new-{uuid.uuid4().hex[:8]}"
    fresh.mkdir()
    for nb in notebooks:
        os.replace(nb, fresh / nb.name)
    if failed.exists():
        shutil.rmtree(failed)
    os.replace(fresh, failed)
    return str(failed)


def _recover(target: Path) -> None:
    """Undo what an interrupted run left beside ``target`` (a killed process runs no cleanup)."""
    parent = target.parent
    if not parent.is_dir():
        return
    olds = sorted(parent.glob(f".{target.name}.old-*"))
    if olds and not target.exists():  # killed between the two renames of _publish
        os.replace(olds.pop(), target)
    for leftover in [*olds, *parent.glob(f".{target.name}.partial-*")]:
        if leftover.name.startswith(f".{target.name}.partial-") and _pid_alive(leftover.name):
            continue
        shutil.rmtree(leftover, ignore_errors=True)
    for tmp in target.glob(f".{FAILED_DIR}.new-*") if target.is_dir() else []:
        shutil.rmtree(tmp, ignore_errors=True)


def _pid_alive(name: str) -> bool:
    try:
        pid = int(name.rsplit("-", 2)[-2])
    except (ValueError, IndexError):
        return False
    if pid == os.getpid():
        return False
    return procs.pid_alive(pid)


# --------------------------------------------------------------------------- run_dealer

def notebooks_for(root: Path) -> Path:
    """The kit's notebooks: beside the dealer's params/, else the installed kit's."""
    own = paths.notebooks_dir(root)
    return own if own.is_dir() else paths.kit_notebooks_dir()


def default_out(root: Path | None = None) -> Path:
    return (root or paths.kit_root()) / "reports"


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


def _prepare(dealer_file: Path, group_file: Path | None, out, as_of, notebooks_dir,
             result: RunResult) -> _Store | None:
    """Check everything a run needs before touching any folder; None (and ``result.error``) if not."""
    try:
        run_as_of = params.parse_as_of(as_of)
    except ValueError:
        result.error = f"as_of {as_of!r} is not a date (YYYY-MM-DD)"
        return None
    try:
        resolved = params.resolve(dealer_file=dealer_file, group_file=group_file, overrides={"as_of": run_as_of})
    except params.ParamsError as e:
        result.error = "parameters: " + "; ".join(e.problems)
        return None
    root = Path(resolved["kit_root"])
    result.dealer_id, result.dealer_name = resolved["dealer_id"], resolved["dealer_name"]
    if not SAFE_ID.match(result.dealer_id):
        result.error = (f"{dealer_file}: dealer_id {result.dealer_id!r} must be letters, digits, '.', '_' "
                        "or '-' (it names the report folder)")
        return None
    target = (Path(out).resolve() if out else default_out(root)) / result.dealer_id
    result.out_dir = str(target)
    try:
        specs = notebook_specs(notebooks_dir or notebooks_for(root))
    except StoreFailure as e:
        result.error = str(e)
        return None
    data_dir = Path(resolved["data_dir"])
    if not data_dir.is_dir():
        result.error = f"data folder not found: {data_dir}"
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
    prestart: bool = False,
    shared_plotlyjs: str | None = None,
    history_months: int | None = None,
) -> RunResult:
    """Run one dealer's notebooks into ``<out>/<dealer_id>/`` (SPEC §7).

    Never raises for a store problem: the result says ``failed`` with a one-line reason.
    ``timeout`` bounds the whole store in seconds. ``prestart`` starts and warms the next
    store's kernel in this process while this one runs (batch workers). ``shared_plotlyjs``:
    with ``report.plotlyjs: shared``, the relative URL of a copy the caller already wrote
    (a batch's ``../plotly.min.js``) instead of one in the store folder. ``history_months``:
    also rebuild the store's ``history.csv`` (``ownercomm history``) before its reports, which
    chart it (SPEC §10).

    The store folder keeps its recorded runs (``runs/``) and its history across runs; a
    successful run records its kpis.json as ``runs/<as_of>.json`` (an earlier record of the
    same as_of is kept unless ``force``).
    """
    started = time.perf_counter()
    dealer_file = Path(dealer_file).resolve()
    result = RunResult(dealer_id=dealer_file.stem, status="failed")
    store = _prepare(dealer_file, Path(group_file).resolve() if group_file else None, out, as_of,
                     notebooks_dir, result)
    if store is None:
        return result
    target = store.target
    deadline = time.monotonic() - (time.perf_counter() - started) + timeout if timeout else None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with procs.store_lock(target):  # one run of a store per output folder at a time
            _run_locked(store, result, started=started, deadline=deadline, force=force, timeout=timeout,
                        startup_timeout=startup_timeout, kernel_retries=kernel_retries, prestart=prestart,
                        shared_plotlyjs=shared_plotlyjs, history_months=history_months)
    except procs.AlreadyRunning as e:
        result.error = (f"already running: another run of {result.dealer_id} is writing to {target.parent} "
                        f"(lock file {e}); wait for it to finish, or choose another --out")
    except OSError as e:  # the output folder cannot be made or locked (read-only, full, no right)
        fault = errors.output_error(e, target.parent, within=[target.parent])
        result.error = str(fault) if fault else _one_line(e)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


# The time limit's last resort (a timer in the main thread) leaves a cell this long to stop
# on its own first: nbclient's own cell timeout then names the cell and the executed notebook
# is kept for diagnosis. So a store stops at most this long after its --timeout.
TIMEOUT_GRACE = 2.0


def _run_locked(store: _Store, result: RunResult, *, started: float, deadline: float | None, force: bool,
                timeout: float | None, startup_timeout: float, kernel_retries: int, prestart: bool,
                shared_plotlyjs: str | None, history_months: int | None = None) -> None:
    """``run_dealer`` once the store's lock is held: resume check, run, publish or keep the failure."""
    target = store.target
    _recover(target)
    fp = fingerprint(dealer_file=store.dealer_file, group_file=store.group_file, data_dir=store.data_dir,
                     root=store.root, notebooks=[s[0] for s in store.specs], as_of=store.as_of)
    if not force and is_up_to_date(target, fp) and (
            not history_months or (read_run_record(target) or {}).get("history_months") == history_months):
        result.status = "skipped"
        result.outputs = read_run_record(target).get("outputs", [])
        return

    staging = target.with_name(f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        staging.mkdir()
        _carry_progress(store, staging, history_months)
        limit = deadline - time.monotonic() + TIMEOUT_GRACE if deadline is not None else None
        with procs.time_limit(limit, lambda: errors.StoreTimeout(timeout)):
            _run_into(store, staging, result, deadline=deadline,
                      startup_timeout=startup_timeout, kernel_retries=kernel_retries, prestart=prestart,
                      shared_plotlyjs=shared_plotlyjs)
        t = time.perf_counter()
        outputs = sorted(str(p.relative_to(staging)) for p in staging.rglob("*")
                         if p.is_file() and not p.name.startswith(".") and not _carried(p.relative_to(staging)))
        report_as_of = _report_as_of(store, staging)
        record = {"fingerprint": fp, "dealer_id": result.dealer_id, "kit_version": __version__,
                  "as_of": report_as_of.isoformat() if report_as_of else None,
                  "history_months": history_months,
                  "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  "outputs": outputs}
        (staging / RUN_RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")
        _record_kpis(store, staging, fp, force, report_as_of)
        _publish(staging, target)
        result.timings["write"] = time.perf_counter() - t
        result.status, result.outputs = "ok", outputs
    except StoreFailure as e:
        fault = errors.output_error_in_text(None, str(e), target.parent, within=[target.parent])
        if fault:  # a full disk seen by a notebook: what it wrote may be cut short, keep nothing
            result.error = str(fault)
        else:
            result.error = str(e)
            kept = _keep_failed_safely(staging, target)
            if kept and e.notebook_path:
                result.failed_notebook = str(Path(kept) / Path(e.notebook_path).name)
    except errors.StoreTimeout as e:
        result.error = str(e)
        _keep_failed_safely(staging, target)
    except Exception as e:  # noqa: BLE001 - one store's surprise must not stop a batch
        fault = errors.output_error(e, target.parent, within=[target.parent])
        if fault:
            result.error = str(fault)
        else:
            log.exception("store %s failed", result.dealer_id)
            result.error = _one_line(e)
            _keep_failed_safely(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        result.seconds = round(time.perf_counter() - started, 3)
        if result.timings:  # the rest: imports, parameters, fingerprint, kernel shutdown
            result.timings["other"] = max(0.0, result.seconds - sum(result.timings.values()))
        result.timings = {k: round(v, 3) for k, v in result.timings.items()}


def _keep_failed_safely(staging: Path, target: Path) -> str | None:
    """:func:`_keep_failed`, keeping only whole files; if even that cannot be written (a full
    disk), nothing is kept and nothing half-moved stays behind."""
    for path in staging.glob("*.ipynb"):
        if not _whole_notebook(path):  # cut short by a stop or a time limit while written
            path.unlink(missing_ok=True)
    try:
        return _keep_failed(staging, target)
    except OSError as e:
        log.warning("could not keep the failed run's notebooks: %s", e)
        for tmp in target.glob(f".{FAILED_DIR}.new-*") if target.is_dir() else []:
            shutil.rmtree(tmp, ignore_errors=True)
        return None


def _whole_notebook(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
        return True
    except (OSError, ValueError):
        return False


def _run_into(store: _Store, staging: Path, result: RunResult, *, deadline: float | None,
              startup_timeout: float, kernel_retries: int, prestart: bool, shared_plotlyjs: str | None) -> None:
    """Execute the store's notebooks in a fresh kernel, everything written into ``staging``."""
    t = time.perf_counter()
    startup_timeout = procs.remaining(deadline, startup_timeout)  # the kernel's start counts too
    kernel = KERNELS.take(startup_timeout=startup_timeout, retries=kernel_retries)
    result.timings["kernel"] = time.perf_counter() - t
    try:
        if prestart:
            KERNELS.prestart(notebook_imports(s[0] for s in store.specs))
        parameters = notebook_parameters(store.dealer_file, store.group_file, store.as_of, staging, store.resolved)
        plotlyjs = str((store.resolved.get("report") or {}).get("plotlyjs") or "inline")
        if plotlyjs == "shared" and shared_plotlyjs:
            plotlyjs = shared_plotlyjs
        execute_store(kernel, store.specs, parameters, staging, root=store.root, plotlyjs=plotlyjs,
                      dealer_name=result.dealer_name, deadline=deadline, startup_timeout=startup_timeout,
                      timings=result.timings)
    finally:
        kernel.shutdown()

def _carried(rel: Path) -> bool:
    """Recorded runs and the history: the store's past, kept across runs, not a run's outputs."""
    from .kpis import history, runs

    return rel.parts[0] == runs.RUNS_DIR or str(rel) == history.HISTORY_FILE


def _carry_progress(store: _Store, staging: Path, history_months: int | None) -> None:
    """The store's recorded runs and history into ``staging`` (its pages read them, and the
    folder swapped in keeps them); with ``history_months``, the history rebuilt first."""
    from .data import DataError
    from .kpis import history, runs

    runs.carry_over(store.target, staging)
    if history_months:
        from .loader import load_dealer

        try:
            data = load_dealer(store.resolved, strict=True)
        except DataError:
            return  # the notebooks stop on it and say every problem
        history.write(history.compute(data, store.resolved, history_months), staging)


def _report_as_of(store: _Store, staging: Path) -> dt.date | None:
    """The as_of the run's reports used (their set-up leaves it in the folder), else the run's."""
    from .kpis import runs

    as_of = runs.marked_as_of(staging) or store.as_of
    (staging / runs.AS_OF_MARK).unlink(missing_ok=True)
    return as_of


def _record_kpis(store: _Store, staging: Path, fp: str, force: bool, as_of: dt.date | None) -> None:
    """``runs/<as_of>.json`` of this run: its kpis.json, as_of and inputs' fingerprint."""
    from . import outputs
    from .kpis import runs

    if as_of is None:
        return
    runs.record_run(staging, as_of=as_of, fingerprint=fp, kpis=outputs.read_kpis(staging),
                    dealer_id=store.resolved["dealer_id"], force=force)


def run_task(task: dict) -> dict:
    """A batch worker's entry point: ``run_dealer(**task)`` as a plain dict (picklable)."""
    task = {k: v for k, v in task.items() if k != "dealer_id"}
    dealer_file = task.pop("dealer_file")
    try:
        return run_dealer(dealer_file, **task).to_dict()
    except BaseException as e:  # noqa: BLE001 - even a KeyboardInterrupt in a worker is this store's
        if isinstance(e, KeyboardInterrupt):
            raise
        return RunResult(dealer_id=Path(dealer_file).stem, status="failed", error=_one_line(e)).to_dict()


@contextlib.contextmanager
def sigterm_interrupts():
    """SIGTERM (a scheduler stopping the job) unwinds like Ctrl-C while inside: staging folders
    are removed and kernels shut down instead of the process vanishing mid-write."""
    import signal

    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
