"""While a batch's stores run on the workers, the batch's own process only waits. It uses that
time to import and warm what the group step needs once the last store is done (the group step
and page modules, DuckDB, phone numbers, the HTML exporter and its plotly.js, plotly's figure
machinery). Measured on a loaded 2-core machine: the group page took 31.7 s of a 144.7 s batch,
almost all of it first-time imports in this process; they now overlap the stores.

Best effort: a failure here only means the group step imports cold, as before.
"""

from __future__ import annotations

import importlib
import logging
import threading

log = logging.getLogger(__name__)

MODULES = (
    "ownercomm_kit.group.step",
    "ownercomm_kit.group.page",
    "ownercomm_kit.group.persons",
    "duckdb",
    "pyarrow.parquet",
    "phonenumbers",
)


def warm_group_step(plotlyjs: str = "inline") -> threading.Thread:
    """Start warming in a daemon thread (it never delays the process's exit)."""
    thread = threading.Thread(target=_warm, args=(plotlyjs,), name="ownercomm-warm-group-step", daemon=True)
    thread.start()
    return thread


def _warm(plotlyjs: str) -> None:
    try:
        for name in MODULES:
            importlib.import_module(name)
        import plotly.graph_objects as go

        from ..report import export

        export.exporter()
        export.plotlyjs_tag(plotlyjs)
        go.Figure(go.Bar(x=["a"], y=[1])).to_plotly_json()  # plotly's validators load on first use
    except Exception as e:  # noqa: BLE001 - see the module's docstring
        log.debug("warming the group step: %s", e)
