"""loader.py: a dealer folder to a typed DealerData (files, mapping, values, coercion, gaps)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from helpers.data import COMMUNICATIONS, CUSTOMERS, clean_folder, write_folder

from ownercomm_kit import loader, schema
from ownercomm_kit.data import DataError, empty_table, from_frames

LA = "America/Los_Angeles"


def load(folder, **kw):
    kw.setdefault("timezone", LA)
    return loader.load_data_dir(folder, **kw)


def test_clean_folder_loads_with_canonical_dtypes(tmp_path):
    data = load(clean_folder(tmp_path / "d"))
    assert data.errors == []
    for name in schema.TABLES:
        expected = empty_table(name, LA).dtypes
        assert list(data[name].columns) == list(expected.index), name
        assert data[name].dtypes.equals(expected), name
        assert isinstance(data[name].index, pd.RangeIndex)
    c = data["communications"]
    assert list(c["message_id"]) == ["M1", "M2", "M3"]
    assert c["sent_at"].iloc[0] == pd.Timestamp("2026-06-18 10:30", tz=LA)
    assert c["sent_at"].iloc[1] == pd.Timestamp("2026-06-18 22:30", tz=LA)
    assert c["offer_price"].iloc[0] == 29500.0 and pd.isna(c["offer_price"].iloc[1])
    assert list(c["unsubscribed"].astype(object)) == [False, pd.NA, True]
    cust = data["customers"]
    assert cust["first_name"].iloc[2] == "Cára"
    assert list(cust["sms_consent"].astype(object)) == [True, False, pd.NA]
    assert pd.isna(cust["preferred_channel"].iloc[2])
    assert data.sources == {"customers": "customers.csv", "communications": "communications.csv"}


def test_missing_optional_tables_and_columns_are_recorded(tmp_path):
    data = load(clean_folder(tmp_path / "d"))
    assert set(data.missing_tables) == set(schema.TABLES) - {"customers", "communications"}
    assert "opened_at" in data.missing_columns["communications"]
    assert "offer_price" not in data.missing_columns["communications"]
    assert data.has("communications", "offer_price") and not data.has("communications", "opened_at")
    assert not data.has("sales")
    assert data["communications"]["opened_at"].isna().all()
    assert data["sales"].empty


def test_same_as_from_frames_of_the_clean_twin(tmp_path):
    data = load(clean_folder(tmp_path / "d"))
    twin = from_frames(
        {
            "customers": pd.DataFrame(
                {
                    "customer_id": ["C1", "C2", "C3"],
                    "first_name": ["Ann", "Bob", "Cára"],
                    "email": ["ann@example.com", None, "c@example.com"],
                    "sms_consent": [True, False, None],
                    "preferred_channel": ["email", "sms", None],
                }
            ),
            "communications": pd.DataFrame(
                {
                    "message_id": ["M1", "M2", "M3"],
                    "customer_id": ["C1", "C2", "C3"],
                    "sent_at": ["2026-06-18 10:30", "2026-06-18 22:30", "2026-06-19 00:00"],
                    "channel": ["email", "sms", "mail"],
                    "sender": ["oem", "service", "dealer"],
                    "category": ["offer", "service_reminder", "newsletter"],
                    "offer_price": [29500.0, None, None],
                    "unsubscribed": [False, None, True],
                }
            ),
        },
        timezone=LA,
    )
    for name in ("customers", "communications"):
        pd.testing.assert_frame_equal(data[name], twin[name])
    assert data.missing_columns == twin.missing_columns
    assert data.as_of == twin.as_of


def test_as_of_is_the_last_date_seen_unless_given(tmp_path):
    folder = clean_folder(tmp_path / "d")
    assert load(folder).as_of == dt.date(2026, 6, 19)
    assert load(folder, as_of="2026-07-01").as_of == dt.date(2026, 7, 1)
    assert load(folder, as_of=dt.date(2026, 7, 2)).as_of == dt.date(2026, 7, 2)


def test_timestamps_follow_the_dealer_timezone(tmp_path):
    folder = clean_folder(tmp_path / "d")
    ny = load(folder, timezone="America/New_York")["communications"]["sent_at"]
    la = load(folder)["communications"]["sent_at"]
    assert str(ny.dt.tz) == "America/New_York"
    # Same wall clock, different instants: 10:30 in New York is 07:30 in Los Angeles.
    assert ny.iloc[0].tz_convert(LA) == pd.Timestamp("2026-06-18 07:30", tz=LA)
    assert la.iloc[0] - ny.iloc[0] == pd.Timedelta(hours=3)


def test_mapping_block_and_header_normalisation(tmp_path):
    folder = write_folder(
        tmp_path / "d",
        {
            "Customers.CSV": "Cust No,First Name,E-Mail Address\nC1,Ann,a@x\n",
            "communications.csv": "Msg ID,CUSTOMER_ID,Sent At,Channel,Sender,Category\nM1,C1,2026-06-18,email,oem,offer\n",
        },
    )
    data = load(
        folder,
        mapping={
            "customers": {"Cust No": "customer_id", "e-mail address": "email"},
            "communications": {"Msg ID": "message_id"},
        },
    )
    assert data.errors == []
    assert data["customers"]["customer_id"].tolist() == ["C1"]
    assert data["customers"]["email"].tolist() == ["a@x"]
    assert data["customers"]["first_name"].tolist() == ["Ann"]  # "First Name" is first_name as such
    assert data["communications"]["message_id"].tolist() == ["M1"]


def test_values_block_and_case_insensitive_canonical_values(tmp_path):
    folder = write_folder(
        tmp_path / "d",
        {
            "customers.csv": "customer_id,sms_consent\nC1,Opted In\nC2,Opted Out\n",
            "communications.csv": (
                "message_id,customer_id,sent_at,channel,sender,category\n"
                "M1,C1,2026-06-18,Text,OEM,Service Reminder\n"
                "M2,C2,2026-06-18,E-mail,Sales,SALES_PROMO\n"
                "M3,C2,2026-06-18, text ,dealer,offer\n"
            ),
            "appointments.csv": "appointment_id,customer_id,booked_at,scheduled_for,status\nA1,C1,2026-06-01,2026-06-10,No Show\n",
        },
    )
    data = load(folder, values={"channel": {"Text": "sms"}, "sms_consent": {"Opted In": True, "Opted Out": False}})
    assert data.errors == []
    c = data["communications"]
    assert c["channel"].tolist() == ["sms", "email", "sms"]
    assert c["sender"].tolist() == ["oem", "sales", "dealer"]
    assert c["category"].tolist() == ["service_reminder", "sales_promo", "offer"]
    assert data["appointments"]["status"].tolist() == ["no_show"]
    assert data["customers"]["sms_consent"].tolist() == [True, False]


def test_files_block_and_one_workbook_with_a_sheet_per_table(tmp_path):
    import openpyxl

    folder = tmp_path / "d"
    folder.mkdir()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append(["customer_id", "birth_date", "sms_consent"])
    ws.append([1001, dt.datetime(1980, 5, 17), True])
    ws2 = wb.create_sheet("Msgs")
    ws2.append(["message_id", "customer_id", "sent_at", "channel", "sender", "category"])
    ws2.append(["M1", 1001, dt.datetime(2026, 6, 18, 10, 30), "email", "oem", "offer"])
    ws2.append([None] * 6)
    ws2.append(["M2", 1001, 45826.4375, "sms", "oem", "offer"])
    wb.save(folder / "dms export.xlsx")
    data = load(folder, files={"communications": "dms export.xlsx#Msgs"})
    assert data.errors == [], data.problems
    assert data.sources == {"customers": "dms export.xlsx[Customers]", "communications": "dms export.xlsx[Msgs]"}
    assert data["customers"]["customer_id"].tolist() == ["1001"]
    assert data["customers"]["birth_date"].iloc[0] == pd.Timestamp("1980-05-17")
    c = data["communications"]
    assert c["sent_at"].tolist() == [pd.Timestamp("2026-06-18 10:30", tz=LA), pd.Timestamp("2025-06-18 10:30", tz=LA)]
    # files as a mapping works the same
    data2 = load(folder, files={"communications": {"file": "dms export.xlsx", "sheet": "Msgs"}})
    pd.testing.assert_frame_equal(data2["communications"], c)


def test_one_file_per_table_xlsx_and_parquet(tmp_path):
    import openpyxl

    folder = tmp_path / "d"
    folder.mkdir()
    wb = openpyxl.Workbook()
    wb.active.append(["customer_id", "first_name"])
    wb.active.append(["C1", "Ann"])
    wb.save(folder / "CUSTOMERS.xlsx")
    pd.DataFrame(
        {
            "message_id": ["M1"],
            "customer_id": ["C1"],
            "sent_at": pd.to_datetime(["2026-06-18 10:30"]).tz_localize("UTC"),
            "channel": ["email"],
            "sender": ["oem"],
            "category": ["offer"],
            "offer_price": [1.5],
        }
    ).to_parquet(folder / "communications.parquet")
    data = load(folder)
    assert data.errors == [], data.problems
    assert data["customers"]["first_name"].tolist() == ["Ann"]
    assert data["communications"]["sent_at"].iloc[0] == pd.Timestamp("2026-06-18 03:30", tz=LA)
    assert data["communications"]["offer_price"].tolist() == [1.5]


def test_integral_float_ids_from_typed_files_lose_the_point_zero(tmp_path):
    folder = write_folder(tmp_path / "d", {"communications.csv": COMMUNICATIONS})
    pd.DataFrame({"customer_id": [1.0, 2.0], "first_name": ["a", "b"]}).to_parquet(folder / "customers.parquet")
    assert load(folder, strict=False)["customers"]["customer_id"].tolist() == ["1", "2"]


def test_strict_raises_every_problem_and_non_strict_drops_blocking_rows(tmp_path):
    folder = clean_folder(tmp_path / "d", communications__csv=COMMUNICATIONS + "M4,C1,2024-13-45,email,oem,offer,,\n")
    with pytest.raises(DataError) as e:
        load(folder)
    assert "2024-13-45" in str(e.value) and "row 5" in str(e.value)
    data = load(folder, strict=False)
    assert data["communications"]["message_id"].tolist() == ["M1", "M2", "M3"]
    left_out = [p for p in data.warnings if "left out" in p.message]
    assert len(left_out) == 1 and left_out[0].count == 1 and "1 of 4 rows" in left_out[0].message


def test_duplicate_ids_keep_the_first_row_in_non_strict(tmp_path):
    folder = clean_folder(tmp_path / "d", communications__csv=COMMUNICATIONS + "M1,C2,2026-06-19,sms,oem,offer,,\n")
    data = load(folder, strict=False)
    c = data["communications"]
    assert c["message_id"].tolist() == ["M1", "M2", "M3"]
    assert c["customer_id"].iloc[0] == "C1"


def test_missing_folder_and_unreadable_file_are_problems_not_tracebacks(tmp_path):
    data = load(tmp_path / "nope", strict=False)
    assert any("data folder not found" in p.message for p in data.errors)
    with pytest.raises(DataError, match="data folder not found"):
        load(tmp_path / "nope")
    folder = clean_folder(tmp_path / "d", customers__csv=b"", communications__csv=COMMUNICATIONS)
    (folder / "customers.csv").write_bytes(b"")
    data = load(folder, strict=False)
    msgs = [p.message for p in data.errors if p.table == "customers"]
    assert any("unreadable file" in m and "empty" in m for m in msgs)
    assert "customers" in data.missing_tables


def test_unknown_files_are_ignored_and_noted(tmp_path):
    folder = clean_folder(tmp_path / "d", **{"notes__txt": "hello", "~$customers__xlsx": "lock"})
    (folder / ".hidden").write_text("x")
    data = load(folder)
    notes = [p for p in data.warnings if "not recognised" in p.message]
    assert len(notes) == 1 and "notes.txt" in notes[0].message
    assert "~$" not in notes[0].message and ".hidden" not in notes[0].message


def test_two_files_for_one_table_is_an_error(tmp_path):
    folder = clean_folder(tmp_path / "d")
    pd.DataFrame({"customer_id": ["x"]}).to_parquet(folder / "customers.parquet")
    data = load(folder, strict=False)
    assert any("several files could hold customers" in p.message for p in data.errors)


def test_files_block_naming_a_missing_file(tmp_path):
    data = load(clean_folder(tmp_path / "d"), files={"sales": "sales_2026.csv"}, strict=False)
    assert any("sales_2026.csv" in p.message and p.level == "error" for p in data.problems)


def test_files_block_cannot_reach_another_stores_folder(tmp_path):
    """SPEC §8: a store reads only its own folder, whatever its `files:` block says."""
    other = clean_folder(tmp_path / "other")
    mine = clean_folder(tmp_path / "mine")
    (mine / "sub").mkdir()
    (mine / "sub" / "sales.csv").write_text("sale_id,customer_id,sale_date\nS1,C1,2026-06-01\n")
    data = load(
        mine,
        files={
            "communications": "../other/communications.csv",
            "customers": str(other / "customers.csv"),
            "sales": "sub/sales.csv",
        },
        strict=False,
    )
    outside = [p for p in data.errors if "outside the dealer's data folder" in p.message]
    assert {p.table for p in outside} == {"communications", "customers"}
    assert data.has("sales") and len(data["sales"]) == 1  # a subfolder of its own is fine
    with pytest.raises(DataError, match="outside the dealer's data folder"):
        load(mine, files={"communications": "../other/communications.csv"})


def test_invalid_timezone_is_a_problem(tmp_path):
    data = load(clean_folder(tmp_path / "d"), timezone="Mars/Olympus", strict=False)
    assert any("IANA" in p.message for p in data.errors)


def test_customer_timezone_column_is_checked(tmp_path):
    folder = clean_folder(tmp_path / "d", customers__csv="customer_id,timezone\nC1,America/Chicago\nC2,Central\nC3,\n")
    data = load(folder, strict=False)
    assert data["customers"]["timezone"].tolist()[:1] == ["America/Chicago"]
    assert data["customers"]["timezone"].isna().tolist() == [False, True, True]
    assert any(p.column == "timezone" and p.value == "Central" for p in data.warnings)


def test_load_dealer_from_resolved_params(tmp_path, kit_root):
    from ownercomm_kit import params

    folder = clean_folder(tmp_path / "d")
    resolved = params.resolve(
        {"dealer_id": "D9", "dealer_name": "Nine", "data_dir": str(folder), "timezone": LA, "as_of": "2026-06-30"},
        root=kit_root,
    )
    data = loader.load_dealer(resolved)
    assert (data.dealer_id, data.dealer_name, data.timezone, data.as_of) == ("D9", "Nine", LA, dt.date(2026, 6, 30))


def test_describe_summarises_each_table(tmp_path):
    data, infos = loader.load_with_info(
        {"dealer_id": "X", "data_dir": str(clean_folder(tmp_path / "d")), "timezone": LA}
    )
    text = loader.describe(data, infos)
    assert "communications  communications.csv: 3 rows, 8/15 columns, sent_at 2026-06-18 to 2026-06-19" in text
    assert "sales           not found (optional)" in text


def test_canonical_values_maps_uniques_only():
    s = pd.Series(["Email", "email", None, "fax"], dtype="string")
    out, bad = loader.canonical_values(s, schema.CHANNELS)
    assert out.tolist()[:2] == ["email", "email"] and pd.isna(out.iloc[2]) and pd.isna(out.iloc[3])
    assert bad.tolist() == [False, False, False, True]


def test_resolve_columns_mapping_wins_over_look_alikes():
    found, unused, not_found = loader.resolve_columns(
        "customers",
        ["Cust No", "Customer ID", "Notes", "E-mail", "Phone #"],
        {"cust no": "customer_id", "Gone": "email", "Phone #": None},
    )
    assert found == {"customer_id": ["Cust No"], "email": ["E-mail"]}
    assert unused == ["Customer ID", "Notes", "Phone #"] and not_found == ["Gone"]


def test_resolve_columns_conflicts():
    found, _, _ = loader.resolve_columns("customers", ["Email", "E-mail"], {})
    assert found == {"email": ["Email", "E-mail"]}
    found, _, _ = loader.resolve_columns("customers", ["A", "B"], {"A": "email", "B": "email"})
    assert found == {"email": ["A", "B"]}


def test_mapping_to_a_non_column_is_noted(tmp_path):
    data = load(clean_folder(tmp_path / "d"), mapping={"customers": {"first_name": "given_name"}}, strict=False)
    p = [p for p in data.warnings if "given_name" in p.message]
    assert len(p) == 1 and "not a column of customers" in p[0].message
    assert data["customers"]["first_name"].isna().all()  # mapped away, so absent


def test_rows_are_spreadsheet_rows_after_dropping(tmp_path):
    body = COMMUNICATIONS + "M4,C1,bad,email,oem,offer,,\nM5,C9,2026-06-19,email,oem,offer,,\n"
    data = load(clean_folder(tmp_path / "d", communications__csv=body), strict=False)
    orphan = [p for p in data.warnings if "orphan" in p.message]
    assert len(orphan) == 1 and orphan[0].row == 6 and orphan[0].value == "C9"


def test_empty_required_table_still_loads(tmp_path):
    folder = clean_folder(tmp_path / "d", communications__csv=COMMUNICATIONS.splitlines()[0] + "\n")
    data = load(folder)
    assert data["communications"].empty and "communications" not in data.missing_tables
    assert data.errors == []
    assert data["communications"].dtypes.equals(empty_table("communications", LA).dtypes)


def test_large_column_of_ids_keeps_string_dtype(tmp_path):
    n = 5000
    ids = np.char.add("C", np.arange(n).astype(str))
    folder = write_folder(
        tmp_path / "d",
        {
            "customers.csv": "customer_id\n" + "\n".join(ids) + "\n",
            "communications.csv": COMMUNICATIONS.splitlines()[0]
            + "\n"
            + "\n".join(f"M{i},C{i},2026-06-18,email,oem,offer,," for i in range(n))
            + "\n",
        },
    )
    data = load(folder)
    assert len(data["communications"]) == n and data["communications"]["customer_id"].dtype == "string"
    # the two optional columns of the header are blank on every row: said once each
    assert data.errors == []
    assert sorted(p.column for p in data.warnings) == ["offer_price", "unsubscribed"]
    assert all("present but empty in all 5000 rows" in p.message for p in data.warnings)


@pytest.mark.parametrize("table", list(schema.TABLES))
def test_absent_columns_are_all_missing_in_the_canonical_dtype(table):
    from ownercomm_kit.data import dtype_of

    for col in schema.TABLES[table].columns:
        s = loader.empty_column(4, col, LA)
        assert len(s) == 4 and s.isna().all()
        assert s.dtype == dtype_of(col, LA), col.name


def test_dms_style_export_cp1252_semicolons_us_dates_yn(tmp_path):
    folder = write_folder(
        tmp_path / "d",
        {
            "customers.csv": "Cust No;First Name;Text OK\r\n1001;Cára;Y\r\n1002;Zoë;N\r\n".encode("cp1252"),
            "communications.csv": (
                "Msg ID;Cust No;Sent;Medium;From;Type;Offer\r\n"
                "M1;1001;06/18/2026 10:30 PM;Text;OEM;Offer;$29,500.00\r\n"
                "M2;1002;6/19/2026 7:05 AM;E-mail;Service;Service Reminder;\r\n"
            ).encode("cp1252"),
        },
    )
    data = load(
        folder,
        mapping={
            "customers": {"Cust No": "customer_id", "Text OK": "sms_consent"},
            "communications": {
                "Msg ID": "message_id",
                "Cust No": "customer_id",
                "Sent": "sent_at",
                "Medium": "channel",
                "From": "sender",
                "Type": "category",
                "Offer": "offer_price",
            },
        },
        values={"channel": {"Text": "sms"}},
    )
    assert data.problems == []
    assert data["customers"]["first_name"].tolist() == ["Cára", "Zoë"]
    assert data["customers"]["sms_consent"].tolist() == [True, False]
    c = data["communications"]
    assert c["sent_at"].tolist() == [pd.Timestamp("2026-06-18 22:30", tz=LA), pd.Timestamp("2026-06-19 07:05", tz=LA)]
    assert c["channel"].tolist() == ["sms", "email"]
    assert c["category"].tolist() == ["offer", "service_reminder"]
    assert c["offer_price"].iloc[0] == 29500.0


def test_date_columns_with_offsets_take_the_dealer_date(tmp_path):
    folder = clean_folder(
        tmp_path / "d", sales__csv="sale_id,customer_id,sale_date\nS1,C1,2026-06-18T02:00:00Z\nS2,C2,06/18/2026\n"
    )
    sales = load(folder)["sales"]
    assert sales["sale_date"].tolist() == [pd.Timestamp("2026-06-17"), pd.Timestamp("2026-06-18")]
    assert sales["sale_date"].dtype == np.dtype("datetime64[ns]")


HOSTILE = [
    "",
    " ",
    "x",
    "Y",
    "0",
    "1.5",
    "$1,000",
    "(2)",
    "2026-06-18",
    "06/18/2026 10:30 PM",
    "2024-13-45",
    "45826.5",
    "email",
    "SMS",
    "No Show",
    "=cmd()",
    "<img src=x>",
    "é",
    "NaN",
    "None",
    "null",
    "inf",
    "-1",
    "99999999999999999999",
    "2026-03-08 02:30",
    "2026-11-01T01:30:00+05:00",
    "9999-12-31",
    "1/1/0001",
    "130000",
    "\t",
    "a\nb",
    '"',
    "C1",
    "M1",
]


@pytest.mark.parametrize("seed", range(3))
def test_hostile_cells_never_raise_in_non_strict_mode(tmp_path, seed):
    """Random garbage in every column, separator and encoding: problems, never an exception."""
    import csv
    import io
    import random

    rng = random.Random(seed)
    for it in range(6):
        folder = tmp_path / str(it)
        folder.mkdir()
        for name in rng.sample(list(schema.TABLES), rng.randint(1, 8)):
            cols = [c.name for c in schema.TABLES[name].columns if rng.random() < 0.8]
            if rng.random() < 0.5:
                buf = io.StringIO()
                w = csv.writer(buf, delimiter=rng.choice(",;\t|"))
                w.writerow(cols)
                w.writerows([rng.choice(HOSTILE) for _ in cols] for _ in range(rng.randint(0, 20)))
                enc = rng.choice(["utf-8", "utf-8-sig", "cp1252"])
                (folder / f"{name}.csv").write_text(buf.getvalue(), encoding=enc, errors="replace")
            else:
                n = rng.randint(0, 10)
                typed = [
                    pd.Series([rng.randint(-5, 50000) for _ in range(n)], dtype="int64"),
                    pd.Series([rng.choice([1.5, np.nan, 45826.25, 1e30]) for _ in range(n)], dtype="float64"),
                    pd.Series([rng.choice([True, False, None]) for _ in range(n)], dtype="boolean"),
                    pd.Series(pd.to_datetime(["2026-06-18 10:30"] * n).tz_localize("Europe/Paris")),
                    pd.Series([rng.choice(HOSTILE) for _ in range(n)], dtype="string"),
                ]
                pd.DataFrame({c: rng.choice(typed) for c in cols}).to_parquet(folder / f"{name}.parquet")
        data, _ = loader.load_with_info(
            {"dealer_id": "F", "data_dir": str(folder), "timezone": LA, "as_of": rng.choice([None, "2026-06-18"])},
            strict=False,
        )
        for name in schema.TABLES:  # whatever came in, what comes out is canonical
            assert data[name].dtypes.equals(empty_table(name, LA).dtypes), name


def test_txt_and_tsv_exports_and_case_insensitive_files_block(tmp_path):
    folder = write_folder(
        tmp_path / "d",
        {
            "Service Visits.TXT": "ro_id\tcustomer_id\tvisit_date\nR1\tC1\t06/01/2026\n",
            "MSG_EXPORT.csv": COMMUNICATIONS,
            "customers.tsv": CUSTOMERS.replace(",", "\t"),
        },
    )
    data = load(folder, files={"communications": "msg_export.csv"})
    assert data.errors == []
    assert data.sources == {
        "customers": "customers.tsv",
        "service_visits": "Service Visits.TXT",
        "communications": "MSG_EXPORT.csv",
    }
    assert data["service_visits"]["visit_date"].tolist() == [pd.Timestamp("2026-06-01")]


def test_a_load_is_one_step_that_keeps_freed_memory(tmp_path, monkeypatch):
    """Every load (the CLI's, a kernel's through the load cache, the history's) runs in one
    ``procs.freed_memory_kept`` step: its readers' freed buffers serve the next ones, what
    is free is handed back when it ends, also when it raises (a strict load's DataError)."""
    import contextlib

    steps = []

    @contextlib.contextmanager
    def step():
        steps.append("in")
        try:
            yield True
        finally:
            steps.append("out")

    monkeypatch.setattr(loader, "freed_memory_kept", step)
    read = loader._read_table

    def reading(*args, **kwargs):  # a table read outside the step would show here
        steps.append("read")
        return read(*args, **kwargs)

    monkeypatch.setattr(loader, "_read_table", reading)
    data = load(clean_folder(tmp_path / "d"))
    assert steps == ["in", "read", "read", "out"] and len(data["communications"]) == 3
    steps.clear()
    bad = clean_folder(tmp_path / "bad", communications__csv=COMMUNICATIONS + "M4,C1,2024-13-45,email,oem,offer,,\n")
    with pytest.raises(DataError):
        load(bad, strict=True)
    assert steps[0] == "in" and steps[-1] == "out" and steps.count("in") == 1
