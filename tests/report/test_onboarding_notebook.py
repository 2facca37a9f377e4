"""`notebooks/data_quality.ipynb` -> data_quality.html, run through papermill on tiny dealers."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml
from helpers.onboard import DMS, hand_dealer, write_shape

from ownercomm_kit import onboard as ob

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "data_quality.ipynb"
TZ = "America/Los_Angeles"
pytestmark = pytest.mark.slow


def run(dealer_file: Path, tmp_path: Path) -> tuple[nbformat.NotebookNode, str]:
    """As a consultant would: papermill with the dealer file as parameters, then the HTML export."""
    import papermill

    from ownercomm_kit.report.export import notebook_to_html

    parameters = yaml.safe_load(dealer_file.read_text())
    parameters["data_dir"] = str((dealer_file.parent / parameters["data_dir"]).resolve())
    parameters["out_dir"] = str(tmp_path / "out")
    nb = papermill.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "data_quality.ipynb"),
        parameters=parameters,
        cwd=str(tmp_path),
        kernel_name="python3",
        progress_bar=False,
    )
    return nb, notebook_to_html(nb, title="Data quality")


def text_of(html: str) -> str:
    """What a reader sees: no scripts (plotly.js), no styles, no tags."""
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_notebook_is_stored_without_outputs_and_with_the_parameters_contract():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    names = re.findall(r"^(\w+) = None", params[0].source, flags=re.M)
    assert names == [
        "dealer_id",
        "dealer_name",
        "data_dir",
        "timezone",
        "files",
        "mapping",
        "values",
        "as_of",
        "rules",
        "audit",
        "retention",
        "referrals",
        "report",
        "group_file",
        "out_dir",
        "baseline",
        "state_rules",
    ]


def test_a_vendor_dealer_onboarded_then_checked(tmp_path):
    t = hand_dealer()
    del t["referrals"]  # no referrals table: the referral report is said to be empty
    t["customers"] = t["customers"].drop(columns=["sms_consent"])
    folder = write_shape(tmp_path / "dms", t, DMS)
    out = tmp_path / "D5.yaml"
    ob.onboard(folder, "D5", timezone=TZ, out=out)
    nb, html = run(out, tmp_path)
    text = text_of(html)
    assert "Data quality" in text and "D5" in text
    for section in ("summary", "problems", "tables", "months", "columns", "mapping", "support", "definitions"):
        assert f'id="{section}"' in html, section
    assert "Plotly.newPlot" in html or "plotly-graph-div" in html  # rows per month is drawn
    assert "No blocking problem" in text
    assert "customer_master.csv" in text and "cp1252" in text and "semicolon" in text
    assert "Cust No" in text and "E-Mail Address" in text  # the mapping used and their headers
    assert "the referral report is empty" in text
    assert "texts are not checked for consent" in text
    assert "quality.start" not in html and "from ownercomm_kit" not in text  # no code in the page


def test_blocking_problems_are_listed_with_fixes_instead_of_stopping(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "customers.csv").write_text(
        "Cust No,E-Mail Address\n1,a@example.com\n1,b@example.com\n2,c@example.com\n", encoding="utf-8"
    )
    (folder / "communications.csv").write_text(
        "Msg ID,Cust No,When,Channel,Sender,Category\n"
        "M1,1,2026-13-45 10:00,email,dealer,offer\n"
        "M2,2,2026-06-01 10:00,Carrier Pigeon,dealer,offer\n",
        encoding="utf-8",
    )
    out = tmp_path / "D6.yaml"
    ob.onboard(folder, "D6", timezone=TZ, out=out)
    nb, html = run(out, tmp_path)
    text = text_of(html)
    assert "The reports will stop on the blocking problems" in text
    assert "duplicate customer_id" in text and "Ids must be unique" in text
    assert "sent_at" in text and "required column" in text  # "When" was not recognised
    assert "Carrier Pigeon" in text and "values:" in text  # the loader's suggested values line


@pytest.mark.parametrize("where", ["root", "notebooks"])
def test_with_no_parameters_it_shows_the_sample_dealer(tmp_path, where):
    import papermill

    cwd = ROOT if where == "root" else ROOT / "notebooks"
    nb = papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "out.ipynb"), cwd=str(cwd), kernel_name="python3", progress_bar=False
    )
    outputs = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", []))
    sample_name = yaml.safe_load((ROOT / "params/dealers/D001.yaml").read_text())["dealer_name"]
    assert sample_name in outputs and "No blocking problem" in outputs


def test_a_dms_export_onboarded_blind_then_run_gives_the_canonical_reports_flags(tmp_path):
    """The whole consultant path: DMS files -> `ownercomm onboard` -> `ownercomm run`."""
    from helpers.onboard import write_clean

    from ownercomm_kit.run.store import run_dealer

    t = hand_dealer()
    clean_file = tmp_path / "C1.yaml"
    clean_file.write_text(f"dealer_id: C1\ndata_dir: {write_clean(tmp_path / 'clean', t)}\ntimezone: {TZ}\n")
    dms_file = tmp_path / "D1.yaml"
    ob.onboard(write_shape(tmp_path / "dms", t, DMS), "D1", timezone=TZ, out=dms_file)
    results = [run_dealer(f, out=tmp_path / "reports", kernel_retries=1) for f in (clean_file, dms_file)]
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    canonical, onboarded = (tmp_path / "reports" / d for d in ("C1", "D1"))
    assert (onboarded / "flags.csv").read_bytes() == (canonical / "flags.csv").read_bytes()
    assert len((canonical / "flags.csv").read_text().splitlines()) > 15
    assert (onboarded / "milestones.csv").read_bytes() == (canonical / "milestones.csv").read_bytes()
    assert "Zoë Ångström" in (onboarded / "milestones.csv").read_text(encoding="utf-8")
    assert "customer_master.csv" in (onboarded / "data_quality.html").read_text(encoding="utf-8")
