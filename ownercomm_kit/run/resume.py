"""Resume (SPEC §7): a re-run of an unchanged store is skipped unless forced.

A store folder holds the run record of its last good run (``RUN_RECORD``): the fingerprint of
everything its reports depend on, and its outputs. This module is small on purpose: the
report notebooks' set-up imports it (to forget the record when run by hand) without the
rest of the runner.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Iterable

from ..datafolder import data_files
from .. import __version__, paths

RUN_RECORD = ".ownercomm-run.json"  # fingerprint and outputs of the last good run, in the store folder


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: Path | None) -> str | None:
    return _sha(path.read_bytes()) if path and path.is_file() else None


def fingerprint(
    *,
    dealer_file: Path,
    group_file: Path | None,
    data_dir: Path,
    root: Path,
    notebooks: Iterable[Path],
    as_of: dt.date | None,
) -> str:
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


def write_run_record(store_dir: Path, record: dict) -> None:
    (store_dir / RUN_RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")


def is_up_to_date(store_dir: Path, fp: str) -> bool:
    record = read_run_record(store_dir)
    if not record or record.get("fingerprint") != fp:
        return False
    return all((store_dir / name).is_file() for name in record.get("outputs", []))


def forget(store_dir: Path) -> None:
    """Drop the store folder's run record: the next ``ownercomm run`` redoes the whole report
    (a notebook run by hand wrote new outputs beside the published ones)."""
    (Path(store_dir) / RUN_RECORD).unlink(missing_ok=True)
