"""`ownercomm onboard`: recognition, the dealer file it writes, re-runs, and vendor shapes
that load to the same canonical data as their clean twin (issue 7)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from helpers.onboard import (
    CRM,
    DMS,
    EXCEL_BOOK,
    SHAPES,
    Shape,
    cp1252_only,
    hand_dealer,
    tables_from_data,
    write_clean,
    write_shape,
)

from ownercomm_kit import onboard as ob
from ownercomm_kit.onboard.folder import _date_only_hint
from ownercomm_kit import params
from ownercomm_kit.cli import main
from ownercomm_kit.loader import load_data_dir, load_dealer

TZ = "America/Los_Angeles"


def headers_of(table: str, headers: list[str], rows: list[list[str]] | None = None) -> dict[str, ob.ColumnMatch]:
    frame = pd.DataFrame(rows or [[""] * len(headers)], columns=headers, dtype="string")
    return {c.column: c for c in ob.recognise_columns(table, frame)}


def load(out):
    return load_dealer(params.resolve(dealer_file=out), strict=False)


# ------------------------------------------------------------------ names and synonyms


def test_name_key_ignores_case_spacing_punctuation_and_reads_hash_as_no():
    assert ob.name_key("Cust #") == ob.name_key("Cust No") == ob.name_key("CUSTNO") == ob.name_key("cust_no")
    assert ob.name_key("F&I") == ob.name_key("F and I") == ob.name_key("f & i")
    assert ob.name_key("RO Number") == ob.name_key("RO Nbr") == ob.name_key("ro_num") == ob.name_key("RO #")
    assert ob.name_key("Numbered") == "numbered" and ob.name_key("Phone") == "phone"
    assert ob.name_key("Cára") == "cara"


@pytest.mark.parametrize(
    "table, header, column",
    [
        *[("customers", h, "customer_id") for h in ("Cust No", "Customer Number", "CUSTNO", "Customer #", "Cust_ID")],
        *[("service_visits", h, "ro_id") for h in ("RO #", "Repair Order", "RO Number", "ro_no", "RO Nbr")],
        ("sales", "Deal Nbr", "sale_id"),
        *[("service_visits", h, "visit_date") for h in ("Closed Date", "RO Close Date")],
        *[("communications", h, "channel") for h in ("Medium", "Channel", "Type")],
        *[("communications", h, "sent_at") for h in ("Sent", "Sent Date/Time")],
        ("customers", "E-Mail Address", "email"),
        *[("customers", h, "phone") for h in ("Cell Phone", "Mobile")],
        ("customers", "Opt-In Email", "email_opt_in"),
        *[("customers", h, "sms_consent") for h in ("Text OK", "SMS Opt In")],
        ("customers", "Do Not Call", "phone_dnc"),
        ("customers", "Do Not Mail", "mail_opt_out"),
        ("sales", "Deal #", "sale_id"),
        ("sales", "N/U", "new_used"),
        ("vehicles", "Year", "model_year"),
        ("appointments", "Appt Date/Time", "scheduled_for"),
        ("leads", "Opportunity ID", "lead_id"),
        ("referrals", "Referred By", "referrer_id"),
    ],
)
def test_common_export_headers_are_recognised(table, header, column):
    found = headers_of(table, [header])
    assert found[column].source == header
    assert found[column].how in ("exact", "synonym")


def test_every_canonical_column_is_found_by_its_own_name_in_any_case():
    from ownercomm_kit import schema

    for name, table in schema.TABLES.items():
        headers = [c.upper().replace("_", " ") for c in table.column_names]
        found = headers_of(name, headers)
        assert all(found[c].how == "exact" for c in table.column_names), name


def test_the_earlier_synonym_wins_when_a_file_has_several():
    found = headers_of("customers", ["Home Phone", "Cell Phone", "Customer Number"])
    assert found["phone"].source == "Cell Phone"


@pytest.mark.parametrize(
    "table, column, theirs, ours",
    [
        *[("communications", "channel", v, "sms") for v in ("Text", "TXT", "Text Message")],
        *[("communications", "channel", v, "email") for v in ("E-mail Blast", "eblast")],
        ("communications", "category", "Svc Reminder", "service_reminder"),
        ("communications", "category", "Special Offer", "offer"),
        ("communications", "sender", "Finance & Insurance", "fi"),
        ("appointments", "status", "NS", "no_show"),
        ("service_visits", "pay_type", "W", "warranty"),
        ("sales", "new_used", "Pre-Owned", "used"),
    ],
)
def test_vendor_values_are_recognised(table, column, theirs, ours):
    [match] = ob.recognise_values(table, column, pd.Series([theirs]))
    assert match.ours == ours


def test_values_the_loader_takes_as_they_are_need_no_entry():
    # the loader ignores case, spaces and punctuation: "No Show" and "Warranty" are canonical
    assert ob.recognise_values("appointments", "status", pd.Series(["No Show", "KEPT", " cancelled "])) == []
    assert ob.recognise_values("service_visits", "pay_type", pd.Series(["Warranty", None])) == []
    assert ob.recognise_values("communications", "channel", pd.Series(["SMS", "E-mail", "EMail"])) == []
    assert ob.recognise_values("communications", "sender", pd.Series(["F&I", "OEM"])) == []


def test_an_unknown_value_is_a_manual_decision_not_a_guess(tmp_path):
    t = hand_dealer()
    t["communications"].loc[0, "channel"] = "Pigeon"
    write_clean(tmp_path / "d", t)
    r = ob.onboard(tmp_path / "d", "X", timezone=TZ, out=tmp_path / "X.yaml")
    assert any("'Pigeon' not recognised" in d for d in r.onboarding.decisions)
    assert "Pigeon" not in (yaml.safe_load(r.text).get("values") or {}).get("channel", {})


# ------------------------------------------------------------------ negated, fuzzy, content


def test_a_negated_consent_column_is_never_mapped_and_asks_for_a_decision():
    found = headers_of("customers", ["Cust No", "Do Not Email", "SMS Opt Out"])
    assert found["email_opt_in"].source is None and "MANUAL DECISION" in found["email_opt_in"].note
    assert found["sms_consent"].source is None and "'SMS Opt Out'" in found["sms_consent"].note
    # "Do Not Email" is one letter from "Do Not Mail": it must not be taken for mail_opt_out
    assert found["mail_opt_out"].source is None


def test_the_consultants_inversion_of_a_negated_column_loads_inverted(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    pd.DataFrame({"Cust No": ["1", "2", "3"], "Do Not Email": ["Y", "N", ""]}).to_csv(
        folder / "customers.csv", index=False
    )
    pd.DataFrame(
        {
            "Msg ID": ["M1"],
            "Cust No": ["1"],
            "Sent": ["2026-06-01 10:00"],
            "Channel": ["email"],
            "Sender": ["dealer"],
            "Category": ["offer"],
        }
    ).to_csv(folder / "communications.csv", index=False)
    out = tmp_path / "X.yaml"
    r = ob.onboard(folder, "X", timezone=TZ, out=out)
    assert any("Do Not Email" in d and "MANUAL DECISION" in d for d in r.onboarding.decisions)
    assert load(out)["customers"]["email_opt_in"].isna().all()
    # the consultant decides: map it and invert its values; a re-run keeps that
    doc = yaml.safe_load(out.read_text())
    doc["mapping"]["customers"]["Do Not Email"] = "email_opt_in"
    doc["values"] = {"email_opt_in": {"Y": False, "N": True}}
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    ob.onboard(folder, "X", out=out)
    assert load(out)["customers"]["email_opt_in"].tolist() == [False, True, pd.NA]


def test_a_misspelt_header_is_matched_fuzzily_and_said_so():
    found = headers_of("customers", ["Custmer Number", "Frist Name"])
    assert (found["customer_id"].source, found["customer_id"].how) == ("Custmer Number", "fuzzy")
    assert "close spelling" in found["customer_id"].note


def test_columns_are_recognised_by_content_when_no_header_matches():
    rows = [
        ["1001", "cara@example.com", "America/Chicago", "Text", "1HGCM82633A004352"],
        ["1002", "bob@example.org", "America/New_York", "E-mail", "2T1BURHE0JC012345"],
    ]
    found = headers_of("customers", ["Cust No", "Field 7", "Zone X", "Pref", "Unit"], rows)
    assert (found["email"].source, found["email"].how) == ("Field 7", "content")
    assert (found["timezone"].source, found["timezone"].how) == ("Zone X", "content")
    assert (found["preferred_channel"].source, found["preferred_channel"].how) == ("Pref", "content")
    assert "guessed from the values" in found["email"].note


def test_a_yes_no_column_is_not_taken_for_an_enum_by_content():
    found = headers_of("customers", ["Cust No", "Flag"], [["1", "Y"], ["2", "N"]])
    assert found["preferred_channel"].source is None


# ------------------------------------------------------------------ tables


def test_tables_are_found_by_content_when_the_file_name_says_nothing(tmp_path):
    t = hand_dealer()
    shape = Shape("anon", files={k: f"export_{i}.csv" for i, k in enumerate(t)}, headers=DMS.headers, values=DMS.values)
    write_shape(tmp_path / "d", t, shape)
    sources, _ = ob.read_sources(tmp_path / "d")
    found = {m.table: m for m in ob.recognise_tables(sources)}
    for i, table in enumerate(t):
        assert found[table].source == f"export_{i}.csv", table
        assert found[table].how == "content"


def test_a_file_name_alone_is_enough_and_the_longest_name_wins():
    frame = pd.DataFrame({"a": ["1"]}, dtype="string")
    sources = [ob.Source("Service History.csv", frame), ob.Source("customer_vehicles_list.csv", frame)]
    found = {m.table: m.source for m in ob.recognise_tables(sources)}
    assert found["service_visits"] == "Service History.csv"
    assert found["vehicles"] == "customer_vehicles_list.csv"
    assert "customers" not in found  # one table per file


def test_a_missing_required_table_and_an_unreadable_file_are_reported(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    pd.DataFrame({"Cust No": ["1"]}).to_csv(folder / "customers.csv", index=False)
    (folder / "notes.csv").write_bytes(b"")
    (folder / "Messages 2026.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    (folder / "readme.pdf").write_bytes(b"%PDF")
    r = ob.onboard(folder, "X", timezone=TZ, out=tmp_path / "X.yaml")
    assert any("Required table communications not found" in d for d in r.onboarding.decisions)
    assert any("notes.csv" in u and "empty" in u for u in r.unreadable)
    assert any(u.startswith("Messages 2026.xls: old Excel") and "save it as .xlsx" in u for u in r.unreadable)
    assert not any("readme.pdf" in u for u in r.unreadable)
    assert "REQUIRED: name its file in files.communications" in ob.summary(r)


# ------------------------------------------------------------------ vendor shapes = clean twin


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_vendor_shape_onboards_to_the_same_data_as_its_clean_twin(tmp_path, shape):
    t = hand_dealer()
    clean = load_data_dir(write_clean(tmp_path / "clean", t), timezone=TZ)
    assert clean.problems == []
    folder = write_shape(tmp_path / shape, t, SHAPES[shape])
    out = tmp_path / f"{shape}.yaml"
    r = ob.onboard(folder, "X", timezone=TZ, out=out)
    assert r.onboarding.decisions == [] and r.unreadable == []
    data = load(out)
    assert data.problems == []
    for table in t:
        pd.testing.assert_frame_equal(clean[table], data[table], obj=f"{shape} {table}")
    assert data.missing_columns == clean.missing_columns
    assert data["customers"]["first_name"].iloc[0] == "Cára"
    assert data["customers"]["last_name"].iloc[2] == "Dubœuf"  # œ exists in Windows-1252 too


def test_the_dms_shape_really_is_windows_1252_semicolons_us_dates_and_y_n(tmp_path):
    folder = write_shape(tmp_path / "dms", hand_dealer(), DMS)
    raw = (folder / "msg_export.csv").read_bytes()
    assert b"\r\n" in raw and b";" in raw.splitlines()[0]
    assert b"06/05/2026 10:30 PM" in raw
    cust = (folder / "customer_master.csv").read_bytes()
    assert "Cára".encode("cp1252") in cust and "Cára".encode("utf-8") not in cust
    assert b";Y;" in cust or b";N;" in cust


def test_excel_serial_dates_load_like_iso_dates(tmp_path):
    """Workbooks whose date cells are plain numbers (an unformatted column) and CSVs of serials."""
    t = hand_dealer()
    clean = load_data_dir(write_clean(tmp_path / "clean", t), timezone=TZ)
    shape = Shape("serial", EXCEL_BOOK.files, EXCEL_BOOK.headers, EXCEL_BOOK.values, excel_dates="serial")
    out = tmp_path / "s.yaml"
    ob.onboard(write_shape(tmp_path / "s", t, shape), "X", timezone=TZ, out=out)
    data = load(out)
    assert data.problems == []
    for table in t:
        pd.testing.assert_frame_equal(clean[table], data[table])


def test_sheets_of_one_workbook_are_named_in_files(tmp_path):
    folder = write_shape(tmp_path / "book", hand_dealer(), EXCEL_BOOK)
    r = ob.onboard(folder, "X", timezone=TZ, out=tmp_path / "X.yaml")
    files = yaml.safe_load(r.text)["files"]
    assert files["service_visits"] == "dealertrack_export.xlsx#Service History"
    assert files["communications"] == "dealertrack_export.xlsx#Messages"


# ------------------------------------------------------------------ the dealer file


def test_a_re_run_writes_the_same_bytes(tmp_path):
    folder = write_shape(tmp_path / "crm", hand_dealer(), CRM)
    out = tmp_path / "X.yaml"
    first = ob.onboard(folder, "X", timezone=TZ, out=out).text
    second = ob.onboard(folder, "X", out=out).text
    assert first == second == out.read_text(encoding="utf-8")


def test_only_what_is_needed_is_written(tmp_path):
    t = hand_dealer()
    out = tmp_path / "X.yaml"
    r = ob.onboard(write_clean(tmp_path / "clean", t), "X", timezone=TZ, out=out)
    doc = yaml.safe_load(r.text)
    assert set(doc) == {"dealer_id", "dealer_name", "data_dir", "timezone"}  # canonical data needs no blocks


def test_the_consultants_edits_win_and_survive_a_re_run_with_their_comments(tmp_path):
    folder = write_shape(tmp_path / "d", hand_dealer(), DMS)
    cust = pd.read_csv(folder / "customer_master.csv", sep=";", dtype=str, encoding="cp1252", keep_default_na=False)
    cust["Home Phone"] = "714-555-9999"  # a second phone column the consultant prefers
    cust.to_csv(folder / "customer_master.csv", sep=";", index=False, encoding="cp1252")
    out = tmp_path / "X.yaml"
    text = ob.onboard(folder, "X", timezone=TZ, out=out).text
    cell = next(line for line in text.splitlines() if line.strip().startswith("Cell Phone: phone"))
    text = text.replace(cell, "    Home Phone: phone  # the dealer texts the home line")
    text = text.replace("dealer_name: X", "dealer_name: Tustin Motors")
    text = text.replace(
        "  channel:\n",
        "  channel:\n    # agreed with the BDC manager on 3 June\n    Carrier Pigeon: mail  # yes, really\n",
    )
    text += "# this store runs its own cap\nrules:\n  cap_total:\n    enabled: false\n"
    out.write_text(text)

    r = ob.onboard(folder, "X", out=out)
    again = yaml.safe_load(r.text)
    assert again["mapping"]["customers"]["Home Phone"] == "phone"
    assert "Cell Phone" not in again["mapping"]["customers"]
    assert again["dealer_name"] == "Tustin Motors"
    assert again["rules"] == {"cap_total": {"enabled": False}}
    assert again["values"]["channel"]["Carrier Pigeon"] == "mail"
    assert again["values"]["channel"]["Text"] == "sms"
    assert again["timezone"] == TZ
    assert "# the dealer texts the home line" in r.text and "# yes, really" in r.text
    assert "    # agreed with the BDC manager on 3 June\n    Carrier Pigeon: mail" in r.text
    assert "# this store runs its own cap\nrules:\n" in r.text
    assert r.text.count("Dealer file written by") == 1
    found = {c.column: c for c in r.onboarding.columns if c.table == "customers"}
    assert found["phone"].how == "yours" and found["customer_id"].how == "synonym"
    assert ob.onboard(folder, "X", out=out).text == r.text  # stable from then on
    assert load(out)["customers"]["phone"].eq("714-555-9999").all()


@pytest.mark.parametrize(
    "key",
    [
        "Y",
        "N",
        "No",
        "on",
        "null",
        "RO #",
        "a: b",
        "#",
        "'quoted'",
        "1.0",
        "Cára",
        "two\nlines",
        "x\u2028y",
        "tab\there",
        " lead",
        "- dash",
        "&anchor",
        "*alias",
        "!tag",
        "[x]",
        "{x}",
        '"dq"',
        "%",
        "@",
        "`",
    ],
)
def test_yaml_hostile_headers_round_trip(key):
    doc = {"dealer_id": "X", "mapping": {"customers": {key: "customer_id"}}, "values": {"channel": {key: "sms"}}}
    text = ob.render_dealer_file(doc)
    back = yaml.safe_load(text)
    assert back["mapping"]["customers"] == {key: "customer_id"}
    assert back["values"]["channel"] == {key: "sms"}


def test_data_dir_is_relative_to_the_kit_root_when_inside_it(tmp_path):
    root = tmp_path / "kit"
    (root / "params" / "dealers").mkdir(parents=True)
    shutil.copy(params.paths.defaults_file(), root / "params" / "defaults.yaml")
    write_clean(root / "exports" / "D9", hand_dealer())
    r = ob.onboard(root / "exports" / "D9", "D9", timezone=TZ, root=root)
    assert r.out == root / "params" / "dealers" / "D9.yaml"
    assert yaml.safe_load(r.text)["data_dir"] == "exports/D9"
    outside = write_clean(tmp_path / "elsewhere", hand_dealer())
    r = ob.onboard(outside, "D8", timezone=TZ, root=root)
    assert yaml.safe_load(r.text)["data_dir"] == str(outside.resolve())
    assert load(r.out)["customers"].shape[0] == 6


def test_the_timezone_is_guessed_from_the_customers_and_said_so(tmp_path):
    t = hand_dealer()
    t["customers"]["timezone"] = ["America/Chicago"] * 4 + ["America/Denver"] * 2
    r = ob.onboard(write_clean(tmp_path / "d", t), "X", out=tmp_path / "X.yaml")
    assert yaml.safe_load(r.text)["timezone"] == "America/Chicago"
    assert r.timezone_guessed and "guessed, check" in r.text


def test_a_failed_run_leaves_the_existing_file_untouched(tmp_path):
    out = tmp_path / "X.yaml"
    out.write_text("dealer_id: X\n")
    with pytest.raises(ob.OnboardError, match="not an IANA time zone"):
        ob.onboard(write_clean(tmp_path / "d", hand_dealer()), "X", timezone="Mars/Base", out=out)
    assert out.read_text() == "dealer_id: X\n"
    assert list(tmp_path.glob(".X.yaml.*")) == []


# ------------------------------------------------------------------ the command


def test_the_command_prints_each_column_how_sure_and_what_to_edit(tmp_path):
    folder = write_shape(tmp_path / "dms", hand_dealer(), DMS)
    out = tmp_path / "D7.yaml"
    res = CliRunner().invoke(main, ["onboard", str(folder), "--dealer-id", "D7", "--timezone", TZ, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.is_file()
    lines = res.output.splitlines()
    row = next(line for line in lines if " ro_id " in line)
    assert "RO #" in row and "synonym" in row and "mapping.service_visits" in row
    assert any("<- msg_export.csv" in line for line in lines)
    from ownercomm_kit import schema

    n = sum(len(t.columns) for t in schema.TABLES.values())
    k = len(schema.TABLES)
    assert lines[1].startswith(f"Recognised {k} of {k} tables and {n} of {n} columns in them (")
    assert "0 things to decide; 0 export columns not used." in lines[1]
    assert "(s)" not in res.output


def test_the_command_says_what_is_wrong_without_a_traceback(tmp_path):
    res = CliRunner().invoke(
        main, ["onboard", str(tmp_path / "nope"), "--dealer-id", "X", "--out", str(tmp_path / "x.yaml")]
    )
    assert res.exit_code == 1
    assert "no such folder" in res.output and "Traceback" not in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(main, ["onboard", str(empty), "--dealer-id", "X", "--out", str(tmp_path / "x.yaml")])
    assert res.exit_code == 1 and "no readable export" in res.output


# ------------------------------------------------------------------ onboarded blind, then audited


def _flags(data, folder):
    from ownercomm_kit.audit import run_rules

    p = params.resolve({"dealer_id": "X", "data_dir": str(folder), "timezone": TZ})
    flags, skipped = run_rules(data, p)
    return flags.sort_values(["message_id", "rule"]).reset_index(drop=True), skipped


def test_a_dms_export_onboarded_with_no_hand_mapping_yields_the_same_flags(tmp_path):
    t = hand_dealer()
    clean_dir = write_clean(tmp_path / "clean", t)
    clean = load_data_dir(clean_dir, timezone=TZ)
    folder = write_shape(tmp_path / "dms", t, DMS)
    out = tmp_path / "X.yaml"
    r = ob.onboard(folder, "X", timezone=TZ, out=out)
    assert r.onboarding.decisions == []
    data = load(out)
    expected, skipped = _flags(clean, clean_dir)
    got, got_skipped = _flags(data, folder)
    assert len(expected) >= 15 and expected["rule"].nunique() >= 8  # the dealer does break rules
    pd.testing.assert_frame_equal(expected, got)
    assert skipped == got_skipped
    assert set(data["customers"]["first_name"]) >= {"Cára", "Zoë", "François"}


def test_a_synthetic_dealer_exported_dms_style_yields_every_rules_flags_unchanged(tmp_path):
    from ownercomm_kit.data import from_frames
    from ownercomm_kit.synth import generate_dealer

    tz = "America/Chicago"
    frames, _ = generate_dealer("T1", 120, 5, timezone=tz)  # every SPEC §4 rule injected
    t = cp1252_only(tables_from_data(from_frames(frames, timezone=tz)))
    t["customers"].loc[:3, "first_name"] = ["Cára", "Zoë", "François", "Renée"]
    clean_dir = write_clean(tmp_path / "clean", t)
    clean = load_data_dir(clean_dir, timezone=tz)
    folder = write_shape(tmp_path / "dms", t, DMS)
    out = tmp_path / "T1.yaml"
    r = ob.onboard(folder, "T1", timezone=tz, out=out)
    assert r.onboarding.decisions == []
    data = load(out)
    assert [p for p in data.problems if p.level == "error"] == []
    p = params.resolve({"dealer_id": "T1", "data_dir": str(clean_dir), "timezone": tz})
    from ownercomm_kit.audit import RULES, run_rules

    expected, _ = run_rules(clean, p)
    got, _ = run_rules(data, p)
    assert set(expected["rule"]) == set(RULES)
    pd.testing.assert_frame_equal(expected, got)
    assert data["customers"]["first_name"].head(4).tolist() == ["Cára", "Zoë", "François", "Renée"]


def test_the_shipped_sample_dealer_needs_no_mapping(tmp_path, kit_root):
    sample = kit_root / "sample_data" / "D001"
    r = ob.onboard(sample, "D001", timezone="America/Los_Angeles", out=tmp_path / "D001.yaml", root=kit_root)
    doc = yaml.safe_load(r.text)
    assert doc["data_dir"] == "sample_data/D001"
    assert not ({"files", "mapping", "values"} & set(doc))
    assert r.onboarding.decisions == []


def test_yes_no_words_beyond_the_loaders_are_written_as_true_false(tmp_path):
    t = hand_dealer()
    t["customers"]["email_opt_in"] = t["customers"]["email_opt_in"].map(
        {"true": "Opted In", "false": "Opted Out", "": ""}
    )
    t["customers"]["sms_consent"] = t["customers"]["sms_consent"].map({"true": "X", "false": "Maybe", "": ""})
    clean = load_data_dir(write_clean(tmp_path / "clean", hand_dealer()), timezone=TZ)
    out = tmp_path / "X.yaml"
    r = ob.onboard(write_clean(tmp_path / "d", t), "X", timezone=TZ, out=out)
    values = yaml.safe_load(r.text)["values"]
    assert values["email_opt_in"] == {"Opted In": True, "Opted Out": False}
    assert values["sms_consent"] == {"X": True}
    assert any("'Maybe' not recognised" in d and "true, false" in d for d in r.onboarding.decisions)
    data = load(out)
    pd.testing.assert_series_equal(data["customers"]["email_opt_in"], clean["customers"]["email_opt_in"])
    assert "'Maybe' -> NOT RECOGNISED" in ob.summary(r)


def test_a_re_run_with_a_guessed_timezone_is_identical_until_the_consultant_settles_it(tmp_path):
    folder = write_clean(tmp_path / "d", hand_dealer())
    out = tmp_path / "X.yaml"
    first = ob.onboard(folder, "X", out=out)
    assert first.timezone_guessed
    second = ob.onboard(folder, "X", out=out)
    assert second.text == first.text and second.timezone_guessed
    out.write_text(first.text.replace("# onboard: guessed, check", "# confirmed with the dealer"))
    third = ob.onboard(folder, "X", out=out)
    assert not third.timezone_guessed and "# confirmed with the dealer" in third.text


def test_the_consultants_files_entry_wins_in_either_form(tmp_path):
    t = hand_dealer()
    folder = write_shape(tmp_path / "book", t, EXCEL_BOOK)
    # a second export of messages the consultant wants used instead of the workbook's sheet
    write_shape(tmp_path / "extra", {"communications": t["communications"]}, DMS)
    shutil.copy(tmp_path / "extra" / "msg_export.csv", folder / "msg_export.csv")
    out = tmp_path / "X.yaml"
    ob.onboard(folder, "X", timezone=TZ, out=out)
    doc = yaml.safe_load(out.read_text())
    doc["files"]["communications"] = "msg_export.csv"
    doc["files"]["customers"] = {"file": "dealertrack_export.xlsx", "sheet": "Customers"}
    out.write_text(ob.render_dealer_file(doc))
    r = ob.onboard(folder, "X", out=out)
    files = yaml.safe_load(r.text)["files"]
    assert files["communications"] == "msg_export.csv"
    assert files["customers"] == {"file": "dealertrack_export.xlsx", "sheet": "Customers"}
    found = {m.table: m for m in r.onboarding.tables}
    assert found["communications"].source == "msg_export.csv" and found["communications"].how == "yours"
    assert "dealertrack_export.xlsx#Messages" in r.onboarding.unused_sources
    data = load(out)
    assert [p for p in data.problems if p.level == "error"] == []
    assert data["communications"]["message_id"].tolist() == t["communications"]["message_id"].tolist()


def test_an_unreadable_existing_dealer_file_is_a_message_not_a_traceback(tmp_path):
    out = tmp_path / "X.yaml"
    out.write_text("mapping: [unclosed\n")
    res = CliRunner().invoke(
        main, ["onboard", str(write_clean(tmp_path / "d", hand_dealer())), "--dealer-id", "X", "--out", str(out)]
    )
    assert res.exit_code == 1 and "not valid YAML" in res.output and "Traceback" not in res.output
    assert out.read_text() == "mapping: [unclosed\n"


def test_a_missing_table_is_not_filled_with_another_tables_file(tmp_path):
    t = hand_dealer()
    del t["customers"]
    shape = Shape("anon", files={k: f"export_{i}.csv" for i, k in enumerate(t)}, headers=DMS.headers, values=DMS.values)
    write_shape(tmp_path / "d", t, shape)
    sources, _ = ob.read_sources(tmp_path / "d")
    found = {m.table: m.source for m in ob.recognise_tables(sources)}
    assert "customers" not in found  # every file has a customer id, none is the customers table
    assert len(found) == len(t)  # every other table is found by its content


def test_the_synonym_tables_cover_the_whole_data_model_without_ambiguity():
    from ownercomm_kit import schema

    syn = ob.synonyms()
    for name, table in schema.TABLES.items():
        assert len(syn["tables"][name]) >= 3, name
        seen: dict[str, str] = {}
        for col in table.columns:
            keys = syn["columns"][name][col.name]
            assert len(keys) >= 3, f"{name}.{col.name} has no vendor names"
            for k in keys:  # one header means one column within a table
                assert seen.setdefault(k, col.name) == col.name, f"{name}: {k!r} is {seen[k]} and {col.name}"
            if col.kind == "enum":
                words = syn["values"][f"{name}.{col.name}"]
                assert set(words) == set(col.allowed), f"{name}.{col.name}"
                owners: dict[str, str] = {}
                for value, ks in words.items():
                    for k in ks:
                        assert owners.setdefault(k, value) == value, f"{name}.{col.name}: {k!r}"
    assert set(syn["booleans"].values()) == {True, False}


def test_title_lines_above_the_header_are_pointed_out(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "customer_list.csv").write_bytes(
        "Customer List Report\r\nPrinted 06/18/2026\r\n\r\nCust No;First Name;E-Mail Address\r\n1;Cára;a@x.com\r\n".encode(
            "cp1252"
        )
    )
    r = ob.onboard(folder, "X", timezone=TZ, out=tmp_path / "X.yaml")
    hint = next(d for d in r.onboarding.decisions if d.startswith("customer_list.csv"))
    assert "header seems to be on row 4" in hint and "'Cust No'" in hint and "delete the 3 lines" in hint
    lines = (folder / "customer_list.csv").read_bytes().split(b"\r\n")
    (folder / "customer_list.csv").write_bytes(b"\r\n".join(lines[3:]))
    r = ob.onboard(folder, "X", timezone=TZ, out=tmp_path / "X.yaml")
    assert not any("header seems" in d for d in r.onboarding.decisions)


@pytest.mark.parametrize("bad", ["../../etc/x", "a/b", ".hidden", ""])
def test_a_dealer_id_that_would_escape_the_params_folder_is_refused(tmp_path, bad):
    with pytest.raises(ob.OnboardError, match="--dealer-id"):
        ob.onboard(write_clean(tmp_path / "d", hand_dealer()), bad, timezone=TZ, root=tmp_path)
    assert not list(tmp_path.rglob("*.yaml"))


def test_the_summary_ends_with_the_next_command(tmp_path):
    out = tmp_path / "X.yaml"
    r = ob.onboard(write_clean(tmp_path / "d", hand_dealer()), "X", timezone=TZ, out=out)
    assert ob.summary(r).splitlines()[-1].startswith(f"Next: ownercomm validate --params {out} ")
    res = CliRunner().invoke(main, ["validate", "--params", str(out)])
    assert res.exit_code == 0, res.output


def test_a_whole_name_column_is_pointed_out_not_guessed():
    found = headers_of("customers", ["Cust No", "Customer Name"], [["1", "NÚÑEZ, CÁRA"]])
    assert (
        found["first_name"].source is None and "'Customer Name' seems to hold whole names" in found["first_name"].note
    )
    assert found["last_name"].source is None


def test_two_exports_of_one_table_are_pointed_out(tmp_path):
    t = hand_dealer()
    folder = write_clean(tmp_path / "d", {k: v for k, v in t.items() if k != "communications"})
    emails = t["communications"][t["communications"]["channel"] == "email"]
    texts = t["communications"][t["communications"]["channel"] != "email"]
    emails.rename(columns=DMS.headers["communications"]).to_csv(folder / "email_log.csv", index=False)
    texts.rename(columns=DMS.headers["communications"]).to_csv(folder / "sms_log.csv", index=False)
    r = ob.onboard(folder, "X", timezone=TZ, out=tmp_path / "X.yaml")
    [hint] = [d for d in r.onboarding.decisions if "also looks like" in d]
    assert hint.startswith("sms_log.csv also looks like communications, already read from email_log.csv")
    assert "combine them" in hint


def test_one_word_meaning_two_values_in_two_tables_is_a_decision(tmp_path):
    t = hand_dealer()
    t["appointments"]["status"] = t["appointments"]["status"].replace({"scheduled": "Open"})
    t["referrals"]["status"] = t["referrals"]["status"].replace({"new": "Open"})
    r = ob.onboard(write_clean(tmp_path / "d", t), "X", timezone=TZ, out=tmp_path / "X.yaml")
    [d] = [d for d in r.onboarding.decisions if d.startswith("values.status")]
    assert "'Open' means scheduled in appointments but new in referrals" in d


def test_a_generic_header_goes_to_the_column_its_values_fit():
    rows = [
        ["M1", "1", "2026-06-01 10:00", "Service Reminder", "Text", "OEM"],
        ["M2", "2", "2026-06-02 10:00", "Special Offer", "E-mail", "Dealer"],
    ]
    found = headers_of("communications", ["Msg ID", "Cust No", "Sent", "Type", "Method", "Sender"], rows)
    assert (found["category"].source, found["category"].how) == ("Type", "content")
    assert (found["channel"].source, found["channel"].how) == ("Method", "synonym")
    # and where the values do fit, the synonym stands
    rows = [["M1", "1", "2026-06-01 10:00", "Text"], ["M2", "2", "2026-06-02 10:00", "E-mail"]]
    found = headers_of("communications", ["Msg ID", "Cust No", "Sent", "Type"], rows)
    assert (found["channel"].source, found["channel"].how) == ("Type", "synonym")


def test_a_time_stamp_split_into_date_and_time_columns_is_pointed_out(tmp_path):
    t = hand_dealer()
    m = t["communications"]
    m["Send Time"] = m["sent_at"].str[11:]
    m["sent_at"] = m["sent_at"].str[:10]
    r = ob.onboard(write_clean(tmp_path / "d", t), "X", timezone=TZ, out=tmp_path / "X.yaml")
    [hint] = [d for d in r.onboarding.decisions if d.startswith("communications.sent_at")]
    assert "dates without a time of day" in hint and "'Send Time' seems to hold the time of day" in hint
    # time stamps with a time, Excel serials and ISO with T are fine
    for cells in (["06/18/2026 10:30 PM"], ["46191.4375"], ["2026-06-18T22:30:00"]):
        frame = pd.DataFrame({"Sent": cells}, dtype="string")
        assert _date_only_hint(ob.ColumnMatch("communications", "sent_at", "Sent", "synonym"), frame) is None


def test_typos_in_the_consultants_file_are_kept_but_reported(tmp_path):
    folder = write_clean(tmp_path / "d", hand_dealer())
    out = tmp_path / "X.yaml"
    out.write_text("dealer_id: X\ntimezone: America/Chicago\nmapping:\n  customers:\n    Mail: emial\nrulez: {}\n")
    r = ob.onboard(folder, "X", out=out)
    assert any("'Mail' maps to 'emial'" in d for d in r.onboarding.decisions)
    assert any("unknown key 'rulez'" in d for d in r.onboarding.decisions)
    assert yaml.safe_load(r.text)["mapping"]["customers"]["Mail"] == "emial"


def test_files_names_a_table_the_loader_would_find_ambiguous(tmp_path):
    t = hand_dealer()
    folder = write_clean(tmp_path / "d", t)
    pd.DataFrame({"Customer Notes": ["x"]}).to_csv(folder / "Customers.txt", index=False)  # a second "customers"
    out = tmp_path / "X.yaml"
    r = ob.onboard(folder, "X", timezone=TZ, out=out)
    files = yaml.safe_load(r.text).get("files") or {}
    assert files == {"customers": "customers.csv"}  # the loader alone would stop at two candidates
    assert [p for p in load(out).problems if p.level == "error"] == []


# ------------------------------------------------------------------ headers no list knows

# Headers the synonym table does not know: onboarding must read them by their values (and by
# the words of their names where values of one shape fit several columns).
UNKNOWN_HEADERS = {
    "customers": {
        "customer_id": "Patron Ref",
        "first_name": "Given",
        "last_name": "Family",
        "email": "Inbox",
        "phone": "Reach At",
        "postal_code": "Mailing Area",
        "timezone": "Clock",
        "birth_date": "Born",
        "preferred_channel": "Likes To Hear By",
        "email_opt_in": "Emailing Permitted",
        "sms_consent": "Texting Permitted",
        "phone_dnc": "Never Ring",
        "mail_opt_out": "Post Blocked",
        "household_id": "Family Unit",
    },
    "vehicles": {
        "vin": "Chassis",
        "customer_id": "Keeper",
        "make": "Brand",
        "model": "Nameplate",
        "model_year": "MY",
        "warranty_end": "Cover Ends",
    },
    "sales": {
        "sale_id": "Transaction Ref",
        "customer_id": "Purchaser",
        "sale_date": "Signed",
        "vin": "Chassis",
        "model": "Nameplate",
        "new_used": "Condition",
        "price": "Paid",
        "salesperson": "Closer",
        "products": "Add Ons",
    },
    "service_visits": {
        "ro_id": "Job Ticket",
        "customer_id": "Patron",
        "visit_date": "Completed",
        "vin": "Chassis",
        "pay_type": "Billed To",
        "amount": "Invoice",
        "service_type": "Work Kind",
        "mileage": "Clock Reading",
    },
    "appointments": {
        "appointment_id": "Slot Ref",
        "customer_id": "Patron",
        "booked_at": "Made",
        "scheduled_for": "Due In",
        "status": "Outcome Code",
        "vin": "Chassis",
        "source": "Via",
    },
    "communications": {
        "message_id": "Touch Ref",
        "customer_id": "Recipient",
        "sent_at": "Went Out",
        "channel": "Route",
        "sender": "From Team",
        "category": "Purpose Code",
        "campaign_id": "Blast",
        "vin": "Chassis",
        "model": "Nameplate",
        "offer_price": "Quoted",
        "status": "Outcome",
        "opened_at": "Seen",
        "clicked_at": "Tapped",
        "responded_at": "Answered",
        "unsubscribed": "Stop Requested",
    },
    "leads": {
        "lead_id": "Opp Ref",
        "customer_id": "Prospect",
        "opened_at": "Began",
        "closed_at": "Ended",
        "outcome": "Result Code",
        "source": "Via",
    },
    "referrals": {
        "referral_id": "Intro Ref",
        "referrer_id": "Introduced By",
        "referred_at": "Introduced",
        "referred_name": "Friend",
        "referred_email": "Friend Inbox",
        "referred_phone": "Friend Reach",
        "referred_customer_id": "Friend Patron",
        "incentive_category": "Thanks Kind",
        "reward_value": "Thanks Worth",
        "status": "Stage Code",
        "first_contact_at": "First Reached",
        "sold_at": "Closed",
        "sale_id": "Transaction Ref",
        "acknowledged_at": "Thanked",
    },
}
UNKNOWN = Shape(
    "unknown",
    files=DMS.files,
    headers=UNKNOWN_HEADERS,
    values=DMS.values,
    encoding="cp1252",
    sep=";",
    newline="\r\n",
    date="%m/%d/%Y",
    timestamp="%m/%d/%Y %I:%M %p",
    yes_no=("Y", "N"),
    money="${}",
)

# What the rules read: these must be found by content alone for the flags to come out right.
RULE_COLUMNS = {
    "customers": [
        "customer_id",
        "email",
        "phone",
        "timezone",
        "preferred_channel",
        "sms_consent",
        "email_opt_in",
        "phone_dnc",
        "mail_opt_out",
    ],
    "sales": ["sale_id", "customer_id", "sale_date", "vin", "price"],
    "service_visits": ["ro_id", "customer_id", "visit_date", "vin"],
    "appointments": ["appointment_id", "customer_id", "booked_at", "scheduled_for", "status"],
    "communications": [
        "message_id",
        "customer_id",
        "sent_at",
        "channel",
        "sender",
        "category",
        "vin",
        "offer_price",
        "unsubscribed",
    ],
    "leads": ["lead_id", "customer_id", "opened_at", "closed_at"],
    "vehicles": ["vin", "customer_id"],
}


def test_headers_no_list_knows_are_read_by_their_values(tmp_path):
    t = hand_dealer()
    folder = write_shape(tmp_path / "unknown", t, UNKNOWN)
    r = ob.onboard(folder, "X", timezone=TZ, out=tmp_path / "X.yaml")
    got = {(c.table, c.column): c for c in r.onboarding.columns}
    for table, cols in RULE_COLUMNS.items():
        for col in cols:
            c = got[(table, col)]
            assert c.source == UNKNOWN_HEADERS[table][col], (table, col, c)
    # every header of every export is either read into a column or listed as unused, with a guess
    unused = {(u.source, u.header) for u in r.onboarding.unused_columns}
    mapped = {
        (tm.source, c.source)
        for tm in r.onboarding.tables
        for c in r.onboarding.columns
        if c.table == tm.table and c.source
    }
    sources, _ = ob.read_sources(folder)
    for src in sources:
        for header in src.frame.columns:
            assert ((src.ref, header) in unused) != ((src.ref, header) in mapped), (src.ref, header)
    assert all(u.guess for u in r.onboarding.unused_columns)


def test_headers_no_list_knows_yield_the_same_flags_as_the_canonical_copy(tmp_path):
    t = hand_dealer()
    clean_dir = write_clean(tmp_path / "clean", t)
    clean = load_data_dir(clean_dir, timezone=TZ)
    folder = write_shape(tmp_path / "unknown", t, UNKNOWN)
    out = tmp_path / "X.yaml"
    ob.onboard(folder, "X", timezone=TZ, out=out)
    data = load(out)
    expected, skipped = _flags(clean, clean_dir)
    got, got_skipped = _flags(data, folder)
    assert len(expected) >= 15
    pd.testing.assert_frame_equal(expected, got)
    assert skipped == got_skipped


def test_an_unused_column_is_listed_with_its_best_guess_and_counted(tmp_path):
    t = hand_dealer()
    cust = t["customers"].copy()
    cust["Loyalty Notes"] = "likes coffee"
    cust["Second Email"] = cust["email"]
    t = {**t, "customers": cust}
    folder = write_clean(tmp_path / "d", t)
    res = CliRunner().invoke(
        main, ["onboard", str(folder), "--dealer-id", "D7", "--timezone", TZ, "--out", str(tmp_path / "D7.yaml")]
    )
    assert res.exit_code == 0, res.output
    assert "2 export columns not used" in res.output.splitlines()[1]
    assert " 0 things to decide" not in res.output  # an unused column is a thing to decide
    assert "'Second Email' is not used; its values look like customers.email, already read from 'email'" in res.output
    assert "'Loyalty Notes' is not used; it holds text, which no column of customers takes" in res.output


@pytest.mark.parametrize(
    "header, values, column",
    [
        ("Likes To Hear By", ["Text", "E-mail", "Phone Call", "Text"], "preferred_channel"),
        ("Mailing Area", ["92780", "60540-1234", "12538", "92780"], "postal_code"),
        ("Born", ["01/02/1970", "12/31/1985", "07/04/1990", "02/29/1996"], "birth_date"),
        ("Texting Permitted", ["Y", "N", "Y", "Y"], "sms_consent"),
    ],
)
def test_one_customers_column_is_recognised_by_its_values(header, values, column):
    frame = pd.DataFrame({"Patron Ref": ["1", "2", "3", "4"], header: values}, dtype="string")
    found = {c.column: c for c in ob.recognise_columns("customers", frame)}
    assert found[column].source == header and found[column].how == "content"


def test_a_negated_yes_no_column_is_never_taken_for_a_consent():
    frame = pd.DataFrame({"Cust No": ["1", "2"], "Texting Blocked": ["Y", "N"]}, dtype="string")
    found = {c.column: c for c in ob.recognise_columns("customers", frame)}
    assert found["sms_consent"].source is None and found["email_opt_in"].source is None


def test_money_on_messages_is_an_offer_price_and_ids_of_customers_are_no_amounts():
    known = {"customers.customer_id": frozenset({"1001", "1002", "1003"})}
    frame = pd.DataFrame(
        {
            "Touch Ref": ["M1", "M2", "M3"],
            "Recipient": ["1001", "1002", "1003"],
            "Went Out": ["06/18/2026 10:30 PM"] * 3,
            "Route": ["Text", "E-mail", "Text"],
            "From Team": ["Sales Dept", "Marketing", "Sales Dept"],
            "Purpose Code": ["Special Offer", "Promotion", "eNewsletter"],
            "Quoted": ["$31,000.00", "", "$28,500"],
        },
        dtype="string",
    )
    found = {c.column: c.source for c in ob.recognise_columns("communications", frame, known=known)}
    assert found["customer_id"] == "Recipient" and found["message_id"] == "Touch Ref"
    assert found["offer_price"] == "Quoted" and found["sent_at"] == "Went Out"
