"""Synthetic dealers (``ownercomm synth``): realistic, deterministic, with injected rule breaks.

``generate_dealer`` builds one dealer's eight canonical tables in memory: a clean base that
breaks no rule of SPEC §4 by construction (see ``messages.py``), plus, when asked, messages
that each break one rule, listed in the returned ground truth (message_id, rule).
``write_group`` writes dealers, their dealer files, a group file and the ground truth.
"""
from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa

from ..params import load_defaults
from . import frames as fr
from . import inject as inj
from . import lives as lv
from . import messages as msg
from . import pool as pool_mod
from .timeutil import NEVER, day_number

DEFAULT_AS_OF = dt.date(2026, 10, 31)
DEFAULT_RATE = 0.01
HISTORY_DAYS = 3 * 365
RULES = inj.RULES

__all__ = ["generate_dealer", "DEFAULT_AS_OF", "DEFAULT_RATE", "RULES"]


def _streams(seed: int, dealer_id: str, n: int):
    """Independent generators per stage: the clean base is the same with or without injection."""
    ss = np.random.SeedSequence([int(seed), zlib.crc32(dealer_id.encode())])
    return [np.random.default_rng(s) for s in ss.spawn(n)]


def generate_dealer(
    dealer_id: str,
    customers: int,
    seed: int,
    *,
    timezone: str = "America/New_York",
    as_of: dt.date | str = DEFAULT_AS_OF,
    inject_rate: float = DEFAULT_RATE,
    inject: bool = True,
    params: dict | None = None,
    brand: str | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """One synthetic dealer: canonical frames of every table, and the ground truth (message_id, rule).

    ``params`` (default: ``params/defaults.yaml``) gives the rule thresholds the clean base
    respects and the injections break.
    """
    params = params or load_defaults()
    as_of = dt.date.fromisoformat(str(as_of)[:10]) if not isinstance(as_of, dt.date) else as_of
    as_of_day = day_number(as_of)
    brand = brand or lv.BRAND_NAMES[zlib.crc32(dealer_id.encode()) % len(lv.BRAND_NAMES)]
    r_lives, r_msgs, r_out, r_inj, r_extra = _streams(seed, dealer_id, 5)
    L = lv.build(r_lives, n_customers=int(customers), seed=int(seed), tz=timezone, brand=brand,
                 start_day=as_of_day - HISTORY_DAYS, as_of_day=as_of_day)
    base = msg.generate(r_msgs, L, params) if customers else _no_messages()
    base = msg.outcomes(r_out, base, L, params)
    model_labels, base_model, base_price = _offers(r_extra, L, base)
    added = inj.inject(r_inj, L, params, base, inject_rate) if inject and customers else inj.Added().arrays()
    frames = fr.build(L, pool_mod.pool(int(seed)).salespeople)
    comms, truth = _merge(L, base, added, model_labels, base_model, base_price)
    frames["communications"] = comms
    frames = {name: frames[name] for name in fr.schema.TABLES}
    return frames, truth


def _no_messages() -> dict:
    z = np.zeros(0, dtype=np.int64)
    return dict(cust=z, t=z, day=z, slot=z, cat=z, sender=z, channel=z, vidx=z)


def _offers(rng, L: lv.Lives, m: dict):
    """Model and price a message is about: offers quote a model and price, service ones the car."""
    b_make, b_model, b_price = lv.all_models()
    labels = sorted(set(b_model.tolist()))
    code_of = {x: i for i, x in enumerate(labels)}
    veh_code = np.array([code_of[x] for x in L.vehicles["model"]], dtype=np.int64)
    own_models, own_prices = lv.catalog(L.brand)
    own_code = np.array([code_of[x] for x in own_models])
    n = len(m["cust"])
    cat = m["cat"]
    quoted = np.isin(cat, [msg.CAT[x] for x in ("offer", "sales_promo", "conquest")])
    pick = rng.integers(0, len(own_models), n)
    code = np.full(n, -1, dtype=np.int64)
    price = np.full(n, np.nan)
    code[quoted] = own_code[pick[quoted]]
    price[quoted] = np.round(own_prices[pick[quoted]] * rng.uniform(0.85, 1.0, quoted.sum()) / 10) * 10
    about_car = np.isin(cat, [msg.CAT[x] for x in msg.VEHICLE_CATEGORIES]) & (m["vidx"] >= 0)
    code[about_car] = veh_code[m["vidx"][about_car]]
    m["vidx"] = np.where(about_car, m["vidx"], -1)
    return labels, code, price


def _merge(L, base, added, model_labels, base_model, base_price):
    """Clean and injected messages in time order, with ids; the ground truth by message_id."""
    nb, na = len(base["cust"]), len(added["cust"])
    has_camp = np.isin(base["cat"], [msg.CAT[x] for x in msg.CAMPAIGN_CATEGORIES])
    camp = pa.concat_arrays([
        fr.base_campaigns(base["sender"], base["cat"], base["slot"], has_camp).cast(pa.string()),
        pa.array(list(added["campaign"]), type=pa.string()),
    ])
    model = pa.concat_arrays([
        pa.array(model_labels, type=pa.string()).take(pa.array(base_model, mask=base_model < 0)),
        pa.array(list(added["model"]), type=pa.string()),
    ])
    zeros = np.zeros(na, dtype=np.int64)
    never = np.full(na, NEVER, dtype=np.int64)
    m = {
        "cust": np.concatenate([base["cust"], added["cust"]]),
        "t": np.concatenate([base["t"], added["t"]]),
        "channel": np.concatenate([base["channel"], added["channel"]]),
        "sender": np.concatenate([base["sender"], added["sender"]]),
        "cat": np.concatenate([base["cat"], added["cat"]]),
        "vidx": np.concatenate([base["vidx"], added["vidx"]]),
        "offer_price": np.concatenate([base_price, added["offer_price"]]),
        "status": np.concatenate([base["status"], zeros]),
        "opened": np.concatenate([base["opened"], never]),
        "clicked": np.concatenate([base["clicked"], never]),
        "responded": np.concatenate([base["responded"], never]),
        "unsub": np.concatenate([base["unsub"], added["unsub"]]),
    }
    order = np.lexsort((np.arange(nb + na), m["cust"], m["t"]))
    m = {k: v[order] for k, v in m.items()}
    idx = pa.array(order)
    cid = fr.ids("C", np.arange(1, len(L.cust["kind"]) + 1), 6).to_numpy(dtype=object)
    comms = fr.communications(m, L, cid, camp.take(idx), model.take(idx))
    rank = np.empty(nb + na, dtype=np.int64)
    rank[order] = np.arange(nb + na)
    rules = added["rule"]
    hit = np.flatnonzero(np.array([x is not None for x in rules], dtype=bool))
    rows = rank[nb + hit]
    truth = pd.DataFrame({
        "message_id": comms["message_id"].to_numpy()[rows] if len(rows) else pd.Series([], dtype=fr.STRING),
        "rule": pd.array(rules[hit].tolist() if len(hit) else [], dtype=fr.STRING),
    })
    truth = truth.astype({"message_id": fr.STRING}).sort_values("message_id", ignore_index=True)
    return comms, truth
