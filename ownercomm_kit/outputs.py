"""Writing a dealer's outputs safely (SPEC §7, §8).

Every file is written to a temporary name in its own folder and moved into place with
``os.replace``, so an interrupted run leaves either the old file or the new one, never half
of one, and no temporary file behind. CSV cells that a spreadsheet would run as a formula
are neutralized (OWASP CSV injection).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

import numpy as np
import pandas as pd

# A cell starting with one of these is run as a formula by Excel, LibreOffice or Sheets. The
# apostrophe itself is escaped too, so the rule can be undone exactly: drop one leading "'".
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "'")


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one step.

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are shared with colleagues
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(text: str, path: str | os.PathLike) -> Path:
    with atomic_open(path, "w") as f:
        f.write(text)
    return Path(path)


def write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def json_default(value: Any) -> Any:
    """numpy / pandas scalars as plain JSON; NaN and NA as null."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def clean_json(value: Any) -> Any:
    """Nested plain values; NaN becomes null (json.dumps would write the invalid ``NaN``)."""
    if isinstance(value, Mapping):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return json_default(value)


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    text = json.dumps(clean_json(obj), indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
    return write_text(text + "\n", path)


def neutralize_cell(value: Any) -> Any:
    """``'`` before a text cell a spreadsheet would evaluate; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralize_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell that starts with = + - @ tab or CR prefixed by ``'``.

    Numeric, boolean and date columns are left alone: -12.5 in a price column is a number,
    not a formula, and stays one.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if not (pd.api.types.is_string_dtype(s) or s.dtype == object):
            continue
        if s.dtype == object:
            out[col] = s.map(neutralize_cell)
            continue
        risky = s.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
        if risky.any():
            out[col] = s.where(~risky, "'" + s)
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """``df`` as CSV (UTF-8, header row, no index), formula-safe and atomic.

    Lines end in CRLF (RFC 4180): the csv writer then also quotes a cell holding a bare
    carriage return, which with LF endings would split the row in two.

    The text is built column-wise with Arrow (:mod:`ownercomm_kit.csv_arrow`): the same bytes
    as ``neutralize_formulas(df).to_csv(index=False)`` with CRLF line ends, without
    pandas' per-row formatting of time-zone-aware timestamps.
    """
    from . import csv_arrow

    with atomic_open(path, "wb") as f:
        csv_arrow.write_frame(df, f)
    return Path(path)


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """``df`` as Parquet (no index; values as they are: Parquet is not opened as a
    spreadsheet, so nothing is neutralized), atomic."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    with atomic_open(path, "wb") as f:
        pq.write_table(table, f, compression="zstd")
    return Path(path)


KPIS_FILE = "kpis.json"


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialize read-merge-write of one folder's kpis.json across processes (the three
    notebooks of a dealer may run at once). Locks the folder itself: no lock file left."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_kpis(out_dir: str | os.PathLike) -> dict:
    path = Path(out_dir) / KPIS_FILE
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}  # cannot happen with atomic writes; a hand-edited file is rebuilt
    return doc if isinstance(doc, dict) else {}


def update_kpis(out_dir: str | os.PathLike, kpis: Mapping[str, Any]) -> dict:
    """Merge ``kpis`` into ``out_dir/kpis.json`` (a flat object); returns the merged object."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        merged = read_kpis(folder)
        merged.update(clean_json(dict(kpis)))
        write_json(merged, folder / KPIS_FILE)
    return merged
