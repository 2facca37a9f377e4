"""formats.py: reading exports as the user sees them, and every cell parser."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ownercomm_kit import formats
from ownercomm_kit.formats import (
    FormatError,
    normalize_header,
    parse_bools,
    parse_dates,
    parse_ints,
    parse_numbers,
    parse_timestamps,
    read_raw,
)

LA = "America/Los_Angeles"


def ts(text: str, tz: str = LA) -> pd.Timestamp:
    return (
        pd.Timestamp(text).tz_localize(tz) if pd.Timestamp(text).tzinfo is None else pd.Timestamp(text).tz_convert(tz)
    )


def one_ts(value, tz: str = LA):
    out, bad = parse_timestamps(pd.Series([value], dtype="string" if isinstance(value, str) else None), tz)
    return out.iloc[0], bool(bad.iloc[0])


# --- time stamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-06-18", "2026-06-18 00:00"),
        ("2026-06-18T10:30:00", "2026-06-18 10:30"),
        ("2026-06-18 10:30:00", "2026-06-18 10:30"),
        ("2026-06-18 10:30", "2026-06-18 10:30"),
        ("06/18/2026", "2026-06-18 00:00"),
        ("6/8/2026", "2026-06-08 00:00"),
        ("6/18/2026 10:30 PM", "2026-06-18 22:30"),
        ("06/18/2026 10:30 am", "2026-06-18 10:30"),
        ("06/18/2026 12:05 AM", "2026-06-18 00:05"),
        ("06/18/2026 10:30:15 PM", "2026-06-18 22:30:15"),
        ("06/18/2026 22:30", "2026-06-18 22:30"),
        ("06/18/26", "2026-06-18 00:00"),
        ("2026/06/18 08:00:00", "2026-06-18 08:00"),
        ("  2026-06-18T10:30:00  ", "2026-06-18 10:30"),
        ("45826.4375", "2025-06-18 10:30"),  # Excel 1900 serial, as text
        ("45826", "2025-06-18 00:00"),
    ],
)
def test_timestamp_styles_without_offset_are_local_time(text, expected):
    value, bad = one_ts(text)
    assert not bad
    assert value == ts(expected)


@pytest.mark.parametrize(
    "text, utc",
    [
        ("2026-06-18T10:30:00+02:00", "2026-06-18 08:30"),
        ("2026-06-18T10:30:00Z", "2026-06-18 10:30"),
        ("2026-06-18T10:30:00-05:00", "2026-06-18 15:30"),
        ("2026-06-18 10:30:00+0530", "2026-06-18 05:00"),
    ],
)
def test_timestamp_offsets_are_converted_to_the_dealer_zone(text, utc):
    value, bad = one_ts(text)
    assert not bad
    assert value == pd.Timestamp(utc, tz="UTC")
    assert str(value.tz) == LA


def test_offsets_mixed_with_local_times_in_one_column():
    s = pd.Series(["2026-06-18T10:30:00+02:00", "2026-06-18T10:30:00", "2026-06-18T10:30:00Z", "06/18/2026"])
    out, bad = parse_timestamps(s, LA)
    assert not bad.any()
    assert out.iloc[0] == pd.Timestamp("2026-06-18 08:30", tz="UTC")
    assert out.iloc[1] == ts("2026-06-18 10:30")
    assert out.iloc[2] == pd.Timestamp("2026-06-18 10:30", tz="UTC")
    assert out.iloc[3] == ts("2026-06-18")
    assert out.dtype == pd.DatetimeTZDtype("ns", LA)


@pytest.mark.parametrize(
    "text",
    [
        "2024-13-45",
        "02/30/2026",
        "2026-02-29",
        "13/01/2026",
        "2026",
        "2026-06",
        "tomorrow",
        "06/18/2026 25:00",
        "45826.4.2",
        "12",
    ],
)
def test_impossible_or_partial_dates_are_unparseable_never_guessed(text):
    value, bad = one_ts(text)
    assert bad
    assert pd.isna(value)


def test_empty_cells_are_missing_not_unparseable():
    out, bad = parse_timestamps(pd.Series(["", "   ", None, pd.NA], dtype="object"), LA)
    assert out.isna().all()
    assert not bad.any()


def test_dst_ambiguous_time_is_the_first_occurrence():
    # 2026-11-01 01:30 happens twice in Los Angeles: PDT (-07:00) first, then PST.
    value, bad = one_ts("2026-11-01 01:30")
    assert not bad
    assert value == pd.Timestamp("2026-11-01 08:30", tz="UTC")


def test_dst_nonexistent_time_uses_the_offset_before_the_change():
    # 2026-03-08 02:30 does not exist in Los Angeles (02:00 -> 03:00): read as 02:30 PST = 03:30 PDT.
    value, bad = one_ts("2026-03-08 02:30")
    assert not bad
    assert value == pd.Timestamp("2026-03-08 10:30", tz="UTC")
    assert value.tz_convert(LA).hour == 3 and value.tz_convert(LA).minute == 30


def test_dst_handling_matches_python_zoneinfo_fold_0():
    from zoneinfo import ZoneInfo

    texts = ["2026-03-08 02:00", "2026-03-08 02:59", "2026-11-01 01:00", "2026-11-01 01:59", "2026-07-01 12:00"]
    out, _ = parse_timestamps(pd.Series(texts), LA)
    for text, got in zip(texts, out):
        want = dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(LA))
        # Same-zone datetimes compare by wall clock in Python: compare the instants.
        assert got.tz_convert("UTC").to_pydatetime() == want.astimezone(dt.timezone.utc)


def test_typed_cells_are_accepted():
    naive = pd.Series(pd.to_datetime(["2026-06-18 10:30", None]))
    out, bad = parse_timestamps(naive, LA)
    assert out.iloc[0] == ts("2026-06-18 10:30") and pd.isna(out.iloc[1]) and not bad.any()
    aware = pd.Series(pd.to_datetime(["2026-06-18 10:30"]).tz_localize("Europe/Berlin"))
    out, bad = parse_timestamps(aware, LA)
    assert out.iloc[0] == pd.Timestamp("2026-06-18 08:30", tz="UTC")
    serial = pd.Series([45826.4375, np.nan])
    out, bad = parse_timestamps(serial, LA)
    assert out.iloc[0] == ts("2025-06-18 10:30") and not bad.any()
    objects = pd.Series(
        [dt.datetime(2026, 6, 18, 10, 30), dt.date(2026, 6, 19), "06/20/2026", 45826, None], dtype=object
    )
    out, bad = parse_timestamps(objects, LA)
    assert list(out.iloc[:4]) == [ts("2026-06-18 10:30"), ts("2026-06-19"), ts("2026-06-20"), ts("2025-06-18")]
    assert not bad.any()


def test_excel_serial_out_of_range_is_unparseable():
    out, bad = parse_timestamps(pd.Series([5.0, 3_000_000.0]), LA)
    assert bad.all()


def test_index_is_kept():
    s = pd.Series(["2026-06-18", "x"], index=[10, 20])
    out, bad = parse_timestamps(s, LA)
    assert list(out.index) == [10, 20] and list(bad.index) == [10, 20]
    assert list(bad) == [False, True]


# --- dates ---------------------------------------------------------------------------------


def test_dates_are_naive_midnight_and_offsets_take_their_date_in_the_zone():
    s = pd.Series(["2026-06-18", "06/18/2026 10:30 PM", "2026-06-18T02:00:00Z", "45826", "", "2024-13-45"])
    out, bad = parse_dates(s, LA)
    assert out.dtype == np.dtype("datetime64[ns]")
    # 02:00 UTC on the 18th is 19:00 on the 17th in Los Angeles.
    assert list(out.iloc[:4]) == [
        pd.Timestamp("2026-06-18"),
        pd.Timestamp("2026-06-18"),
        pd.Timestamp("2026-06-17"),
        pd.Timestamp("2025-06-18"),
    ]
    assert pd.isna(out.iloc[4]) and pd.isna(out.iloc[5])
    assert list(bad) == [False, False, False, False, False, True]


def test_dates_from_typed_aware_column():
    s = pd.Series(pd.to_datetime(["2026-06-18 03:00"]).tz_localize("UTC"))
    out, _ = parse_dates(s, "America/New_York")
    assert out.iloc[0] == pd.Timestamp("2026-06-17")


# --- booleans, numbers, headers ------------------------------------------------------------


def test_bools_every_spelling():
    s = pd.Series(["Y", "n", " yes ", "NO", "1", "0", "TRUE", "false", "T", "f", "", None, "maybe", "2"])
    out, bad = parse_bools(s)
    assert out.dtype == "boolean"
    assert list(out.iloc[:10]) == [True, False, True, False, True, False, True, False, True, False]
    assert out.iloc[10:].isna().all()
    assert list(bad) == [False] * 12 + [True, True]


def test_bools_typed():
    out, bad = parse_bools(pd.Series([True, False, None], dtype="boolean"))
    assert list(out.iloc[:2]) == [True, False] and pd.isna(out.iloc[2]) and not bad.any()
    out, bad = parse_bools(pd.Series([1, 0, 2]))
    assert list(out.iloc[:2]) == [True, False] and list(bad) == [False, False, True]


@pytest.mark.parametrize(
    "text, value",
    [
        ("$31,000.00", 31000.0),
        ("31000", 31000.0),
        ("(1,200.50)", -1200.5),
        ("€ 9,50", None),
        ("€9.50", 9.5),
        ("-5", -5.0),
        (" 1 234 ", 1234.0),
        ("USD 12", 12.0),
        ("1.5e3", 1500.0),
        ("$-3", -3.0),
        ("1,2", None),
        ("12,34,567", None),
        ("abc", None),
        ("inf", None),
        ("nan", None),
        ("£1,000", 1000.0),
    ],
)
def test_numbers(text, value):
    out, bad = parse_numbers(pd.Series([text], dtype="string"))
    if value is None:
        assert bad.iloc[0] and pd.isna(out.iloc[0])
    else:
        assert not bad.iloc[0] and out.iloc[0] == value


def test_numbers_empty_and_typed():
    out, bad = parse_numbers(pd.Series(["", None]))
    assert out.isna().all() and not bad.any()
    out, bad = parse_numbers(pd.Series([1, 2.5]))
    assert list(out) == [1.0, 2.5] and out.dtype == "float64"


def test_ints():
    out, bad = parse_ints(pd.Series(["2021", "12,345", "2021.0", "2021.5", "", "99999999999999999999"]))
    assert out.dtype == "Int64"
    assert list(out.iloc[:3]) == [2021, 12345, 2021]
    assert list(bad) == [False, False, False, True, False, True]


@pytest.mark.parametrize(
    "name, key",
    [
        ("Cust No", "custno"),
        ("CUSTNO", "custno"),
        ("cust_no", "custno"),
        ("E-Mail Address", "emailaddress"),
        (" RO # ", "ro"),
        ("Cára", "cara"),
        ("\ufeffcustomer_id", "customerid"),
    ],
)
def test_normalize_header(name, key):
    assert normalize_header(name) == key


# --- reading files -------------------------------------------------------------------------


def test_csv_utf8_with_bom(tmp_path):
    p = tmp_path / "customers.csv"
    p.write_bytes("customer_id,first_name\n1,Zoë\n".encode("utf-8-sig"))
    raw = read_raw(p)
    assert list(raw.frame.columns) == ["customer_id", "first_name"]
    assert raw.frame.iloc[0, 1] == "Zoë"
    assert raw.encoding == "utf-8-sig"


def test_csv_cp1252_arrives_intact(tmp_path):
    p = tmp_path / "customers.csv"
    p.write_bytes("customer_id;first_name;note\n1;Cára;“quoted” – €5\n".encode("cp1252"))
    raw = read_raw(p)
    assert raw.encoding == "cp1252"
    assert raw.separator == ";"
    assert raw.frame["first_name"].iloc[0] == "Cára"
    assert raw.frame["note"].iloc[0] == "“quoted” – €5"


def test_csv_short_cp1252_file_is_not_mojibake(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes("name\nCára\n".encode("cp1252"))
    assert read_raw(p).frame["name"].iloc[0] == "Cára"


def test_csv_utf16_excel_unicode_text(tmp_path):
    p = tmp_path / "x.txt"
    p.write_bytes("id\tname\n1\tCára\n".encode("utf-16"))
    raw = read_raw(p)
    assert raw.separator == "\t" and raw.frame["name"].iloc[0] == "Cára"


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_csv_separators_sniffed(tmp_path, sep):
    p = tmp_path / "t.csv"
    p.write_text(
        sep.join(["id", "name", "amount"])
        + "\n"
        + sep.join(["1", "Ann", "$1,000.00" if sep != "," else '"$1,000.00"'])
        + "\n"
    )
    raw = read_raw(p)
    assert raw.separator == sep
    assert list(raw.frame.columns) == ["id", "name", "amount"]
    assert raw.frame["amount"].iloc[0] == "$1,000.00"


def test_csv_quoted_newlines_and_separators_keep_row_numbers(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('id,note,x\n1,"line one\nline two, with comma",a\n2,plain,b\n3,,\n')
    raw = read_raw(p)
    assert raw.frame["note"].iloc[0] == "line one\nline two, with comma"
    assert list(raw.rows) == [2, 3, 4]  # a spreadsheet shows one row per record
    assert pd.isna(raw.frame["note"].iloc[2]) and pd.isna(raw.frame["x"].iloc[2])


def test_csv_cells_are_text_as_seen(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("id,zip,flag,na\n007,02134,TRUE,NA\n")
    raw = read_raw(p)
    assert raw.frame.iloc[0].tolist() == ["007", "02134", "TRUE", "NA"]  # no number or NA guessing
    assert all(isinstance(d, pd.StringDtype) for d in raw.frame.dtypes)


def test_csv_duplicate_headers_are_kept(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("id,email,email\n1,a@x,b@x\n")
    raw = read_raw(p)
    assert list(raw.frame.columns) == ["id", "email", "email"]
    assert raw.frame.iloc[0].tolist() == ["1", "a@x", "b@x"]


def test_csv_header_only(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("id,name\n")
    raw = read_raw(p)
    assert list(raw.frame.columns) == ["id", "name"] and len(raw.frame) == 0


def test_csv_errors_are_clear(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FormatError, match="empty"):
        read_raw(empty)
    lead = tmp_path / "lead.csv"
    lead.write_text("\nid,x\n1,2\n")
    with pytest.raises(FormatError, match="first row must hold the column names"):
        read_raw(lead)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n1,2,3\n")
    with pytest.raises(FormatError, match="ragged.csv: row 3 has 3 cells where the header row has 2"):
        read_raw(ragged)
    with pytest.raises(FormatError, match="not found"):
        read_raw(tmp_path / "nope.csv")
    odd = tmp_path / "x.json"
    odd.write_text("{}")
    with pytest.raises(FormatError, match="unknown file type"):
        read_raw(odd)
    old = tmp_path / "x.xls"
    old.write_bytes(b"\xd0\xcf")
    with pytest.raises(FormatError, match="save it as .xlsx"):
        read_raw(old)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(FormatError, match="broken.xlsx"):
        read_raw(broken)


def test_sniff_separator_fallback_by_counting():
    assert formats.sniff_separator("a;b;c\n1;2;3\n") == ";"
    assert formats.sniff_separator('a,b\n"x;y;z",2\n') == ","
    assert formats.sniff_separator("single\nvalue\n") == ","


def write_xlsx(path, sheets: dict[str, list[list]]):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)


def test_xlsx_sheets_typed_cells_and_row_numbers(tmp_path):
    p = tmp_path / "export.xlsx"
    write_xlsx(
        p,
        {
            "Customers": [
                ["Cust No", "Name", "Born", "Opt In", "Spend"],
                [1001, "Cára", dt.datetime(1980, 5, 17), True, 31000.5],
                [None, None, None, None, None],
                ["1002", "Bob", dt.datetime(2026, 6, 18, 10, 30), False, 12.0],
            ],
            "Messages": [["id"], ["m1"]],
        },
    )
    assert formats.sheet_names(p) == ["Customers", "Messages"]
    raw = read_raw(p)  # the first sheet
    assert raw.sheet == "Customers" and raw.name == "export.xlsx[Customers]"
    assert raw.frame.iloc[0].tolist() == ["1001", "Cára", "1980-05-17", "TRUE", "31000.5"]
    assert raw.frame.iloc[1].tolist() == ["1002", "Bob", "2026-06-18T10:30:00", "FALSE", "12"]
    assert list(raw.rows) == [2, 4]  # the blank row 3 is skipped, numbers stay as Excel shows them
    assert read_raw(p, "Messages").frame["id"].tolist() == ["m1"]
    with pytest.raises(FormatError, match="no sheet 'Nope'"):
        read_raw(p, "Nope")


def test_parquet_keeps_types(tmp_path):
    p = tmp_path / "t.parquet"
    pd.DataFrame({"id": ["a", "b"], "when": pd.to_datetime(["2026-06-18", "2026-06-19"]), "n": [1.5, 2.0]}).to_parquet(
        p
    )
    raw = read_raw(p)
    assert raw.format == "parquet"
    assert raw.frame["id"].dtype == "string"
    assert pd.api.types.is_datetime64_dtype(raw.frame["when"])
    assert list(raw.rows) == [2, 3]


def test_detect_encoding():
    assert formats.detect_encoding(b"abc") == "utf-8"
    assert formats.detect_encoding("Cára".encode("utf-8")) == "utf-8"
    assert formats.detect_encoding("Cára".encode("cp1252")) == "cp1252"
    assert formats.detect_encoding("\ufeffx".encode("utf-8")) == "utf-8-sig"
    assert formats.detect_encoding("x".encode("utf-16")) == "utf-16"


def test_csv_blank_lines_count_as_spreadsheet_rows(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('id,note,x\n1,"a\n\nb",x\n\n2,,y\n,,\n3,z,\n\n\n')
    raw = read_raw(p)
    assert raw.frame["id"].tolist() == ["1", "2", "3"]
    assert raw.frame["note"].iloc[0] == "a\n\nb"
    assert list(raw.rows) == [2, 4, 6]  # row 3 is the blank line, row 5 the ",," line


def test_csv_separator_only_lines_are_dropped_on_the_fast_path(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("id,x\n1,a\n,\n2,b\n")
    raw = read_raw(p)
    assert raw.frame["id"].tolist() == ["1", "2"] and list(raw.rows) == [2, 4]


def test_csv_crlf_line_ends(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(b"id,x\r\n1,a\r\n\r\n2,b\r\n")
    raw = read_raw(p)
    assert raw.frame["x"].tolist() == ["a", "b"] and list(raw.rows) == [2, 4]


@pytest.mark.parametrize(
    "text, utc",
    [
        ("2026-06-18T10:30:00.123Z", "2026-06-18 10:30:00.123"),
        ("2026-06-18T10:30:00 +02:00", "2026-06-18 08:30"),
        ("2026-06-18T10:30:00+02", "2026-06-18 08:30"),
    ],
)
def test_more_iso_offset_spellings(text, utc):
    value, bad = one_ts(text)
    assert not bad and value == pd.Timestamp(utc, tz="UTC")


@pytest.mark.parametrize("text", ["2026-06-18 10:30 PM", "6/18/2026 10:30:00 pm", "20260618"])
def test_more_local_spellings(text):
    value, bad = one_ts(text)
    assert not bad and value.date() == dt.date(2026, 6, 18)


@pytest.mark.parametrize(
    "text", ["1/1/0001", "9999-12-31", "12/31/9999", "0001-01-01T00:00:00Z", "2026-06-18T24:00:00"]
)
def test_dates_outside_what_the_kit_holds_are_unparseable_not_a_crash(text):
    value, bad = one_ts(text)
    assert bad and pd.isna(value)


def test_typed_out_of_range_dates_are_unparseable():
    objects = pd.Series([dt.datetime(1, 1, 1), dt.date(9999, 12, 31), dt.date(2026, 1, 1), None], dtype=object)
    out, bad = parse_dates(objects, "UTC")
    assert list(bad) == [True, True, False, False]
    assert out.iloc[2] == pd.Timestamp("2026-01-01")
    typed = pd.Series(pd.array([dt.datetime(9999, 12, 31), dt.datetime(2026, 1, 1)], dtype="datetime64[us]"))
    out, bad = parse_dates(typed, "UTC")
    assert list(bad) == [True, False] and out.dtype == np.dtype("datetime64[ns]")


def test_parsers_do_not_change_their_input():
    s = pd.Series([dt.datetime(1, 1, 1), "2026-06-18", 45826], dtype=object)
    before = s.copy()
    parse_timestamps(s, LA)
    pd.testing.assert_series_equal(s, before)


def test_mostly_iso_column_with_a_few_other_styles():
    """The whole-column ISO pass, then the other layouts only on what is left: same answers."""
    iso = pd.date_range("2026-01-01", periods=5000, freq="37min")
    texts = pd.Series(iso.strftime("%Y-%m-%dT%H:%M:%S"), dtype="string")
    texts.iloc[10] = iso[10].strftime("%m/%d/%Y %I:%M %p")
    texts.iloc[20] = "2024-13-45"
    texts.iloc[30] = ""
    out, bad = parse_timestamps(texts, LA)
    assert bad.tolist() == [i == 20 for i in range(5000)]
    expected = pd.Series(iso.tz_localize(LA, ambiguous=True, nonexistent="NaT"))
    keep = ~pd.Series(range(5000)).isin([20, 30]) & expected.notna()
    assert (out[keep] == expected[keep]).all()
    assert pd.isna(out.iloc[30])


def test_object_cells_of_mixed_kinds_are_placed_by_kind():
    """A parquet or xlsx object column: dates and naive datetimes are wall clock, aware ones
    instants, Excel serials dates, out-of-range dates and unreadable text bad, in one pass."""
    import datetime as dt

    from ownercomm_kit.formats import parsers

    s = pd.Series(
        [
            dt.date(2024, 1, 5),
            dt.datetime(2024, 3, 10, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=5))),
            45826.4375,
            dt.date(3000, 1, 1),
            None,
            "2024-01-02",
            "soon",
        ],
        dtype=object,
    )
    naive, aware, bad = parsers._parse(s)
    assert naive[0] == pd.Timestamp("2024-01-05") and naive[2] == pd.Timestamp("2025-06-18 10:30")
    assert naive[5] == pd.Timestamp("2024-01-02")
    assert aware[1] == pd.Timestamp("2024-03-10 03:30", tz="UTC") and aware.notna().sum() == 1
    assert bad.tolist() == [False, False, False, True, False, False, True]
