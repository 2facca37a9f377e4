"""A per-process cache of loaded dealer data, for the notebooks' set-up cells.

``ownercomm run``/``batch`` run a store's notebooks one after the other in one kernel, and
each set-up cell loads the same data folder again (onboarding non-strictly, the reports
strictly): most of a store's cell time. Modules survive the runner's namespace reset, so
this module-level cache lets the later notebooks reuse the first load.

Safe by construction:
- the key is everything the loader reads: the params it uses, the data folder's absolute
  path, and (name, size, mtime_ns, inode) of every file it could read, so an edited,
  added, removed or replaced file means a new load; one dealer never serves another;
- one load serves both strictnesses: the loader's ``strict`` only decides whether blocking
  problems raise at the end, so a strict request raises the same DataError from the cached
  problems;
- every caller gets its own DealerData: shallow-copied frames (copy-on-write: a cell that
  adds or changes a column changes only its copy) and copied dicts/lists;
- at most ``MAX_ENTRIES`` loads are kept (a kernel serves one store);
- ``OWNERCOMM_LOAD_CACHE=0`` turns it off (debugging a loader change in a live kernel).

Frames the notebooks share (``shared_frames``): every copy of one load carries the same memo,
so a frame derived from the loaded tables (the messages' local dates, every customer's
contact) is computed once per store and reused by all its notebooks. A DealerData that did
not come from this cache gets a memo of its own (shared by the functions of one report); a
``dataclasses.replace`` of it is a new object with a new, empty memo.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

from .data import DataError, DealerData
from .datafolder import data_files

MAX_ENTRIES = 2
# The resolved params the loader reads (loader.load_with_info, _read_table); nothing else.
LOADER_KEYS = ("data_dir", "files", "mapping", "values", "timezone", "as_of", "dealer_id", "dealer_name")

_entries: OrderedDict[tuple, tuple[DealerData, list, dict]] = OrderedDict()
_lock = threading.Lock()
_memos: dict[int, dict] = {}  # id(DealerData) -> the memo of shared frames of its load


def load_cached(params: Mapping, *, strict: bool) -> tuple[DealerData, list]:
    """(data, table infos) like ``loader.load_with_info(params, strict=strict)``, loaded once
    per process for unchanged params and files; a fresh copy for every call."""
    from . import loader

    if os.environ.get("OWNERCOMM_LOAD_CACHE", "1") == "0":
        return loader.load_with_info(params, strict=strict)
    key = cache_key(params)  # before loading: a file changed meanwhile makes the next key differ
    with _lock:
        hit = _entries.get(key)
        if hit is not None:
            _entries.move_to_end(key)
    if hit is None:
        hit = (*loader.load_with_info(params, strict=False), {})
        with _lock:
            _entries[key] = hit
            while len(_entries) > MAX_ENTRIES:
                _entries.popitem(last=False)
    data, infos, memo = hit
    if strict and data.errors:
        raise DataError(list(data.problems))
    mine = fresh_copy(data)
    with _lock:
        _attach(mine, memo)
    return mine, copy.deepcopy(infos)


def shared_frames(data: DealerData) -> dict:
    """The memo of frames derived from ``data``'s tables: shared by every copy of one cached
    load (the store's notebooks), else ``data``'s own. Values are computed from the loaded
    tables only; callers treat them as read-only."""
    with _lock:
        memo = _memos.get(id(data))
        if memo is None:
            memo = {}
            _attach(data, memo)
    return memo


def _attach(data: DealerData, memo: dict) -> None:
    _memos[id(data)] = memo
    # gone with the object (before its id can be reused)
    weakref.finalize(data, _memos.pop, id(data), None)


def clear() -> None:
    with _lock:
        _entries.clear()
        for memo in _memos.values():
            memo.clear()


def fresh_copy(data: DealerData) -> DealerData:
    """A DealerData sharing no mutable container with ``data`` (frames: shallow, copy-on-write)."""
    return dataclasses.replace(
        data,
        tables={name: df.copy(deep=False) for name, df in data.tables.items()},
        missing_tables=list(data.missing_tables),
        missing_columns={name: list(cols) for name, cols in data.missing_columns.items()},
        problems=list(data.problems),  # Problem is frozen
        sources=dict(data.sources),
    )


def cache_key(params: Mapping) -> tuple:
    """Hashable: the loader's params, the data folder and the state of every file it may read."""
    data_dir = Path(os.path.abspath(str(params.get("data_dir") or "")))
    used = tuple((k, _freeze(params.get(k))) for k in LOADER_KEYS)
    return used, str(data_dir), _listing_state(data_dir), _named_files_state(data_dir, params.get("files") or {})


def _listing_state(data_dir: Path) -> tuple | None:
    # The same files loader.find_sources lists (hidden and Office lock files are not read).
    if not data_dir.is_dir():
        return None
    return tuple((p.name, _stat(p)) for p in data_files(data_dir))


def _named_files_state(data_dir: Path, files: Any) -> tuple:
    # `files:` may name a file outside the folder's listing (absolute, or in a subfolder).
    if not isinstance(files, Mapping):
        return ()
    out = []
    for spec in files.values():
        name = spec.get("file") if isinstance(spec, Mapping) else str(spec).partition("#")[0]
        if isinstance(name, (str, os.PathLike)):
            out.append((str(name), _stat(data_dir / name)))  # an absolute name stays absolute
    return tuple(sorted(out))


def _stat(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mode >> 12, st.st_size, st.st_mtime_ns, st.st_ino)


def _freeze(value: Any) -> Any:
    """A hashable, order-independent form of a params value (YAML dicts, lists, dates)."""
    if isinstance(value, Mapping):
        return ("dict", tuple(sorted((repr(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_freeze(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(repr(v) for v in value)))
    return (type(value).__name__, repr(value))
