"""A throw-away kit (params/, data folders, a group) for runner and batch tests.

Tiny stores, made in code: each has communications, service visits and referrals as CSV.
The fixture notebooks in tests/fixtures/notebooks follow the notebook contract.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"


def make_kit(tmp: Path, notebooks: Path | None = FIXTURE_NOTEBOOKS) -> Path:
    """``tmp`` with params/defaults.yaml (the real one), empty dealers/ and groups/, and
    ``notebooks`` copied to notebooks/ (the runner takes the notebooks beside params/)."""
    if notebooks is not None:
        shutil.copytree(notebooks, tmp / "notebooks", dirs_exist_ok=True)
    (tmp / "params" / "dealers").mkdir(parents=True, exist_ok=True)
    (tmp / "params" / "groups").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "params" / "defaults.yaml", tmp / "params" / "defaults.yaml")
    return tmp


def make_store(
    kit: Path, dealer_id: str, *, messages: int = 12, broken: str | None = None, extra: dict | None = None
) -> Path:
    """A dealer file and its data folder; ``broken``: ``columns`` (a DataError) or ``dates``
    (the second notebook fails after the first wrote its outputs)."""
    data = kit / "data" / dealer_id
    data.mkdir(parents=True, exist_ok=True)
    n = int(dealer_id[-1]) if dealer_id[-1].isdigit() else 1
    rows = ["message_id,customer_id,sent_at,channel"]
    for i in range(messages):
        rows.append(f"M{i},CUSTX{i % (2 + n)},2026-05-{1 + i % 28:02d} 10:00,email")
    if broken == "columns":
        rows = [",".join(r.split(",")[:2]) for r in rows]  # no sent_at, no channel
    (data / "communications.csv").write_text("\n".join(rows) + "\n")
    visits = [
        "ro_id,customer_id,visit_date",
        "R1,CUSTX0,2026-01-05",
        "R2,CUSTX0,2026-03-05",
        f"R3,CUSTX1,2026-02-{n:02d}",
    ]
    if broken == "dates":
        visits.append("R4,CUSTX2,not a date")
    (data / "service_visits.csv").write_text("\n".join(visits) + "\n")
    refs = ["referral_id,referrer_id"] + [f"F{i},CUSTX{i}" for i in range(n)]
    (data / "referrals.csv").write_text("\n".join(refs) + "\n")
    doc = {
        "dealer_id": dealer_id,
        "dealer_name": f"Store {dealer_id} <b>&co</b>",
        "data_dir": f"data/{dealer_id}",
        "timezone": "America/Chicago",
        **(extra or {}),
    }
    path = kit / "params" / "dealers" / f"{dealer_id}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def make_group(kit: Path, group_id: str, dealers: list[str], **overrides) -> Path:
    path = kit / "params" / "groups" / f"{group_id}.yaml"
    doc = {"group_id": group_id, "group_name": f"Group {group_id}", "dealers": dealers, **overrides}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes), hidden ones included."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def slow_notebooks(tmp: Path, seconds: float, *, after: str = "audit") -> Path:
    """The fixture notebooks, with a ``time.sleep(seconds)`` cell at the end of ``after``
    (so that notebook's outputs are already written when the sleep starts)."""
    import nbformat

    folder = tmp / "slow_notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, folder, dirs_exist_ok=True)
    path = folder / f"{after}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"import time\ntime.sleep({seconds})"))
    nbformat.write(nb, path)
    return folder
