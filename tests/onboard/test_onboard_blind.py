"""Issue 17 item 5: a vendor export the repository has never seen, onboarded blind, yields the
same flags as its canonical copy.

Each case is drawn from a seed: a synthetic dealer (its own time zone and customers), every
canonical column renamed to a random realistic vendor header (many of which no synonym list
knows, e.g. "Cust Email Addr", "Mobile #", "RO Close Dt", "Veh Ident No", "Txt OK?"), written
in a random header style (Title Case, UPPER_SNAKE, camelCase), random vendor words for the enum
values, US dates with AM/PM, money as "$1,234.50", yes/no as Y/N, Yes/No or 1/0, a random
encoding and separator. Onboarding must map every column the audit reads, account for every
other one, and keep the consultant's edits on a re-run.
"""

from __future__ import annotations

import functools
import random
import re

import pandas as pd
import pytest
import yaml
from helpers.onboard import Shape, cp1252_only, tables_from_data, write_clean, write_shape

from ownercomm_kit import onboard as ob
from ownercomm_kit import params
from ownercomm_kit.audit import run_rules
from ownercomm_kit.data import from_frames
from ownercomm_kit.loader import load_data_dir, load_dealer
from ownercomm_kit.synth import generate_dealer

pytestmark = pytest.mark.slow

# Headers real exports use, several per column; a case draws one of each.
VENDOR_HEADERS = {
    "customers": {
        "customer_id": ["Cust No", "Customer Nbr", "Cust Acct #", "CustomerKey", "Owner Acct"],
        "first_name": ["First Name", "Cust First Nm", "FName", "Given Name"],
        "last_name": ["Last Name", "Cust Last Nm", "LName", "Surname"],
        "email": ["Cust Email Addr", "E-Mail 1", "Primary Email", "Email Address Home", "Contact Email"],
        "phone": ["Mobile #", "Cell Ph Nbr", "Phone Cell", "Best Contact Phone", "Mobile Phone No"],
        "postal_code": ["Zip", "Zip Cd", "Postal", "Mailing Zip", "Addr Zip5"],
        "state": ["State", "St", "Addr State", "Mailing St", "Province/State"],
        "timezone": ["Time Zone", "TZ", "Cust Time Zone", "Local TZ"],
        "birth_date": ["DOB", "Birth Dt", "Date of Birth", "Birthday"],
        "preferred_channel": ["Preferred Contact Method", "Pref Contact", "Contact Pref", "Best Way To Reach"],
        "email_opt_in": ["Email OK?", "Opt-In Email", "Email Permission", "EmailOptIn Flag"],
        "sms_consent": ["Txt OK?", "Text Consent", "SMS Opt In", "Texting Allowed"],
        "phone_dnc": ["Do Not Call", "DNC Flag", "Phone DNC", "No Calls"],
        "mail_opt_out": ["Do Not Mail", "Mail Opt Out", "No Mail Flag", "DNM"],
        "household_id": ["Household #", "HH ID", "Household Key", "Family Acct"],
    },
    "vehicles": {
        "vin": ["VIN", "Veh Ident No", "Vehicle ID Nbr", "Serial #"],
        "customer_id": ["Owner Cust No", "Owner #", "Cust No", "Registered Owner Key"],
        "make": ["Make", "Veh Make", "Manufacturer Name", "Mfr"],
        "model": ["Model", "Veh Model", "Model Desc", "Carline"],
        "model_year": ["Year", "Model Yr", "Veh Yr", "MY"],
        "warranty_end": ["Warranty Exp Date", "Warr Exp Dt", "Factory Warranty Ends", "Base Warr End"],
    },
    "sales": {
        "sale_id": ["Deal #", "Deal Nbr", "Contract No", "Sale Ref"],
        "customer_id": ["Buyer Cust No", "Buyer #", "Cust No", "Purchaser Key"],
        "sale_date": ["Contract Date", "Deal Dt", "Sold Dt", "Delivery Date"],
        "vin": ["VIN", "Veh Ident No", "Stock VIN", "Vehicle ID Nbr"],
        "model": ["Model", "Veh Model", "Model Desc", "Carline"],
        "new_used": ["N/U", "New/Used", "Veh Type NU", "Stock Type"],
        "price": ["Selling Price", "Sale Price Amt", "Cash Price", "Vehicle Price"],
        "salesperson": ["Salesperson 1", "Sales Rep", "Sold By", "Sls Person Name"],
        "products": ["F&I Products", "Aftermarket Products", "Backend Products", "Add-Ons Sold"],
    },
    "service_visits": {
        "ro_id": ["RO #", "RO Nbr", "Repair Order No", "Invoice #"],
        "customer_id": ["Cust #", "Cust No", "Customer Nbr", "Bill To Cust"],
        "visit_date": ["RO Close Dt", "Close Date", "RO Closed", "Date Closed"],
        "vin": ["VIN", "Veh Ident No", "Vehicle ID Nbr", "Serial #"],
        "pay_type": ["Pay Type", "Labor Type", "Payment Type", "Pay Cd"],
        "amount": ["RO Total", "Total Amt", "Invoice Total", "Cust Pay Total"],
        "service_type": ["Job Type", "Op Type", "Service Category", "Work Type"],
        "mileage": ["Odometer", "Miles In", "Odom Reading", "Mileage In"],
    },
    "appointments": {
        "appointment_id": ["Appt #", "Appt Nbr", "Appointment No", "Appt Key"],
        "customer_id": ["Customer Number", "Cust No", "Cust #", "Customer Nbr"],
        "booked_at": ["Date Booked", "Created On", "Booked Dt/Tm", "Appt Made"],
        "scheduled_for": ["Appt Date/Time", "Promised Time", "Scheduled Dt", "Appt Start"],
        "status": ["Appt Status", "Status", "Appt Result", "Show Status"],
        "vin": ["VIN", "Veh Ident No", "Vehicle ID Nbr"],
        "source": ["Booking Source", "Booked Via", "Appt Source", "Origin"],
    },
    "communications": {
        "message_id": ["Msg ID", "Message Key", "Touch #", "Activity ID"],
        "customer_id": ["Cust No", "Customer Nbr", "Recipient Cust #", "Cust #"],
        "sent_at": ["Sent Date/Time", "Send Dt", "Date Sent", "Delivered On"],
        "channel": ["Medium", "Channel", "Media Type", "Msg Channel"],
        "sender": ["Sent By", "Sender Dept", "Originating Dept", "From Dept"],
        "category": ["Campaign Type", "Msg Category", "Purpose", "Campaign Cat"],
        "campaign_id": ["Campaign Code", "Campaign #", "Cmpgn ID", "Program Cd"],
        "vin": ["VIN", "Veh Ident No", "Vehicle ID Nbr"],
        "model": ["Vehicle Model", "Model", "Veh Model", "Model Desc"],
        "offer_price": ["Offer Price", "Advertised Price", "Offer Amt", "Promo Price"],
        "status": ["Delivery Status", "Send Result", "Msg Status", "Delivery Result"],
        "opened_at": ["Opened", "Open Dt", "Date Opened", "First Open"],
        "clicked_at": ["Clicked", "Click Dt", "Date Clicked", "First Click"],
        "responded_at": ["Responded", "Reply Dt", "Response Date", "Replied On"],
        "unsubscribed": ["Unsubscribed", "Unsub Flag", "Opted Out?", "Unsub"],
    },
    "leads": {
        "lead_id": ["Opportunity ID", "Lead #", "Lead Nbr", "Opp Key"],
        "customer_id": ["Customer Number", "Cust No", "Prospect Cust #"],
        "opened_at": ["Created Date", "Lead Created", "Opened Dt", "Date Received"],
        "closed_at": ["Closed Date", "Lead Closed", "Closed Dt", "Date Closed"],
        "outcome": ["Lead Status", "Result", "Outcome", "Disposition"],
        "source": ["Lead Source", "Lead Provider", "Source Name", "Origin"],
    },
    "referrals": {
        "referral_id": ["Referral #", "Referral Nbr", "Ref ID", "Referral Key"],
        "referrer_id": ["Referred By", "Referrer Cust #", "Advocate ID", "Referring Cust"],
        "referred_at": ["Referral Date", "Referred On", "Date Referred", "Ref Dt"],
        "referred_name": ["Friend Name", "Referred Name", "Prospect Name", "Friend Full Name"],
        "referred_email": ["Friend Email", "Referred Email", "Prospect Email Addr", "Friend E-Mail"],
        "referred_phone": ["Friend Phone", "Referred Phone", "Prospect Mobile #", "Friend Cell"],
        "referred_customer_id": ["Referred Cust No", "Friend Cust #", "New Cust No", "Prospect Cust Key"],
        "incentive_category": ["Reward Type", "Incentive Type", "Reward Kind", "Thank You Gift Type"],
        "reward_value": ["Reward Amount", "Reward Amt", "Incentive Value", "Gift Value"],
        "status": ["Referral Status", "Ref Stage", "Status", "Stage"],
        "first_contact_at": ["First Contact Date", "First Contacted", "1st Contact Dt", "Contacted On"],
        "sold_at": ["Sold Date", "Sold Dt", "Date Sold", "Purchased On"],
        "sale_id": ["Deal #", "Deal Nbr", "Contract No"],
        "acknowledged_at": ["Thank You Sent", "Thanked On", "Ack Dt", "Acknowledged"],
    },
    "declined_work": {
        "ro_id": ["RO #", "RO Nbr", "Repair Order No"],
        "customer_id": ["Cust No", "Cust #", "Customer Nbr"],
        "declined_at": ["Declined Date", "Decline Dt", "Date Declined", "Declined On"],
        "vin": ["VIN", "Veh Ident No", "Vehicle ID Nbr"],
        "description": ["Declined Op", "Op Description", "Declined Service Desc", "Recommendation"],
        "amount": ["Decline Amount", "Est Amt", "Quoted Total", "Declined Amt"],
    },
}
FILES = {
    "customers": ["customer_master", "Cust Export", "CONTACTS"],
    "vehicles": ["Vehicle Master", "veh_master", "Garage"],
    "sales": ["Deal History", "SALES_DEALS", "Vehicle Sales"],
    "service_visits": ["ROs", "Closed ROs", "Service History"],
    "appointments": ["Service Appts", "APPTS", "Appointments Export"],
    "communications": ["msg_export", "Activity Log", "Campaign History"],
    "leads": ["Opportunities", "LEADS", "Sales Leads"],
    "referrals": ["Refer a Friend", "Referrals", "Advocates"],
    "declined_work": ["Declined Services", "Declined Ops", "Unsold Work"],
}
STYLES = ("as is", "upper snake", "camel")


def _styled(header: str, style: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+|#|\?|&|/", header)
    if style == "upper snake":
        return "_".join(w.upper() for w in words if w not in "?/") or header
    if style == "camel":
        return "".join(w[:1].upper() + w[1:] for w in words if w not in "?/") or header
    return header


def vendor_shape(seed: int) -> Shape:
    """A random vendor: its headers, header style, enum words, encoding, separator and formats."""
    rng = random.Random(seed)
    style = rng.choice(STYLES)
    headers = {}
    for table, cols in VENDOR_HEADERS.items():
        picked = {col: _styled(rng.choice(names), style) for col, names in cols.items()}
        # The same id across tables keeps one name, as one DMS writes it; within a table names are unique.
        seen: set[str] = set()
        for col, h in picked.items():
            while ob.name_key(h) in seen:
                h = f"{h} {col.split('_')[0].title()}"
            seen.add(ob.name_key(h))
            picked[col] = h
        headers[table] = picked
    values = {}
    for ref, canon in ob.synonyms()["values"].items():
        if ref == "customers.state":
            continue
        words = {}
        for value in canon:
            raw = _raw_value_names(ref, value)
            words[value] = rng.choice(raw)
        if len({ob.name_key(w) for w in words.values()}) == len(words):  # one word per value
            values[ref] = words
    suffix = rng.choice([".csv", ".txt"])
    files = {t: rng.choice(names) + suffix for t, names in FILES.items()}
    encoding, sep = rng.choice([("cp1252", ";"), ("utf-8-sig", ","), ("utf-8", "\t"), ("cp1252", "|")])
    return Shape(
        f"vendor{seed}",
        files=files,
        headers=headers,
        values=values,
        encoding=encoding,
        sep=sep,
        newline=rng.choice(["\r\n", "\n"]),
        date=rng.choice(["%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d"]),
        timestamp=rng.choice(["%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M"]),
        yes_no=rng.choice([("Y", "N"), ("Yes", "No"), ("1", "0"), ("TRUE", "FALSE")]),
        money=rng.choice(["${}", "{}", "$ {}"]),
    )


@functools.cache
def _synonyms_doc() -> dict:
    return yaml.safe_load(ob.SYNONYMS_FILE.read_text(encoding="utf-8"))


def _raw_value_names(ref: str, value: str) -> list[str]:
    """The words vendors write for one enum value (assets/synonyms.yaml), in export casing."""
    doc = _synonyms_doc()
    return [w.title() if len(w) > 3 else w.upper() for w in [value.replace("_", " "), *doc["values"][ref][value]]]


def _flags(data, folder, tz):
    p = params.resolve({"dealer_id": "X", "data_dir": str(folder), "timezone": tz})
    flags, skipped = run_rules(data, p)
    return flags.sort_values(["message_id", "rule"]).reset_index(drop=True), skipped


CASES = [
    (1, "America/Chicago"),
    (2, "America/New_York"),
    (3, "America/Los_Angeles"),
    (4, "America/Denver"),
    (5, "America/Phoenix"),
    (6, "America/Chicago"),
]


@pytest.mark.parametrize("seed, tz", CASES)
def test_an_unseen_vendor_export_onboarded_blind_yields_the_canonical_flags(tmp_path, seed, tz):
    frames, _ = generate_dealer(f"V{seed}", 90, seed, timezone=tz)  # every SPEC §4 rule injected
    tables = cp1252_only(tables_from_data(from_frames(frames, timezone=tz)))
    clean_dir = write_clean(tmp_path / "clean", tables)
    shape = vendor_shape(seed)
    folder = write_shape(tmp_path / "vendor", tables, shape)
    out = tmp_path / "V.yaml"
    r = ob.onboard(folder, "V", timezone=tz, out=out)

    # Not a rename the synonym table already knows: some headers are new to it.
    known = ob.synonyms()["columns"]
    new = [(t, c) for t, cols in shape.headers.items() for c, h in cols.items() if ob.name_key(h) not in known[t][c]]
    assert len(new) >= 10, new

    # Every header of every export is read into a column or listed as unused with a guess.
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
    text = ob.summary(r)
    if r.onboarding.unused_columns:
        assert not re.search(r"\b0 things to decide\b|\bnothing to decide\b", text), text

    # Each canonical column in its place, so the audit gives the canonical copy's flags.
    got = {(c.table, c.column): c.source for c in r.onboarding.columns if c.source}
    wrong = {
        k: (got.get(k), shape.headers[k[0]][k[1]])
        for k in [(t, c) for t, df in tables.items() for c in df.columns]
        if got.get(k) != shape.headers[k[0]][k[1]]
    }
    assert not wrong, wrong
    data = load_dealer(params.resolve(dealer_file=out))
    assert [p for p in data.problems if p.level == "error"] == []
    clean = load_data_dir(clean_dir, timezone=tz)
    expected, skipped = _flags(clean, clean_dir, tz)
    flags, got_skipped = _flags(data, folder, tz)
    assert expected["rule"].nunique() >= 8
    pd.testing.assert_frame_equal(expected, flags)
    assert skipped == got_skipped


def test_a_rerun_keeps_the_consultants_edits(tmp_path):
    """The consultant corrects a guess with a comment and adds a rule override; onboarding again
    keeps both and otherwise writes the same file, and a third run changes nothing."""
    tz = "America/Chicago"
    frames, _ = generate_dealer("V9", 60, 9, timezone=tz)
    tables = tables_from_data(from_frames(frames, timezone=tz))
    shape = vendor_shape(9)
    folder = write_shape(tmp_path / "vendor", tables, shape)
    out = tmp_path / "V.yaml"
    ob.onboard(folder, "V", timezone=tz, out=out)
    first = out.read_text(encoding="utf-8")
    email = shape.headers["customers"]["email"]
    line = next(x for x in first.splitlines() if x.strip().startswith(f"{email}: email"))
    # Their own reading: the e-mail column is not to be used (null), and why; a rule override.
    edited = (
        first.replace(line, f"    {email}: null  # shared family inbox, checked with the dealer")
        + "rules:\n  cap_total:\n    windows:\n    - {days: 7, max: 2}\n"
    )
    out.write_text(edited, encoding="utf-8")
    ob.onboard(folder, "V", timezone=tz, out=out)
    again = out.read_text(encoding="utf-8")
    assert "# shared family inbox, checked with the dealer" in again
    doc = yaml.safe_load(again)
    assert doc["mapping"]["customers"][email] is None
    assert doc["rules"]["cap_total"]["windows"] == [{"days": 7, "max": 2}]
    # every other line as onboarding wrote it the first time
    kept = [x for x in first.splitlines() if email not in x]
    assert all(x in again.splitlines() for x in kept), [x for x in kept if x not in again.splitlines()]
    ob.onboard(folder, "V", timezone=tz, out=out)
    assert out.read_text(encoding="utf-8") == again  # a third run changes nothing
