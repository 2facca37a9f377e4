"""A store's one-line failure reason keeps whole data problems, never half a value."""
from __future__ import annotations

from types import SimpleNamespace

from ownercomm_kit.runner import FAILURE_LINE_MAX, _failure_line


def data_error(*problems: str, count: int = 3):
    evalue = "\n".join([f"{len(problems)} blocking data problem(s)", *problems])
    return SimpleNamespace(ename="DataError", evalue=evalue, exec_count=count)


def test_long_problems_are_dropped_whole_and_counted():
    long = "ERROR sales.csv, row 1, column 'sale_date': required column not found. " + "x" * 200
    date = "ERROR service_visits.csv, row 3, column 'visit_date': value '2024-13-45': unparseable date"
    dup = "ERROR communications.csv, row 2, column 'message_id': value 'M1': duplicate message_id"
    line = _failure_line("audit.ipynb", data_error(long, date, dup))
    assert len(line) <= FAILURE_LINE_MAX
    assert line.startswith("audit.ipynb, cell 3: DataError: 3 blocking data problem(s): ERROR sales.csv")
    assert line.endswith("; and 1 more")          # the duplicate did not fit: counted, not cut
    assert date in line and "value '\n" not in line


def test_short_problems_all_shown_then_counted():
    problems = [f"ERROR c.csv, row {i}, column 'x': value 'v{i}': bad" for i in range(2, 8)]
    line = _failure_line("audit.ipynb", data_error(*problems))
    assert all(p in line for p in problems[:3])
    assert problems[3] not in line and line.endswith("; and 3 more")


def test_one_huge_problem_is_cut_with_an_ellipsis_within_the_limit():
    line = _failure_line("audit.ipynb", data_error("ERROR " + "y" * 2000))
    assert len(line) <= FAILURE_LINE_MAX and line.endswith("…")


def test_other_errors_keep_their_headline():
    err = SimpleNamespace(ename="KeyError", evalue="'price'\nhint on a second line", exec_count=None)
    assert _failure_line("retention.ipynb", err) == "retention.ipynb: KeyError: 'price'"
