"""End to end: degenerate but valid dealers through `ownercomm run` (papermill + HTML export).

A handful of dealers whose data is valid but unusual; each must produce every page with
every section, say in words what could not be shown, and never print NaN/None as a figure
or draw an empty chart. The dealers run once per module (two `ownercomm run` at a time).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.pages import PLOTLY, chart_shows_something, page_problems
from helpers.report import AS_OF, TIMEZONE, tiny_frames

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
OWNERCOMM = [sys.executable, "-c", "from ownercomm_kit.cli import main; main()"]  # `ownercomm ...`
PAGES = {
    "audit": [
        "headline",
        "problems",
        "suppression",
        "one-voice",
        "timing",
        "fatigue",
        "tiers",
        "replay",
        "data-quality",
        "definitions",
    ],
    "retention": ["headline", "attention", "call-lists", "trends", "cohorts", "data-quality", "definitions"],
    "referrals": [
        "headline",
        "attention",
        "follow-ups",
        "volume",
        "funnel",
        "incentives",
        "advocates",
        "data-quality",
        "definitions",
    ],
}
REQUIRED = {"customers", "communications"}


def _frames() -> dict[str, pd.DataFrame]:
    return {name: pd.DataFrame(rows) for name, rows in tiny_frames().items()}


def required_only_one_message() -> dict[str, pd.DataFrame]:
    """Only the two required tables; one customer with one message, a recall; nobody unsubscribed."""
    f = _frames()
    msg = f["communications"].iloc[:1].assign(customer_id="C1", category="recall", unsubscribed=False)
    return {"customers": f["customers"].iloc[:1], "communications": msg}


def header_only_communications() -> dict[str, pd.DataFrame]:
    """Every table, but the communications file has its header and no row."""
    f = _frames()
    f["communications"] = f["communications"].iloc[:0]
    return f


def every_optional_column_empty() -> dict[str, pd.DataFrame]:
    """Every table with rows; every optional column present in the file but blank."""
    from ownercomm_kit import schema

    out = {}
    for name, df in _frames().items():
        required = set(schema.TABLES[name].required_columns)
        out[name] = df.assign(**{c: None for c in df.columns if c not in required})
    return out


def no_reminders_nobody_unsubscribed() -> dict[str, pd.DataFrame]:
    """Every table; no service reminder at all, and nobody unsubscribed."""
    f = _frames()
    c = f["communications"]
    f["communications"] = c.assign(category=c["category"].replace("service_reminder", "newsletter"), unsubscribed=False)
    return f


def every_message_a_recall() -> dict[str, pd.DataFrame]:
    """Every table; every message a recall (exempt from every rule but quiet hours)."""
    f = _frames()
    f["communications"] = f["communications"].assign(category="recall")
    return f


DEALERS = {
    "E1": required_only_one_message,
    "E2": header_only_communications,
    "E3": every_optional_column_empty,
    "E4": no_reminders_nobody_unsubscribed,
    "E5": every_message_a_recall,
}


def write_dealer(folder: Path, dealer_id: str, frames: dict[str, pd.DataFrame]) -> Path:
    data_dir = folder / dealer_id / "data"
    data_dir.mkdir(parents=True)
    for name, df in frames.items():
        df.to_csv(data_dir / f"{name}.csv", index=False)
    path = folder / f"{dealer_id}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "dealer_id": dealer_id,
                "dealer_name": f"Degenerate {dealer_id}",
                "data_dir": str(data_dir),
                "timezone": TIMEZONE,
                "as_of": AS_OF.isoformat(),
            }
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Each dealer run once through `ownercomm run`, two at a time."""
    root = tmp_path_factory.mktemp("degenerate")
    out = root / "reports"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    files = {d: write_dealer(root, d, make()) for d, make in DEALERS.items()}
    results = {}
    pending = list(files.items())
    while pending:
        batch, pending = pending[:2], pending[2:]
        procs = {
            d: subprocess.Popen(
                [*OWNERCOMM, "run", str(f), "--out", str(out)],
                cwd=root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for d, f in batch
        }
        for d, p in procs.items():
            stdout, stderr = p.communicate(timeout=900)
            results[d] = (subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr), out / d)
    return results


def _text(html: str) -> str:
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def check_pages(folder: Path) -> dict[str, str]:
    pages = {}
    for report, sections in PAGES.items():
        page = (folder / f"{report}.html").read_text(encoding="utf-8")
        pages[report] = page
        ids = re.findall(r'<section id="([^"]+)"', page)
        assert [s for s in sections if s not in ids] == [], f"{report}: sections missing"
        bad = page_problems(page)
        assert not bad, f"{report}: a missing value printed as a figure: {bad[:5]}"
        assert "Traceback" not in page
        # every chart drawn has something in it (an empty selection is said in words instead)
        nb = json.loads((folder / f"{report}.ipynb").read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                spec = output.get("data", {}).get(PLOTLY)
                if spec is not None:
                    assert chart_shows_something(spec), f"{report}: an empty chart: {spec['layout'].get('title')}"
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    for key, value in kpis.items():
        assert value is None or (isinstance(value, (int, float)) and value == value), (key, value)
    # a KPI that could not be computed is a tile that says so, never a 0
    nulls = [k for k, v in kpis.items() if v is None]
    if nulls:
        assert "not enough data" in pages["retention"] + pages["referrals"] + pages["audit"]
    return pages


@pytest.mark.parametrize("dealer_id", [d for d in DEALERS if d != "E2"])
def test_degenerate_dealer_produces_every_page(runs, dealer_id):
    done, folder = runs[dealer_id]
    assert done.returncode == 0, done.stderr[-3000:]
    check_pages(folder)


def test_header_only_communications_runs_or_says_why(runs):
    """The engine, KPIs and pages handle zero messages; the loader may decide that an export
    without a single message is a blocking problem: then the run says so, in words."""
    done, folder = runs["E2"]
    if done.returncode == 0:
        pages = check_pages(folder)
        assert "No messages in the data" in pages["audit"]
        kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
        assert kpis["messages"] == 0 and kpis["over_cap_customer_share"] is None
        assert kpis["response_rate_90d"] is None
    else:
        assert "communications" in done.stderr and "Traceback" not in done.stderr


def test_required_tables_only_says_what_could_not_be_shown(runs):
    done, folder = runs["E1"]
    assert done.returncode == 0, done.stderr[-3000:]
    retention = _text((folder / "retention.html").read_text(encoding="utf-8"))
    referrals = _text((folder / "referrals.html").read_text(encoding="utf-8"))
    for table in ("sales", "service_visits", "appointments"):
        assert f"no {table} table in the data" in retention
    assert "no referrals table in the data" in referrals
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["messages"] == 1 and kpis["flags_total"] == 0  # a recall is exempt (its send time is 10:00)
    assert kpis["repurchase_rate"] is None and kpis["referrals_12m"] is None
    assert (folder / "flags.csv").read_text(encoding="utf-8").splitlines()[0].startswith("message_id,")
