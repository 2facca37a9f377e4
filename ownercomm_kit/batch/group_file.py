"""A group file (SPEC §3): its stores as dealer files, every one checked before any store runs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import params, paths


@dataclass
class Group:
    group_id: str
    group_name: str
    file: Path
    root: Path
    dealer_files: list[Path]
    report: dict = field(default_factory=dict)  # the group's report settings (defaults < group)
    data_dirs: dict[Path, str] = field(default_factory=dict)  # each readable dealer file's data folder


def read_group(group_file: str | os.PathLike) -> Group:
    """The group file, checked; its dealers as dealer file paths (SPEC §3).

    A dealer is an id (read from ``../dealers/<id>.yaml`` beside the group file) or a path to
    a dealer file (relative to the group file's folder, else to the kit root).
    """
    group_file = Path(group_file).resolve()
    doc = params.read_yaml(group_file)
    root = paths.root_of_params_file(group_file) or paths.kit_root()
    problems = []
    for key in ("group_id", "dealers"):
        if not doc.get(key):
            problems.append(f"{group_file}: {key} is required")
    dealers = doc.get("dealers") or []
    if dealers and not isinstance(dealers, list):
        problems.append(f"{group_file}: dealers must be a list of dealer ids or dealer file paths")
        dealers = []
    group_id = str(doc.get("group_id") or "")  # its safety as a folder name: params_schema
    files: list[Path] = []
    for entry in dealers:
        if entry is None or isinstance(entry, (dict, list)) or not str(entry).strip():
            problems.append(f"{group_file}: dealers: {entry!r} is not a dealer id or a dealer file path")
            continue
        files.append(_dealer_path(str(entry), group_file, root))
    stems = [f.stem for f in files]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        problems.append(f"{group_file}: dealers listed more than once: {', '.join(dupes)}")
    report = {}
    try:  # the group's own layer over the defaults, validated like every layer, its problems listed with the rest
        merged = params.resolve({"dealer_id": "group", "data_dir": "."}, group_file=group_file, root=root)
        report = dict(merged.get("report") or {})
    except params.ParamsError as e:
        problems += [p for p in e.problems if p not in problems]
    # Every dealer file, checked before any store runs: its parameters, and one id per store.
    ids: dict[str, list[Path]] = {}
    data_dirs: dict[Path, str] = {}
    for f in dict.fromkeys(files):
        if not f.is_file():  # that store fails alone, saying so; the others still run
            continue
        try:
            resolved = params.resolve(dealer_file=f, group_file=group_file)
        except params.ParamsError as e:
            problems += [p for p in e.problems if p not in problems]
            continue
        ids.setdefault(resolved["dealer_id"], []).append(f)
        data_dirs[f] = str(resolved["data_dir"])
    for dealer_id, owners in ids.items():
        if len(owners) > 1:
            problems.append(
                f"{group_file}: dealer_id {dealer_id!r} is used by {len(owners)} dealer files "
                f"({', '.join(str(o) for o in owners)}); each store needs its own dealer_id, else one "
                f"store's reports and customers would land in another's folder"
            )
    if problems:
        raise params.ParamsError(problems)
    return Group(
        group_id=group_id,
        group_name=str(doc.get("group_name") or group_id),
        file=group_file,
        root=root,
        dealer_files=files,
        report=report,
        data_dirs=data_dirs,
    )


def _dealer_path(entry: str, group_file: Path, root: Path) -> Path:
    if entry.endswith((".yaml", ".yml")) or "/" in entry or os.sep in entry:
        p = Path(entry).expanduser()
        if p.is_absolute():
            return p
        beside = (group_file.parent / p).resolve()
        return beside if beside.is_file() else (root / p).resolve()
    return (group_file.parent.parent / "dealers" / f"{entry}.yaml").resolve()
