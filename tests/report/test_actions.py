"""report.actions: the first screen's "What to do this week" (issue 17 item 1)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd
import pytest

from ownercomm_kit.report import actions
from ownercomm_kit.report.actions import Action, choose
from ownercomm_kit.words import plural


def _flags(rows):
    return pd.DataFrame(rows, columns=["message_id", "customer_id", "rule", "severity"])


def _audit(suppressed_customers=(), flags=()):
    supp = pd.DataFrame(
        {"customer_id": list(suppressed_customers), "channel": "email", "rule": "cap_total", "until": pd.NaT}
    )
    return SimpleNamespace(suppression=supp, flags=_flags(list(flags)))


def test_plural():
    assert plural(1, "customer") == "1 customer"
    assert plural(0, "customer") == "0 customers"
    assert plural(2, "customer") == "2 customers"
    assert plural(1206, "customer") == "1,206 customers"
    assert plural(1, "person", "people") == "1 person"
    assert plural(3, "person", "people") == "3 people"


def test_choose_ranks_by_urgency_then_count_drops_zero_and_keeps_three():
    cands = [
        Action("c", 50, "c.csv", 2),
        Action("a", 1, "a.csv", 0),
        Action("zero", 0, "z.csv", 0),
        Action("b2", 9, "b.csv", 1),
        Action("b1", 10, "b.csv", 1),
        Action("d", 100, "d.csv", 3),
    ]
    got = choose(cands)
    assert [a.text for a in got] == ["a", "b1", "b2"]
    assert len(choose(cands, limit=10)) == 5  # the zero count never shows


def test_choose_only_names_files_that_exist(tmp_path):
    (tmp_path / "here.csv").write_text("x\n")
    cands = [Action("missing", 5, "gone.csv", 0), Action("present", 3, "here.csv", 1), Action("no file", 2, None, 2)]
    got = choose(cands, lambda name: (tmp_path / name).is_file())
    assert [a.text for a in got] == ["present", "no file"]


def test_audit_actions_counts_customers_not_rows():
    # 3 rows for 2 customers on the suppression list; a serious and a medium problem.
    r = _audit(
        ["C1", "C1", "C2"],
        [
            ("M1", "C1", "no_consent", "high"),
            ("M1", "C1", "cap_total", "medium"),
            ("M2", "C2", "cap_total", "medium"),
            ("M3", "C2", "cap_total", "medium"),
        ],
    )
    got = choose(
        actions.audit_actions(r, {"no_consent": "No consent for the channel", "cap_total": "Too many messages"})
    )
    assert got[0].text.startswith("Import suppression.csv into every sending tool: 2 customers")
    assert got[0].file == "suppression.csv" and got[0].count == 2
    assert got[1].count == 1 and "1 message that" in got[1].text and "no consent for the channel" in got[1].text
    assert got[2].count == 3 and "too many messages: 3 messages in flags.csv" in got[2].text


def test_audit_actions_nothing_wrong_gives_no_action():
    r = _audit([], [])
    assert choose(actions.audit_actions(r)) == []
    assert "Nothing urgent" in actions.render([])


def test_audit_most_common_problem_not_repeated_when_it_is_the_serious_one():
    r = _audit(["C1"], [("M1", "C1", "no_consent", "high"), ("M2", "C1", "no_consent", "high")])
    got = choose(actions.audit_actions(r))
    assert [a.file for a in got] == ["suppression.csv", "flags.csv"]


def _retention(**frames):
    attrs = {attr: pd.DataFrame(columns=["customer_id"]) for attr, *_ in actions.RETENTION}
    attrs.update({k: pd.DataFrame({"customer_id": v}) for k, v in frames.items()})
    return SimpleNamespace(skipped={}, **attrs)


def test_retention_actions_first_screen_example():
    r = _retention(
        due_for_service=[f"C{i}" for i in range(61)] + ["C0"],  # 62 vehicles, 61 customers
        milestones=["X"],
        warranty_expiring=["A", "B"],
        recently_lost=[],
    )
    got = choose(actions.retention_actions(r))
    assert got[0].text == "Call the 61 customers due for service: due_for_service.csv"
    assert [a.file for a in got] == ["due_for_service.csv", "warranty_expiring.csv", "milestones.csv"]
    assert "the 1 customer with a birthday" in got[2].text


def test_retention_skipped_list_is_no_action():
    r = _retention(due_for_service=["C1"])
    r.skipped = {"due_for_service": "no service_visits table in the data"}
    assert choose(actions.retention_actions(r)) == []


def test_declined_work_counts_items():
    r = _retention(declined_work=["C1", "C1", "C2"])
    (a,) = choose(actions.retention_actions(r))
    assert a.count == 3 and "3 items of work" in a.text


def test_referrals_actions():
    f = pd.DataFrame({"action": ["contact_referred", "contact_referred", "thank_advocate"]})
    r = SimpleNamespace(skipped={}, followups=f, anomalies=pd.DataFrame({"referral_id": ["R1"]}))
    got = choose(actions.referrals_actions(r))
    assert got[0].text == ("Call the 2 people referred who are still waiting for a first call: referral_followups.csv")
    assert got[1].text == "Thank the 1 advocate whose referral bought: referral_followups.csv"
    assert got[2].file is None and "the 1 referral that looks wrong" in got[2].text


@pytest.mark.parametrize("n", [0, 1, 2, 1000])
def test_no_plural_in_parentheses(n):
    r = _retention(**{attr: [f"C{i}" for i in range(n)] for attr, *_ in actions.RETENTION})
    a = _audit([f"C{i}" for i in range(n)], [(f"M{i}", "C", "no_consent", "high") for i in range(n)])
    f = pd.DataFrame({"action": ["contact_referred", "thank_advocate"] * n})
    ref = SimpleNamespace(skipped={}, followups=f, anomalies=pd.DataFrame({"referral_id": [f"R{i}" for i in range(n)]}))
    texts = [x.text for x in actions.retention_actions(r) + actions.audit_actions(a) + actions.referrals_actions(ref)]
    assert not [t for t in texts if "(s)" in t]
    if n == 1:
        assert not [t for t in texts if re.search(r"\b1 \w+s\b", t)]


def test_render_escapes_and_marks_the_file():
    out = actions.render([Action("Call <b>x</b>: due_for_service.csv", 3, "due_for_service.csv", 0)])
    assert "<b>" not in out and "&lt;b&gt;" in out
    assert '<span class="oc-file">due_for_service.csv</span>' in out
    assert out.count("<li") == 1
