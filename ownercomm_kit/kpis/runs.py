"""Recorded runs and the baseline of a report (SPEC §10).

Every successful ``ownercomm run`` (and every store of a batch) records its kpis.json, with its
``as_of`` and the fingerprint of its inputs, as ``<store>/runs/<as_of>.json``. A record is
never replaced by a later run with the same ``as_of`` unless forced (``--force``): the first
report handed over for a date stays what it said.

The baseline of a report is what its figures are compared with:
- by default the latest recorded run dated before the report's ``as_of``;
- or ``baseline: YYYY-MM-DD`` in the dealer file: the recorded run of that date, else the
  history row (``history.csv``) of that date.
No baseline (a first run, or a baseline date found nowhere) means no change is shown, not a
change of zero.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import history

RUNS_DIR = "runs"
AS_OF_MARK = ".report-as-of"  # written by a report's set-up: the as_of the run's pages used
_RECORD = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")


def record_path(store_dir: str | os.PathLike, as_of: dt.date) -> Path:
    return Path(store_dir) / RUNS_DIR / f"{as_of.isoformat()}.json"


def mark_as_of(out_dir: str | os.PathLike, as_of: dt.date) -> None:
    """Leave the report's as_of beside its outputs (hidden: not one of the run's outputs)."""
    from .. import outputs

    outputs.write_text(as_of.isoformat() + "\n", Path(out_dir) / AS_OF_MARK)


def marked_as_of(out_dir: str | os.PathLike) -> dt.date | None:
    try:
        return dt.date.fromisoformat((Path(out_dir) / AS_OF_MARK).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def record_run(
    store_dir: str | os.PathLike, *, as_of: dt.date, fingerprint: str, kpis: dict, dealer_id: str, force: bool = False
) -> Path | None:
    """Write ``runs/<as_of>.json``; None when a record of that date exists and not ``force``."""
    from .. import __version__, outputs

    path = record_path(store_dir, as_of)
    if path.exists() and not force:
        return None
    doc = {
        "dealer_id": dealer_id,
        "as_of": as_of.isoformat(),
        "fingerprint": fingerprint,
        "kit_version": __version__,
        "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "kpis": kpis,
    }
    return outputs.write_json(doc, path)


def read_runs(store_dir: str | os.PathLike) -> list[dict]:
    """The store's recorded runs, oldest first (unreadable or foreign files are left out)."""
    folder = Path(store_dir) / RUNS_DIR
    out = []
    if not folder.is_dir():
        return out
    for p in folder.iterdir():
        m = _RECORD.match(p.name)
        if not m or not p.is_file():
            continue
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
            as_of = dt.date.fromisoformat(m.group(1))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("kpis"), dict):
            out.append({**doc, "as_of": as_of})
    return sorted(out, key=lambda d: d["as_of"])


def carry_over(old_store: str | os.PathLike, new_store: str | os.PathLike) -> None:
    """Copy the recorded runs and the history into a run's staging folder, so that the
    store folder swapped in keeps them (the runner replaces the whole folder)."""
    old, new = Path(old_store), Path(new_store)
    runs = old / RUNS_DIR
    if runs.is_dir() and not runs.is_symlink():
        (new / RUNS_DIR).mkdir(parents=True, exist_ok=True)
        for p in runs.iterdir():
            if _RECORD.match(p.name) and p.is_file() and not p.is_symlink():
                shutil.copy2(p, new / RUNS_DIR / p.name)
    h = old / history.HISTORY_FILE
    if h.is_file() and not h.is_symlink():
        shutil.copy2(h, new / history.HISTORY_FILE)


@dataclass
class Baseline:
    as_of: dt.date
    kpis: dict[str, Any]
    source: str  # "recorded run" | "history"
    chosen: bool = False  # True: the dealer file's `baseline:`

    def since(self) -> str:
        """ "on 31 May 2026": the baseline in words, in the reports' date format."""
        from ..report.html import long_date

        return f"on {long_date(self.as_of)}"


@dataclass
class Progress:
    """What a report knows of its past: the baseline, and every earlier figure."""

    as_of: dt.date
    baseline: Baseline | None
    note: str | None  # why there is no baseline, in words
    runs: list[dict] = field(default_factory=list)  # recorded runs, oldest first
    history: pd.DataFrame | None = None  # history.csv rows

    def series(self, key: str) -> pd.DataFrame:
        """(as_of, value, source) of ``key`` over the history and the recorded runs."""
        rows = []
        if self.history is not None and key in self.history.columns:
            for d, v in zip(self.history["as_of"], pd.to_numeric(self.history[key], errors="coerce")):
                rows.append(
                    {"as_of": pd.Timestamp(str(d)), "value": None if pd.isna(v) else float(v), "source": "history"}
                )
        for r in self.runs:
            if r["as_of"] >= self.as_of:
                continue
            v = history_number(r["kpis"].get(key))
            rows.append({"as_of": pd.Timestamp(r["as_of"]), "value": v, "source": "run"})
        return pd.DataFrame(rows, columns=["as_of", "value", "source"])


def history_number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(x) else x


def progress(store_dir: str | os.PathLike, as_of: dt.date, requested: dt.date | None = None) -> Progress:
    """The baseline of a report dated ``as_of`` in ``store_dir``, and its past figures."""
    runs = read_runs(store_dir)
    hist = history.read(store_dir)
    if hist is not None:
        hist = hist[[_date(d) is not None and _date(d) < as_of for d in hist["as_of"]]].reset_index(drop=True)
    baseline, note = None, None
    if requested is not None:
        if requested >= as_of:
            note = (
                f"the baseline date in the dealer file ({requested.isoformat()}) is not before this "
                "report's date: no change is shown"
            )
        else:
            rec = next((r for r in runs if r["as_of"] == requested), None)
            if rec is not None:
                baseline = Baseline(requested, rec["kpis"], "recorded run", chosen=True)
            elif hist is not None and requested.isoformat() in set(hist["as_of"].astype(str)):
                row = hist[hist["as_of"].astype(str) == requested.isoformat()].iloc[0]
                baseline = Baseline(
                    requested, {k: history_number(v) for k, v in row.items() if k != "as_of"}, "history", chosen=True
                )
            else:
                note = (
                    f"the baseline date in the dealer file ({requested.isoformat()}) is neither a recorded run "
                    "nor a month-end of the history (ownercomm history): no change is shown"
                )
    else:
        earlier = [r for r in runs if r["as_of"] < as_of]
        if earlier:
            baseline = Baseline(earlier[-1]["as_of"], earlier[-1]["kpis"], "recorded run")
        else:
            note = "this is the first recorded run of this dealer: there is nothing earlier to compare with"
    return Progress(as_of=as_of, baseline=baseline, note=note, runs=runs, history=hist)


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
