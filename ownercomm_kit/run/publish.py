"""Publishing a store's run: everything is written into a staging folder beside the store
folder, which is swapped in whole when every notebook succeeded (SPEC §7: an interrupted
run never leaves a half-written file). A failed run leaves the last good reports as they
were and keeps its executed notebooks in ``<store>/_failed/`` for diagnosis; what a killed
run left behind is undone by the next run of the store (:func:`recover`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path

from .. import procs

log = logging.getLogger(__name__)

FAILED_DIR = "_failed"  # executed notebooks of the last failed run, for diagnosis


def staging_for(target: Path) -> Path:
    """A fresh staging folder's path beside ``target`` (named after this process, see :func:`recover`)."""
    return target.with_name(f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def publish(staging: Path, target: Path) -> None:
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


def keep_failed(staging: Path, target: Path) -> str | None:
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


def recover(target: Path) -> None:
    """Undo what an interrupted run left beside ``target`` (a killed process runs no cleanup)."""
    parent = target.parent
    if not parent.is_dir():
        return
    olds = sorted(parent.glob(f".{target.name}.old-*"))
    if olds and not target.exists():  # killed between the two renames of publish
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


def keep_failed_safely(staging: Path, target: Path) -> str | None:
    """:func:`keep_failed`, keeping only whole files; if even that cannot be written (a full
    disk), nothing is kept and nothing half-moved stays behind."""
    for path in staging.glob("*.ipynb"):
        if not _whole_notebook(path):  # cut short by a stop or a time limit while written
            path.unlink(missing_ok=True)
    try:
        return keep_failed(staging, target)
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
