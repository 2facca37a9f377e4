"""Leaner start-up of the kit's own processes (CLI, batch workers, kernels).

nbformat (imported by papermill, nbconvert and plotly's renderers) imports jsonschema, whose
format checkers import ``rfc3987_syntax`` when it is installed (it comes with JupyterLab).
That module compiles an Earley grammar at import: 1.2-1.8 s of CPU in every process,
the batch's fork server, its main process and every kernel, and the kit never checks the
"iri" formats it serves (nbformat validates without a format checker).
:func:`skip_iri_grammar` imports jsonschema's format checkers with that one module hidden,
then un-hides it: a later ``import rfc3987_syntax`` works as usual.

Importing this module applies it (the batch's fork server preloads it by name).
"""

from __future__ import annotations

import importlib.util
import sys

HIDDEN = "rfc3987_syntax"


def _import_without(hidden: str, module: str) -> bool:
    """Import ``module`` with ``hidden`` unimportable, then un-hide it (a later ``import
    hidden`` works as usual); True if it was done here."""
    if module in sys.modules or hidden in sys.modules:
        return False
    try:
        if importlib.util.find_spec(hidden.split(".")[0]) is None:
            return False
    except (ImportError, ValueError):
        return False
    sys.modules[hidden] = None  # type: ignore[assignment]  # `import` raises ImportError
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - best effort: the module then imports as it would have
        return False
    finally:
        if sys.modules.get(hidden, 0) is None:
            del sys.modules[hidden]
    return True


def skip_kernel_debugger() -> bool:
    """In a kernel process, before ipykernel starts: import ipykernel's debugger support
    without debugpy (~0.1 s of CPU and a warning on every kernel start; the kit's kernels
    run notebooks unattended and are never debugged). ipykernel then does not offer the
    debugger; ``import debugpy`` in a notebook still works."""
    return _import_without("debugpy", "ipykernel.debugger")


def skip_iri_grammar() -> bool:
    """Import ``jsonschema._format`` without ``rfc3987_syntax``; True if it was done here.

    Nothing happens when jsonschema's format checkers are already imported (the cost is
    paid), or when jsonschema or that module is not installed."""
    return _import_without(HIDDEN, "jsonschema._format")


skip_iri_grammar()
