"""Writing synthetic dealers to disk: data folders, dealer files, a group file, ground truth.

Layout under OUT_DIR (which acts as the kit root of that tree, so relative ``data_dir``
values resolve against it): ``<data_subdir>/<dealer_id>/<table>.csv|.parquet``,
``params/dealers/<dealer_id>.yaml``, ``params/groups/<group_id>.yaml`` and
``<ground_truth_dir>/<dealer_id>.csv``. Every file is written under a temporary name and
moved into place, so an interrupted run leaves no half-written file.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from .. import schema
from . import generate_dealer

ZONES = ("America/Los_Angeles", "America/Chicago", "America/New_York", "America/Denver", "America/Phoenix")
CITIES = {
    "America/Los_Angeles": (
        "Tustin",
        "Irvine",
        "Pasadena",
        "Torrance",
        "Ontario",
        "Fullerton",
        "Glendale",
        "Riverside",
    ),
    "America/Chicago": ("Naperville", "Evanston", "Joliet", "Schaumburg", "Aurora", "Oak Park", "Elgin", "Skokie"),
    "America/New_York": (
        "Hudson Valley",
        "Yonkers",
        "White Plains",
        "Hempstead",
        "Albany",
        "Poughkeepsie",
        "Nyack",
        "Islip",
    ),
    "America/Denver": ("Front Range", "Boulder", "Aurora", "Lakewood", "Golden", "Littleton", "Parker", "Greeley"),
    "America/Phoenix": ("Desert Sun", "Tempe", "Mesa", "Chandler", "Scottsdale", "Glendale", "Peoria", "Gilbert"),
}
SUFFIXES = ("Motors", "Auto Center", "Auto Mall", "Automotive")


@dataclass(frozen=True)
class DealerSpec:
    dealer_id: str
    dealer_name: str
    timezone: str


def dealer_specs(n: int, seed: int = 0) -> list[DealerSpec]:
    """D001 in Los Angeles, D002 in Chicago, D003 in New York, ... (zones in turn), each named
    after a city of its zone and a suffix ("Irvine Auto Mall") drawn with the seed: other
    seeds, other names; one seed, the same names. Names are unique within the group."""
    width = max(3, len(str(n)))
    rng = np.random.default_rng([int(seed), 29])  # its own stream: the data does not move with it
    names = {}
    for zone in ZONES:
        combos = [f"{city} {suffix}" for suffix in SUFFIXES for city in CITIES[zone]]
        names[zone] = [combos[j] for j in rng.permutation(len(combos))]
    out = []
    taken: set[str] = set()
    for i in range(n):
        zone = ZONES[i % len(ZONES)]
        k = i // len(ZONES)
        base = names[zone][k % len(names[zone])]
        name, serial = base, 1
        while name in taken:  # a big group, or a city name two zones share (Aurora, Glendale)
            serial += 1
            name = f"{base} {serial}"
        taken.add(name)
        out.append(DealerSpec(f"D{i + 1:0{width}d}", name, zone))
    return out


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def to_arrow(df: pd.DataFrame, table: str) -> pa.Table:
    """Canonical frame to Arrow with file-friendly types: wall-clock time stamps, plain dates."""
    cols = {}
    for col in schema.TABLES[table].columns:
        s = df[col.name]
        if col.kind == "timestamp":
            arr = pa.array(s.dt.tz_localize(None).astype("datetime64[s]"), type=pa.timestamp("s"))
        elif col.kind == "date":
            arr = pa.array(s.astype("datetime64[s]"), type=pa.timestamp("s")).cast(pa.date32())
        else:
            arr = pa.array(s)
        cols[col.name] = arr
    return pa.table(cols)


def write_table(df: pd.DataFrame, table: str, folder: Path, fmt: str) -> Path:
    t = to_arrow(df, table)
    path = folder / f"{table}.{fmt}"
    if fmt == "csv":
        # Quote nothing unless a text holds a comma, quote or line break (smaller files, same meaning).
        opts = pacsv.WriteOptions(quoting_style="needed" if _needs_quotes(t) else "none")
        _atomic(path, lambda p: pacsv.write_csv(t, p, write_options=opts))
    else:
        _atomic(path, lambda p: pq.write_table(t, p, compression="zstd"))
    other = folder / f"{table}.{'parquet' if fmt == 'csv' else 'csv'}"
    if other.exists():  # a re-run in the other format: one file per table, or the loader must choose
        other.unlink()
    return path


def _needs_quotes(t: pa.Table) -> bool:
    import pyarrow.compute as pc

    for col in t.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            if pc.any(pc.match_substring_regex(col, r'[,"\r\n]')).as_py():
                return True
    return False


def _yaml(path: Path, doc: dict, comment: str) -> None:
    text = f"# {comment}\n" + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    _atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_group(
    out_dir: str | Path,
    *,
    dealers: int,
    customers: int,
    seed: int,
    inject_rate: float,
    inject: bool = True,
    fmt: str = "csv",
    as_of: dt.date,
    group_id: str = "synthetic",
    data_subdir: str = "data",
    ground_truth_dir: str = "ground_truth",
    params: dict | None = None,
    progress: Callable[[str], None] | None = None,
    shared_share: float = 0.0,
) -> dict:
    """Generate and write ``dealers`` dealers; returns a summary (paths, row counts)."""
    out = Path(out_dir)
    specs = dealer_specs(dealers, seed)
    summary = {"group_file": str(out / "params" / "groups" / f"{group_id}.yaml"), "dealers": []}
    generated = []
    for spec in specs:
        frames, truth = generate_dealer(
            spec.dealer_id,
            customers,
            seed,
            timezone=spec.timezone,
            as_of=as_of,
            inject_rate=inject_rate,
            inject=inject,
            params=params,
        )
        if shared_share > 0:  # the group is needed whole before shared customers can be added
            generated.append((spec, frames, truth))
            continue
        _write_dealer(out, spec, frames, truth, fmt, data_subdir, ground_truth_dir, seed, summary, progress)
    if shared_share > 0:
        from ..params import load_defaults
        from .shared import share_customers

        stores = [(spec.dealer_id, frames) for spec, frames, _ in generated]
        group_truth, pairs = share_customers(
            stores,
            shared_share,
            np.random.default_rng([int(seed), 13]),
            inject=inject,
            params=params or load_defaults(),
            timezones={s.dealer_id: s.timezone for s in specs},
            as_of_day=int(np.datetime64(as_of, "D").astype(np.int64)),
        )
        for spec, frames, truth in generated:
            _write_dealer(out, spec, frames, truth, fmt, data_subdir, ground_truth_dir, seed, summary, progress)
        _atomic(out / ground_truth_dir / "group.csv", lambda p: group_truth.to_csv(p, index=False))
        _atomic(out / ground_truth_dir / "group_persons.csv", lambda p: pairs.to_csv(p, index=False))
        summary["group_ground_truth"] = len(group_truth)
    group_doc = {
        "group_id": group_id,
        "group_name": f"{group_id.replace('_', ' ').title()} group",
        "dealers": [s.dealer_id for s in specs],
    }
    _yaml(Path(summary["group_file"]), group_doc, f"Synthetic group made by `ownercomm synth` (seed {seed}).")
    return summary


def _write_dealer(out, spec, frames, truth, fmt, data_subdir, ground_truth_dir, seed, summary, progress):
    if True:
        folder = out / data_subdir / spec.dealer_id
        for table, df in frames.items():
            write_table(df, table, folder, fmt)
        gt = out / ground_truth_dir / f"{spec.dealer_id}.csv"
        _atomic(gt, lambda p: truth.to_csv(p, index=False))
        dealer_doc = {
            "dealer_id": spec.dealer_id,
            "dealer_name": spec.dealer_name,
            "data_dir": f"{data_subdir}/{spec.dealer_id}",
            "timezone": spec.timezone,
        }
        _yaml(
            out / "params" / "dealers" / f"{spec.dealer_id}.yaml",
            dealer_doc,
            f"Synthetic dealer made by `ownercomm synth` (seed {seed}); data_dir is relative to the folder holding params/.",
        )
        summary["dealers"].append(
            {"dealer_id": spec.dealer_id, "rows": {k: len(v) for k, v in frames.items()}, "ground_truth": len(truth)}
        )
        if progress:
            progress(
                f"{spec.dealer_id} {spec.dealer_name}: {len(frames['communications']):,} messages, "
                f"{len(truth)} injected"
            )
