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
    if int(customers) <= 0:  # a store with no customers yet: every table empty
        from ..data import empty_table

        empty = pd.DataFrame({"message_id": pd.Series(dtype=fr.STRING), "rule": pd.Series(dtype=fr.STRING)})
        return {name: empty_table(name, timezone) for name in fr.schema.TABLES}, empty
    r_lives, r_msgs, r_out, r_inj, r_extra = _streams(seed, dealer_id, 5)
    L = lv.build(
        r_lives,
        n_customers=int(customers),
        seed=int(seed),
        tz=timezone,
        brand=brand,
        start_day=as_of_day - HISTORY_DAYS,
        as_of_day=as_of_day,
    )
    base = msg.generate(r_msgs, L, params)
    base = msg.outcomes(r_out, base, L, params)
    model_labels, base_model, base_price = _offers(r_extra, L, base)
    added = inj.inject(r_inj, L, params, base, inject_rate) if inject else inj.Added().arrays()
    frames = fr.build(L, _sales_team(seed, dealer_id))
    comms, truth = _merge(L, base, added, model_labels, base_model, base_price)
    frames["communications"] = comms
    frames = {name: frames[name] for name in fr.schema.TABLES}
    return frames, truth


def _sales_team(seed: int, dealer_id: str) -> np.ndarray:
    """Twelve salespeople of this store, from the seed's pool (stores do not share staff)."""
    names = pool_mod.pool(int(seed)).salespeople
    rng = np.random.default_rng([int(seed), zlib.crc32(dealer_id.encode()), 12])
    return names[rng.choice(len(names), size=min(12, len(names)), replace=False)]


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
    # Campaign and model as codes into one label list each (clean labels, then injected
    # ones), so the ten million strings are made once, already in the final order.
    has_camp = np.isin(base["cat"], [msg.CAT[x] for x in msg.CAMPAIGN_CATEGORIES])
    camp_labels, camp_code = fr.campaign_codes(base["sender"], base["cat"], base["slot"], has_camp)
    camp_labels += list(added["campaign"])
    inj_camp = np.array(
        [len(camp_labels) - na + i if c is not None else -1 for i, c in enumerate(added["campaign"])], dtype=np.int64
    )
    model_labels = list(model_labels) + list(added["model"])
    inj_model = np.array(
        [len(model_labels) - na + i if x is not None else -1 for i, x in enumerate(added["model"])], dtype=np.int64
    )
    never = np.full(na, NEVER, dtype=np.int64)

    def cat2(a, b):
        return np.concatenate([a, np.asarray(b).astype(a.dtype)])

    m = {
        "cust": cat2(base["cust"], added["cust"]),
        "t": cat2(base["t"], added["t"]),
        "channel": cat2(base["channel"], added["channel"]),
        "sender": cat2(base["sender"], added["sender"]),
        "cat": cat2(base["cat"], added["cat"]),
        "vidx": cat2(base["vidx"], added["vidx"]),
        "offer_price": cat2(base_price, added["offer_price"]),
        "status": cat2(base["status"], np.zeros(na)),
        "opened": cat2(base["opened"], never),
        "clicked": cat2(base["clicked"], never),
        "responded": cat2(base["responded"], never),
        "unsub": cat2(base["unsub"], added["unsub"]),
        "campaign": np.concatenate([camp_code, inj_camp]),
        "model": np.concatenate([base_model, inj_model]),
    }
    # Time order; ties of the same second keep generation order. A stable sort, since numpy's
    # default sort may order ties differently from one release to the next (same seed, same bytes).
    order = np.argsort(m["t"], kind="stable")
    m = {k: v[order] for k, v in m.items()}
    cid = fr.ids("C", np.arange(1, len(L.cust["kind"]) + 1), 6).to_numpy(dtype=object)
    comms = fr.communications(m, L, cid, camp_labels, model_labels)
    rank = np.empty(nb + na, dtype=np.int64)
    rank[order] = np.arange(nb + na)
    rules = added["rule"]
    hit = np.flatnonzero(np.array([x is not None for x in rules], dtype=bool))
    rows = rank[nb + hit]
    truth = pd.DataFrame(
        {
            "message_id": fr.ids("M", rows + 1, fr.ID_WIDTH if nb + na < 10**8 else 10),
            "rule": pd.array(rules[hit].tolist() if len(hit) else [], dtype=fr.STRING),
        }
    )
    return comms, truth.sort_values("message_id", ignore_index=True)
