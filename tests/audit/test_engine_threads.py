"""run_audit computes its figures on two threads: the same result as one after another, and a
failing figure raises as it would alone."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from ownercomm_kit.audit import engine, metrics, run_audit
from ownercomm_kit.params import load_defaults

from test_flagtable import dealer, hostile, synth  # the same dealers as the flag table tests


def _same(a, b, where: str) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    else:
        assert repr(a) == repr(b), where


@pytest.mark.parametrize("messy", [False, True])
def test_figures_on_two_threads_equal_one_after_another(messy):
    frames = synth(seed=8, customers=300)
    data = dealer(hostile(frames) if messy else frames)
    params = load_defaults()
    one = run_audit(data, params, workers=1)
    for _ in range(3):  # thread timing varies from run to run; the result may not
        two = run_audit(dealer(hostile(frames) if messy else frames), params, workers=2)
        for f in dataclasses.fields(one):
            _same(getattr(one, f.name), getattr(two, f.name), f.name)


def test_a_failing_figure_raises_as_it_would_alone(monkeypatch):
    data = dealer(synth(seed=9, customers=40))

    def broken(*a, **k):
        raise ValueError("heatmap broke")

    monkeypatch.setattr(metrics, "heatmap", broken)
    for workers in (1, 2):
        with pytest.raises(ValueError, match="heatmap broke"):
            run_audit(data, load_defaults(), workers=workers)
    assert engine._computed({"a": lambda: 1, "b": lambda: 2}, 2) == {"a": 1, "b": 2}


def test_the_rules_started_first_are_rules():
    """The start order names real rules (a renamed rule would silently lose its place)."""
    from ownercomm_kit.audit import RULES
    from ownercomm_kit.audit.rules import LONGEST_FIRST

    assert set(LONGEST_FIRST) <= set(RULES)


def test_rules_on_two_threads_in_any_start_order_give_the_same_flags(monkeypatch):
    from ownercomm_kit.audit import rules

    data = dealer(hostile(synth(seed=10, customers=200)))
    one, _, _ = rules.run_rules_timed(data, load_defaults(), workers=1)
    monkeypatch.setattr(rules, "LONGEST_FIRST", tuple(reversed(list(rules.RULES))))
    two, _, _ = rules.run_rules_timed(data, load_defaults(), workers=2)
    pd.testing.assert_frame_equal(one, two)


def test_when_two_figures_fail_the_first_in_order_is_raised(monkeypatch):
    data = dealer(synth(seed=9, customers=40))

    def failing(what):
        def f(*a, **k):
            raise ValueError(what)

        return f

    monkeypatch.setattr(metrics, "tiers", failing("tiers broke"))  # computed first, one after another
    monkeypatch.setattr(metrics, "heatmap", failing("heatmap broke"))
    for workers in (1, 2):
        with pytest.raises(ValueError, match="tiers broke"):
            run_audit(data, load_defaults(), workers=workers)


def test_when_two_rules_fail_the_first_in_rule_order_is_raised(monkeypatch):
    from ownercomm_kit.audit import RULES, rules

    data = dealer(synth(seed=9, customers=40))
    first, later = "cap_total", "reminder_after_service"  # the later one starts first on the threads
    assert list(RULES).index(first) < list(RULES).index(later)
    assert rules.LONGEST_FIRST.index(later) < rules.LONGEST_FIRST.index(first)

    def failing(what):
        def f(*a, **k):
            raise ValueError(what)

        return f

    for name in (first, later):
        monkeypatch.setitem(RULES, name, dataclasses.replace(RULES[name], func=failing(f"{name} broke")))
    for workers in (1, 2):
        with pytest.raises(ValueError, match=f"{first} broke"):
            rules.run_rules_timed(data, load_defaults(), workers=workers)
