"""Small hand-made dealers for the retention and referral tests (tests/test_retention.py, test_referrals.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ownercomm_kit import params as params_mod
from ownercomm_kit import schema
from ownercomm_kit.data import DealerData, from_frames

ROOT = Path(__file__).resolve().parents[2]
PARAMS = params_mod.load_defaults(ROOT)
A = "2026-03-31"  # end of month: A - 1 month is Feb 28, A - 12m is 2025-03-31
LA = "America/Los_Angeles"


def cust(*ids, **cols) -> list[dict]:
    return [{"customer_id": i, **cols} for i in ids]


def dealer(tz: str = LA, as_of: str = A, **frames) -> DealerData:
    """A DealerData from lists of dicts; customers C1..C9 unless given."""
    frames.setdefault("customers", cust(*[f"C{i}" for i in range(1, 10)]))
    return from_frames(instants(frames, tz), timezone=tz, as_of=as_of)


def instants(frames: dict, tz: str) -> dict:
    """Timestamps written as "...Z" are UTC instants, others local wall times (one parse per value)."""
    out = {}
    for name, rows in frames.items():
        kinds = {c.name: c.kind for c in schema.TABLES[name].columns}
        out[name] = [
            {k: (_instant(v, tz) if kinds.get(k) == "timestamp" and isinstance(v, str) else v) for k, v in row.items()}
            for row in rows
        ]
    return out


def _instant(value: str, tz: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_convert(tz) if ts.tzinfo else ts.tz_localize(tz)
