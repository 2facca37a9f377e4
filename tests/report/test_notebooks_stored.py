"""Notebooks as stored in the repository: without outputs, and each report notebook's
parameters cell naming exactly the parameters the runner passes (one contract)."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from ownercomm_kit import params
from ownercomm_kit.run import notebooks as run_notebooks

ROOT = Path(__file__).resolve().parents[2]
STORED = sorted([*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "tests" / "fixtures" / "notebooks").glob("*.ipynb")])
REPORTS = [ROOT / "notebooks" / f"{name}.ipynb" for name in run_notebooks.REQUIRED_NOTEBOOKS]
SHIPPED = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_notebook_the_runner_needs_is_stored():
    # A renamed or missing notebook is a failure here, never a skipped test elsewhere.
    assert all(p.is_file() for p in REPORTS), [p.name for p in REPORTS if not p.is_file()]


@pytest.mark.parametrize("path", STORED, ids=lambda p: str(p.relative_to(ROOT)))
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs (clear them before committing)"


def _parameters(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return [
        t.id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    ]


def test_every_notebook_the_runner_runs_is_shipped():
    assert [p.stem for p in SHIPPED] == sorted(name for name, _, _ in run_notebooks.NOTEBOOKS)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_parameters_cell_is_the_contract(path):
    # Exactly params.NOTEBOOK_PARAMETERS: the runner injects them and report.notebook resolves them.
    assert sorted(_parameters(path)) == sorted(params.NOTEBOOK_PARAMETERS), path.name
