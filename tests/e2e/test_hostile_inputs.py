"""Hostile inputs (issue 10, data and parameters side): typed parameters, group files, links out
of a store's folder, impossible dates, empty and garbage files, formula-like ids.

Every case asserts the exit code, the message (file, row or key path, value, what is allowed)
and that no traceback is printed.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ownercomm_kit import loader, outputs, params, params_schema
from ownercomm_kit.cli import main

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = "customer_id,first_name,email\nC1,Ann,a@x.com\nC2,Bob,b@x.com\n"
MESSAGES = (
    "message_id,customer_id,sent_at,channel,sender,category\n"
    "M1,C1,2026-01-05 10:00,email,dealer,offer\n"
    "M2,C2,2026-02-05 11:00,sms,service,service_reminder\n"
)


@pytest.fixture
def kit(tmp_path) -> Path:
    root = tmp_path / "kit"
    (root / "params" / "dealers").mkdir(parents=True)
    (root / "params" / "groups").mkdir(parents=True)
    shutil.copy(ROOT / "params" / "defaults.yaml", root / "params" / "defaults.yaml")
    return root


def store(kit: Path, name: str = "D1", **files: str | bytes) -> Path:
    folder = kit / "data" / name
    folder.mkdir(parents=True, exist_ok=True)
    content = {"customers.csv": CUSTOMERS, "communications.csv": MESSAGES}
    content.update({k.replace("__", "."): v for k, v in files.items()})
    for fname, text in content.items():
        if text is None:
            continue
        (folder / fname).write_bytes(text.encode() if isinstance(text, str) else text)
    return folder


def dealer(kit: Path, text: str = "", dealer_id: str = "D1", data: str = "data/D1", file: str | None = None) -> Path:
    path = kit / "params" / "dealers" / f"{file or dealer_id}.yaml"
    path.write_text(f"dealer_id: {dealer_id}\ndata_dir: {data}\ntimezone: America/Chicago\n{text}")
    return path


def cli(*args) -> tuple[int, str]:
    res = CliRunner().invoke(main, [str(a) for a in args])
    out = res.output + (res.stderr if res.stderr_bytes is not None and res.stderr not in res.output else "")
    assert "Traceback" not in out, out
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, out


def validate_params(kit: Path, text: str) -> tuple[int, str, Path]:
    store(kit)
    path = dealer(kit, text)
    code, out = cli("validate", "--params", path)
    return code, out, path


# --- 1. typed, range-checked parameters ----------------------------------------------------

PARAM_CASES = [
    # (yaml added to the dealer file, key path, value shown, allowed)
    (
        "rules:\n  cap_total:\n    windows: [{days: 7, max: five}]\n",
        "rules.cap_total.windows[0].max",
        "'five'",
        "a whole number >= 0",
    ),
    (
        "rules:\n  cap_total:\n    windows: [{days: 7, max: [1, 2]}]\n",
        "rules.cap_total.windows[0].max",
        "[1, 2]",
        "a whole number",
    ),
    ("rules:\n  cap_total:\n    windows: [{days: -3, max: 2}]\n", "rules.cap_total.windows[0].days", "-3", "> 0"),
    ("rules:\n  cap_total:\n    windows: [{days: 0, max: 2}]\n", "rules.cap_total.windows[0].days", "0", "> 0"),
    ("rules:\n  cap_total:\n    windows: [{days: 7, max: -1}]\n", "rules.cap_total.windows[0].max", "-1", ">= 0"),
    (
        "rules:\n  cap_total:\n    windows: [{days: true, max: 2}]\n",
        "rules.cap_total.windows[0].days",
        "True",
        "a whole number",
    ),
    (
        "rules:\n  cap_total:\n    windows: [{days: 7.5, max: 2}]\n",
        "rules.cap_total.windows[0].days",
        "7.5",
        "a whole number",
    ),
    ("rules:\n  cap_total:\n    windows: []\n", "rules.cap_total.windows", "[]", "at least 1"),
    (
        "rules:\n  cap_total:\n    severity: catastrophic\n",
        "rules.cap_total.severity",
        "'catastrophic'",
        "'low', 'medium' or 'high'",
    ),
    ("rules:\n  cap_total:\n    enabled: 'yes please'\n", "rules.cap_total.enabled", "'yes please'", "true or false"),
    ("rules:\n  quiet_hours:\n    start: '25:99'\n", "rules.quiet_hours.start", "'25:99'", '"HH:MM"'),
    ("rules:\n  quiet_hours:\n    end: 21:00\n", "rules.quiet_hours.end", "1260", "in quotes"),
    (
        "rules:\n  quiet_hours:\n    start: '08:00'\n    end: '08:00'\n",
        "rules.quiet_hours.end",
        "'08:00'",
        "other than start",
    ),
    ("rules:\n  quiet_hours:\n    channels: [fax]\n", "rules.quiet_hours.channels[0]", "'fax'", "'email'"),
    ("rules:\n  min_gap:\n    gap_days: {offer: -1}\n", "rules.min_gap.gap_days.offer", "-1", ">= 0"),
    ("rules:\n  min_gap:\n    default_gap_days: '3'\n", "rules.min_gap.default_gap_days", "'3'", "a whole number"),
    ("rules:\n  multi_sender:\n    max_senders: 0\n", "rules.multi_sender.max_senders", "0", ">= 1"),
    (
        "rules:\n  promo_during_open_lead:\n    owner_sender: boss\n",
        "rules.promo_during_open_lead.owner_sender",
        "'boss'",
        "'sales'",
    ),
    (
        "rules:\n  promo_after_purchase:\n    categories: offer\n",
        "rules.promo_after_purchase.categories",
        "'offer'",
        "a list",
    ),
    (
        "rules:\n  after_opt_out:\n    grace_business_days: 99999999\n",
        "rules.after_opt_out.grace_business_days",
        "99999999",
        "<= 36500",
    ),
    ("rules:\n  cap_channel:\n    windows: {email: 3}\n", "rules.cap_channel.windows.email", "3", "a list"),
    ("retention:\n  lapsed_min_months: 30\n", "retention.lapsed_max_months", "24", "greater than lapsed_min_months"),
    (
        "retention:\n  reminder_booking_days: 90\n",
        "retention.reminder_booking_days",
        "90",
        "less than reminder_lookback_days",
    ),
    ("retention:\n  contact_fallback: [phone, fax]\n", "retention.contact_fallback[1]", "'fax'", "'email'"),
    ("retention:\n  service_interval_days: null\n", "retention.service_interval_days", "None", "a whole number"),
    ("audit:\n  exempt_categories: [recal]\n", "audit.exempt_categories[0]", "'recal'", "'recall'"),
    ("referrals:\n  first_contact_hours: -24\n", "referrals.first_contact_hours", "-24", "> 0"),
    ("report:\n  mask_pii: 'no'\n", "report.mask_pii", "'no'", "true or false"),
    ("report:\n  plotlyjs: cdn\n", "report.plotlyjs", "'cdn'", "'inline', 'inline-plain' or 'shared'"),
    ("mapping: {customers: nope}\n", "mapping.customers", "'nope'", "a mapping"),
    ("mapping: {customers: {'Cust No': 5}}\n", "mapping.customers.Cust No", "5", "text"),
    ("files: [customers.csv]\n", "files", "['customers.csv']", "a mapping"),
    ("values: {channel: [Text]}\n", "values.channel", "['Text']", "a mapping"),
]


@pytest.mark.parametrize("text, path, value, allowed", PARAM_CASES, ids=[c[1] + "=" + c[2] for c in PARAM_CASES])
def test_wrong_parameter_is_named_with_file_key_value_and_allowed(kit, text, path, value, allowed):
    code, out, file = validate_params(kit, text)
    assert code == 1, out
    line = next((ln for ln in out.splitlines() if f"'{path}'" in ln), None)
    assert line is not None, out
    assert str(file) in line and f"got {value}" in line and allowed in line, line


@pytest.mark.parametrize(
    "text, key, hint",
    [
        ("rules:\n  cap_total:\n    windos: []\n", "rules.cap_total.windos", "did you mean 'windows'?"),
        (
            "rules:\n  cap_total:\n    windows: [{days: 7, maxx: 2}]\n",
            "rules.cap_total.windows[0].maxx",
            "did you mean 'max'?",
        ),
        ("retention:\n  lapsed_max_month: 30\n", "retention.lapsed_max_month", "did you mean 'lapsed_max_months'?"),
        (
            "rules:\n  cap_channel:\n    windows: {emial: []}\n",
            "rules.cap_channel.windows.emial",
            "did you mean 'email'?",
        ),
    ],
)
def test_unknown_keys_hint_the_closest(kit, text, key, hint):
    code, out, file = validate_params(kit, text)
    assert code == 1
    assert f"{file}: unknown key '{key}' ({hint})" in out, out


def test_every_parameter_problem_at_once(kit):
    text = "".join(t for t, *_ in PARAM_CASES[:12] if t.startswith("rules:\n  cap_total"))
    text = (
        "rules:\n  cap_total:\n    severity: catastrophic\n    enabled: 1\n"
        "    windows: [{days: true, max: five}, {days: -1, max: -1}]\n"
        "  quiet_hours: {start: '25:99'}\nretention: {lapsed_min_months: 30}\nreport: {plotlyjs: cdn}\n"
    )
    code, out, _ = validate_params(kit, text)
    assert code == 1
    for path in (
        "rules.cap_total.severity",
        "rules.cap_total.enabled",
        "rules.cap_total.windows[0].days",
        "rules.cap_total.windows[0].max",
        "rules.cap_total.windows[1].days",
        "rules.cap_total.windows[1].max",
        "rules.quiet_hours.start",
        "retention.lapsed_max_months",
        "report.plotlyjs",
    ):
        assert f"'{path}'" in out, (path, out)


def test_group_value_is_blamed_on_the_group_file(kit):
    store(kit)
    d = dealer(kit)
    g = kit / "params" / "groups" / "g.yaml"
    g.write_text(
        "group_id: g\ndealers: [D1]\nretention: {lapsed_min_months: 30}\nrules: {no_consent: {severity: huge}}\n"
    )
    code, out = cli("validate", "--params", d, "--group", g)
    assert code == 1
    assert f"{g}: 'retention.lapsed_max_months' must be greater than lapsed_min_months (30), got 24" in out
    assert f"{g}: 'rules.no_consent.severity'" in out and "got 'huge'" in out
    code, out = cli("validate", "--group", g)
    assert code == 1 and f"{g}: 'rules.no_consent.severity'" in out


def test_broken_defaults_are_blamed_on_defaults(kit):
    defaults = kit / "params" / "defaults.yaml"
    doc = yaml.safe_load(defaults.read_text())
    del doc["retention"]["response_days"]
    doc["audit"]["top_customers"] = "ten"
    defaults.write_text(yaml.safe_dump(doc))
    code, out, _ = validate_params(kit, "")
    assert code == 1
    assert f"{defaults}: 'retention.response_days' is missing (every key of defaults.yaml is required)" in out
    assert f"{defaults}: 'audit.top_customers' must be a whole number >= 1" in out and "got 'ten'" in out


def test_shipped_defaults_and_sample_params_are_valid():
    for f in sorted((ROOT / "params" / "dealers").glob("*.yaml")):
        params.resolve(dealer_file=f, group_file=ROOT / "params" / "groups" / "sample.yaml")


def test_audit_run_and_batch_refuse_bad_parameters_before_any_work(kit):
    store(kit)
    d = dealer(kit, "rules:\n  cap_total:\n    windows: [{days: 7, max: five}]\n")
    out_csv = kit / "flags.csv"
    code, out = cli("audit", "--params", d, "--out", out_csv)
    assert code == 1 and "'rules.cap_total.windows[0].max'" in out and not out_csv.exists()
    code, out = cli("run", d, "--out", kit / "reports")
    assert code == 1 and "'rules.cap_total.windows[0].max'" in out and not (kit / "reports").exists()
    g = kit / "params" / "groups" / "g.yaml"
    g.write_text("group_id: g\ndealers: [D1]\n")
    code, out = cli("batch", g, "--out", kit / "reports")
    assert code == 1 and "'rules.cap_total.windows[0].max'" in out and not (kit / "reports").exists()


def test_parameter_problems_print_no_traceback_in_a_real_process(kit):
    store(kit)
    d = dealer(kit, "rules:\n  no_consent:\n    severity: catastrophic\n")
    exe = Path(sys.executable).with_name("ownercomm")
    proc = subprocess.run([str(exe), "validate", "--params", str(d)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "'rules.no_consent.severity' must be one of 'low', 'medium' or 'high', got 'catastrophic'" in proc.stderr


def test_adding_a_section_is_one_model():
    """The sections a layer may override are the schema's own fields (no second list)."""
    assert params.SECTIONS == tuple(params_schema.Params.model_fields)
    assert {"rules", "audit", "retention", "referrals", "report", "as_of"} <= set(params.SECTIONS)


# --- 2. group files ------------------------------------------------------------------------


def test_two_dealer_files_with_one_dealer_id_are_an_error_before_anything_runs(kit):
    store(kit)
    a = dealer(kit, dealer_id="D1", file="north")
    b = dealer(kit, dealer_id="D1", file="south")
    g = kit / "params" / "groups" / "g.yaml"
    g.write_text("group_id: g\ndealers: [north, south]\n")
    for args in (("validate", "--group", g), ("batch", g, "--out", kit / "reports")):
        code, out = cli(*args)
        assert code == 1, out
        assert "dealer_id 'D1' is used by 2 dealer files" in out and str(a) in out and str(b) in out
    assert not (kit / "reports").exists()


@pytest.mark.parametrize(
    "raw, why",
    [
        ('"../escape"', "path separator"),
        ('"a..b"', "'..'"),
        ('"a/b"', "path separator"),
        ('"a\\\\b"', "path separator"),
        ('"CON"', "reserved device name"),
        ('"lpt1.txt"', "reserved device name"),
        ('"a\\tb"', "control characters"),
        ('".hidden"', "letters, digits"),
        ('"caf\u00e9 store"', "letters, digits"),
    ],
)
def test_unsafe_dealer_ids_are_rejected_by_validate(kit, raw, why):
    store(kit)
    path = dealer(kit, dealer_id=raw, file="bad")
    code, out = cli("validate", "--params", path)
    assert code == 1, out
    assert f"{path}: 'dealer_id' must" in out and why in out and "report folder" in out, out


@pytest.mark.parametrize("raw", ['""', '" "', "null", "~"])
def test_empty_dealer_id_is_required(kit, raw):
    store(kit)
    path = dealer(kit, dealer_id=raw, file="bad")
    code, out = cli("validate", "--params", path)
    assert code == 1 and f"{path}: dealer_id is required" in out, out


def test_unsafe_group_id_is_rejected(kit):
    store(kit)
    dealer(kit)
    g = kit / "params" / "groups" / "g.yaml"
    for raw, why in (('"../up"', "path separator"), ('"up..x"', "'..'"), ("NUL", "reserved")):
        g.write_text(f"group_id: {raw}\ndealers: [D1]\n")
        code, out = cli("validate", "--group", g)
        assert code == 1 and why in out and f"{g}: 'group_id' must" in out, out


@pytest.mark.parametrize(
    "raw, text", [("007", "007"), ("1.50", "1.50"), ("0x1A", "0x1A"), ("1e3", "1e3"), ("D-7", "D-7")]
)
def test_ids_keep_the_text_written(kit, raw, text):
    store(kit)
    path = dealer(kit, dealer_id=raw, file="x")
    assert params.resolve(dealer_file=path)["dealer_id"] == text
    g = kit / "params" / "groups" / "g.yaml"
    g.write_text("group_id: 010\ndealers: [x]\n")
    from ownercomm_kit.batch import read_group

    assert read_group(g).group_id == "010"


# --- 3. store isolation, links included ----------------------------------------------------

SECRET = "root:x:0:0:TOP-SECRET-LINE"


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_link_to_another_stores_file_is_blocking_and_not_read(kit):
    other = store(kit, "D2", customers__csv="customer_id,first_name\nOTHER1,Zed\n")
    mine = store(kit, "D1", customers__csv=None)
    (mine / "customers.csv").symlink_to(other / "customers.csv")
    path = dealer(kit)
    code, out = cli("validate", "--params", path)
    assert code == 1
    assert "customers.csv is a link to a file outside the dealer's data folder" in out
    assert "OTHER1" not in out and "Zed" not in out
    data = loader.load_dealer(params.resolve(dealer_file=path), strict=False)
    assert "customers" in data.missing_tables and data["customers"].empty


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
@pytest.mark.parametrize("name", ["leads.csv", "customers.csv", "notes.csv", "book.xlsx", "sales.parquet"])
def test_link_to_a_garbage_file_outside_never_echoes_its_content(kit, tmp_path, name):
    secret = tmp_path / "passwd"
    secret.write_text(SECRET + "\n" + SECRET + ",more,cells\n")
    folder = store(kit, customers__csv=None) if name == "customers.csv" else store(kit)
    (folder / name).symlink_to(secret)
    path = dealer(kit)
    code, out = cli("validate", "--params", path)
    assert code == 1 and "TOP-SECRET" not in out and "root:x" not in out
    assert f"{name} is a link to a file outside" in out
    data = loader.load_dealer(params.resolve(dealer_file=path), strict=False)
    assert not any("TOP-SECRET" in f"{p.message} {p.value}" for p in data.problems)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_links_inside_the_folder_and_files_entries_through_links(kit, tmp_path):
    folder = store(kit, communications__csv=None)
    (folder / "msgs_2026.csv").write_text(MESSAGES)
    (folder / "communications.csv").symlink_to("msgs_2026.csv")  # inside: fine
    path = dealer(kit)
    code, out = cli("validate", "--params", path)
    assert code == 0, out
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(MESSAGES)
    (folder / "link.csv").symlink_to(outside)
    (folder / "communications.csv").unlink()
    path = dealer(kit, "files: {communications: link.csv}\n")
    code, out = cli("validate", "--params", path)
    assert code == 1 and "outside the dealer's data folder" in out


# --- 4. dates that cannot be right ---------------------------------------------------------


def _load(kit, **files):
    store(kit, **files)
    return params.resolve(dealer_file=dealer(kit))


def test_future_rows_are_a_counted_warning_and_as_of_is_the_last_date_not_in_the_future(kit, monkeypatch):
    monkeypatch.setattr(loader, "run_date", lambda tz: dt.date(2026, 3, 1))
    msgs = MESSAGES + "M3,C1,2027-05-01 09:00,email,dealer,offer\nM4,C2,2099-01-01 09:00,email,dealer,offer\n"
    p = _load(kit, communications__csv=msgs)
    data = loader.load_dealer(p, strict=False)
    assert data.as_of == dt.date(2026, 2, 5)
    future = [x for x in data.problems if "after the run date 2026-03-01" in x.message]
    assert len(future) == 1 and future[0].level == "warning" and future[0].count == 2
    assert future[0].row == 4 and "rows 4, 5" in future[0].message and future[0].column == "sent_at"
    code, out = cli("validate", "--params", kit / "params" / "dealers" / "D1.yaml")
    assert code == 0 and "after the run date 2026-03-01 (in the future)" in out and "(2 rows)" in out


@pytest.mark.parametrize(
    "as_of, words",
    [
        ("2027-03-01", "more than a year after the last date in the data (2026-02-05)"),
        ("2025-12-31", "before the first date in the data (2026-01-05)"),
    ],
)
def test_explicit_as_of_far_from_the_data_is_an_error(kit, as_of, words):
    store(kit)
    code, out = cli("validate", "--params", dealer(kit), "--as-of", as_of)
    assert code == 1 and words in out and as_of in out, out
    code, out = cli("audit", "--params", dealer(kit), "--as-of", as_of, "--out", kit / "f.csv")
    assert code == 1 and words in out and not (kit / "f.csv").exists()


def test_as_of_within_a_year_after_the_data_is_fine(kit):
    store(kit)
    code, out = cli("validate", "--params", dealer(kit), "--as-of", "2027-02-05")
    assert code == 0, out


@pytest.mark.parametrize("cell", ["0001-01-01", "9999-12-31", "12/31/9999", "1850-06-01", "1899-12-31 10:00"])
def test_placeholder_dates_are_called_placeholders(kit, cell):
    customers = f"customer_id,first_name,birth_date\nC1,Ann,{cell}\nC2,Bob,1980-01-02\n"
    msgs = MESSAGES + f"M9,C1,{cell},email,dealer,offer\n"
    store(kit, customers__csv=customers, communications__csv=msgs)
    code, out = cli("validate", "--params", dealer(kit))
    assert code == 1
    assert f"customers.csv, row 2, column 'birth_date': value '{cell}': placeholder date" in out
    assert "WARNING customers.csv, row 2" in out  # optional column: the cell is left empty
    assert f"ERROR communications.csv, row 4, column 'sent_at': value '{cell}': placeholder date" in out
    assert "unparseable" not in out


def test_1900_and_later_are_real_dates(kit):
    customers = "customer_id,first_name,birth_date\nC1,Ann,1900-01-01\n"
    data = loader.load_dealer(_load(kit, customers__csv=customers), strict=True)
    assert data["customers"]["birth_date"].iloc[0] == dt.datetime(1900, 1, 1)


# --- 5. empty, degenerate and garbage files ------------------------------------------------


def test_header_only_communications_is_no_messages_in_the_data(kit):
    """Decision: the data is valid, the reports say "no messages in the data" (no blocking)."""
    store(kit, communications__csv=MESSAGES.splitlines()[0] + "\n")
    d = dealer(kit)
    code, out = cli("validate", "--params", d)
    assert code == 0, out
    assert "WARNING communications.csv: no messages in the data: the file has a header row and no data rows" in out
    code, out = cli("audit", "--params", d, "--out", kit / "f.csv", "--suppression", kit / "s.csv")
    assert code == 0, out
    assert "D1: 0 messages, 0 flags" in out and "no messages in the data" in out
    assert (kit / "f.csv").read_text().startswith("message_id,")


def test_audit_of_no_messages_with_appointments_does_not_crash(kit):
    """An IndexError once: appointments to attribute, and no message in the window."""
    from ownercomm_kit.audit import run_audit

    appts = "appointment_id,customer_id,booked_at,scheduled_for,status\nA1,C1,2026-01-10 09:00,2026-01-20 09:00,kept\n"
    store(kit, communications__csv=MESSAGES.splitlines()[0] + "\n", appointments__csv=appts)
    p = params.resolve(dealer_file=dealer(kit))
    data = loader.load_dealer(p)
    res = run_audit(data, p)
    assert res.headline["messages"] == 0 and res.flags.empty
    assert set(res.tiers["tier"]) <= {"self_directed", "dormant"}


@pytest.mark.parametrize(
    "content", ["", "\n\n\n", "ro_id,customer_id,visit_date\n", "ro_id,customer_id,visit_date\n\n,,\n"]
)
def test_empty_or_header_only_optional_table_is_missing_with_a_warning(kit, content):
    store(kit, service_visits__csv=content)
    d = dealer(kit)
    code, out = cli("validate", "--params", d)
    assert code == 0, out
    assert "WARNING service_visits.csv:" in out and "treated as missing" in out
    data = loader.load_dealer(params.resolve(dealer_file=d))
    assert "service_visits" in data.missing_tables


def test_zero_byte_required_table_is_blocking(kit):
    store(kit, customers__csv="")
    code, out = cli("validate", "--params", dealer(kit))
    assert code == 1 and "ERROR customers.csv: unreadable file: customers.csv: the file is empty" in out
    assert "no customers in the data" in out


def test_header_only_customers_is_said(kit):
    store(kit, customers__csv="customer_id,first_name\n")
    code, out = cli("validate", "--params", dealer(kit))
    assert "no customers in the data: the file has a header row and no data rows" in out


@pytest.mark.parametrize(
    "body, row, cells",
    [
        ("customer_id,first_name\nC1,Ann\nC2,Bob,EXTRA-SECRET\n", 3, 3),
        ("customer_id,first_name\nC1,Ann\nC2,Bob\nC3\n", 4, 1),
        ("customer_id,first_name\nC1,Ann\n\nC2,Bob,x,y\n", 4, 4),
    ],
)
def test_ragged_row_names_its_spreadsheet_row(kit, body, row, cells):
    store(kit, customers__csv=body)
    code, out = cli("validate", "--params", dealer(kit))
    assert code == 1
    assert f"customers.csv: row {row} has {cells} cells where the header row has 2" in out, out
    assert "EXTRA-SECRET" not in out


def _xlsx_bytes(tmp_path) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["customer_id", "first_name"])
    wb.active.append(["C1", "Ann"])
    p = tmp_path / "w.xlsx"
    wb.save(p)
    return p.read_bytes()


def _zip_bytes(tmp_path) -> bytes:
    p = tmp_path / "z.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("customers.csv", "SECRET-IN-ZIP")
    return p.read_bytes()


GARBAGE = [
    (
        "customers.xlsx",
        lambda t: CUSTOMERS.encode(),
        "this .xlsx is a CSV (plain text table): rename it to customers.csv",
    ),
    (
        "customers.parquet",
        lambda t: CUSTOMERS.encode(),
        "this .parquet is a CSV (plain text table): rename it to customers.csv",
    ),
    ("customers.csv", _xlsx_bytes, "this .csv is an Excel workbook (.xlsx): rename it to customers.xlsx"),
    ("customers.csv", _zip_bytes, "this .csv is a zip archive: unzip it"),
    ("customers.csv", lambda t: b"%PDF-1.7\n" + SECRET.encode(), "this .csv is a PDF document"),
    ("customers.csv", lambda t: b"<!DOCTYPE html><html><body>" + SECRET.encode(), "this .csv is a web page (HTML)"),
    ("customers.csv", lambda t: b"\x00\x01\x02" + SECRET.encode() + b"\x00" * 50, "this .csv is a binary file"),
    (
        "customers.csv",
        lambda t: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + SECRET.encode(),
        "this .csv is an old Excel .xls workbook",
    ),
    ("customers.csv", lambda t: b"\x1f\x8b\x08" + SECRET.encode(), "this .csv is a gzip-compressed file"),
    ("customers.csv", lambda t: b'[{"customer_id": "' + SECRET.encode() + b'"}]', "this .csv is a JSON document"),
    ("customers.xlsx", _zip_bytes, "this .xlsx is a zip archive"),
    ("customers.xlsx", lambda t: b"PK\x03\x04" + SECRET.encode(), "this .xlsx is a zip archive"),
]


@pytest.mark.parametrize("name, make, words", GARBAGE, ids=[f"{g[0]}-{g[2][:30]}" for g in GARBAGE])
def test_garbage_or_misnamed_file_says_what_it_looks_like(kit, tmp_path, name, make, words):
    folder = store(kit, customers__csv=None)
    (folder / name).write_bytes(make(tmp_path))
    code, out = cli("validate", "--params", dealer(kit))
    assert code == 1
    assert f"ERROR {name}: unreadable file: {name}: {words}" in out, out
    assert "TOP-SECRET" not in out and "SECRET-IN-ZIP" not in out and "root:x" not in out


def test_damaged_workbook_names_no_content(kit, tmp_path):
    folder = store(kit, customers__csv=None)
    good = _xlsx_bytes(tmp_path)
    (folder / "customers.xlsx").write_bytes(good[: len(good) // 2])
    code, out = cli("validate", "--params", dealer(kit))
    assert code == 1 and "customers.xlsx" in out and "Traceback" not in out


# --- 9. formula-like ids -------------------------------------------------------------------


def test_formula_like_ids_are_warned_about(kit):
    customers = "customer_id,first_name\n=HYPERLINK(1),Ann\n+C2,Bob\n-C3,Cy\n@C4,Di\nC5,Ed\n"
    msgs = (
        "message_id,customer_id,sent_at,channel,sender,category\nM1,=HYPERLINK(1),2026-01-05 10:00,email,dealer,offer\n"
    )
    store(kit, customers__csv=customers, communications__csv=msgs)
    code, out = cli("validate", "--params", dealer(kit))
    assert code == 0, out
    line = next(ln for ln in out.splitlines() if "customers.csv" in ln and "id starts with" in ln)
    assert "row 2, column 'customer_id': value '=HYPERLINK(1)'" in line and "(4 rows)" in line
    assert "one apostrophe" in line and "rows 2, 3, 4, 5" in line
    assert any("communications.csv" in ln and "id starts with" in ln for ln in out.splitlines())


def test_csv_neutralization_is_reversible_by_dropping_one_apostrophe(tmp_path):
    import pandas as pd

    ids = ["=1+1", "+C2", "-C3", "@C4", "'quoted", "C5", "\tT", "''two"]
    path = outputs.write_csv(pd.DataFrame({"customer_id": pd.array(ids, dtype="string")}), tmp_path / "s.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)["customer_id"].tolist()
    assert all(not v.startswith(("=", "+", "-", "@", "\t")) for v in back)
    assert [v[1:] if v.startswith("'") else v for v in back] == ids


def test_a_text_file_that_is_no_table_is_quoted_a_cell_at_most(kit):
    line = "root:x:0:0:" + "TOP-SECRET-" * 20
    store(kit, customers__csv=line + "\n" + line + "\n")
    code, out = cli("validate", "--params", dealer(kit))
    assert code == 1 and "required column 'customer_id' not found" in out
    assert line not in out and "TOP-SECRET-" * 4 not in out


def test_data_quality_page_says_how_ids_are_written():
    from ownercomm_kit.report import data_quality

    text = data_quality.DEFINITIONS["Ids in the CSV files"]
    assert "= + - @" in text and "one apostrophe" in text and "suppression.csv" in text
