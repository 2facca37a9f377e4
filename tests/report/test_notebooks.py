"""The three report notebooks, executed through papermill on a tiny dealer (slow: a kernel each)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest
import yaml

from helpers.report import DEALER_NAME, FORMULA_NAME, XSS_NAME, write_tiny_dealer
from ownercomm_kit.report import export

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"

EXPECTED = {
    "audit": {
        "files": {
            "flags.csv": [
                "message_id",
                "customer_id",
                "sent_at",
                "channel",
                "sender",
                "category",
                "rule",
                "severity",
                "detail",
                "related_id",
            ],
            "suppression.csv": ["customer_id", "channel", "rule", "until"],
        },
        "kpis": ["messages", "customers_messaged", "flags_high", "flags_total", "over_cap_customer_share"],
        "sections": [
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
        "charts": 6,
    },
    "retention": {
        "files": {
            "due_for_service.csv": [
                "customer_id",
                "name",
                "vehicle",
                "vin",
                "channel",
                "contact",
                "last_visit",
                "due_date",
                "due_reason",
                "estimated_mileage",
            ],
            "warranty_expiring.csv": ["customer_id", "name", "vehicle", "vin", "channel", "contact"],
            "milestones.csv": ["customer_id", "name", "vehicle", "vin", "channel", "contact"],
            "recently_lost.csv": ["customer_id", "name", "vehicle", "vin", "channel", "contact"],
            "declined_work.csv": [
                "ro_id",
                "customer_id",
                "vin",
                "declined_at",
                "description",
                "amount",
                "name",
                "contact",
            ],
        },
        "kpis": [
            "first_year_service_retention",
            "service_customer_retention_12m",
            "appointment_show_rate_90d",
            "reminder_booking_rate_90d",
            "response_rate_90d",
            "repurchase_rate",
            "segment_active_share",
            "segment_recently_lost_share",
            "segment_defected_share",
            "segment_never_serviced_share",
            "declined_work_recovery_90d",
        ],
        "sections": ["headline", "attention", "call-lists", "trends", "cohorts", "data-quality", "definitions"],
        "charts": 3,
    },
    "referrals": {
        "files": {"referral_followups.csv": ["referral_id", "action", "reason"]},
        "kpis": [
            "referrals_12m",
            "advocate_rate_12m",
            "referral_conversion_12m",
            "first_contact_24h_share",
            "acknowledgment_rate",
            "referral_revenue_12m",
        ],
        "sections": [
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
        "charts": 3,
    },
}


def run(name: str, dealer_file: Path | None, out_nb: Path, cwd: Path, **extra) -> object:
    """What ``papermill notebooks/<name>.ipynb out.ipynb -f DEALER_FILE`` does."""
    parameters = yaml.safe_load(dealer_file.read_text()) if dealer_file else {}
    parameters.update(extra)
    return pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(out_nb),
        parameters=parameters,
        cwd=str(cwd),
        kernel_name="python3",
        progress_bar=False,
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_dealer(tmp_path_factory.mktemp("tiny"))


def _body(page: str) -> str:
    """The page after its head (which holds the packed plotly.js)."""
    return page.split("</head>", 1)[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_notebook_runs_writes_outputs_and_exports_clean_html(name, tiny, tmp_path):
    out_dir = tmp_path / "out"
    nb = run(name, tiny, tmp_path / f"{name}.ipynb", ROOT, out_dir=str(out_dir))
    want = EXPECTED[name]
    for filename, columns in want["files"].items():
        frame = pd.read_csv(out_dir / filename, dtype=str, keep_default_na=False)
        assert list(frame.columns[: len(columns)]) == columns, filename
    kpis = json.loads((out_dir / "kpis.json").read_text())
    assert set(want["kpis"]) <= set(kpis)
    if name == "audit":  # flags.parquet: the same rows as flags.csv, for analysts
        csv_rows = pd.read_csv(out_dir / "flags.csv", dtype=str, keep_default_na=False)
        parquet_rows = pd.read_parquet(out_dir / "flags.parquet")
        assert list(parquet_rows.columns) == list(csv_rows.columns) and len(parquet_rows) == len(csv_rows) > 0
        assert parquet_rows["message_id"].tolist() == [m.lstrip("'") for m in csv_rows["message_id"]]
        assert (parquet_rows["rule"].tolist(), parquet_rows["detail"].fillna("").tolist()) == (
            csv_rows["rule"].tolist(),
            [d[1:] if d.startswith("'") and d[1:2] in "=+-@\t\r" else d for d in csv_rows["detail"]],
        )
    assert not [p for p in out_dir.iterdir() if p.name.endswith(".tmp")]

    page = export.notebook_to_html(nb, title=f"{DEALER_NAME}: {name}")
    body = _body(page)
    assert body.count('<div class="oc-chart"') >= want["charts"]
    assert body.count("window.Plotly.newPlot(") == body.count('<div class="oc-chart"')
    assert page.count('id="oc-plotlyjs-gz"') == 1  # plotly.js once, packed (report.export)
    for sid in want["sections"]:
        assert f'<section id="{sid}" class="oc-section">' in body, sid
    assert "<code" not in page and "ctx = notebook.start" not in body and "Parameters:" not in body
    assert XSS_NAME not in page and "<b>Motors</b>" not in page
    assert "Tiny &lt;b&gt;Motors&lt;/b&gt; &amp; Sons" in body
    assert "ana.lopez@example.com" not in page  # masked by default


def test_csv_call_lists_keep_contacts_and_neutralize_formulas(tiny, tmp_path):
    """Without a kernel: the sections' save() on the same tiny dealer (fast twin of the slow test)."""
    from ownercomm_kit import params
    from ownercomm_kit.loader import load_dealer
    from ownercomm_kit.report import notebook, referrals_report

    resolved = params.resolve(dealer_file=tiny)
    ctx = notebook.context("referrals", resolved, load_dealer(resolved), tmp_path)
    referrals_report.save(ctx, referrals_report.compute(ctx))
    text = (tmp_path / "referral_followups.csv").read_text(encoding="utf-8")
    assert "ana.lopez@example.com" in text  # staff dial and mail from the CSV
    frame = pd.read_csv(tmp_path / "referral_followups.csv", dtype=str, keep_default_na=False)
    assert XSS_NAME in frame["referred_name"].tolist()
    assert not frame.map(lambda v: v.startswith(("=", "+", "-", "@"))).to_numpy().any()
    assert "'" + FORMULA_NAME in frame["referred_name"].tolist()  # inert, and still readable


@pytest.mark.slow
def test_missing_referrals_table_says_not_enough_data(tmp_path):
    dealer = write_tiny_dealer(tmp_path / "dealer", drop=("referrals",))
    out_dir = tmp_path / "out"
    nb = run("referrals", dealer, tmp_path / "referrals.ipynb", ROOT, out_dir=str(out_dir))
    page = _body(export.notebook_to_html(nb, title="t"))
    assert "not enough data" in page and "no referrals table in the data" in page
    kpis = json.loads((out_dir / "kpis.json").read_text())
    assert kpis["referral_conversion_12m"] is None


@pytest.mark.slow
def test_mask_pii_off_shows_contacts(tiny, tmp_path):
    nb = run(
        "retention", tiny, tmp_path / "retention.ipynb", ROOT, out_dir=str(tmp_path / "out"), report={"mask_pii": False}
    )
    assert "ana.lopez@example.com" in export.notebook_to_html(nb, title="t")


def _sample_kit(tmp: Path) -> Path:
    """A copy of the kit's sample dealer, params and notebooks: runs without touching reports/."""
    dealer = ROOT / "params" / "dealers" / "D001.yaml"
    assert dealer.is_file(), "the sample dealer is missing: a renamed file fails here, never skips"
    data_dir = yaml.safe_load(dealer.read_text())["data_dir"]
    kit = tmp / "kit"
    shutil.copytree(ROOT / "params", kit / "params")
    shutil.copytree(NOTEBOOKS, kit / "notebooks")
    shutil.copytree(ROOT / data_dir, kit / data_dir)
    return kit


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, where", [("audit", "root"), ("audit", "notebooks"), ("retention", "notebooks"), ("referrals", "notebooks")]
)
def test_runs_with_no_parameters_on_the_sample_dealer(name, where, tmp_path):
    kit = _sample_kit(tmp_path)
    cwd = kit if where == "root" else kit / "notebooks"
    run(name, None, tmp_path / "out.ipynb", cwd)
    assert json.loads((kit / "reports" / "D001" / "kpis.json").read_text())


@pytest.mark.slow
def test_blocking_data_problem_is_a_message_not_a_traceback(tmp_path):
    import nbformat
    from papermill.exceptions import PapermillExecutionError

    dealer = write_tiny_dealer(tmp_path / "dealer")
    comms = Path(yaml.safe_load(dealer.read_text())["data_dir"]) / "communications.csv"
    frame = pd.read_csv(comms, dtype=str)
    frame.drop(columns=["channel"]).to_csv(comms, index=False)
    out_nb = tmp_path / "audit.ipynb"
    with pytest.raises(PapermillExecutionError) as info:
        run("audit", dealer, out_nb, ROOT, out_dir=str(tmp_path / "out"))
    assert info.value.ename == "DataError"  # the runner reports data errors by this name
    errors = [
        o
        for c in nbformat.read(out_nb, as_version=4).cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    shown = "\n".join(errors[0]["traceback"])
    assert "channel" in shown and "Traceback" not in shown and 'File "' not in shown
    assert not (tmp_path / "out" / "flags.csv").exists()
