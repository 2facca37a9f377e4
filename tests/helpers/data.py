"""Tiny dealer folders written in tests (loader, validation, validate command)."""

from __future__ import annotations

from pathlib import Path

CUSTOMERS = """customer_id,first_name,email,sms_consent,preferred_channel
C1,Ann,ann@example.com,Y,email
C2,Bob,,N,sms
C3,Cára,c@example.com,,
"""

COMMUNICATIONS = """message_id,customer_id,sent_at,channel,sender,category,offer_price,unsubscribed
M1,C1,2026-06-18T10:30:00,email,oem,offer,"$29,500.00",N
M2,C2,06/18/2026 10:30 PM,sms,service,service_reminder,,
M3,C3,2026-06-19,mail,dealer,newsletter,,Y
"""


def write_folder(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        p = folder / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return folder


def clean_folder(folder: Path, **extra: str | bytes) -> Path:
    files: dict[str, str | bytes] = {"customers.csv": CUSTOMERS, "communications.csv": COMMUNICATIONS}
    files.update({k.replace("__", "."): v for k, v in extra.items()})
    return write_folder(folder, files)


def broken_folder(folder: Path) -> Path:
    """Issue 2's acceptance folder: a required column renamed, an impossible date, a duplicated id."""
    return write_folder(
        folder,
        {
            "customers.csv": CUSTOMERS.replace("customer_id,", "Cust No,", 1),
            "communications.csv": COMMUNICATIONS.replace("2026-06-19", "2024-13-45").replace("M2,C2", "M1,C2"),
        },
    )
