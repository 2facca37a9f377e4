"""Dealer exports in vendor-like shapes, written from one canonical dealer (issue 7 tests).

``write_clean(folder, tables)`` writes the canonical twin (canonical file names, headers and
values, UTF-8, ISO dates). ``write_shape(folder, tables, shape)`` writes the same data the
way a DMS or CRM exports it: other file names and headers, other enum words, another
encoding, separator, date style and yes/no words, or Excel workbooks, or typed parquet.
Tables are DataFrames of canonical text cells ("" = empty), so any dealer (hand-made, or
synthetic through ``tables_from_data``) can be written in every shape.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ownercomm_kit import schema

# ------------------------------------------------------------------ a small hand-made dealer


def hand_dealer() -> dict[str, pd.DataFrame]:
    """Every table and column, non-ASCII names, every enum value at least once per column."""
    c = pd.DataFrame(
        {
            "customer_id": ["1001", "1002", "1003", "1004", "1005", "1006"],
            "first_name": ["Cára", "Zoë", "François", "Bob", "Ana", "Lee"],
            "last_name": ["Núñez", "Ångström", "Dubœuf", "Smith", "Peña", "O'Brien"],
            "email": [
                "cara@example.com",
                "zoe@example.com",
                "",
                "bob@example.com",
                "ana@example.com",
                "lee@example.com",
            ],
            "phone": ["(714) 555-0100", "714-555-0101", "714.555.0102", "", "7145550104", "(714) 555-0105"],
            "postal_code": ["02134", "92780", "92781", "92782", "", "92784"],
            "state": ["MA", "CA", "CA", "CA", "", "CA"],
            "timezone": ["America/Los_Angeles", "America/Chicago", "", "America/Los_Angeles", "", "America/Denver"],
            "birth_date": ["1980-02-29", "1975-06-18", "", "1990-12-31", "1966-01-01", "2001-07-04"],
            "preferred_channel": ["sms", "email", "phone", "mail", "", "email"],
            "email_opt_in": ["true", "false", "", "true", "true", "false"],
            "sms_consent": ["true", "false", "true", "", "false", "true"],
            "phone_dnc": ["false", "true", "false", "false", "", "false"],
            "mail_opt_out": ["false", "false", "true", "", "false", "false"],
            "household_id": ["H1", "H1", "H2", "", "H3", "H4"],
        }
    )
    v = pd.DataFrame(
        {
            "vin": ["1HGCM82633A004352", "2T1BURHE0JC012345", "JTDKN3DU0A0123456", "5YJ3E1EA7KF123456"],
            "customer_id": ["1001", "1002", "1004", "1006"],
            "make": ["Honda", "Toyota", "Toyota", "Tesla"],
            "model": ["Accord", "Corolla", "Prius", "Model 3"],
            "model_year": ["2021", "2018", "2010", ""],
            "warranty_end": ["2026-07-31", "2023-01-15", "", "2027-03-01"],
        }
    )
    s = pd.DataFrame(
        {
            "sale_id": ["D1", "D2", "D3"],
            "customer_id": ["1001", "1002", "1006"],
            "sale_date": ["2026-05-20", "2025-11-02", "2026-06-01"],
            "vin": ["1HGCM82633A004352", "2T1BURHE0JC012345", "5YJ3E1EA7KF123456"],
            "model": ["Accord", "Corolla", "Model 3"],
            "new_used": ["new", "used", "new"],
            "price": ["31000.5", "18500", "41990"],
            "salesperson": ["Renée Côté", "Sam", ""],
            "products": ["GAP;Tire & Wheel", "", "Service Contract"],
        }
    )
    sv = pd.DataFrame(
        {
            "ro_id": ["R1", "R2", "R3", "R4", "R5"],
            "customer_id": ["1001", "1002", "1003", "1004", "1006"],
            "visit_date": ["2026-06-01", "2026-05-28", "2026-04-10", "2026-06-10", "2026-03-03"],
            "vin": ["1HGCM82633A004352", "2T1BURHE0JC012345", "", "JTDKN3DU0A0123456", "5YJ3E1EA7KF123456"],
            "pay_type": ["customer", "warranty", "internal", "customer", ""],
            "amount": ["89.95", "0", "1200", "45", "310.4"],
            "service_type": ["maintenance", "repair", "recall", "tires", "other"],
            "mileage": ["12000", "45210", "", "88000", "15000"],
        }
    )
    a = pd.DataFrame(
        {
            "appointment_id": ["A1", "A2", "A3", "A4"],
            "customer_id": ["1001", "1002", "1004", "1005"],
            "booked_at": ["2026-05-25 09:15", "2026-05-20 14:00", "2026-06-05 08:30", "2026-06-12 17:45"],
            "scheduled_for": ["2026-06-01 08:00", "2026-05-28 10:30", "2026-06-10 13:00", "2026-06-25 09:00"],
            "status": ["kept", "no_show", "cancelled", "scheduled"],
            "vin": ["1HGCM82633A004352", "", "JTDKN3DU0A0123456", ""],
            "source": ["web", "phone", "", "walk-in"],
        }
    )
    m = pd.DataFrame(
        {
            "message_id": [f"M{i}" for i in range(1, 14)],
            "customer_id": [
                "1001",
                "1001",
                "1001",
                "1002",
                "1002",
                "1003",
                "1004",
                "1004",
                "1005",
                "1006",
                "1006",
                "1001",
                "1002",
            ],
            "sent_at": [
                "2026-06-02 10:00",
                "2026-06-05 22:30",
                "2026-06-18 07:15",
                "2026-05-29 12:00",
                "2026-06-03 12:00",
                "2026-06-10 09:00",
                "2026-06-11 18:20",
                "2026-06-12 18:20",
                "2026-06-13 11:11",
                "2026-06-03 15:00",
                "2026-06-04 15:00",
                "2026-06-06 10:00",
                "2026-06-15 13:45",
            ],
            "channel": [
                "email",
                "sms",
                "sms",
                "email",
                "phone",
                "mail",
                "email",
                "sms",
                "phone",
                "email",
                "email",
                "email",
                "mail",
            ],
            "sender": [
                "service",
                "dealer",
                "oem",
                "sales",
                "fi",
                "oem",
                "service",
                "service",
                "dealer",
                "oem",
                "sales",
                "oem",
                "dealer",
            ],
            "category": [
                "service_reminder",
                "offer",
                "sales_promo",
                "conquest",
                "birthday",
                "anniversary",
                "warranty",
                "recall",
                "survey",
                "offer",
                "newsletter",
                "referral",
                "event",
            ],
            "campaign_id": ["C1", "C2", "C3", "", "C5", "C6", "C7", "C8", "", "C10", "C11", "C12", "C13"],
            "vin": ["1HGCM82633A004352", "", "", "", "", "", "", "", "", "5YJ3E1EA7KF123456", "", "", ""],
            "model": ["", "Accord", "", "", "", "", "", "", "", "Model 3", "", "", ""],
            "offer_price": ["", "29500", "", "", "", "", "", "", "", "39990", "", "", ""],
            "status": [
                "delivered",
                "delivered",
                "bounced",
                "failed",
                "",
                "delivered",
                "delivered",
                "delivered",
                "",
                "delivered",
                "delivered",
                "delivered",
                "",
            ],
            "opened_at": ["2026-06-02 11:00", "", "", "", "", "", "2026-06-11 19:00", "", "", "", "", "", ""],
            "clicked_at": ["2026-06-02 11:05", "", "", "", "", "", "", "", "", "", "", "", ""],
            "responded_at": ["", "2026-06-05 22:45", "", "", "", "", "", "", "", "", "", "", ""],
            "unsubscribed": [
                "false",
                "true",
                "false",
                "",
                "false",
                "false",
                "false",
                "false",
                "",
                "false",
                "false",
                "false",
                "",
            ],
        }
    )
    le = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3"],
            "customer_id": ["1002", "1005", "1006"],
            "opened_at": ["2026-05-01 10:00", "2026-06-01 12:00", "2026-05-15 09:00"],
            "closed_at": ["2026-06-10 16:00", "", "2026-06-01 11:00"],
            "outcome": ["lost", "", "sold"],
            "source": ["web", "walk-in", ""],
        }
    )
    r = pd.DataFrame(
        {
            "referral_id": ["F1", "F2", "F3", "F4", "F5"],
            "referrer_id": ["1001", "1001", "1002", "1006", "1004"],
            "referred_at": [
                "2026-05-01 10:00",
                "2026-05-20 10:00",
                "2026-06-01 08:00",
                "2026-03-10 09:00",
                "2026-06-14 20:00",
            ],
            "referred_name": ["Mía Gómez", "Tom", "Kim", "Jo", "Élodie"],
            "referred_email": ["mia@example.com", "", "kim@example.com", "", "elodie@example.com"],
            "referred_phone": ["714-555-0200", "", "", "714-555-0203", ""],
            "referred_customer_id": ["1006", "", "", "", ""],
            "incentive_category": ["transactional", "experiential", "recognition", "altruistic", ""],
            "reward_value": ["100", "50", "0", "25", ""],
            "status": ["sold", "contacted", "appointment", "lost", "new"],
            "first_contact_at": ["2026-05-01 15:00", "2026-05-22 10:00", "2026-06-01 09:00", "", ""],
            "sold_at": ["2026-06-01 11:00", "", "", "", ""],
            "sale_id": ["D3", "", "", "", ""],
            "acknowledged_at": ["2026-06-03 10:00", "", "", "", ""],
        }
    )
    dw = pd.DataFrame(
        {
            "ro_id": ["R1", "R1", "R2"],
            "customer_id": ["1001", "1001", "1004"],
            "declined_at": ["2026-05-10 09:30", "2026-05-10 09:30", "2026-06-02 16:45"],
            "vin": ["1HGCM82633A004352", "1HGCM82633A004352", ""],
            "description": ["Front brake pads", "Wiper blades", "Four tires"],
            "amount": ["420.5", "45", ""],
        }
    )
    return {
        "customers": c,
        "vehicles": v,
        "sales": s,
        "service_visits": sv,
        "appointments": a,
        "communications": m,
        "leads": le,
        "referrals": r,
        "declined_work": dw,
    }


# ------------------------------------------------------------------ writing


def write_clean(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """The canonical twin: ``<table>.csv``, canonical headers and values, UTF-8, ISO dates."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    return folder


@dataclass
class Shape:
    """How one vendor exports: names, headers, words, encoding, separator, date style."""

    name: str
    files: dict[str, str]  # table -> file name (xlsx: "book.xlsx#Sheet")
    headers: dict[str, dict[str, str]]  # table -> canonical column -> their header
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # "table.column" -> canonical -> theirs
    encoding: str = "utf-8"
    sep: str = ","
    newline: str = "\n"
    date: str = "%Y-%m-%d"
    timestamp: str = "%Y-%m-%d %H:%M"
    yes_no: tuple[str, str] = ("true", "false")
    money: str = "{}"  # how prices and amounts are written
    excel_dates: str = "datetime"  # xlsx: "datetime" cells or "serial" numbers


def _kinds(table: str) -> dict[str, schema.Column]:
    return {c.name: c for c in schema.TABLES[table].columns}


def to_vendor(table: str, df: pd.DataFrame, shape: Shape, *, for_excel: bool = False) -> pd.DataFrame:
    """One canonical table in a shape's words and formats (still text; Excel cells typed later)."""
    cols = _kinds(table)
    out = {}
    for name in df.columns:
        col = cols[name]
        cells = df[name].astype(str)
        words = shape.values.get(f"{table}.{name}")
        if words:
            cells = cells.map(lambda v: words.get(v, v) if v else v)
        if col.kind in ("date", "timestamp") and not for_excel:
            fmt = shape.date if col.kind == "date" else shape.timestamp
            cells = cells.map(lambda v: pd.Timestamp(v).strftime(fmt) if v else "")
        if col.kind == "bool" and not for_excel:
            cells = cells.map(lambda v: {"true": shape.yes_no[0], "false": shape.yes_no[1]}.get(v, v))
        if col.kind == "float" and not for_excel:
            cells = cells.map(lambda v: shape.money.format(f"{float(v):,.2f}") if v else "")
        out[shape.headers.get(table, {}).get(name, name)] = cells
    return pd.DataFrame(out)


def write_shape(folder: Path, tables: dict[str, pd.DataFrame], shape: Shape) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    books: dict[str, list[tuple[str, str, pd.DataFrame]]] = {}
    for table, df in tables.items():
        file = shape.files[table]
        if ".xlsx" in file:
            book, _, sheet = file.partition("#")
            books.setdefault(book, []).append((sheet or "Sheet1", table, df))
            continue
        if file.endswith(".parquet"):  # typed columns, as a BI tool writes them
            vendor = to_vendor(table, df, shape, for_excel=True)
            kinds = [_kinds(table)[c] for c in df.columns]
            typed = {
                h: pd.Series([_excel_cell(v, k, shape) for v in vendor[h]], dtype=object)
                for h, k in zip(vendor.columns, kinds)
            }
            pd.DataFrame(typed).to_parquet(folder / file, index=False)
            continue
        vendor = to_vendor(table, df, shape)
        with open(folder / file, "w", encoding=shape.encoding, newline="") as f:
            w = csv.writer(f, delimiter=shape.sep, lineterminator=shape.newline)
            w.writerow(vendor.columns)
            w.writerows(vendor.itertuples(index=False, name=None))
    for book, sheets in books.items():
        _write_book(folder / book, sheets, shape)
    return folder


def _write_book(path: Path, sheets: list[tuple[str, str, pd.DataFrame]], shape: Shape) -> None:
    """Cells typed as Excel types them: numbers, TRUE/FALSE, dates (datetime cells or serials)."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet, table, df in sheets:
        ws = wb.create_sheet(sheet)
        vendor = to_vendor(table, df, shape, for_excel=True)
        ws.append(list(vendor.columns))
        kinds = [_kinds(table)[c] for c in df.columns]
        for rec in vendor.itertuples(index=False, name=None):
            ws.append([_excel_cell(v, k, shape) for v, k in zip(rec, kinds)])
    wb.save(path)


def _excel_cell(value: str, col: schema.Column, shape: Shape):
    if value == "":
        return None
    if col.kind in ("date", "timestamp"):
        ts = pd.Timestamp(value).to_pydatetime()
        if shape.excel_dates == "serial":
            return (ts - dt.datetime(1899, 12, 30)).total_seconds() / 86400
        return ts
    if col.kind == "bool":
        return value == "true"
    if col.kind in ("float", "int"):
        return float(value) if col.kind == "float" else int(value)
    if col.kind == "id" and value.isdigit() and not value.startswith("0"):
        return int(value)  # DMS ids arrive as numbers in Excel
    return value


# ------------------------------------------------------------------ the shapes

DMS_HEADERS = {
    "customers": {
        "customer_id": "Cust No",
        "first_name": "First Name",
        "last_name": "Last Name",
        "email": "E-Mail Address",
        "phone": "Cell Phone",
        "postal_code": "Zip Code",
        "state": "State",
        "timezone": "Time Zone",
        "birth_date": "DOB",
        "preferred_channel": "Preferred Contact Method",
        "email_opt_in": "Opt-In Email",
        "sms_consent": "Text OK",
        "phone_dnc": "Do Not Call",
        "mail_opt_out": "Do Not Mail",
        "household_id": "Household #",
    },
    "vehicles": {
        "vin": "VIN",
        "customer_id": "Owner Cust No",
        "make": "Make",
        "model": "Model",
        "model_year": "Year",
        "warranty_end": "Warranty Exp Date",
    },
    "sales": {
        "sale_id": "Deal #",
        "customer_id": "Buyer Cust No",
        "sale_date": "Contract Date",
        "vin": "VIN",
        "model": "Model",
        "new_used": "N/U",
        "price": "Selling Price",
        "salesperson": "Salesperson 1",
        "products": "F&I Products",
    },
    "service_visits": {
        "ro_id": "RO #",
        "customer_id": "Cust #",
        "visit_date": "RO Close Date",
        "vin": "VIN",
        "pay_type": "Pay Type",
        "amount": "RO Total",
        "service_type": "Job Type",
        "mileage": "Odometer",
    },
    "appointments": {
        "appointment_id": "Appt #",
        "customer_id": "Customer Number",
        "booked_at": "Date Booked",
        "scheduled_for": "Appt Date/Time",
        "status": "Appt Status",
        "vin": "VIN",
        "source": "Booking Source",
    },
    "communications": {
        "message_id": "Msg ID",
        "customer_id": "Cust No",
        "sent_at": "Sent Date/Time",
        "channel": "Medium",
        "sender": "Sent By",
        "category": "Campaign Type",
        "campaign_id": "Campaign Code",
        "vin": "VIN",
        "model": "Vehicle Model",
        "offer_price": "Offer Price",
        "status": "Delivery Status",
        "opened_at": "Opened",
        "clicked_at": "Clicked",
        "responded_at": "Responded",
        "unsubscribed": "Unsubscribed",
    },
    "leads": {
        "lead_id": "Opportunity ID",
        "customer_id": "Customer Number",
        "opened_at": "Created Date",
        "closed_at": "Closed Date",
        "outcome": "Lead Status",
        "source": "Lead Source",
    },
    "referrals": {
        "referral_id": "Referral #",
        "referrer_id": "Referred By",
        "referred_at": "Referral Date",
        "referred_name": "Friend Name",
        "referred_email": "Friend Email",
        "referred_phone": "Friend Phone",
        "referred_customer_id": "Referred Cust No",
        "incentive_category": "Reward Type",
        "reward_value": "Reward Amount",
        "status": "Referral Status",
        "first_contact_at": "First Contact Date",
        "sold_at": "Sold Date",
        "sale_id": "Deal #",
        "acknowledged_at": "Thank You Sent",
    },
    "declined_work": {
        "ro_id": "RO #",
        "customer_id": "Cust No",
        "declined_at": "Declined Date",
        "vin": "VIN",
        "description": "Declined Op",
        "amount": "Decline Amount",
    },
}
DMS_VALUES = {
    "customers.preferred_channel": {"email": "E-mail", "sms": "Text", "phone": "Phone Call", "mail": "Direct Mail"},
    "communications.channel": {"email": "E-mail", "sms": "Text", "phone": "Phone Call", "mail": "Direct Mail"},
    "communications.sender": {
        "oem": "Manufacturer",
        "sales": "Sales Dept",
        "dealer": "Marketing",
        "service": "Service Dept",
        "fi": "F&I",
    },
    "communications.category": {
        "service_reminder": "Service Reminder",
        "offer": "Special Offer",
        "sales_promo": "Promotion",
        "conquest": "Conquest Campaign",
        "birthday": "Happy Birthday",
        "anniversary": "Purchase Anniversary",
        "warranty": "Warranty Expiration",
        "recall": "Safety Recall",
        "survey": "CSI Survey",
        "newsletter": "eNewsletter",
        "referral": "Refer a Friend",
        "event": "Invitation",
        "transactional": "Confirmation",
    },
    "communications.status": {"delivered": "Delivered", "bounced": "Hard Bounce", "failed": "Error"},
    "appointments.status": {"scheduled": "Open", "kept": "Showed", "no_show": "NS", "cancelled": "Cxl"},
    "service_visits.pay_type": {"customer": "C", "warranty": "W", "internal": "I"},
    "service_visits.service_type": {
        "maintenance": "LOF",
        "repair": "Mechanical",
        "recall": "Safety Recall",
        "tires": "Tire",
        "other": "Misc",
    },
    "sales.new_used": {"new": "N", "used": "U"},
    "leads.outcome": {"sold": "Won", "lost": "Dead"},
    "referrals.incentive_category": {
        "transactional": "Gift Card",
        "experiential": "Event Tickets",
        "recognition": "Wall of Fame",
        "altruistic": "Charity",
    },
    "referrals.status": {
        "new": "Submitted",
        "contacted": "Working",
        "appointment": "Appt Set",
        "sold": "Won",
        "lost": "Dead",
    },
}

DMS = Shape(
    "dms",
    files={
        "customers": "customer_master.csv",
        "vehicles": "Vehicle Master.csv",
        "sales": "Deal History.csv",
        "service_visits": "ROs.csv",
        "appointments": "Service Appts.csv",
        "communications": "msg_export.csv",
        "leads": "Opportunities.csv",
        "referrals": "Refer a Friend.csv",
        "declined_work": "Declined Services.csv",
    },
    headers=DMS_HEADERS,
    values=DMS_VALUES,
    encoding="cp1252",
    sep=";",
    newline="\r\n",
    date="%m/%d/%Y",
    timestamp="%m/%d/%Y %I:%M %p",
    yes_no=("Y", "N"),
    money="${}",
)

CRM = Shape(
    "crm",
    files={
        "customers": "Contacts.txt",
        "vehicles": "Garage.tsv",
        "sales": "Sales.txt",
        "service_visits": "Service History.txt",
        "appointments": "Appointments.txt",
        "communications": "Activities.txt",
        "leads": "Leads.txt",
        "referrals": "Referrals.txt",
        "declined_work": "Declined Recommendations.txt",
    },
    headers={
        "customers": {
            "customer_id": "Contact ID",
            "first_name": "FirstName",
            "last_name": "LastName",
            "email": "Email Address",
            "phone": "Mobile",
            "postal_code": "Postal Code",
            "state": "State/Province",
            "timezone": "TZ",
            "birth_date": "Birthday",
            "preferred_channel": "Contact Preference",
            "email_opt_in": "Email Opt In",
            "sms_consent": "SMS Opt In",
            "phone_dnc": "DNC",
            "mail_opt_out": "Mail Opt Out",
            "household_id": "Household ID",
        },
        "vehicles": {
            "customer_id": "Contact ID",
            "make": "Vehicle Make",
            "model": "Vehicle Model",
            "model_year": "Model Year",
            "warranty_end": "Warranty Expiration",
        },
        "sales": {
            "sale_id": "Deal ID",
            "customer_id": "Contact ID",
            "sale_date": "Sold Date",
            "new_used": "New/Used",
            "price": "Sale Price",
            "salesperson": "Sales Rep",
            "products": "FI Products",
        },
        "service_visits": {
            "ro_id": "Repair Order",
            "customer_id": "Contact ID",
            "visit_date": "Service Date",
            "pay_type": "Payment Type",
            "amount": "Invoice Total",
            "service_type": "Service Category",
            "mileage": "Mileage",
        },
        "appointments": {
            "appointment_id": "Appointment ID",
            "customer_id": "Contact ID",
            "booked_at": "Created",
            "scheduled_for": "Appointment Date",
            "status": "Result",
            "source": "Source",
        },
        "communications": {
            "message_id": "Activity ID",
            "customer_id": "Contact ID",
            "sent_at": "Sent",
            "channel": "Type",
            "sender": "Department",
            "category": "Purpose",
            "campaign_id": "Campaign",
            "status": "Send Status",
            "opened_at": "Opened At",
            "clicked_at": "Click Date",
            "responded_at": "Response Date",
            "unsubscribed": "Opted Out",
        },
        "leads": {
            "lead_id": "Lead ID",
            "customer_id": "Contact ID",
            "opened_at": "Lead Date",
            "closed_at": "Close Date",
            "outcome": "Outcome",
        },
        "referrals": {
            "referral_id": "Referral ID",
            "referrer_id": "Referrer",
            "referred_at": "Submitted",
            "referred_name": "Referral Name",
            "referred_email": "Referral Email",
            "referred_phone": "Referral Phone",
            "incentive_category": "Incentive Type",
            "reward_value": "Reward",
            "status": "Stage",
            "first_contact_at": "First Contact",
            "acknowledged_at": "Thanked At",
        },
        "declined_work": {
            "ro_id": "Repair Order",
            "customer_id": "Contact ID",
            "declined_at": "Date Declined",
            "description": "Recommendation",
            "amount": "Estimate",
        },
    },
    values={
        "customers.preferred_channel": {"email": "Email", "sms": "SMS", "phone": "Call", "mail": "Mail"},
        "communications.channel": {"email": "Email", "sms": "SMS", "phone": "Call", "mail": "Mail"},
        "communications.sender": {
            "oem": "OEM",
            "sales": "Sales",
            "dealer": "Dealer",
            "service": "Service",
            "fi": "Finance",
        },
        "communications.category": {
            "service_reminder": "Maintenance Reminder",
            "sales_promo": "Sales Promo",
            "newsletter": "Newsletter",
        },
        "appointments.status": {"kept": "Completed", "no_show": "No Show", "cancelled": "Canceled"},
        "service_visits.pay_type": {"customer": "Customer Pay", "warranty": "Warranty", "internal": "Internal"},
        "sales.new_used": {"used": "Pre-Owned"},
    },
    encoding="utf-8-sig",
    sep="\t",
    date="%Y-%m-%d",
    timestamp="%Y-%m-%dT%H:%M:%S",
    yes_no=("Yes", "No"),
)

_SHEETS = {
    "customers": "Customers",
    "vehicles": "Vehicles",
    "sales": "Deals",
    "service_visits": "Service History",
    "appointments": "Appts",
    "communications": "Messages",
    "leads": "Opportunities",
    "referrals": "Referrals",
    "declined_work": "Declined Work",
}
EXCEL_BOOK = Shape(
    "excel_book",
    files={t: f"dealertrack_export.xlsx#{s}" for t, s in _SHEETS.items()},
    headers=DMS_HEADERS,
    values=DMS_VALUES,
    excel_dates="datetime",
)
EXCEL_FILES = Shape(
    "excel_files",
    files={t: f"{s} Export.xlsx" for t, s in _SHEETS.items()},
    headers=CRM.headers,
    values=CRM.values,
    excel_dates="datetime",
)
PARQUET = Shape(
    "parquet",
    files={t: f"{s.lower().replace(' ', '_')}.parquet" for t, s in _SHEETS.items()},
    headers=DMS_HEADERS,
    values=DMS_VALUES,
)
SHAPES = {s.name: s for s in (DMS, CRM, EXCEL_BOOK, EXCEL_FILES, PARQUET)}


def tables_from_data(data, *, minutes: bool = True) -> dict[str, pd.DataFrame]:
    """A loaded DealerData back to canonical text tables (e.g. a synthetic dealer), timestamps
    as wall-clock time in the dealer's zone (to the minute: what US exports keep)."""
    out = {}
    for name, table in schema.TABLES.items():
        if name in data.missing_tables:
            continue
        df = data[name]
        cols = {}
        for col in table.columns:
            if col.name in data.missing_columns.get(name, []):
                continue
            s = df[col.name]
            if col.kind == "timestamp":
                local = s.dt.tz_convert(data.timezone).dt.tz_localize(None)
                text = local.dt.floor("min").dt.strftime("%Y-%m-%d %H:%M" if minutes else "%Y-%m-%d %H:%M:%S")
            elif col.kind == "date":
                text = s.dt.strftime("%Y-%m-%d")
            elif col.kind == "bool":
                text = s.map({True: "true", False: "false"}, na_action="ignore")
            elif col.kind == "float":
                text = s.map(repr, na_action="ignore")
            else:
                text = s.astype("string")
            cols[col.name] = text.astype(object).where(text.notna(), "").astype(str)
        out[name] = pd.DataFrame(cols)
    return out


def cp1252_only(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Text a Windows-1252 export can carry: other characters lose their accents ("ạ" -> "a"),
    as a DMS would have stored them; "Cára" and "Zoë" stay as they are."""
    import unicodedata

    def fix(text: str) -> str:
        try:
            text.encode("cp1252")
            return text
        except UnicodeEncodeError:
            return "".join(
                ch if _cp1252(ch) else unicodedata.normalize("NFKD", ch).encode("cp1252", "ignore").decode("cp1252")
                for ch in text
            )

    return {name: df.map(fix) for name, df in tables.items()}


def _cp1252(ch: str) -> bool:
    try:
        ch.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False
