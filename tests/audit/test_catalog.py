"""The rule catalog and the KPI registry: a newcomer finds a rule's code, threshold, injector,
wording and doc by its id, and every definition follows the dealer's own parameters."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pandas as pd
import pytest

from ownercomm_kit import params as params_mod
from ownercomm_kit import paths, quality, reference
from ownercomm_kit.audit import RULES, catalog, metrics
from ownercomm_kit.group import rules as group_rules
from ownercomm_kit.kpis import registry
from ownercomm_kit.synth import inject

ROOT = Path(__file__).resolve().parents[2]
EVERY = catalog.every()


def resolve(**overrides) -> dict:
    return params_mod.resolve({"dealer_id": "T01", "data_dir": ".", **overrides}, root=paths.kit_root())


@pytest.fixture(scope="module")
def p() -> dict:
    return resolve()


def test_the_catalog_holds_every_store_state_and_group_rule_once():
    assert list(RULES) == [n for n, r in EVERY.items() if r.scope in ("store", "state")]
    assert list(catalog.GROUP_RULES) == list(group_rules.GROUP_RULES)
    assert {r.scope for r in EVERY.values()} == {"store", "state", "group"}
    assert all(n == r.name == r.id for n, r in EVERY.items())
    assert len({r.title for r in EVERY.values()}) == len(EVERY)  # no two rules share their words


@pytest.mark.parametrize("name", list(EVERY))
def test_a_rule_is_found_by_its_id_everywhere(name, p):
    r = catalog.get(name)
    # its code: a function of that name, in the module the docs point to
    assert r.func is not None and r.func.__name__ == name
    module = {"store": "audit/rules.py", "state": "audit/state_rules.py", "group": "group/rules.py"}[r.scope]
    assert Path(inspect.getsourcefile(r.func)).as_posix().endswith("ownercomm_kit/" + module)
    # its thresholds: a block of params/defaults.yaml under its id
    block = p["rules"][name] if r.scope != "group" else p["group"]["rules"][name]
    assert "enabled" in block
    if r.scope != "group":
        assert block["severity"] in catalog.SEVERITIES
    # its wording and definition
    assert r.title and r.title.lstrip("'")[0].isupper() and "_" not in r.title
    text = r.definition(p)
    assert text.endswith(".") and not re.search(r"\b[a-z]+_[a-z_]+\b", text), text  # no raw code or column
    # its injector exists
    if r.scope == "group":
        from ownercomm_kit.synth import shared

        assert r.injector == "synth.shared._inject" and name in inspect.getsource(shared._inject)
    else:
        assert r.injector == f"synth.inject.Injector.{name}" and callable(getattr(inject.Injector, name))
        assert name in inject.RULES and name in inject.ORDER
    # its doc entry, generated from the catalog
    assert f"| `{name}` | {r.title} |" in reference.rules_page(p)
    assert f"| `{name}` | {r.title} |" in (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    # its tests name it
    tests = "".join(
        f.read_text(encoding="utf-8") for f in (ROOT / "tests").rglob("test_*.py") if f.name != Path(__file__).name
    )
    assert f'"{name}"' in tests


def test_severity_comes_from_the_parameters_not_the_code(p):
    q = resolve(rules={"quiet_hours": {"severity": "low"}, "cap_total": {"severity": "high"}})
    assert catalog.get("quiet_hours").severity(p) == "high" and catalog.get("quiet_hours").severity(q) == "low"
    assert catalog.get("quiet_hours").severity_words(q) == "Minor"
    assert "quiet_hours" not in catalog.high_rules(q) and "cap_total" in catalog.high_rules(q)
    text = catalog.severity_definition(q)
    assert "Serious (high): too many messages" in text and "texts or calls at night" in text.split("Minor (low):")[1]
    # the flags_high figure names the rules that are high for this dealer
    d = registry.get("flags_high").definition(q)
    assert "too many messages" in d and "texts or calls at night" not in d
    assert "texts or calls at night" in registry.get("flags_high").definition(p)
    assert catalog.get("sister_promo_after_purchase").severity(p) == catalog.GROUP_SEVERITY == group_rules.SEVERITY


def test_definitions_follow_overridden_parameters():
    q = resolve(
        rules={
            "cap_total": {"windows": [{"days": 10, "max": 7}]},
            "quiet_hours": {"start": "09:30", "end": "20:00"},
            "promo_after_purchase": {"days": 45, "categories": ["offer"]},
            "after_opt_out": {"grace_business_days": 4},
            "min_gap": {"default_gap_days": 1},
        },
        audit={"exempt_categories": ["recall"], "tier_window_months": 6, "booking_attribution_days": 1},
    )
    q["group"]["rules"]["sister_promo_after_purchase"]["days"] = 12  # a group file's layer
    q["group"]["rules"]["group_cap_total"]["windows"] = [{"days": 3, "max": 2}]
    d = {n: catalog.get(n).definition(q) for n in EVERY}
    assert "more than 7 in 10 days" in d["cap_total"] and "5 in 7" not in d["cap_total"]
    assert "before 9:30 AM or from 8 PM on" in d["quiet_hours"]
    assert d["promo_after_purchase"].startswith("Offer within 45 days")
    assert "more than 4 business days" in d["after_opt_out"]
    assert "any other kind 1 day." in d["min_gap"]
    assert "Recall messages are never flagged." in d["cap_total"] and "transactional" not in d["cap_total"]
    assert "never flagged" not in d["quiet_hours"]  # quiet hours apply to every kind of message
    assert "within 12 days" in d["sister_promo_after_purchase"]
    assert "more than 2 in 3 days" in d["group_cap_total"]
    # the audit's figures too: tiers and their attribution window
    m = metrics.definitions(q)
    assert "Over the 6 calendar months" in m["tiers"] and "12" not in m["tiers"] and "within 1 day after" in m["tiers"]
    assert "same 6 months" in m["tier_summary"]
    assert registry.get("over_cap_customer_share").definition(q) == m["over_cap_customer_share"]


def test_a_state_table_change_shows_in_the_state_rule_definitions():
    q = resolve(state_rules={"states": {"FL": {"start": "09:00", "cap": 2}}})
    assert "FL 9 AM to 8 PM" in catalog.get("state_quiet_hours").definition(q)
    assert "FL 2 in 24 hours" in catalog.get("state_contact_cap").definition(q)


def test_the_data_quality_matrix_comes_from_the_catalog():
    rows = quality._support()
    sections = [n.section for n in rows]
    for name, r in RULES.items():
        if r.needs or r.needs_any:
            need = next(n for n in rows if n.section == f"{r.title} ({name})")
            assert need.needs == r.needs_items() and need.without == "rule skipped"
        for s in r.support:
            assert f"{r.title} ({name}): {s.what}" in sections
    assert quality.SUPPORT == rows  # the old name still works
    # KPIs by their label
    assert any(s.startswith(registry.label("appointment_show_rate_90d")) for s in sections)
    assert not [s for s in sections if re.search(r"\b[a-z]+_[a-z_0-9]+\b", s) and "(" not in s]


def test_no_twin_of_the_rule_wording_is_left():
    from ownercomm_kit.group import page
    from ownercomm_kit.report import audit_report

    assert not hasattr(audit_report, "RULE_WORDS") and not hasattr(audit_report, "rule_text")
    assert not hasattr(page, "RULE_WORDS")
    for f in (ROOT / "ownercomm_kit").rglob("*.py"):
        if f.name == "catalog.py":
            continue
        src = f.read_text(encoding="utf-8")
        for r in EVERY.values():
            if f.name in ("rules.py", "state_rules.py"):
                assert src.count(f'title="{r.title}"') <= 1
            else:
                assert f'"{r.title}"' not in src, (f, r.title)


def test_unknown_rule_ids_read_as_words():
    assert catalog.title("purchase_anniversary") == "Purchase anniversary"
    assert catalog.title("cap_total") == "Too many messages"


def test_catalog_frame_lists_every_rule(p):
    df = catalog.frame(p)
    assert list(df["rule"]) == list(EVERY) and df["definition"].str.len().min() > 20
    assert isinstance(df, pd.DataFrame) and set(df["severity"]) <= set(catalog.SEVERITIES)


# ---------------------------------------------------------------- KPIs: one label everywhere

OLD_LABELS = ("High-severity flags", "Appointment show rate", "Response rate", "Repurchase rate", "Referral conversion")


def test_old_twin_labels_are_gone_from_the_code_and_docs():
    for f in [*(ROOT / "ownercomm_kit").rglob("*.py"), *(ROOT / "docs").glob("*.md")]:
        text = f.read_text(encoding="utf-8")
        for old in OLD_LABELS:
            assert old not in text, (f, old)


def test_the_group_index_uses_the_registry_labels():
    from ownercomm_kit.batch import index

    labels = [label for _, label, _, _ in index.HEADLINE_KPIS]
    assert labels[0] == f"{registry.label('flags_high')} per 1,000 messages"
    assert labels[0] in index.KPI_DEFINITIONS
    for key, label, _, _ in index.HEADLINE_KPIS[1:]:
        assert label == registry.label(key)


def test_kpi_definitions_never_name_raw_columns(p):
    for k in registry.KPIS.values():
        d = k.definition(p)
        assert d, k.key
        assert not re.search(r"\b[a-z]+_[a-z_0-9]+\b", d), (k.key, d)


def test_group_figures_have_one_label_on_the_group_page_and_the_index():
    from ownercomm_kit.group import page

    for key in ("shared_customers", "shared_customer_message_share", "group_flags_total"):
        k = registry.get(key)
        assert k.report == "group" and k.definition() == page.KPI_DEFINITIONS[key]
        assert page.DEFINITIONS[k.label] == k.definition()
    src = (ROOT / "ownercomm_kit" / "batch" / "index.py").read_text(encoding="utf-8")
    assert '"Shared customers"' not in src and '"Group flags"' not in src
