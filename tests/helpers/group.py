"""A hand-built group written as store extracts (what store runs leave), for the group step."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ownercomm_kit import params as params_mod
from ownercomm_kit.group import extract


def ts(text: str, tz: str) -> int:
    return int(pd.Timestamp(text).tz_localize(tz).tz_convert("UTC").value)


def day(text: str) -> int:
    return int(np.datetime64(text, "D").astype(np.int64))


def write_store(
    group_dir: Path,
    dealer_id: str,
    name: str,
    tz: str,
    as_of: str,
    *,
    customers=(),
    messages=(),
    sales=(),
    visits=(),
    vehicles=(),
    caps: dict | None = None,
) -> dict:
    """messages: dicts with message_id, customer_id, sent_at (local text), channel, sender,
    category, optional vin, model, unsubscribed, store_cap."""
    folder = group_dir / dealer_id / extract.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    frames = {}
    frames["customers"] = pd.DataFrame([{k: c.get(k) for k in extract.SCHEMAS["customers"]} for c in customers])
    rows = []
    for m in messages:
        t = ts(m["sent_at"], tz)
        local = pd.Timestamp(m["sent_at"])
        rows.append(
            {
                "message_id": m["message_id"],
                "customer_id": m["customer_id"],
                "t": t,
                "day": day(str(local.date())),
                "channel": m.get("channel", "email"),
                "sender": m.get("sender", "dealer"),
                "category": m.get("category", "newsletter"),
                "vin": m.get("vin"),
                "model": m.get("model"),
                "unsubscribed": bool(m.get("unsubscribed", False)),
                "store_cap": bool(m.get("store_cap", False)),
            }
        )
    frames["messages"] = pd.DataFrame(rows)
    frames["sales"] = pd.DataFrame(
        [
            {
                "sale_id": s["sale_id"],
                "customer_id": s["customer_id"],
                "day": day(s["sale_date"]),
                "vin": s.get("vin"),
                "model": s.get("model"),
            }
            for s in sales
        ]
    )
    frames["visits"] = pd.DataFrame(
        [
            {"ro_id": v["ro_id"], "customer_id": v["customer_id"], "day": day(v["visit_date"]), "vin": v.get("vin")}
            for v in visits
        ]
    )
    frames["vehicles"] = pd.DataFrame([{"vin": v["vin"], "customer_id": v["customer_id"]} for v in vehicles])
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name_, df in frames.items():
        schema = extract.SCHEMAS[name_]
        if df.empty:
            df = pd.DataFrame({k: pd.Series([], dtype=d) for k, d in schema.items()})
        df = df.astype({k: d for k, d in schema.items()})
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / f"{name_}.parquet")
    meta = {"dealer_id": dealer_id, "dealer_name": name, "timezone": tz, "as_of": as_of}
    if caps is not None:  # the store's cap_total settings, as a store run records them
        meta.update(caps)
    (folder / extract.META).write_text(json.dumps(meta))
    return {"dealer_id": dealer_id, "dealer_name": name, "status": "ok", "out_dir": dealer_id}


# --- the hand-built group of tests/group/test_group.py (also opened in a browser) ---

LA, CHI, NY = "America/Los_Angeles", "America/Chicago", "America/New_York"
HOSTILE = '<img src=x onerror="alert(1)">Hudson & Co'


def defaults(**group_rules):
    p = copy.deepcopy(params_mod.load_defaults())
    for k, v in group_rules.items():
        p["group"]["rules"][k].update(v)
    return p


def build(tmp_path, **group_rules):
    g = tmp_path / "g"
    A = dict(
        customers=[
            {"customer_id": "C1", "email": " Ann@X.com ", "last_name": "Lee"},
            {"customer_id": "C2", "phone": "(714) 555-0101", "last_name": "García"},
            {"customer_id": "C3", "phone": "714 555 0102", "last_name": "Smith"},
            {"customer_id": "C4", "email": "dee@y.org", "last_name": "Day"},
            {"customer_id": "C5", "email": "DEE@y.org", "last_name": "Day"},
            {"customer_id": "C6", "phone": "714.555.0199", "last_name": "vandyke"},
            {"customer_id": "C11", "phone": "714 555 0177", "last_name": None},
        ],
        sales=[
            {"sale_id": "S1", "customer_id": "C1", "sale_date": "2026-03-10", "model": "Camry"},
            {"sale_id": "S4", "customer_id": "C5", "sale_date": "2026-03-10", "model": "Corolla"},
        ],
        messages=[
            {
                "message_id": "MA1",
                "customer_id": "C1",
                "sent_at": "2026-03-11 10:00",
                "category": "offer",
            },  # same store
            {
                "message_id": "MA2",
                "customer_id": "C4",
                "sent_at": "2026-03-11 10:00",
                "category": "offer",
            },  # same store, other record
            {
                "message_id": "MA3",
                "customer_id": "C2",
                "sent_at": "2026-05-05 10:00",
                "category": "service_reminder",
                "vin": "V1",
            },
            {
                "message_id": "MA4",
                "customer_id": "C2",
                "sent_at": "2026-05-06 10:00",
                "category": "service_reminder",
                "vin": "V2",
            },
            {"message_id": "MA5", "customer_id": "C2", "sent_at": "2026-05-07 10:00", "category": "service_reminder"},
            {"message_id": "MA6", "customer_id": "C6", "sent_at": "2026-06-01 10:00", "category": "conquest"},
            {"message_id": "MA7", "customer_id": "C1", "sent_at": "2026-07-03 10:00", "unsubscribed": True},  # Friday
            {"message_id": "MA8", "customer_id": "C1", "sent_at": "2026-07-20 10:00"},  # same store as the opt-out
            {"message_id": "MA9", "customer_id": "C2", "channel": "sms", "sent_at": "2026-07-17 10:00"},
            {"message_id": "MA10", "customer_id": "C2", "channel": "sms", "sent_at": "2026-07-20 10:00"},
            {"message_id": "MA11", "customer_id": "C1", "sent_at": "2026-08-01 10:00"},
            {"message_id": "MA12", "customer_id": "C1", "sent_at": "2026-08-02 10:00"},
            {"message_id": "MA13", "customer_id": "C1", "sent_at": "2026-08-03 10:00"},
            {"message_id": "MA14", "customer_id": "C1", "sent_at": "2026-08-06 12:00"},  # same instant as MB14
            {"message_id": "MA15", "customer_id": "C1", "sent_at": "2026-08-07 10:00", "store_cap": True},
            {"message_id": "MA16", "customer_id": "C1", "sent_at": "2026-08-04 11:00", "category": "transactional"},
        ],
    )
    B = dict(
        customers=[
            {"customer_id": "C7", "email": "ann@x.com", "last_name": "Lee-Park"},
            {"customer_id": "C8", "phone": "+1 714-555-0101", "last_name": "garcia"},
            {"customer_id": "C9", "phone": "7145550102", "last_name": "Smyth"},
            {"customer_id": "C10", "email": "eve@z.net", "phone": "+17145550199", "last_name": "Van Dyke"},
            {"customer_id": "C12", "phone": "7145550177", "last_name": " "},
        ],
        visits=[{"ro_id": "R1", "customer_id": "C8", "visit_date": "2026-05-01", "vin": "V1"}],
        messages=[
            {
                "message_id": "MB1",
                "customer_id": "C7",
                "sent_at": "2026-03-12 10:00",
                "category": "offer",
                "model": "Camry",
            },
            {
                "message_id": "MB2",
                "customer_id": "C7",
                "sent_at": "2026-03-09 10:00",
                "category": "offer",
            },  # before the sale
            {
                "message_id": "MB3",
                "customer_id": "C7",
                "sent_at": "2026-04-09 23:30",
                "category": "sales_promo",
            },  # day 30 in Chicago
            {"message_id": "MB4", "customer_id": "C7", "sent_at": "2026-04-10 00:30", "category": "offer"},  # day 31
            {"message_id": "MB5", "customer_id": "C7", "sent_at": "2026-03-12 11:00", "category": "recall"},  # exempt
            {"message_id": "MB6", "customer_id": "C10", "sent_at": "2026-06-02 10:00", "category": "conquest"},
            {
                "message_id": "MB7",
                "customer_id": "C8",
                "channel": "sms",
                "sent_at": "2026-07-04 10:00",
                "unsubscribed": True,
            },  # Saturday
            {"message_id": "MB8", "customer_id": "C7", "sent_at": "2026-07-17 10:00"},  # last day of the grace
            {"message_id": "MB9", "customer_id": "C7", "sent_at": "2026-07-18 10:00"},  # after it
            {
                "message_id": "MB10",
                "customer_id": "C7",
                "channel": "sms",
                "sent_at": "2026-07-20 10:00",
            },  # other channel
            {"message_id": "MB11", "customer_id": "C7", "sent_at": "2026-07-20 10:00", "category": "recall"},  # exempt
            {"message_id": "MB12", "customer_id": "C7", "sent_at": "2026-08-04 10:00"},
            {"message_id": "MB13", "customer_id": "C7", "sent_at": "2026-08-05 10:00"},
            {"message_id": "MB14", "customer_id": "C7", "sent_at": "2026-08-06 14:00"},  # = MA14 (12:00 LA)
            {"message_id": "MB15", "customer_id": "C12", "category": "conquest", "sent_at": "2026-08-06 14:00"},
        ],
    )
    C = dict(
        customers=[{"customer_id": "C1", "email": "EVE@z.net", "last_name": "Stone"}],
        vehicles=[{"vin": "V9", "customer_id": "C1"}],
        messages=[{"message_id": "MC1", "customer_id": "C1", "sent_at": "2026-06-03 10:00", "category": "conquest"}],
    )
    stores = [
        write_store(g, "A", "Tustin Motors", LA, "2026-08-10", **A),
        write_store(g, "B", "Naperville Motors", CHI, "2026-08-10", **B),
        write_store(g, "C", HOSTILE, NY, "2026-08-09", **C),
        {"dealer_id": "D", "dealer_name": "Failed Motors", "status": "failed", "out_dir": None},
    ]
    manifest = {"group_id": "g", "group_name": "Test group", "stores": stores}
    return g, manifest, defaults(**group_rules)
