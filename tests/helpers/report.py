"""A tiny dealer for the report tests: all eight tables, a few dozen rows, hostile names.

``tiny_frames()`` gives in-code tables for ``data.from_frames``; ``write_tiny_dealer(folder)``
writes them as CSV files plus a dealer file, for papermill runs of the notebooks.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

AS_OF = dt.date(2026, 6, 18)  # a Thursday
TIMEZONE = "America/Los_Angeles"
XSS_NAME = "<img src=x onerror=alert(1)>"
FORMULA_NAME = '=HYPERLINK("http://x","go")'
DEALER_NAME = "Tiny <b>Motors</b> & Sons"


def _ts(day: dt.date, hour: int = 10, minute: int = 0) -> str:
    return f"{day.isoformat()} {hour:02d}:{minute:02d}:00"


def tiny_frames(as_of: dt.date = AS_OF) -> dict[str, list[dict]]:
    a = as_of
    d = lambda n: a - dt.timedelta(days=n)  # noqa: E731
    customers = [
        dict(
            customer_id="C1",
            first_name="Ana",
            last_name="Lopez",
            email="ana.lopez@example.com",
            phone="(714) 555-0101",
            postal_code="92780",
            timezone=TIMEZONE,
            birth_date="1980-06-25",
            preferred_channel="email",
            email_opt_in=True,
            sms_consent=True,
            phone_dnc=False,
            mail_opt_out=False,
            household_id="H1",
        ),
        dict(
            customer_id="C2",
            first_name="Bo",
            last_name="Chen",
            email="bo@example.com",
            phone="714-555-0102",
            postal_code="92780",
            timezone="America/New_York",
            birth_date="1975-01-02",
            preferred_channel="sms",
            email_opt_in=True,
            sms_consent=False,
            phone_dnc=False,
            mail_opt_out=False,
            household_id="H2",
        ),
        dict(
            customer_id="C3",
            first_name=XSS_NAME,
            last_name="Doe",
            email="x@example.com",
            phone="714-555-0103",
            postal_code="92781",
            timezone=TIMEZONE,
            birth_date="1990-07-01",
            preferred_channel="phone",
            email_opt_in=True,
            sms_consent=True,
            phone_dnc=False,
            mail_opt_out=False,
            household_id="H3",
        ),
        dict(
            customer_id="C4",
            first_name="Eve",
            last_name=FORMULA_NAME,
            email="eve@example.com",
            phone="+1 714 555 0104",
            postal_code="92782",
            timezone=TIMEZONE,
            birth_date="1985-12-12",
            preferred_channel="email",
            email_opt_in=True,
            sms_consent=True,
            phone_dnc=True,
            mail_opt_out=False,
            household_id="H4",
        ),
        dict(
            customer_id="C5",
            first_name="Finn",
            last_name="Gray",
            email="finn@example.com",
            phone="714-555-0105",
            postal_code="92783",
            timezone=TIMEZONE,
            birth_date="1970-03-03",
            preferred_channel="mail",
            email_opt_in=False,
            sms_consent=None,
            phone_dnc=False,
            mail_opt_out=False,
            household_id="H5",
        ),
        dict(
            customer_id="C6",
            first_name="Gia",
            last_name="Hart",
            email="gia@example.com",
            phone="714-555-0106",
            postal_code="92784",
            timezone=TIMEZONE,
            birth_date="1995-06-30",
            preferred_channel="email",
            email_opt_in=True,
            sms_consent=True,
            phone_dnc=False,
            mail_opt_out=False,
            household_id="H1",
        ),
    ]
    vehicles = [
        dict(
            vin="V1", customer_id="C1", make="Toyota", model="Camry", model_year=2024, warranty_end=d(-40).isoformat()
        ),
        dict(
            vin="V2", customer_id="C2", make="Toyota", model="RAV4", model_year=2022, warranty_end=d(-400).isoformat()
        ),
        dict(
            vin="V3",
            customer_id="C3",
            make="Toyota",
            model="<b>Corolla</b>",
            model_year=2021,
            warranty_end=d(-10).isoformat(),
        ),
        dict(
            vin="V4", customer_id="C4", make="Toyota", model="Tacoma", model_year=2020, warranty_end=d(100).isoformat()
        ),
        dict(
            vin="V5", customer_id="C6", make="Toyota", model="Prius", model_year=2025, warranty_end=d(-700).isoformat()
        ),
    ]
    sales = [
        dict(
            sale_id="S1",
            customer_id="C1",
            sale_date=d(10).isoformat(),
            vin="V1",
            model="Camry",
            new_used="new",
            price=31000.0,
            salesperson="Sam",
        ),
        dict(
            sale_id="S2",
            customer_id="C2",
            sale_date=d(500).isoformat(),
            vin="V2",
            model="RAV4",
            new_used="new",
            price=34000.0,
            salesperson="Sam",
        ),
        dict(
            sale_id="S3",
            customer_id="C3",
            sale_date=d(1300).isoformat(),
            vin="V3",
            model="Corolla",
            new_used="used",
            price=18000.0,
            salesperson="Lee",
        ),
        dict(
            sale_id="S4",
            customer_id="C3",
            sale_date=d(200).isoformat(),
            vin="V9",
            model="Camry",
            new_used="new",
            price=30000.0,
            salesperson="Lee",
        ),
        dict(
            sale_id="S5",
            customer_id="C4",
            sale_date=d(1500).isoformat(),
            vin="V4",
            model="Tacoma",
            new_used="used",
            price=25000.0,
            salesperson="Sam",
        ),
        dict(
            sale_id="S6",
            customer_id="C6",
            sale_date=d(60).isoformat(),
            vin="V5",
            model="Prius",
            new_used="new",
            price=29000.0,
            salesperson="Lee",
        ),
    ]
    visits = [
        dict(
            ro_id="R1",
            customer_id="C2",
            visit_date=d(300).isoformat(),
            vin="V2",
            pay_type="customer",
            amount=120.0,
            service_type="maintenance",
            mileage=12000,
        ),
        dict(
            ro_id="R2",
            customer_id="C2",
            visit_date=d(5).isoformat(),
            vin="V2",
            pay_type="customer",
            amount=90.0,
            service_type="maintenance",
            mileage=18000,
        ),
        dict(
            ro_id="R3",
            customer_id="C3",
            visit_date=d(450).isoformat(),
            vin="V3",
            pay_type="warranty",
            amount=0.0,
            service_type="repair",
            mileage=40000,
        ),
        dict(
            ro_id="R4",
            customer_id="C4",
            visit_date=d(200).isoformat(),
            vin="V4",
            pay_type="customer",
            amount=300.0,
            service_type="tires",
            mileage=60000,
        ),
        dict(
            ro_id="R5",
            customer_id="C5",
            visit_date=d(600).isoformat(),
            vin=None,
            pay_type="customer",
            amount=80.0,
            service_type="other",
            mileage=None,
        ),
    ]
    appointments = [
        dict(
            appointment_id="A1",
            customer_id="C2",
            booked_at=_ts(d(12)),
            scheduled_for=_ts(d(5), 8),
            status="kept",
            source="web",
        ),
        dict(
            appointment_id="A2",
            customer_id="C4",
            booked_at=_ts(d(40)),
            scheduled_for=_ts(d(30), 9),
            status="no_show",
            source="phone",
        ),
        dict(
            appointment_id="A3",
            customer_id="C1",
            booked_at=_ts(d(3)),
            scheduled_for=_ts(d(-5), 9),
            status="scheduled",
            source="web",
        ),
        dict(
            appointment_id="A4",
            customer_id="C3",
            booked_at=_ts(d(70)),
            scheduled_for=_ts(d(60), 11),
            status="kept",
            source="web",
        ),
        dict(
            appointment_id="A5",
            customer_id="C6",
            booked_at=_ts(d(20)),
            scheduled_for=_ts(d(15), 11),
            status="cancelled",
            source="web",
        ),
    ]
    rng = np.random.default_rng(7)
    channels = ["email", "sms", "phone", "mail"]
    senders = ["oem", "sales", "dealer", "service", "fi"]
    categories = ["offer", "service_reminder", "newsletter", "sales_promo", "survey", "event", "recall"]
    messages = []
    n = 0
    for cid in ["C1", "C2", "C3", "C4", "C5", "C6"]:
        for _ in range(12 if cid in ("C1", "C3") else 5):
            n += 1
            day = d(int(rng.integers(0, 100)))
            ch = channels[int(rng.integers(0, 4))]
            responded = _ts(day, 18) if rng.random() < 0.3 else None
            messages.append(
                dict(
                    message_id=f"M{n:03d}",
                    customer_id=cid,
                    sent_at=_ts(day, int(rng.integers(8, 20)), int(rng.integers(0, 60))),
                    channel=ch,
                    sender=senders[int(rng.integers(0, 5))],
                    category=categories[int(rng.integers(0, 7))],
                    campaign_id=f"K{int(rng.integers(1, 6))}",
                    status="delivered",
                    responded_at=responded,
                    unsubscribed=False,
                )
            )
    # Known conflicts a dealer would recognise.
    messages += [
        dict(
            message_id="M900",
            customer_id="C1",
            sent_at=_ts(d(8), 11),
            channel="email",
            sender="oem",
            category="offer",
            campaign_id="K9",
            model="Camry",
            offer_price=29500.0,
            status="delivered",
            unsubscribed=False,
        ),
        dict(
            message_id="M901",
            customer_id="C3",
            sent_at=_ts(d(2), 22, 30),
            channel="sms",
            sender="dealer",
            category="event",
            campaign_id="K8",
            status="delivered",
            unsubscribed=False,
        ),
        dict(
            message_id="M902",
            customer_id="C2",
            sent_at=_ts(d(1), 10),
            channel="email",
            sender="service",
            category="service_reminder",
            campaign_id="K7",
            vin="V2",
            status="delivered",
            unsubscribed=False,
        ),
        dict(
            message_id="M903",
            customer_id="C4",
            sent_at=_ts(d(4), 12),
            channel="email",
            sender="oem",
            category="conquest",
            campaign_id="K6",
            status="delivered",
            unsubscribed=True,
        ),
    ]
    leads = [
        dict(lead_id="L1", customer_id="C5", opened_at=_ts(d(30)), closed_at=None, outcome=None, source="web"),
        dict(
            lead_id="L2", customer_id="C1", opened_at=_ts(d(40)), closed_at=_ts(d(10)), outcome="sold", source="walk-in"
        ),
    ]
    referrals = [
        dict(
            referral_id="F1",
            referrer_id="C1",
            referred_at=_ts(d(50)),
            referred_name="Hal Ito",
            referred_email="hal@example.com",
            referred_phone="714-555-0201",
            incentive_category="transactional",
            reward_value=200.0,
            status="sold",
            first_contact_at=_ts(d(50), 15),
            sold_at=_ts(d(30)),
            sale_id="S6",
            acknowledged_at=None,
        ),
        dict(
            referral_id="F2",
            referrer_id="C1",
            referred_at=_ts(d(20)),
            referred_name=XSS_NAME,
            referred_email="ana.lopez@example.com",
            referred_phone="714-555-0202",
            incentive_category="experiential",
            reward_value=50.0,
            status="new",
        ),
        dict(
            referral_id="F3",
            referrer_id="C3",
            referred_at=_ts(d(100)),
            referred_name="Ivy Jo",
            referred_email="ivy@example.com",
            referred_phone="714-555-0203",
            incentive_category="recognition",
            status="contacted",
            first_contact_at=_ts(d(98)),
        ),
        dict(
            referral_id="F4",
            referrer_id="C4",
            referred_at=_ts(d(9)),
            referred_name=FORMULA_NAME,
            referred_email="hal@example.com",
            referred_phone="714-555-0204",
            incentive_category="altruistic",
            status="appointment",
            first_contact_at=_ts(d(9), 12),
        ),
        dict(
            referral_id="F5",
            referrer_id="C2",
            referred_at=_ts(d(400)),
            referred_name="Kai Lu",
            referred_email="kai@example.com",
            incentive_category="transactional",
            reward_value=200.0,
            status="lost",
            first_contact_at=_ts(d(399)),
        ),
        dict(
            referral_id="F6",
            referrer_id="C6",
            referred_at=_ts(d(3)),
            referred_name=FORMULA_NAME,
            referred_email="=1+2@x.com",
            referred_phone="+1 714 555 0206",
            incentive_category="recognition",
            status="new",
        ),
    ]
    return {
        "customers": customers,
        "vehicles": vehicles,
        "sales": sales,
        "service_visits": visits,
        "appointments": appointments,
        "communications": messages,
        "leads": leads,
        "referrals": referrals,
    }


def tiny_data(as_of: dt.date = AS_OF, drop: tuple[str, ...] = ()):
    """The tiny dealer as DealerData (``drop``: tables to leave out)."""
    from ownercomm_kit.data import from_frames

    frames = {k: pd.DataFrame(v) for k, v in tiny_frames(as_of).items() if k not in drop}
    return from_frames(frames, timezone=TIMEZONE, as_of=as_of, dealer_id="T01", dealer_name=DEALER_NAME)


def write_tiny_dealer(folder: Path, *, as_of: dt.date = AS_OF, drop: tuple[str, ...] = ()) -> Path:
    """CSV files under ``folder/data`` and ``folder/T01.yaml``; returns the dealer file."""
    data_dir = folder / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in tiny_frames(as_of).items():
        if name not in drop:
            pd.DataFrame(rows).to_csv(data_dir / f"{name}.csv", index=False)
    dealer = {
        "dealer_id": "T01",
        "dealer_name": DEALER_NAME,
        "data_dir": str(data_dir),
        "timezone": TIMEZONE,
        "as_of": as_of.isoformat(),
    }
    path = folder / "T01.yaml"
    path.write_text(yaml.safe_dump(dealer, sort_keys=False), encoding="utf-8")
    return path


def write_two_store_group(base: Path, group_id: str, group_name: str) -> Path:
    """A group file of two tiny stores (T01 and a copy named T02, "Second <i>Store</i>") under
    ``base``: what the browser tests run as a batch."""
    import shutil

    import yaml

    first = write_tiny_dealer(base / "s1")
    second_dir = base / "s2"
    shutil.copytree(base / "s1" / "data", second_dir / "data")
    doc = yaml.safe_load(first.read_text())
    doc.update(dealer_id="T02", dealer_name="Second <i>Store</i>", data_dir=str(second_dir / "data"))
    second = second_dir / "T02.yaml"
    second.write_text(yaml.safe_dump(doc), encoding="utf-8")
    group = base / "group.yaml"
    group.write_text(
        yaml.safe_dump({"group_id": group_id, "group_name": group_name, "dealers": [str(first), str(second)]}),
        encoding="utf-8",
    )
    return group
