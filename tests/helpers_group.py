"""A hand-built group written as store extracts (what store runs leave), for the group step."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ownercomm_kit.group import extract


def ts(text: str, tz: str) -> int:
    return int(pd.Timestamp(text).tz_localize(tz).tz_convert("UTC").value)


def day(text: str) -> int:
    return int(np.datetime64(text, "D").astype(np.int64))


def write_store(group_dir: Path, dealer_id: str, name: str, tz: str, as_of: str, *, customers=(), messages=(),
                sales=(), visits=(), vehicles=(), caps: dict | None = None) -> dict:
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
        rows.append({"message_id": m["message_id"], "customer_id": m["customer_id"], "t": t,
                     "day": day(str(local.date())), "channel": m.get("channel", "email"),
                     "sender": m.get("sender", "dealer"), "category": m.get("category", "newsletter"),
                     "vin": m.get("vin"), "model": m.get("model"), "unsubscribed": bool(m.get("unsubscribed", False)),
                     "store_cap": bool(m.get("store_cap", False))})
    frames["messages"] = pd.DataFrame(rows)
    frames["sales"] = pd.DataFrame([{"sale_id": s["sale_id"], "customer_id": s["customer_id"], "day": day(s["sale_date"]),
                                     "vin": s.get("vin"), "model": s.get("model")} for s in sales])
    frames["visits"] = pd.DataFrame([{"ro_id": v["ro_id"], "customer_id": v["customer_id"], "day": day(v["visit_date"]),
                                      "vin": v.get("vin")} for v in visits])
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
