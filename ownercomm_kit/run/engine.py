"""The papermill engine ``ownercomm`` and the execution of a store's notebooks.

Where a plain loop (papermill CLI, then nbconvert CLI, per notebook) spends its time, and what
the runner does instead (see benchmarks/bench_batch.py for the figures):

- CLI start-up (Python, papermill and nbconvert imports, ~1-2 s per call): the papermill API is
  called from a long-lived process (the batch workers import it once).
- One kernel per notebook: one kernel per store, shared by its notebooks (``run.kernels``).
- papermill's save after every cell: ``request_save_on_cell_execute=False``; the executed
  notebook is written once at the end (papermill still writes it on a failure).
- nbconvert CLI per notebook: the HTML is exported in-process (``report.export``).

papermill's own parameter injection is used unchanged (engine ``ownercomm`` only passes a
kernel manager and a deadline), so an executed notebook equals one from plain papermill.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..errors import StoreFailure
from . import failure
from .kernels import KERNEL_NAME, StoreKernel

log = logging.getLogger(__name__)


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
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            deadline=None,
            kc=None,
            **kwargs,
        ):
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            if deadline is not None:
                # nbclient asks per cell: the time left of the store's budget.
                kwargs["timeout_func"] = lambda cell: max(1, int(deadline - time.monotonic()) + 1)
            final = merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
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

    ename, evalue = failure.CELL_TIMEOUT if isinstance(error, TimeoutError) else failure.KERNEL_DIED
    # papermill has already marked the cell complete: the interrupted one is the last started.
    started = [
        c
        for c in nb_man.nb.cells
        if c.get("cell_type") == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    if started:
        cell = started[-1]
        cell.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[]))
        nb_man.cell_exception(cell)
    nb_man.nb.metadata.papermill["exception"] = True


def execute_store(
    kernel: StoreKernel,
    specs,
    parameters: dict,
    staging: Path,
    *,
    root: Path,
    plotlyjs: str,
    dealer_name: str,
    deadline: float | None,
    startup_timeout: float,
    timings: dict,
) -> None:
    """Run the store's notebooks in ``kernel``, writing everything into ``staging``."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _register_engine()
    t = time.perf_counter()
    # The kernel works in the store's own output folder and finds the kit like the CLI does.
    kernel.run_silently(
        f"import os as _os\n_os.chdir({str(staging)!r})\n_os.environ['OWNERCOMM_ROOT'] = {str(root)!r}\ndel _os"
    )
    timings["kernel"] = timings.get("kernel", 0.0) + time.perf_counter() - t
    for i, (nb_path, html_name, title) in enumerate(specs):
        out_nb = staging / nb_path.name
        t = time.perf_counter()
        if i:
            kernel.reset()
        try:
            nb = papermill.execute_notebook(
                str(nb_path),
                str(out_nb),
                parameters=parameters,
                engine_name="ownercomm",
                km=kernel.km,
                kernel_name=KERNEL_NAME,
                request_save_on_cell_execute=False,
                autosave_cell_every=0,
                progress_bar=False,
                start_timeout=startup_timeout,
                deadline=deadline,
                kc=kernel.notebook_client(startup_timeout),
            )
        except PapermillExecutionError as e:
            raise StoreFailure(
                failure.of_notebook(nb_path.name, e, _recorded(kernel, staging, e)), str(out_nb)
            ) from None
        timings["execute"] = timings.get("execute", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        html = export_html(nb, title=f"{dealer_name}: {title}", plotlyjs=plotlyjs)
        _atomic_write(html, staging / html_name)
        timings["export"] = timings.get("export", 0.0) + time.perf_counter() - t
    if plotlyjs == "shared":  # one copy in the store folder (a batch passes its group's copy instead)
        from ..report import export

        export.write_shared_plotlyjs(staging)


def _atomic_write(text: str, path: Path) -> None:
    """A page written whole or not at all (a time limit or a full disk leaves no half page)."""
    from ..outputs import write_text

    write_text(text, path)


def export_html(nb, *, title: str, plotlyjs: str = "inline") -> str:
    """The report helper's export (its exporter and plotly.js are cached per process)."""
    from ..report.export import notebook_to_html

    return notebook_to_html(nb, title=title, plotlyjs=plotlyjs)


def _recorded(kernel: StoreKernel, staging: Path, error) -> dict | None:
    """The failure the notebook's kernel records for the error it last showed (``failure.FAILURE_FILE``
    in ``staging``); None when the kernel cannot say (busy past a time limit, dead)."""
    if not failure.asks_the_kernel(getattr(error, "ename", None), getattr(error, "evalue", None)):
        return None
    path = staging / failure.FAILURE_FILE
    try:
        kernel.run_silently(
            "from ownercomm_kit.run.failure import record_last as _record_last\n"
            f"_record_last({str(path)!r})\n"
            "del _record_last",
            timeout=10,
        )
        return failure.read(path)
    except Exception as e:  # noqa: BLE001 - the failure is then told from the error's name
        log.debug("no failure recorded by the kernel: %s", e)
        return None
    finally:
        path.unlink(missing_ok=True)
