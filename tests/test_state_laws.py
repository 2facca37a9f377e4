"""State contact laws (SPEC §4 "State rules"): the table, each customer's state, the two rules,
the suppression list, and the edges the issue names."""

from __future__ import annotations

import copy

import numpy as np

import pandas as pd
import pytest
from helpers.audit import dealer, msg, pairs, params
from helpers.data import COMMUNICATIONS, write_folder

from ownercomm_kit import loader, state_laws
from ownercomm_kit.audit import run_audit, run_rules
from ownercomm_kit.audit.suppression import suppression_list
from ownercomm_kit.params import ParamsError, load_defaults, resolve

NY, CHI = "America/New_York", "America/Chicago"
FL_CHI = {"customer_id": "C1", "state": "FL", "timezone": CHI}  # a Florida customer in the Central zone


def flags_of(messages, customers, p=None, **kw):
    data = dealer(messages, customers, timezone=NY, **kw)
    return run_rules(data, p or params())[0]


def burst(times, customer="C1", channel="sms", category="offer", **kw):
    return [msg(f"M{i}", t, customer=customer, channel=channel, category=category, **kw) for i, t in enumerate(times)]


# ------------------------------------------------------------------ the table


def test_shipped_table_has_fl_ok_md_with_citations_and_a_version():
    p = load_defaults()
    table = state_laws.state_table(p)
    assert set(table) == {"FL", "OK", "MD"}
    assert state_laws.table_version(p)
    for _code, r in table.items():
        assert (r.start, r.end, r.cap, r.cap_hours, r.subject) == ("08:00", "20:00", 3, 24.0, "category")
        assert set(r.channels) == {"sms", "phone"} and r.citation and r.effective
    assert "501.616" in table["FL"].citation and "775C" in table["OK"].citation and "14-4501" in table["MD"].citation
    assert set(table["MD"].exempt_categories) == {"service_reminder", "warranty"}
    assert table["FL"].exempt_categories == table["OK"].exempt_categories == ()
    assert state_laws.check_table(p["state_rules"]) == []


def test_a_dealer_file_overrides_and_adds_states_merged_by_code():
    p = resolve(
        {
            "dealer_id": "D9",
            "data_dir": ".",
            "state_rules": {
                "states": {
                    "FL": {"cap": 1},
                    "TX": {
                        "citation": "A test citation",
                        "effective": "2025-01-01",
                        "start": "09:00",
                        "end": "21:00",
                        "cap": 2,
                        "cap_hours": 12,
                        "channels": ["sms"],
                    },
                    "OK": {"enabled": False},
                }
            },
        }
    )
    table = state_laws.state_table(p)
    assert table["FL"].cap == 1 and "501.616" in table["FL"].citation  # the rest of FL kept
    assert table["TX"].start == "09:00" and table["TX"].cap_hours == 12 and table["TX"].channels == ("sms",)
    assert "OK" not in table and "MD" in table
    # and the engine applies the override: a second text on a subject to a Florida customer
    flags = flags_of(burst(["2026-06-01 10:00", "2026-06-01 11:00"]), [FL_CHI], p)
    assert pairs(flags, "state_contact_cap") == {"M1"}


def test_a_group_file_layer_is_merged_too(tmp_path):
    (tmp_path / "params" / "groups").mkdir(parents=True)
    (tmp_path / "params" / "dealers").mkdir()
    (tmp_path / "params" / "defaults.yaml").write_text(
        (state_laws.ASSETS.parents[1] / "params" / "defaults.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    group = tmp_path / "params" / "groups" / "g.yaml"
    group.write_text("group_id: g\ndealers: [D1]\nstate_rules:\n  states:\n    MD: {end: '19:00'}\n", encoding="utf-8")
    dealer_file = tmp_path / "params" / "dealers" / "D1.yaml"
    dealer_file.write_text("dealer_id: D1\ndata_dir: x\nstate_rules:\n  states:\n    MD: {cap: 5}\n", encoding="utf-8")
    p = resolve(dealer_file=dealer_file, group_file=group)
    md = state_laws.state_table(p)["MD"]
    assert (md.end, md.cap, md.start) == ("19:00", 5, "08:00")


def test_bad_state_rules_are_every_problem_at_once():
    with pytest.raises(ParamsError) as e:
        resolve(
            {
                "dealer_id": "D9",
                "data_dir": ".",
                "state_rules": {
                    "states": {
                        "FL": {"start": "8am", "cap": -1, "channels": ["fax"], "exempt_categories": ["spam"]},
                        "XX": {"cap": 3},
                        "TX": {"cap": 3, "start": "20:00", "end": "08:00"},
                    }
                },
            }
        )
    text = str(e.value)
    for needle in ("FL.start", "FL.cap", "'fax'", "'spam'", "'XX'", "TX.citation", "start 20:00 must come before end"):
        assert needle in text, needle


# ------------------------------------------------------------------ the customer's state


def test_state_from_each_of_the_three_sources_and_none():
    cust = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E", "F", "G", "H", "I"],
            "state": [" fl ", "ZZ", None, None, None, None, None, None, "md"],
            "postal_code": [None, "73102-1234", "3301", "33101", None, "99999x", None, "abc", "33101"],
            "phone": [
                None,
                None,
                None,
                "(410) 555-0100",
                "+1 (405) 555-0101",
                "1-305-555-0102 ext. 12",
                "(800) 555-0103",
                None,
                None,
            ],
        }
    )
    got = state_laws.customer_states(cust).set_index("customer_id")
    assert got["state"].to_dict() == {
        "A": "FL",
        "B": "OK",
        "C": "NH",
        "D": "FL",
        "E": "OK",
        "F": "FL",
        "G": pd.NA,
        "H": pd.NA,
        "I": "MD",
    } or _same(
        got["state"],
        {"A": "FL", "B": "OK", "C": "NH", "D": "FL", "E": "OK", "F": "FL", "G": None, "H": None, "I": "MD"},
    )
    assert got["state_method"].to_dict() == {
        "A": "state",
        "B": "zip",
        "C": "zip",
        "D": "zip",
        "E": "area_code",
        "F": "area_code",
        "G": "none",
        "H": "none",
        "I": "state",
    }
    counts = state_laws.method_counts(state_laws.customer_states(cust)).set_index("method")["customers"].to_dict()
    assert counts == {"state": 2, "zip": 3, "area_code": 2, "none": 2}


def _same(series, expected):
    return {k: (None if pd.isna(v) else v) for k, v in series.to_dict().items()} == expected


def test_zip3_table_matches_faker_state_ranges():
    """An independent check of the shipped ZIP prefix table: faker's first and last ZIP of each state."""
    from faker.providers.address.en_US import Provider

    table = state_laws.zip3_states()
    for st, (lo, hi) in Provider.states_postcode.items():
        if st in ("AS", "FM", "GU", "MH", "MP", "PW"):
            continue  # Pacific islands share prefixes with Hawaii / one another: left out on purpose
        for z in (lo, hi):
            assert table.get(f"{z:05d}"[:3]) == st, (st, z)


def test_area_code_table_agrees_with_phonenumbers():
    import phonenumbers  # a dependency of the kit: missing is a failure
    from phonenumbers import geocoder

    table = state_laws.area_code_states()
    assert table["305"] == "FL" and table["405"] == "OK" and table["410"] == "MD" and "800" not in table
    names = {"Florida": "FL", "Oklahoma": "OK", "Maryland": "MD", "California": "CA", "Texas": "TX"}
    checked = 0
    for npa, st in table.items():
        desc = geocoder.description_for_number(phonenumbers.parse(f"+1{npa}2345678"), "en", region="US")
        if desc in names:
            assert names[desc] == st, (npa, desc)
            checked += 1
    assert checked > 50


def test_loader_normalises_the_state_column_and_warns_about_invalid_ones(tmp_path):
    folder = write_folder(
        tmp_path / "d",
        {
            "customers.csv": "customer_id,state,postal_code\nC1, fl ,\nC2,Md,\nC3,Florida,33101\nC4,,\n",
            "communications.csv": COMMUNICATIONS.replace("C1,", "C1,", 1),
        },
    )
    data = loader.load_data_dir(folder, timezone=NY, strict=False)
    assert data["customers"]["state"].tolist()[:2] == ["FL", "MD"]
    assert pd.isna(data["customers"]["state"].iloc[2])
    warn = [p for p in data.warnings if p.column == "state"]
    assert len(warn) == 1 and "Florida" in warn[0].message and warn[0].row == 4
    # the invalid state falls back to the ZIP
    from ownercomm_kit.audit.state_rules import customer_states

    st = customer_states(data).set_index("customer_id")
    assert st.loc["C3", "state"] == "FL" and st.loc["C3", "state_method"] == "zip"


# ------------------------------------------------------------------ state_quiet_hours


def test_2000_is_outside_and_1959_inside_in_the_customers_own_zone():
    # dealer in New York; the customer in Chicago: 20:59 and 21:00 New York are 19:59 and 20:00 there
    ms = [
        msg("M1", "2026-06-01 20:59", channel="sms", category="offer"),
        msg("M2", "2026-06-02 21:00", channel="sms", category="offer"),
        msg("M3", "2026-06-03 07:59:59", channel="phone", category="offer"),  # 06:59:59 Chicago: quiet_hours
        msg("M4", "2026-06-04 22:00", channel="phone", category="survey"),
    ]  # 21:00 Chicago: quiet_hours
    flags = flags_of(ms, [FL_CHI])
    assert pairs(flags, "state_quiet_hours") == {"M2"}
    assert pairs(flags, "quiet_hours") == {"M3", "M4"}  # not flagged twice
    row = flags[flags["rule"] == "state_quiet_hours"].iloc[0]
    assert row["severity"] == "high" and "8:00 PM customer's time" in row["detail"] and "Florida" in row["detail"]
    assert "501.616" in row["detail"]


def test_window_start_is_inside():
    ms = [msg("M1", "2026-06-01 08:59:59", channel="sms"), msg("M2", "2026-06-01 09:00", channel="sms")]
    p = params()
    p["state_rules"] = copy.deepcopy(p["state_rules"])
    p["state_rules"]["states"]["FL"]["start"] = "08:00"
    p["rules"]["quiet_hours"]["start"] = "07:00"
    flags = flags_of(ms, [FL_CHI], p)  # 07:59:59 and 08:00 Chicago
    assert pairs(flags, "state_quiet_hours") == {"M1"}
    assert pairs(flags, "quiet_hours") == set()


def test_with_quiet_hours_off_the_state_rule_flags_night_messages_too():
    ms = [msg("M1", "2026-06-01 23:30", channel="sms", category="offer")]
    assert pairs(flags_of(ms, [FL_CHI]), "state_quiet_hours") == set()
    assert pairs(flags_of(ms, [FL_CHI], params(quiet_hours={"enabled": False})), "state_quiet_hours") == {"M1"}


def test_dealers_zone_when_the_customer_has_none_and_email_never_flagged():
    ms = [
        msg("M1", "2026-06-01 20:15", channel="sms"),
        msg("M2", "2026-06-01 20:15", channel="email"),
        msg("M3", "2026-06-01 20:16", channel="mail"),
    ]
    flags = flags_of(ms, [{"customer_id": "C1", "state": "OK"}])
    assert pairs(flags, "state_quiet_hours") == {"M1"}
    assert "dealer's time" in flags[flags["rule"] == "state_quiet_hours"].iloc[0]["detail"]


def test_exempt_categories_and_md_exemptions_at_night():
    ms = [
        msg("M1", "2026-06-01 20:30", channel="sms", category="recall"),
        msg("M2", "2026-06-02 20:30", channel="sms", category="transactional", customer="C1"),
        msg("M3", "2026-06-03 20:30", channel="sms", category="service_reminder", customer="C1"),
        msg("M4", "2026-06-03 20:30", channel="sms", category="service_reminder", customer="C2"),
        msg("M5", "2026-06-04 20:30", channel="phone", category="warranty", customer="C1"),
        msg("M6", "2026-06-04 20:30", channel="phone", category="warranty", customer="C2"),
        msg("M7", "2026-06-05 20:30", channel="phone", category="offer", customer="C1"),
    ]
    customers = [{"customer_id": "C1", "state": "MD"}, {"customer_id": "C2", "state": "FL"}]
    assert pairs(flags_of(ms, customers), "state_quiet_hours") == {"M4", "M6", "M7"}


def test_customer_without_state_and_states_without_a_law_get_no_state_flag():
    ms = [msg("M1", "2026-06-01 20:30", channel="sms", customer=c) for c in ("C1", "C2", "C3")]
    ms = [{**m, "message_id": f"M{i}"} for i, m in enumerate(ms)]
    customers = [
        {"customer_id": "C1", "state": "TX"},
        {"customer_id": "C2"},
        {"customer_id": "C3", "postal_code": "90210", "phone": "(714) 555-0100"},
    ]
    flags = flags_of(ms, customers)
    assert pairs(flags, "state_quiet_hours") == set() and pairs(flags, "state_contact_cap") == set()


def test_rules_skipped_when_no_column_can_give_a_state():
    data = dealer([msg("M1", "2026-06-01 20:30", channel="sms")], timezone=NY)
    _, skipped = run_rules(data, params())
    assert "state_quiet_hours" in skipped and "customers.state or customers.postal_code" in skipped["state_quiet_hours"]
    data = dealer(
        [msg("M1", "2026-06-01 20:30", channel="sms")],
        [{"customer_id": "C1", "state": "FL"}, {"customer_id": "C2"}],
        timezone=NY,
    )
    _, skipped = run_rules(data, params())
    assert skipped["state_contact_cap"].startswith("partly: 1 of 2 customers have no state")


# ------------------------------------------------------------------ state_contact_cap


def test_fourth_on_one_subject_in_24_hours_is_flagged_from_every_sender():
    ms = burst(["2026-06-01 10:00", "2026-06-01 11:00", "2026-06-01 12:00", "2026-06-01 13:00"])
    for m, s in zip(ms, ["oem", "sales", "dealer", "service"]):
        m["sender"] = s
    ms[1]["channel"] = "phone"
    flags = flags_of(ms, [FL_CHI])
    assert pairs(flags, "state_contact_cap") == {"M3"}
    row = flags[flags["rule"] == "state_contact_cap"].iloc[0]
    assert row["related_id"] == "M0" and row["severity"] == "high" and "4th" in row["detail"]


def test_exactly_24_hours_apart_is_outside_the_window():
    base = ["2026-06-01 10:00", "2026-06-01 11:00", "2026-06-01 12:00"]
    assert pairs(flags_of(burst(base + ["2026-06-02 10:00"]), [FL_CHI]), "state_contact_cap") == set()
    assert pairs(flags_of(burst(base + ["2026-06-02 09:59:59"]), [FL_CHI]), "state_contact_cap") == {"M3"}


def test_different_categories_are_different_subjects():
    ms = burst(["2026-06-01 10:00", "2026-06-01 11:00", "2026-06-01 12:00", "2026-06-01 13:00"])
    ms[3]["category"] = "event"
    assert pairs(flags_of(ms, [FL_CHI]), "state_contact_cap") == set()


def test_exempt_messages_are_neither_flagged_nor_counted():
    ms = burst(["2026-06-01 10:00", "2026-06-01 11:00", "2026-06-01 12:00", "2026-06-01 13:00"], category="recall")
    assert pairs(flags_of(ms, [FL_CHI]), "state_contact_cap") == set()
    ms[0]["category"] = ms[1]["category"] = ms[3]["category"] = "offer"  # 3 offers + 1 recall
    assert pairs(flags_of(ms, [FL_CHI]), "state_contact_cap") == set()


def test_md_exempts_service_reminders_and_warranty_florida_does_not():
    times = ["2026-06-01 10:00", "2026-06-01 11:00", "2026-06-01 12:00", "2026-06-01 13:00"]
    for cat in ("service_reminder", "warranty"):
        md = burst(times, category=cat)
        assert pairs(flags_of(md, [{"customer_id": "C1", "state": "MD"}]), "state_contact_cap") == set()
        assert pairs(flags_of(md, [{"customer_id": "C1", "state": "FL"}]), "state_contact_cap") == {"M3"}
    assert pairs(flags_of(burst(times), [{"customer_id": "C1", "state": "MD"}]), "state_contact_cap") == {"M3"}


def test_email_and_mail_never_counted():
    ms = burst(
        [
            "2026-06-01 10:00",
            "2026-06-01 11:00",
            "2026-06-01 12:00",
            "2026-06-01 13:00",
            "2026-06-01 14:00",
            "2026-06-01 15:00",
        ]
    )
    ms[1]["channel"], ms[2]["channel"], ms[4]["channel"] = "email", "mail", "email"
    flags = flags_of(ms, [FL_CHI])
    assert pairs(flags, "state_contact_cap") == set()  # sms, sms, sms: three
    ms[4]["channel"] = "phone"
    assert pairs(flags_of(ms, [FL_CHI]), "state_contact_cap") == {"M5"}


def test_state_found_by_zip_or_area_code_applies_the_law():
    times = ["2026-06-01 10:00", "2026-06-01 11:00", "2026-06-01 12:00", "2026-06-01 13:00"]
    for cust in ({"customer_id": "C1", "postal_code": "33101"}, {"customer_id": "C1", "phone": "+1 405 555 0100"}):
        assert pairs(flags_of(burst(times), [cust]), "state_contact_cap") == {"M3"}, cust


# ------------------------------------------------------------------ suppression, replay, report data


def test_customer_at_a_state_cap_is_held_back_on_sms_and_phone_until_the_window_clears():
    ms = burst(["2026-06-30 09:00", "2026-06-30 10:00", "2026-06-30 11:00"])
    data = dealer(ms, [FL_CHI, {"customer_id": "C2", "state": "FL"}], timezone=NY, as_of="2026-06-30")
    sup = suppression_list(data, params())
    st = sup[sup["rule"] == "state_contact_cap"]
    assert set(zip(st["customer_id"], st["channel"])) == {("C1", "sms"), ("C1", "phone")}
    assert set(st["until"].dt.strftime("%Y-%m-%d")) == {"2026-07-01"}  # the first text leaves at 09:00 on July 1
    # two texts: not at the cap; the same three a day earlier: the window has cleared
    data = dealer(ms[:2], [FL_CHI], timezone=NY, as_of="2026-06-30")
    assert "state_contact_cap" not in set(suppression_list(data, params())["rule"])
    early = [{**m, "sent_at": m["sent_at"].replace("06-30", "06-29")} for m in ms]
    data = dealer(early, [FL_CHI], timezone=NY, as_of="2026-06-30")
    assert "state_contact_cap" not in set(suppression_list(data, params())["rule"])
    off = params(state_contact_cap={"enabled": False})
    data = dealer(ms, [FL_CHI], timezone=NY, as_of="2026-06-30")
    assert "state_contact_cap" not in set(suppression_list(data, off)["rule"])


def test_replay_and_state_summary_count_the_state_rules():
    ms = burst(["2026-06-01 10:00", "2026-06-01 11:00", "2026-06-01 12:00", "2026-06-01 21:30"])  # 20:30 Chicago
    data = dealer(ms, [FL_CHI, {"customer_id": "C2", "postal_code": "21201"}, {"customer_id": "C3"}], timezone=NY)
    r = run_audit(data, params())
    replay = r.replay.set_index("rule")["messages_suppressed"]
    assert replay["state_contact_cap"] == 1 and replay["state_quiet_hours"] == 1
    by = r.states["by_state"].set_index(["state", "rule"])["flags"].to_dict()
    assert by == {("FL", "state_contact_cap"): 1, ("FL", "state_quiet_hours"): 1}
    methods = r.states["methods"].set_index("method")["customers"].to_dict()
    assert methods == {"state": 1, "zip": 1, "area_code": 0, "none": 1}
    assert set(r.states["table"]["state"]) == {"FL", "OK", "MD"}


def test_a_law_covers_messages_from_its_effective_date_on():
    """Maryland's law is in force from 2024-01-01: texts of 31 December 2023 are neither flagged nor
    counted; the dealer's calendar dates a message, as everywhere in the audit."""
    md = [{"customer_id": "C1", "state": "MD"}]
    late = [msg("M1", "2023-12-31 20:30", channel="sms"), msg("M2", "2024-01-01 20:30", channel="sms")]
    assert pairs(flags_of(late, md), "state_quiet_hours") == {"M2"}
    ms = burst(
        [
            "2023-12-31 23:00",
            "2023-12-31 23:10",
            "2023-12-31 23:20",
            "2024-01-01 09:00",
            "2024-01-01 09:10",
            "2024-01-01 09:20",
            "2024-01-01 09:30",
        ]
    )
    assert pairs(flags_of(ms, md), "state_contact_cap") == {"M6"}
    p = params()
    p["state_rules"] = copy.deepcopy(p["state_rules"])
    p["state_rules"]["states"]["MD"]["effective"] = "2023-12-01"
    assert pairs(flags_of(ms, md, p), "state_contact_cap") == {"M3", "M4", "M5", "M6"}


def test_typed_cells_and_full_names_give_a_state():
    """A ZIP or phone read from a typed file as a number, and a state spelled out, still give a state."""
    cust = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "state": [None, None, "Florida", "new  york"],
            "postal_code": [33101.0, None, None, None],
            "phone": [None, 4055550100.0, None, None],
        }
    )
    got = state_laws.customer_states(cust).set_index("customer_id")
    assert got["state"].tolist() == ["FL", "OK", "FL", "NY"]
    assert got["state_method"].tolist() == ["zip", "area_code", "state", "state"]


def _normalize_states_per_row(values):
    """The per-row reading normalize_states must match (it now works per distinct value)."""
    from ownercomm_kit.state_laws import _NAMES, US_STATES, _lookup

    text = values.astype("string").str.strip().str.upper()
    code = text.str.replace(r"[\s.]", "", regex=True)
    named = _lookup(text.str.replace(r"[^A-Z ]", "", regex=True).str.replace(r"\s+", " ", regex=True), _NAMES)
    return code.where(code.isin(US_STATES), named).astype("string")


@pytest.mark.parametrize("dtype", [object, "string", "string[pyarrow]"])
def test_normalize_states_per_distinct_value_matches_per_row(dtype):
    rng = np.random.default_rng(5)
    pool = ["fl", " Fl. ", "Florida", "new  york", "N.Y.", "", "  ", "Qu\u00e9bec", "ZZ", "tx", "Texas!", None]
    values = [pool[i] for i in rng.integers(0, len(pool), 500)]
    if dtype is object:
        values[:4] = [12, 1.5, "12", True]  # mixed cells: each read as its text
    for vals in (values, [], [None], [None] * 3, ["ca"]):
        s = pd.Series(vals, dtype=dtype, index=np.arange(len(vals)) * 3 + 7)
        got = state_laws.normalize_states(s)
        want = _normalize_states_per_row(s)
        pd.testing.assert_series_equal(got, want)
