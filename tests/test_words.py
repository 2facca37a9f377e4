"""Consistent and exact wording (issue 17 item 3): one plural helper, one share formatter, codes as
words, and the pages of the shipped sample batch checked for what a reader must never see."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ownercomm_kit import words
from ownercomm_kit.report import common, html

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "n, out",
    [
        (0, "0 customers"),
        (1, "1 customer"),
        (2, "2 customers"),
        (1234, "1,234 customers"),
        (1.0, "1 customer"),
        (2.5, "2.5 customers"),
    ],
)
def test_plural(n, out):
    assert words.plural(n, "customer") == out


def test_plural_with_an_irregular_form():
    assert words.plural(1, "text or call", "texts or calls") == "1 text or call"
    assert words.plural(3, "text or call", "texts or calls") == "3 texts or calls"
    assert words.noun(1, "line") == "line" and words.noun(0, "line") == "lines"


@pytest.mark.parametrize(
    "x, out",
    [
        (0.003, "0.3%"),
        (0.0, "0.0%"),
        (0.125, "12.5%"),
        (1.0, "100.0%"),
        (0.0004, "0.0%"),
        (None, ""),
        (float("nan"), ""),
        ("x", ""),
    ],
)
def test_one_share_formatter_everywhere(x, out):
    assert words.share(x) == out
    if out:
        assert html.fmt_number(x, "pct") == out  # the tables and tiles use the same one


def test_codes_as_words():
    assert words.code_words("purchase_anniversary") == "Purchase anniversary"
    df = pd.DataFrame(
        {
            "milestone": ["purchase_anniversary", "birthday"],
            "due_reason": ["both", "mileage"],
            "channel": ["mail", "email"],
            "contact": ["92780", "a@b.com"],
            "vehicle": ["2021 TOYOTA CAMRY (VIN 1ABC)", "2020 BMW X5 (VIN 2DEF)"],
        }
    )
    out = common.plain_codes(df)
    assert list(out["milestone"]) == ["Purchase anniversary", "Birthday"]
    assert list(out["due_reason"]) == ["Both", "Mileage"]
    assert out["contact"][0] == "Postal code 92780" and out["contact"][1] == "a@b.com"
    assert list(out["vehicle"]) == ["2021 Toyota Camry (VIN 1ABC)", "2020 BMW X5 (VIN 2DEF)"]
    assert common.model_words("camry") == common.model_words("CAMRY") == "Camry"
    assert common.model_words("CR-V") == "CR-V" and common.model_words("F-150") == "F-150"
    assert df["milestone"][0] == "purchase_anniversary"  # the input (and the CSVs) keep their codes


def test_a_postal_code_is_shown_but_a_phone_in_its_place_is_masked():
    assert html.mask_contact("Postal code 92780-1234") == "Postal code 92780-1234"
    assert html.mask_contact("Postal code 714-555-0123") != "Postal code 714-555-0123"
    assert common.mail_contact(pd.NA, "92780") == "92780"  # no channel: as it is


def test_rule_status_says_what_checked_means():
    from ownercomm_kit.report.audit_report import check_status

    assert check_status(None, 12) == "Checked: 12 flags"
    assert check_status(None, 1) == "Checked: 1 flag"
    assert check_status("needs the sales table, which the data does not have", 0) == (
        "Not checked: needs the sales table, which the data does not have"
    )
    assert check_status("partly: not checked for mail", 3).startswith("Partly checked (3 flags): not checked for mail")


def test_key_points_merge_the_most_common_and_the_most_serious_problem_when_they_are_one():
    from ownercomm_kit.audit import AuditResult
    from ownercomm_kit.report.audit_report import key_points

    def result(rules_sev):
        flags = pd.DataFrame(
            {
                "message_id": [f"M{i}" for i in range(len(rules_sev))],
                "rule": [r for r, _ in rules_sev],
                "severity": [s for _, s in rules_sev],
            }
        )
        empty = pd.DataFrame()
        return AuditResult(
            flags=flags,
            skipped={},
            suppression=pd.DataFrame({"customer_id": []}),
            frequency=empty,
            over_cap=empty,
            heatmap=empty,
            sender_mix=empty,
            fatigue=empty,
            tiers=empty,
            tier_summary=empty,
            replay=empty,
            replay_by_sender=empty,
            top_customers=empty,
            headline={"messages": 1000},
        )

    same = key_points(result([("no_consent", "high")] * 3 + [("cap_total", "medium")]))
    assert any("Most common problem, and a serious one: no consent for the channel (3 messages)" in p for p in same)
    assert not any("Most frequent serious" in p for p in same)
    assert same[0].startswith("4 messages of 1,000 (0.4%)")
    other = key_points(result([("cap_total", "medium")] * 3 + [("no_consent", "high")]))
    assert any(p.startswith("Most common problem: too many messages (3 messages)") for p in other)
    assert any(p.startswith("Most frequent serious problem: no consent for the channel (1 message)") for p in other)


def _visible_text(page: str) -> str:
    page = re.sub(r"<script\b.*?</script>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<style\b.*?</style>", " ", page, flags=re.S | re.I)
    return re.sub(r"<[^>]+>", " ", page)


@pytest.mark.slow
def test_no_page_of_the_sample_batch_says_s_in_brackets_or_a_rounded_zero_share(tmp_path):
    from ownercomm_kit.batch import run_batch

    res = run_batch(ROOT / "params" / "groups" / "sample.yaml", out=tmp_path, workers=2, force=True)
    assert not res.failed
    pages = sorted(tmp_path.rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        text = _visible_text(page.read_text(encoding="utf-8"))
        assert "(s)" not in text, (page, text[max(0, text.index("(s)") - 80) : text.index("(s)") + 20])
        assert not re.search(r"(?<![\d.,])0%", text), page  # shares have one decimal: 0.3%, never 0%
        assert "Status" not in text or "checked" not in text.split("Status", 1)[1][:40], page
    audit = _visible_text((tmp_path / "sample" / "D001" / "audit.html").read_text(encoding="utf-8"))
    assert "Checked: " in audit and "purchase_anniversary" not in audit
    retention = _visible_text((tmp_path / "sample" / "D001" / "retention.html").read_text(encoding="utf-8"))
    assert "purchase_anniversary" not in retention


def test_model_names_in_one_casing_in_sentences():
    details = pd.Series(
        [
            "Phoned with a sales promotion for an ELANTRA at $10,260",
            "Mailed an offer for a palisade",
            "A note about the CR-V",
            None,
        ]
    )
    out = common.model_casing(details, ["ELANTRA", "palisade", "CR-V", "Elantra"])
    assert list(out[:3]) == [
        "Phoned with a sales promotion for an Elantra at $10,260",
        "Mailed an offer for a Palisade",
        "A note about the CR-V",
    ]
    assert pd.isna(out[3])
    assert common.model_casing(details, []).equals(details)


def test_empty_figures_say_why_with_the_dealers_windows():
    from ownercomm_kit import params as params_mod
    from ownercomm_kit.report import referrals_report, retention_report

    p = params_mod.resolve(
        {
            "dealer_id": "T",
            "data_dir": ".",
            "retention": {"show_rate_days": 60, "retention_window_months": 6},
            "referrals": {"window_months": 3},
        }
    )
    e = retention_report.empty_reasons(p["retention"])
    assert e["appointment_show_rate_90d"].endswith("last 60 days")
    assert "between 12 and 6 months" in e["first_year_service_retention"]
    assert set(e) >= set(retention_report.retention.KPI_KEYS)
    assert (
        referrals_report.empty_reasons(p["referrals"])["referral_conversion_12m"] == "no referral in the last 3 months"
    )


def test_referral_sentences_follow_the_first_contact_hours():
    from types import SimpleNamespace

    from ownercomm_kit.report import referrals_report

    followups = pd.DataFrame({"action": ["contact_referred", "contact_referred", "thank_advocate"]})
    r = SimpleNamespace(skipped={}, followups=followups, anomalies=pd.DataFrame())
    points = referrals_report.key_points(r, 48)
    assert points[0].startswith("2 referrals waited more than 48 hours without a call, and 1 advocate")
    assert "waited more than 1 hour without a call" in referrals_report.key_points(r, 1)[0]
