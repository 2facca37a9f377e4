"""What a store run leaves for the group step (SPEC §9): a compact extract in its report folder.

``<store out_dir>/group_extract/`` holds parquet files with only what the group rules and the
matching need, so the group step never reads a store's raw data:

- customers.parquet: customer_id, email, phone, last_name (the match keys)
- messages.parquet: message_id, customer_id, t (int64 ns UTC), day (the message date in the
  store's timezone, int days since 1970-01-01), channel, sender, category, vin, model,
  unsubscribed, store_cap (flagged by the store's own cap_total); messages up to the store's as_of
- sales.parquet: sale_id, customer_id, day, vin, model;  visits.parquet: ro_id, customer_id,
  day, vin;  vehicles.parquet: vin, customer_id
- meta.json: dealer_id, dealer_name, timezone, as_of, the store's cap_total settings and
  exempt categories (written last: an extract without it is incomplete)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import outputs
from ..audit.windows import day_of_date, local_ns, ns_utc, DAY

FOLDER = "group_extract"
META = "meta.json"
TABLES = ("customers", "messages", "sales", "visits", "vehicles")
SCHEMAS = {
    "customers": {"customer_id": "string", "email": "string", "phone": "string", "last_name": "string"},
    "messages": {
        "message_id": "string",
        "customer_id": "string",
        "t": "int64",
        "day": "int32",
        "channel": "string",
        "sender": "string",
        "category": "string",
        "vin": "string",
        "model": "string",
        "unsubscribed": "bool",
        "store_cap": "bool",
    },
    "sales": {"sale_id": "string", "customer_id": "string", "day": "int32", "vin": "string", "model": "string"},
    "visits": {"ro_id": "string", "customer_id": "string", "day": "int32", "vin": "string"},
    "vehicles": {"vin": "string", "customer_id": "string"},
}


def _col(df: pd.DataFrame, name: str, n: int) -> pd.Series:
    if name in df.columns:
        return df[name].astype("string").reset_index(drop=True)
    return pd.Series(pd.NA, index=range(n), dtype="string")


def _day(values: pd.Series) -> np.ndarray:
    d = day_of_date(values)
    return np.where(d == np.iinfo(np.int64).min, np.iinfo(np.int32).min, d).astype(np.int32)


def frames_of(data, flags: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The extract's tables of a store's (as_of-cut) data and its flags."""
    from ..audit.rules import up_to_as_of

    data = up_to_as_of(data)
    out = {}
    c = data["customers"]
    out["customers"] = pd.DataFrame({k: _col(c, k, len(c)) for k in SCHEMAS["customers"]})
    m = data["communications"]
    t = ns_utc(m["sent_at"])
    capped = flags.loc[flags["rule"] == "cap_total", "message_id"] if len(flags) else pd.Series([], dtype="string")
    unsub = (
        m["unsubscribed"].astype("boolean").fillna(False).to_numpy(bool)
        if "unsubscribed" in m
        else np.zeros(len(m), bool)
    )
    out["messages"] = pd.DataFrame(
        {
            "message_id": _col(m, "message_id", len(m)),
            "customer_id": _col(m, "customer_id", len(m)),
            "t": t,
            "day": np.floor_divide(local_ns(t, data.timezone), DAY).astype(np.int32),
            "channel": _col(m, "channel", len(m)),
            "sender": _col(m, "sender", len(m)),
            "category": _col(m, "category", len(m)),
            "vin": _col(m, "vin", len(m)),
            "model": _col(m, "model", len(m)),
            "unsubscribed": unsub,
            "store_cap": m["message_id"].astype("string").isin(capped.astype("string")).to_numpy(bool),
        }
    )
    for table, name, date in (("sales", "sales", "sale_date"), ("service_visits", "visits", "visit_date")):
        present = data.has(table)
        s = data[table] if present else pd.DataFrame()
        n = len(s)
        cols = {}
        for k in SCHEMAS[name]:
            cols[k] = _day(s[date]) if k == "day" else _col(s, k, n)
        out[name] = pd.DataFrame(cols) if present else _empty(name)
    v = data["vehicles"] if data.has("vehicles") else pd.DataFrame()
    out["vehicles"] = (
        pd.DataFrame({k: _col(v, k, len(v)) for k in SCHEMAS["vehicles"]})
        if data.has("vehicles")
        else _empty("vehicles")
    )
    return out


def _empty(name: str) -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series([], dtype=d) for k, d in SCHEMAS[name].items()})


def write(out_dir: str | Path, data, flags: pd.DataFrame, params: dict | None = None) -> Path:
    """Write the store's extract into ``out_dir/group_extract`` (each file atomically, the
    meta file last)."""
    folder = Path(out_dir) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    meta_path = folder / META
    if meta_path.exists():
        meta_path.unlink()  # incomplete until the new meta is written
    for name, df in frames_of(data, flags).items():
        table = pa.Table.from_pandas(df, preserve_index=False)
        with outputs.atomic_open(folder / f"{name}.parquet", "wb") as f:
            pq.write_table(table, f, compression="zstd")
    meta = {
        "dealer_id": data.dealer_id,
        "dealer_name": data.dealer_name,
        "timezone": data.timezone,
        "as_of": data.as_of.isoformat(),
    }
    if params is not None:  # the store's own cap_total settings: when they are the group's, a
        # person known only to this store (one record) cannot break group_cap_total (SPEC §9)
        cap = (params.get("rules") or {}).get("cap_total") or {}
        meta["cap_total"] = {"enabled": bool(cap.get("enabled", True)), "windows": cap.get("windows")}
        meta["exempt_categories"] = list((params.get("audit") or {}).get("exempt_categories") or [])
    outputs.write_json(meta, meta_path)
    return folder


def read_meta(folder: str | Path) -> dict | None:
    p = Path(folder) / META
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
