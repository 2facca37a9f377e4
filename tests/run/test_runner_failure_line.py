"""A store's failure as data (run.failure): its one line keeps whole problems, never half of one,
and nothing read from the data; the public line drops an unexpected error's own text."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ownercomm_kit import errors
from ownercomm_kit.data import DataError, Problem as DataProblem
from ownercomm_kit.params import ParamsError
from ownercomm_kit.run import failure
from ownercomm_kit.run.failure import FAILURE_LINE_MAX, Failure, Problem


def data_failure(*problems: Problem, more: int = 0) -> Failure:
    return Failure(
        "data",
        f"{len(problems) + more} blocking data problems",
        notebook="audit.ipynb",
        cell=3,
        error="DataError",
        problems=list(problems),
        more=more,
    )


def test_long_problems_are_dropped_whole_and_counted():
    long = Problem("required column not found. " + "x" * 250, file="sales.csv", row=1, column="sale_date")
    date = Problem("unparseable date", file="service_visits.csv", row=3, column="visit_date")
    dup = Problem("duplicate message_id", file="communications.csv", row=2, column="message_id")
    line = data_failure(long, date, dup).line()
    assert len(line) <= FAILURE_LINE_MAX
    assert line.startswith("audit.ipynb, cell 3: DataError: 3 blocking data problems: ERROR sales.csv")
    assert line.endswith("; and 1 more")  # the duplicate did not fit: counted, not cut
    assert "ERROR service_visits.csv, row 3, column 'visit_date': unparseable date" in line


def test_short_problems_all_shown_then_counted_with_those_not_listed():
    problems = [Problem("bad", file="c.csv", row=i, column="x") for i in range(2, 8)]
    line = data_failure(*problems, more=10).line()
    assert all(p.text() in line for p in problems[:3])
    assert problems[3].text() not in line and line.endswith("; and 13 more")
    assert data_failure(*problems, more=10).problem_lines()[-1] == "and 10 more"


def test_one_huge_problem_is_cut_with_an_ellipsis_within_the_limit():
    line = data_failure(Problem("y" * 2000, file="f.csv")).line()
    assert len(line) <= FAILURE_LINE_MAX and line.endswith("…")


def test_other_errors_keep_their_headline_but_not_on_public_pages():
    err = SimpleNamespace(ename="KeyError", evalue="'price'\nhint on a second line", exec_count=None)
    f = failure.of_notebook("retention.ipynb", err)
    assert f.kind == "other" and f.line() == "retention.ipynb: KeyError: 'price'"
    assert f.public_line() == "retention.ipynb: KeyError (an unexpected error; its message is in the executed notebook)"
    assert "price" not in json.dumps(f.to_dict())  # the failure as data: no exception text


def test_engine_marks_are_timeout_and_kernel_kinds():
    t = failure.of_notebook(
        "audit.ipynb", SimpleNamespace(ename=failure.CELL_TIMEOUT[0], evalue=failure.CELL_TIMEOUT[1], exec_count=5)
    )
    assert t.kind == "timeout" and t.line().startswith("audit.ipynb, cell 5: TimeoutError: the store's time limit")
    assert not failure.asks_the_kernel(*failure.CELL_TIMEOUT) and not failure.asks_the_kernel(*failure.KERNEL_DIED)
    assert (
        failure.of_notebook(
            "a.ipynb", SimpleNamespace(ename=failure.KERNEL_DIED[0], evalue=failure.KERNEL_DIED[1], exec_count=1)
        ).kind
        == "kernel"
    )


def test_a_record_of_another_error_is_not_used():
    recorded = data_failure(Problem("bad", file="f.csv")).to_dict()
    f = failure.of_notebook("audit.ipynb", SimpleNamespace(ename="KeyError", evalue="'x'", exec_count=2), recorded)
    assert f.kind == "other" and f.line() == "audit.ipynb, cell 2: KeyError: 'x'"


def test_data_error_uses_the_problems_public_message_and_only_blocking_ones():
    value = "<b>a'b\"c</b>"
    problems = [
        DataProblem(
            "error",
            "communications",
            "c.csv",
            4,
            "channel",
            value,
            f"{value!r} is not an allowed channel",
            public="not an allowed channel",
        ),
        DataProblem("warning", "communications", "c.csv", 5, "email", value, f"{value!r} odd"),
        DataProblem("error", "communications", "c.csv", 6, "message_id", value, "duplicate message_id"),
    ]
    f = failure.from_exception(DataError(problems))
    assert f.kind == "data" and f.summary == "2 blocking data problems"
    assert [(p.row, p.message) for p in f.problems] == [(4, "not an allowed channel"), (6, "duplicate message_id")]
    assert value not in json.dumps(f.to_dict()) and value not in f.line()


def test_many_problems_are_counted_beyond_the_listed_ones():
    problems = [DataProblem("error", "t", "t.csv", i, "x", None, "bad") for i in range(failure.MAX_PROBLEMS + 7)]
    f = failure.from_exception(DataError(problems))
    assert len(f.problems) == failure.MAX_PROBLEMS and f.more == 7
    assert f.summary == f"{failure.MAX_PROBLEMS + 7} blocking data problems"


@pytest.mark.parametrize(
    "error, kind",
    [
        (ParamsError(["d.yaml: rulez: unknown key"]), "params"),
        (errors.StoreTimeout(5), "timeout"),
        (errors.KernelStartError("kernel did not start after 3 attempts: x"), "kernel"),
        (errors.OutputError("/out", 28), "output"),
        (ValueError("first\nlast line"), "other"),
    ],
)
def test_each_kind_of_exception(error, kind):
    f = failure.from_exception(error)
    assert f.kind == kind
    if kind == "other":
        assert f.line() == "ValueError: last line" and f.detail == "last line"
    elif kind == "params":
        assert f.line() == "parameters: d.yaml: rulez: unknown key"
    else:
        assert f.line() == str(error) and f.detail is None


def test_round_trip_and_a_broken_record():
    f = data_failure(Problem("bad", file="f.csv", row=2, column="x", table="t", count=3), more=1)
    assert Failure.from_dict(json.loads(json.dumps(f.to_dict()))) == f
    g = Failure.from_dict({"kind": "nonsense", "problems": [{"file": "x"}, "junk"], "summary": None})
    assert g.kind == "other" and g.problems == [] and g.summary == ""
    with pytest.raises(ValueError, match="unknown failure kind"):
        Failure("weird")


def test_the_kernel_records_the_error_it_last_showed(tmp_path, monkeypatch):
    import sys

    path = tmp_path / failure.FAILURE_FILE
    monkeypatch.setattr(
        sys, "last_value", DataError([DataProblem("error", "t", "t.csv", 2, "x", "secret", "bad")]), raising=False
    )
    failure.record_last(path)
    doc = failure.read(path)
    assert doc["kind"] == "data" and doc["error"] == "DataError" and "secret" not in path.read_text()
    assert not list(tmp_path.glob("*.tmp"))
