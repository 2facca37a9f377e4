"""validation.py and `ownercomm validate`: every problem kind, its message, all at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers.data import COMMUNICATIONS, CUSTOMERS, broken_folder, clean_folder, write_folder

from ownercomm_kit import loader, validation
from ownercomm_kit.cli import main
from ownercomm_kit.data import Problem, from_frames

LA = "America/Los_Angeles"
HEADER = COMMUNICATIONS.splitlines()[0]


def problems_of(folder, **kw):
    kw.setdefault("timezone", LA)
    return loader.load_data_dir(folder, strict=False, **kw).problems


def only(problems, **match):
    found = [p for p in problems if all(getattr(p, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, problems)
    return found[0]


# --- blocking problems ---------------------------------------------------------------------


def test_missing_required_table(tmp_path):
    folder = write_folder(tmp_path / "d", {"customers.csv": CUSTOMERS, "msgs.csv": "x\n1\n"})
    p = only(problems_of(folder), level="error", table="communications")
    assert "required table 'communications' not found" in p.message
    assert "communications.csv" in p.message and "files: {communications: <file name>}" in p.message
    assert "Files seen: customers.csv, msgs.csv" in p.message


def test_missing_required_column_names_file_columns_and_suggests_mapping(tmp_path):
    folder = clean_folder(tmp_path / "d", customers__csv=CUSTOMERS.replace("customer_id,", "Cust No,", 1))
    p = only(problems_of(folder), level="error", column="customer_id")
    assert (p.file, p.row, p.table) == ("customers.csv", 1, "customers")
    assert "required column 'customer_id' not found" in p.message
    assert "Columns found: Cust No, first_name, email, sms_consent, preferred_channel" in p.message
    assert "Closest: 'Cust No'" in p.message
    assert 'mapping: {customers: {"Cust No": customer_id}}' in p.message


def test_missing_required_column_without_a_close_header(tmp_path):
    body = COMMUNICATIONS.replace(",sent_at,", ",zzz,", 1)
    p = only(problems_of(clean_folder(tmp_path / "d", communications__csv=body)), level="error", column="sent_at")
    assert 'mapping: {communications: {"<their column>": sent_at}}' in p.message


def test_unparseable_dates_name_file_row_column_value(tmp_path):
    body = COMMUNICATIONS.replace("2026-06-19", "2024-13-45") + "M4,C1,02/30/2026,email,oem,offer,,\n"
    errors = [p for p in problems_of(clean_folder(tmp_path / "d", communications__csv=body)) if p.level == "error"]
    assert [(p.file, p.row, p.column, p.value) for p in errors] == [
        ("communications.csv", 4, "sent_at", "2024-13-45"),
        ("communications.csv", 5, "sent_at", "02/30/2026"),
    ]
    assert all("unparseable time stamp" in p.message for p in errors)
    assert str(errors[0]).startswith(
        "ERROR communications.csv, row 4, column 'sent_at': value '2024-13-45': unparseable"
    )


def test_duplicate_ids_list_every_value_with_its_rows(tmp_path):
    body = (
        COMMUNICATIONS
        + "M1,C2,2026-06-19,sms,oem,offer,,\nM2,C2,2026-06-19,sms,oem,offer,,\nM1,C3,2026-06-19,sms,oem,offer,,\n"
    )
    dups = [p for p in problems_of(clean_folder(tmp_path / "d", communications__csv=body)) if "duplicate" in p.message]
    assert [(p.value, p.row) for p in dups] == [("M1", 2), ("M2", 3)]
    assert "rows 2, 5, 7" in dups[0].message and "rows 3, 6" in dups[1].message
    assert all(p.level == "error" and p.column == "message_id" for p in dups)


def test_value_outside_allowed_set_in_required_column_suggests_values_line(tmp_path):
    body = (
        COMMUNICATIONS.replace("M2,C2,06/18/2026 10:30 PM,sms", "M2,C2,06/18/2026 10:30 PM,Text")
        + "M4,C1,2026-06-19,Text,oem,offer,,\nM5,C1,2026-06-19,emails,oem,offer,,\n"
    )
    problems = problems_of(clean_folder(tmp_path / "d", communications__csv=body))
    text = only(problems, level="error", column="channel", value="Text")
    assert text.count == 2 and text.row == 3 and "rows 3, 5" in text.message
    assert 'values: {channel: {"Text": <one of email, sms, phone, mail>}}' in text.message
    close = only(problems, level="error", column="channel", value="emails")
    assert 'values: {channel: {"emails": email}}' in close.message


def test_empty_required_value_is_blocking(tmp_path):
    body = COMMUNICATIONS + "M4,,2026-06-19,sms,oem,offer,,\n"
    p = only(problems_of(clean_folder(tmp_path / "d", communications__csv=body)), level="error", column="customer_id")
    assert p.row == 5 and "required value is empty" in p.message


def test_duplicate_column_targets_are_blocking(tmp_path):
    folder = clean_folder(tmp_path / "d", customers__csv="customer_id,Customer ID\nC1,C1\n")
    p = only(problems_of(folder), level="error", column="customer_id")
    assert "'customer_id', 'Customer ID' all map to 'customer_id'" in p.message
    assert 'mapping: {customers: {"Customer ID": null}}' in p.message
    fixed = problems_of(folder, mapping={"customers": {"Customer ID": None}})
    assert not [p for p in fixed if p.level == "error"]


def test_many_bad_cells_are_capped_but_all_counted(tmp_path):
    n = validation.MAX_EXAMPLES + 15
    body = HEADER + "\n" + "".join(f"M{i},C1,not a date,email,oem,offer,,\n" for i in range(n))
    errors = [p for p in problems_of(clean_folder(tmp_path / "d", communications__csv=body)) if p.level == "error"]
    assert len(errors) == validation.MAX_EXAMPLES + 1
    assert sum(p.count for p in errors) == n
    assert errors[-1].count == 15 and "15 more cells like this" in errors[-1].message
    assert errors[-1].row == validation.MAX_EXAMPLES + 2


def test_unparseable_number_in_a_required_column_is_an_error():
    raw = pd.Series(["1", "x"])
    out = validation.cell_problems(
        "error", "t", "t.csv", "amount", raw, np.array([2, 3]), [False, True], "not a number"
    )
    assert out == [Problem("error", "t", "t.csv", 3, "amount", "x", "not a number")]


# --- warnings ------------------------------------------------------------------------------


def test_orphans_are_counted_with_the_first_row(tmp_path):
    body = COMMUNICATIONS + "M4,C9,2026-06-19,sms,oem,offer,,\nM5,C8,2026-06-19,sms,oem,offer,,\n"
    p = only(problems_of(clean_folder(tmp_path / "d", communications__csv=body)), level="warning", column="customer_id")
    assert (p.row, p.value, p.count) == (5, "C9", 2)
    assert "orphan row" in p.message and "rows 5, 6" in p.message


def test_referral_orphans_use_referrer_id(tmp_path):
    folder = clean_folder(
        tmp_path / "d", referrals__csv="referral_id,referrer_id,referred_at\nR1,C1,2026-06-01\nR2,C7,2026-06-01\n"
    )
    p = only(problems_of(folder), level="warning", table="referrals", column="referrer_id")
    assert p.value == "C7" and p.row == 3


def test_dates_after_as_of(tmp_path):
    p = only(problems_of(clean_folder(tmp_path / "d"), as_of="2026-06-18"), level="warning", column="sent_at")
    assert (p.row, p.count, p.value) == (4, 1, "2026-06-19")
    assert "date after as_of 2026-06-18" in p.message
    assert not any("after as_of" in x.message for x in problems_of(clean_folder(tmp_path / "e")))


def test_unknown_value_in_optional_enum_column_is_a_warning_and_left_empty(tmp_path):
    folder = clean_folder(
        tmp_path / "d", customers__csv=CUSTOMERS.replace("C3,Cára,c@example.com,,", "C3,Cára,c@example.com,,fax")
    )
    data = loader.load_data_dir(folder, timezone=LA, strict=False)
    p = only(data.problems, column="preferred_channel")
    assert p.level == "warning" and p.value == "fax" and "the cell is left empty" in p.message
    assert pd.isna(data["customers"]["preferred_channel"].iloc[2])
    assert data.errors == []


def test_unparseable_optional_values_become_empty_with_a_warning(tmp_path):
    body = HEADER + ",opened_at\n" + "M1,C1,2026-06-18,email,oem,offer,12 dollars,maybe,yesterday\n"
    data = loader.load_data_dir(clean_folder(tmp_path / "d", communications__csv=body), timezone=LA, strict=False)
    assert data.errors == []
    cols = {p.column: p for p in data.warnings}
    assert cols["offer_price"].message.startswith("not a number") and cols["offer_price"].value == "12 dollars"
    assert "not a yes/no value" in cols["unsubscribed"].message
    assert "unparseable time stamp" in cols["opened_at"].message
    row = data["communications"].iloc[0]
    assert pd.isna(row["offer_price"]) and pd.isna(row["unsubscribed"]) and pd.isna(row["opened_at"])


def test_empty_optional_column(tmp_path):
    folder = clean_folder(tmp_path / "d", customers__csv="customer_id,email\nC1,\nC2,\nC3,\n")
    p = only(problems_of(folder), column="email")
    assert p.level == "warning" and "present but empty in all 3 rows" in p.message


def test_check_on_data_built_in_code():
    data = from_frames(
        {
            "customers": [{"customer_id": "C1"}],
            "communications": [
                {
                    "message_id": "M1",
                    "customer_id": "C1",
                    "sent_at": "2026-06-18 10:00",
                    "channel": "email",
                    "sender": "oem",
                    "category": "offer",
                },
                {
                    "message_id": "M1",
                    "customer_id": "C2",
                    "sent_at": "2026-06-20 10:00",
                    "channel": "email",
                    "sender": "oem",
                    "category": "offer",
                },
            ],
        },
        timezone=LA,
        as_of="2026-06-19",
    )
    problems = validation.check(data)
    kinds = sorted((p.level, p.column, p.row) for p in problems)
    assert kinds == [("error", "message_id", 2), ("warning", "customer_id", 3), ("warning", "sent_at", 3)]


# --- presenting ----------------------------------------------------------------------------


def test_summary_frame_and_format(tmp_path):
    problems = problems_of(broken_folder(tmp_path / "d"))
    df = validation.summary_frame(problems)
    assert list(df.columns) == ["level", "table", "file", "row", "column", "value", "message", "count"]
    assert df["level"].tolist() == sorted(df["level"].tolist())  # errors first
    assert df["row"].dtype == "Int64"
    text = validation.format_problems(problems)
    assert text.splitlines()[0].startswith("Blocking problems (")
    assert "Warnings (" in text
    assert validation.format_problems([]) == "No problems found."
    assert validation.summary_frame([]).empty


# --- the command ---------------------------------------------------------------------------


def assert_three_problems(out: str) -> None:
    assert "required column 'customer_id' not found" in out
    assert "2024-13-45" in out and "unparseable time stamp" in out
    assert "duplicate message_id" in out and "'M1'" in out
    assert "Traceback" not in out


def test_cli_validate_broken_folder_exits_1_naming_all_three(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(broken_folder(tmp_path / "d")), "--timezone", LA])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert_three_problems(result.output)


def test_cli_validate_broken_folder_in_a_subprocess(tmp_path):
    folder = broken_folder(tmp_path / "d")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    script = Path(sys.executable).with_name("ownercomm")  # the installed console script
    cmd = [str(script)] if script.exists() else [sys.executable, "-c", "from ownercomm_kit.cli import main; main()"]
    proc = subprocess.run(
        [*cmd, "validate", str(folder), "--timezone", LA],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert_three_problems(proc.stdout + proc.stderr)
    assert "blocking problem" in proc.stderr


def test_cli_validate_clean_folder_exits_0_with_a_summary(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(clean_folder(tmp_path / "d")), "--timezone", LA])
    assert result.exit_code == 0, result.output
    assert "communications  communications.csv: 3 rows" in result.output
    assert "No blocking problem: ready to run." in result.output
    assert "No problems found" not in result.output  # one verdict, not two


def test_cli_validate_requires_a_timezone(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(clean_folder(tmp_path / "d"))])
    assert result.exit_code == 2
    assert "--timezone" in result.output and "--params" in result.output
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 2 and "DATA_DIR" in result.output


def test_cli_validate_bad_as_of_and_missing_folder(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(tmp_path), "--timezone", LA, "--as-of", "2026-13-01"])
    assert result.exit_code == 2 and "--as-of" in result.output
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "none"), "--timezone", LA])
    assert result.exit_code == 1 and "data folder not found" in result.output


def test_cli_validate_with_a_dealer_file(tmp_path):
    root = tmp_path / "kit"
    (root / "params" / "dealers").mkdir(parents=True)
    (root / "params" / "defaults.yaml").write_text(
        Path(__file__).resolve().parents[1].joinpath("params/defaults.yaml").read_text()
    )
    broken_folder(root / "data" / "D7")
    dealer = root / "params" / "dealers" / "D7.yaml"
    dealer.write_text(
        'dealer_id: D7\ndata_dir: data/D7\ntimezone: America/Chicago\nmapping:\n  customers: {"Cust No": customer_id}\n'
    )
    result = CliRunner().invoke(main, ["validate", "--params", str(dealer)])
    assert result.exit_code == 1
    assert "required column 'customer_id'" not in result.output  # the mapping applied
    assert "time zone America/Chicago" in result.output and "2024-13-45" in result.output
    # DATA_DIR overrides the dealer file's data_dir
    clean = clean_folder(tmp_path / "clean")
    result = CliRunner().invoke(main, ["validate", str(clean), "--params", str(dealer), "--as-of", "2026-06-30"])
    assert result.exit_code == 0, result.output
    assert "as_of 2026-06-30" in result.output


def test_cli_validate_params_typo_is_a_clear_message(tmp_path):
    root = tmp_path / "kit"
    (root / "params" / "dealers").mkdir(parents=True)
    (root / "params" / "defaults.yaml").write_text(
        Path(__file__).resolve().parents[1].joinpath("params/defaults.yaml").read_text()
    )
    dealer = root / "params" / "dealers" / "D7.yaml"
    dealer.write_text("dealer_id: D7\ndata_dir: x\ntimezone: UTC\ntimezon: UTC\n")
    result = CliRunner().invoke(main, ["validate", "--params", str(dealer)])
    assert result.exit_code == 1
    assert "unknown key 'timezon'" in result.output and "did you mean 'timezone'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "dealer_file", sorted((Path(__file__).resolve().parents[1] / "params" / "dealers").glob("*.yaml"))
)
def test_shipped_sample_dealers_validate_without_blocking_problems(dealer_file):
    result = CliRunner().invoke(main, ["validate", "--params", str(dealer_file)])
    assert result.exit_code == 0, result.output


def test_a_typo_in_the_values_block_is_reported_as_mapped(tmp_path):
    body = COMMUNICATIONS.replace("M2,C2,06/18/2026 10:30 PM,sms", "M2,C2,06/18/2026 10:30 PM,Text")
    folder = clean_folder(tmp_path / "d", communications__csv=body)
    p = only(problems_of(folder, values={"channel": {"Text": "smss"}}), level="error", column="channel")
    assert p.value == "smss" and 'values: {channel: {"smss": sms}}' in p.message


def test_many_distinct_unknown_values_are_capped_and_counted(tmp_path):
    n = validation.MAX_EXAMPLES + 5
    body = (
        HEADER
        + "\n"
        + "".join(f"M{i},C1,2026-06-18,chan{i},oem,offer,,\nX{i},C1,2026-06-18,chan{i},oem,offer,,\n" for i in range(n))
    )
    errors = [p for p in problems_of(clean_folder(tmp_path / "d", communications__csv=body)) if p.level == "error"]
    assert len(errors) == validation.MAX_EXAMPLES + 1
    assert [p.count for p in errors[:-1]] == [2] * validation.MAX_EXAMPLES
    assert errors[-1].count == 10 and "more unknown channel values in 10 rows" in errors[-1].message
