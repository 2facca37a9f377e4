"""What a data file really is, from its first bytes (SPEC §2: a clear message for a garbage
or mis-named file, e.g. "this .xlsx is a CSV: rename it").

``sniff(path)`` reads at most a few KB and says ``csv`` (text), ``xlsx``, ``zip``, ``xls``,
``parquet``, ``pdf``, ``html``, ``json``, ``gzip``, ``image``, ``binary`` or ``empty``;
``mismatch(path)`` turns a file whose content does not fit its name into one sentence for
the user. Neither ever quotes the file's content.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from . import formats

_HEAD = 8192

WHAT = {
    "csv": "a CSV (plain text table)",
    "xlsx": "an Excel workbook (.xlsx)",
    "zip": "a zip archive",
    "xls": "an old Excel .xls workbook (or another Office 97-2003 file)",
    "parquet": "a Parquet file",
    "pdf": "a PDF document",
    "html": "a web page (HTML), e.g. a login or error page saved instead of the export",
    "json": "a JSON document",
    "gzip": "a gzip-compressed file",
    "image": "an image",
    "binary": "a binary file, not a table",
    "empty": "an empty file (0 bytes)",
    "text": "plain text that is not a table",
}


def sniff(path: str | Path) -> str:
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError):
            return "zip"
        return "xlsx" if any(n.startswith("xl/") for n in names) else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "image"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text (read as CSV)
        return "csv"
    text_head = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text_head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        text_head.startswith(b"<") and b"<html" in text_head[:1024]
    ):
        return "html"
    if text_head.startswith(b"{") or re.match(rb"^\[\s*[\[{\"]", text_head):
        return "json"
    if b"\x00" in head:
        return "binary"
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    if control > len(head) // 100 + 1:
        return "binary"
    return "csv"


def _fits(kind: str, suffix: str) -> bool:
    if suffix in formats.CSV_SUFFIXES:
        return kind == "csv"
    if suffix in formats.EXCEL_SUFFIXES:
        return kind == "xlsx"
    if suffix in formats.PARQUET_SUFFIXES:
        return kind == "parquet"
    return True


_RENAME = {"csv": ".csv", "xlsx": ".xlsx", "parquet": ".parquet"}


def mismatch(path: str | Path) -> str | None:
    """One sentence when the file's content does not fit its name (or is no table); else None."""
    path = Path(path)
    suffix = path.suffix.lower()
    kind = sniff(path)
    if kind == "empty" or _fits(kind, suffix):
        return None
    what = WHAT.get(kind, kind)
    shown = suffix or "file"
    if kind in _RENAME:
        return f"this {shown} is {what}: rename it to {path.stem}{_RENAME[kind]}"
    if kind == "xls":
        return f"this {shown} is {what}: open it in Excel and save it as .xlsx or .csv"
    if kind == "zip":
        return f"this {shown} is {what}: unzip it and put the export itself in the folder"
    return f"this {shown} is {what}: put the dealer's export (.csv, .xlsx or .parquet) here instead"
