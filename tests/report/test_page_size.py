"""Pages stay small with many rows (issue 12 item 3): every HTML table is bounded (top N, the
total said in words, the full list in the CSV) and every chart aggregates before plotting, so
a report page does not grow with the number of messages, flags or customers."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from ownercomm_kit import paths
from ownercomm_kit.data import from_frames
from ownercomm_kit.params import load_defaults
from ownercomm_kit.report import audit_report, html, notebook, referrals_report, retention_report

SECTIONS = {"audit": audit_report, "retention": retention_report, "referrals": referrals_report}
ZONE = "America/Chicago"


def page_bytes(report: str, customers: int, tmp_path: Path) -> int:
    """Bytes of everything the report's notebook cells display (HTML and chart specs), run in-process."""
    from ownercomm_kit.synth import generate_dealer

    frames, _ = generate_dealer("PS1", customers=customers, seed=5, timezone=ZONE, inject_rate=0.05)
    data = from_frames(frames, timezone=ZONE, as_of="2026-10-31", dealer_id="PS1")
    resolved = {**load_defaults(), "dealer_id": "PS1", "dealer_name": "Page Size Motors", "timezone": ZONE}
    ctx = notebook.context(report, resolved, data, tmp_path / f"{report}-{customers}")
    nb = nbformat.read(paths.notebooks_dir() / f"{report}.ipynb", as_version=4)
    cells = [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and "ctx = " not in c.source and "parameters" not in c.metadata.get("tags", [])
    ]
    namespace = {"ctx": ctx, "sections": SECTIONS[report]}
    with html.capture() as shown:
        for source in cells:
            exec(compile(source, report, "exec"), namespace)  # noqa: S102 - the kit's own notebook cells
    return sum(len(json.dumps(bundle, default=str)) for bundle, _ in shown)


@pytest.mark.parametrize("report", sorted(SECTIONS))
def test_a_page_does_not_grow_with_the_rows(report, tmp_path):
    small = page_bytes(report, 60, tmp_path)
    big = page_bytes(report, 900, tmp_path)  # 15x the customers, messages and flags
    assert big <= small * 1.25 + 20_000, (report, small, big)
