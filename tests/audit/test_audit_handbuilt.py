"""A hand-built dealer in which every conflict is known: the audit finds exactly those.

Built in code (not a data folder of the repository). Dealer in Chicago; dates in April-June
2026 (no daylight-saving change inside any window). Each message's comment says why it is
(or is not) flagged.
"""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from helpers.audit import _frame, dealer, msg, pairs, params
from ownercomm_kit.audit import RULES, run_audit, run_rules

TZ = "America/Chicago"
OK = {"sms_consent": True, "email_opt_in": True, "phone_dnc": False, "mail_opt_out": False}

CUSTOMERS = [
    {"customer_id": "A", **OK, "preferred_channel": "email", "timezone": "America/Chicago"},
    {"customer_id": "B", "timezone": "America/Los_Angeles"},  # no consent recorded at all
    {"customer_id": "C", **OK, "email_opt_in": False, "timezone": "America/Chicago"},
    {"customer_id": "D", **OK, "preferred_channel": "sms"},
    {"customer_id": "E", **OK, "phone_dnc": True},
    {"customer_id": "F", **OK},
    {"customer_id": "G", **OK},
]
SALES = [{"sale_id": "S-A", "customer_id": "A", "sale_date": "2026-04-01", "model": "Camry", "price": 31000.0}]
VEHICLES = [{"vin": "VF1", "customer_id": "F"}]
VISITS = [{"ro_id": "RO-C", "customer_id": "C", "visit_date": "2026-04-10", "vin": "VC1"}]
APPOINTMENTS = [
    {
        "appointment_id": "AP-D",
        "customer_id": "D",
        "booked_at": "2026-05-01 10:00",
        "scheduled_for": "2026-05-20 09:00",
        "status": "scheduled",
    }
]
LEADS = [{"lead_id": "L-E", "customer_id": "E", "opened_at": "2026-04-15 10:00", "closed_at": "2026-04-25 10:00"}]


def m(mid, when, cust, channel, sender, category, **kw):
    return msg(mid, when, customer=cust, channel=channel, sender=sender, category=category, **kw)


MESSAGES = [
    # A bought a Camry for $31,000 on 04-01; prefers email
    m("A1", "2026-04-03 10:00", "A", "email", "oem", "offer", model="Camry", offer_price=29500.0),  # day 2, cheaper
    m("A2", "2026-04-05 10:00", "A", "email", "dealer", "newsletter"),
    m("A3", "2026-04-20 10:00", "A", "email", "sales", "conquest"),  # an owner, day 19
    m("A4", "2026-05-20 10:00", "A", "email", "oem", "offer", campaign_id="K1"),  # day 49: fine
    m("A5", "2026-06-20 10:00", "A", "email", "oem", "offer", campaign_id="K1"),  # K1 again
    m("A6", "2026-06-20 10:00", "A", "sms", "dealer", "event"),  # not the preferred channel
    m("A7", "2026-06-21 10:00", "A", "email", "service", "recall"),  # exempt
    # F: six messages from one sender in six days, every channel below its own cap
    m("F1", "2026-05-04 10:00", "F", "email", "dealer", "newsletter"),
    m("F2", "2026-05-05 10:00", "F", "email", "dealer", "survey"),
    m("F3", "2026-05-06 10:00", "F", "mail", "dealer", "event"),
    m("F4", "2026-05-07 10:00", "F", "mail", "dealer", "warranty"),
    m("F5", "2026-05-08 10:00", "F", "phone", "dealer", "referral"),
    m("F6", "2026-05-09 10:00", "F", "sms", "dealer", "birthday"),  # 6th in 7 days
    m("F7", "2026-05-09 11:00", "F", "email", "dealer", "transactional"),  # exempt: not counted
    m("F8", "2026-05-12 10:00", "F", "email", "dealer", "conquest"),  # 5 in (05-05 10:00, 05-12 10:00]; owns VF1
    # G: three senders in three days, then an unsubscribe on Friday 05-08
    m("G1", "2026-05-04 10:00", "G", "email", "oem", "newsletter"),
    m("G2", "2026-05-05 10:00", "G", "email", "sales", "survey"),
    m("G3", "2026-05-06 10:00", "G", "mail", "service", "event"),  # third sender
    m("G4", "2026-05-07 10:00", "G", "phone", "oem", "warranty"),  # oem had reached them
    m("G5", "2026-05-08 10:00", "G", "email", "oem", "survey", unsubscribed=True),  # survey gap exactly 3 days
    m("G6", "2026-05-22 10:00", "G", "email", "oem", "newsletter"),  # last day of the 10 business days
    m("G7", "2026-05-26 10:00", "G", "email", "oem", "birthday"),  # after the grace
    m("G8", "2026-05-26 11:00", "G", "sms", "oem", "newsletter"),  # another channel
    # B lives in Los Angeles and never consented to texts
    m("B1", "2026-05-04 22:30", "B", "sms", "dealer", "survey"),  # 8:30 PM in LA
    m("B2", "2026-05-06 09:30", "B", "sms", "dealer", "event"),  # 7:30 AM in LA
    m("B3", "2026-05-10 09:30", "B", "phone", "service", "recall"),  # exempt, but quiet hours apply
    # C opted out of email; serviced VC1 on 04-10
    m("C1", "2026-04-12 10:00", "C", "email", "service", "service_reminder", vin="VC1"),
    m("C2", "2026-04-27 10:00", "C", "sms", "service", "service_reminder", vin="VC2"),  # other vehicle
    m("C3", "2026-05-11 10:00", "C", "sms", "service", "service_reminder"),  # day 31; gap exactly 14 days
    # D booked an appointment on 05-01 for 05-20 09:00
    m("D1", "2026-05-05 10:00", "D", "sms", "service", "service_reminder"),
    m("D2", "2026-05-20 09:00", "D", "sms", "service", "service_reminder"),  # the appointment is due
    # E: lead open from 04-15 10:00 to 04-25 10:00; on the do-not-call list
    m("E1", "2026-04-16 10:00", "E", "email", "oem", "offer"),
    m("E3", "2026-04-20 10:00", "E", "email", "sales", "newsletter"),  # the lead's owner
    m("E2", "2026-04-25 10:00", "E", "email", "oem", "offer"),  # the lead closed at that instant
    m("E4", "2026-05-01 14:00", "E", "phone", "dealer", "survey"),
]

EXPECTED = {
    ("A1", "promo_after_purchase"),
    ("A1", "better_offer_after_purchase"),
    ("A3", "conquest_to_owner"),
    ("A3", "promo_after_purchase"),
    ("A5", "duplicate_campaign"),
    ("A6", "non_preferred_channel"),
    ("F6", "cap_total"),
    ("F8", "conquest_to_owner"),
    ("G3", "multi_sender"),
    ("G7", "after_opt_out"),
    ("B1", "no_consent"),
    ("B2", "no_consent"),
    ("B2", "quiet_hours"),
    ("B3", "quiet_hours"),
    ("C1", "no_consent"),
    ("C1", "reminder_after_service"),
    ("D1", "reminder_after_service"),
    ("E1", "promo_during_open_lead"),
    ("E4", "no_consent"),
}

RELATED = {
    ("A1", "promo_after_purchase"): "S-A",
    ("A1", "better_offer_after_purchase"): "S-A",
    ("A3", "conquest_to_owner"): "S-A",
    ("A5", "duplicate_campaign"): "A4",
    ("F6", "cap_total"): "F1",
    ("F8", "conquest_to_owner"): "VF1",
    ("G3", "multi_sender"): "G1",
    ("G7", "after_opt_out"): "G5",
    ("C1", "reminder_after_service"): "RO-C",
    ("D1", "reminder_after_service"): "AP-D",
    ("E1", "promo_during_open_lead"): "L-E",
}


def handbuilt():
    return dealer(
        MESSAGES,
        CUSTOMERS,
        timezone=TZ,
        as_of="2026-06-30",
        sales=SALES,
        vehicles=VEHICLES,
        service_visits=VISITS,
        appointments=APPOINTMENTS,
        leads=LEADS,
    )


def test_exactly_the_known_conflicts():
    flags, skipped = run_rules(handbuilt(), params())
    assert pairs(flags) == EXPECTED
    # every rule ran, but the state rules, which need a customer's state, ZIP or phone
    assert set(skipped) == {"state_quiet_hours", "state_contact_cap"}
    got = {(r.message_id, r.rule): r.related_id for r in flags.itertuples()}
    for key, related in RELATED.items():
        assert got[key] == related, key


def test_details_read_as_sentences():
    flags, _ = run_rules(handbuilt(), params())
    detail = {(r.message_id, r.rule): r.detail for r in flags.itertuples()}
    assert detail[("A1", "better_offer_after_purchase")] == (
        "Emailed an offer for a Camry at $29,500 2 days after buying one for $31,000"
    )
    assert detail[("F6", "cap_total")] == "6th message in 7 days (cap 5)"
    assert detail[("B2", "quiet_hours")] == "Texted at 7:30 AM customer's time (quiet from 9 PM to 8 AM)"
    assert detail[("G7", "after_opt_out")] == (
        "Emailed on 2026-05-26, after the customer unsubscribed on 2026-05-08 "
        "(grace of 10 business days ended 2026-05-22)"
    )


def test_same_dealer_through_csv_and_the_cli(tmp_path):
    """The same dealer as exported files, through the loader and `ownercomm audit`."""
    from ownercomm_kit.cli import main

    folder = tmp_path / "handbuilt"
    folder.mkdir()
    tables = {
        "customers": CUSTOMERS,
        "sales": SALES,
        "vehicles": VEHICLES,
        "service_visits": VISITS,
        "appointments": APPOINTMENTS,
        "leads": LEADS,
        "communications": MESSAGES,
    }
    for name, rows in tables.items():
        _frame(rows).to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    out = tmp_path / "out" / "flags.csv"
    sup = tmp_path / "out" / "suppression.csv"
    res = CliRunner().invoke(
        main,
        ["audit", str(folder), "--timezone", TZ, "--as-of", "2026-06-30", "--out", str(out), "--suppression", str(sup)]
        + ["--parquet", str(tmp_path / "out" / "flags.parquet")],
    )
    assert res.exit_code == 0, res.output
    assert "cap_total" in res.output and "19 flags" in res.output
    flags = pd.read_csv(out, dtype=str)
    assert list(flags.columns) == [
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
    ]
    assert set(zip(flags["message_id"], flags["rule"])) == EXPECTED
    assert pd.read_csv(sup, dtype=str).columns.tolist() == ["customer_id", "channel", "rule", "until"]
    typed = pd.read_parquet(tmp_path / "out" / "flags.parquet")  # the same rows, typed (for analysts)
    assert list(typed.columns) == list(flags.columns)
    assert list(zip(typed["message_id"], typed["rule"])) == list(zip(flags["message_id"], flags["rule"]))
    assert str(typed["sent_at"].dt.tz) == TZ and typed["sent_at"].astype(str).tolist() == flags["sent_at"].tolist()


def test_cli_without_timezone_is_a_clear_message(tmp_path):
    from ownercomm_kit.cli import main

    res = CliRunner().invoke(main, ["audit", str(tmp_path)])
    assert res.exit_code != 0 and "--timezone" in res.output and "Traceback" not in res.output


def test_cli_data_problem_is_a_message_not_a_traceback(tmp_path):
    from ownercomm_kit.cli import main

    (tmp_path / "customers.csv").write_text("customer_id\nC1\n")
    (tmp_path / "communications.csv").write_text(
        "message_id,customer_id,sent_at,channel,sender,category\nM1,C1,2024-13-45 10:00,email,oem,offer\n"
    )
    out = tmp_path / "flags.csv"
    res = CliRunner().invoke(main, ["audit", str(tmp_path), "--timezone", TZ, "--out", str(out)])
    assert res.exit_code == 1
    assert "sent_at" in res.output and "Traceback" not in res.output
    assert not out.exists()  # nothing half-written


def test_formula_cells_are_neutralized_in_flags_csv(tmp_path):
    from ownercomm_kit.cli import main

    (tmp_path / "customers.csv").write_text("customer_id\n=HYPERLINK(1)\n")
    (tmp_path / "communications.csv").write_text(
        "message_id,customer_id,sent_at,channel,sender,category,campaign_id\n"
        "M1,=HYPERLINK(1),2026-05-04 10:00,email,oem,offer,@X\n"
        "M2,=HYPERLINK(1),2026-05-20 10:00,email,oem,offer,@X\n"
    )
    out = tmp_path / "flags.csv"
    res = CliRunner().invoke(main, ["audit", str(tmp_path), "--timezone", TZ, "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "'=HYPERLINK(1)" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text


@pytest.mark.parametrize("rule", sorted({r for _, r in EXPECTED}))
def test_turning_one_rule_off_removes_only_its_flags(rule):
    flags, skipped = run_rules(handbuilt(), params(**{rule: {"enabled": False}}))
    assert pairs(flags) == {p for p in EXPECTED if p[1] != rule}
    assert rule in skipped


def test_run_audit_on_the_handbuilt_dealer():
    result = run_audit(handbuilt(), params())
    assert pairs(result.flags) == EXPECTED
    assert result.headline == {
        "messages": len(MESSAGES),
        "customers_messaged": 7,
        "flags_high": 8,  # better offer 1, no_consent 4, after_opt_out 1, quiet_hours 2
        "flags_total": len(EXPECTED),
        "over_cap_customer_share": pytest.approx(1 / 7),  # F
    }


def test_threads_do_not_change_the_result():
    from ownercomm_kit.audit import run_rules_timed

    one_thread, s1, _ = run_rules_timed(handbuilt(), params(), workers=1)
    two_threads, s2, secs = run_rules_timed(handbuilt(), params(), workers=2)
    pd.testing.assert_frame_equal(one_thread, two_threads)
    assert s1 == s2 and list(secs) == [r for r in RULES if r in secs]
