"""`ownercomm run` on a failed store renders its failure by kind: a data failure lists where
each problem is and points to the full list; other failures say their one line."""

from __future__ import annotations

from click.testing import CliRunner

from ownercomm_kit.cli import main
from ownercomm_kit.run import store as run_store
from ownercomm_kit.run.failure import Failure, Problem


def fake_run(failure: Failure):
    def run_dealer(dealer_file, **kwargs):
        result = run_store.RunResult(dealer_id="D9", status="failed", failed_notebook="/out/D9/_failed/audit.ipynb")
        result.fail(failure)
        return result

    return run_dealer


def data_failure(n: int) -> Failure:
    problems = [Problem("duplicate customer_id", file="a.csv", row=i + 2, column="customer_id") for i in range(n)]
    return Failure(
        "data", f"{n} blocking data problems", notebook="audit.ipynb", cell=3, error="DataError", problems=problems
    )


def test_data_error_lists_every_problem_and_names_the_validate_command(monkeypatch, tmp_path):
    monkeypatch.setattr(run_store, "run_dealer", fake_run(data_failure(5)))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "D9.yaml")])
    assert result.exit_code == 1
    assert "D9: FAILED: audit.ipynb, cell 3: DataError: 5 blocking data problems\n" in result.output
    for row in range(2, 7):
        assert f"  ERROR a.csv, row {row}, column 'customer_id': duplicate customer_id\n" in result.output
    assert f"every data problem: ownercomm validate --params {tmp_path / 'D9.yaml'}" in result.output
    assert "executed notebook kept for diagnosis: /out/D9/_failed/audit.ipynb" in result.output


def test_other_failures_do_not_send_to_validate(monkeypatch, tmp_path):
    failure = Failure("other", notebook="retention.ipynb", cell=4, error="KeyError", detail="'price'")
    monkeypatch.setattr(run_store, "run_dealer", fake_run(failure))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "D9.yaml")])
    assert result.exit_code == 1
    assert "D9: FAILED: retention.ipynb, cell 4: KeyError: 'price'" in result.output
    assert "ownercomm validate" not in result.output


def test_a_timeout_is_its_one_line(monkeypatch, tmp_path):
    failure = Failure("timeout", "time limit of 5 s reached for the whole store")
    monkeypatch.setattr(run_store, "run_dealer", fake_run(failure))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "D9.yaml")])
    assert result.exit_code == 1 and "D9: FAILED: time limit of 5 s reached" in result.output
    assert "ownercomm validate" not in result.output
