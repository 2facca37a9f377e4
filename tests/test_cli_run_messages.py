"""`ownercomm run` on blocking data points the consultant to the full list of problems."""
from __future__ import annotations

from click.testing import CliRunner

from ownercomm_kit import runner
from ownercomm_kit.cli import main


def fake_run(error: str):
    def run_dealer(dealer_file, **kwargs):
        return runner.RunResult(dealer_id="D9", status="failed", error=error,
                                failed_notebook="/out/D9/_failed/audit.ipynb")
    return run_dealer


def test_data_error_names_the_validate_command(monkeypatch, tmp_path):
    error = "audit.ipynb, cell 3: DataError: 5 blocking data problem(s): ERROR a.csv ...; and 2 more"
    monkeypatch.setattr(runner, "run_dealer", fake_run(error))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "D9.yaml")])
    assert result.exit_code == 1
    assert f"every data problem: ownercomm validate --params {tmp_path / 'D9.yaml'}" in result.output


def test_other_failures_do_not_send_to_validate(monkeypatch, tmp_path):
    monkeypatch.setattr(runner, "run_dealer", fake_run("retention.ipynb, cell 4: KeyError: 'price'"))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "D9.yaml")])
    assert result.exit_code == 1
    assert "KeyError" in result.output and "ownercomm validate" not in result.output
