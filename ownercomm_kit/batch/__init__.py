"""`ownercomm batch`: every store of a dealer group, isolated, resumable, with a group index.

``group_file`` reads and checks a group file, ``batch`` runs its stores (``run_batch``) on an
executor of ``executors``, ``manifest`` records each store's outcome, ``index`` builds the
group's page.

The names below are imported on first use, so that ``batch.executors`` can start the pool's
fork server before this process pays for pandas and the parameter schema.
"""

from __future__ import annotations

import importlib

_NAMES = {
    "BatchInterrupted": "batch",
    "BatchResult": "batch",
    "make_executor": "batch",
    "run_batch": "batch",
    "Group": "group_file",
    "read_group": "group_file",
    "INDEX": "manifest",
    "MANIFEST": "manifest",
}

__all__ = ["BatchInterrupted", "BatchResult", "Group", "INDEX", "MANIFEST", "make_executor", "read_group", "run_batch"]


def __getattr__(name: str):
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
