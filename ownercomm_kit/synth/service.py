"""Service-intelligence data of a synthetic store (SPEC §5): odometer readings and declined work.

A separate random stream (seed, 16) so the rest of a store's life is drawn as before.
- Each vehicle drives its own miles per day (log-normal around 33, about 12,000 a year); a
  reading is the mileage at acquisition + rate × days owned, plus a little noise. About 4% of
  visits carry no reading and 1.5% an odometer typo (a digit lost or one too many).
- About a quarter of customer-pay maintenance, repair and tire visits carry declined work
  (one or two items, a realistic description and amount). About a third of the items are
  recovered: a repair visit of the vehicle 3-75 days later (added to the visits before
  appointments and messages are drawn, so the clean messages respect it).
"""

from __future__ import annotations

import numpy as np

DECLINED = (  # description, typical amount (log-normal median), spread
    ("Front brake pads and rotors", 420.0),
    ("Rear brake pads", 260.0),
    ("Four tires", 780.0),
    ("Wiper blades", 45.0),
    ("Cabin air filter", 70.0),
    ("Engine air filter", 55.0),
    ("Coolant flush", 160.0),
    ("Brake fluid flush", 130.0),
    ("Transmission fluid service", 240.0),
    ("Battery replacement", 210.0),
    ("Wheel alignment", 120.0),
    ("Serpentine belt", 180.0),
    ("Spark plugs", 290.0),
    ("Front struts", 950.0),
)
RECOVERY_SHARE = 0.35
DECLINE_SHARE = 0.25


def rng_for(seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 16])


def add_declined_and_recoveries(rng: np.random.Generator, L) -> None:
    """Declined items on visits (``L.declined``) and the recovery visits that win some back."""
    vi = L.visits
    n = len(vi["veh"])
    eligible = (vi["pay"] == 0) & np.isin(vi["kind"], [0, 1, 3])
    has = eligible & (rng.random(n) < DECLINE_SHARE)
    items_per = np.where(has, 1 + (rng.random(n) < 0.3), 0)
    visit = np.repeat(np.arange(n), items_per)
    m = len(visit)
    what = rng.integers(0, len(DECLINED), m)
    median = np.array([a for _, a in DECLINED])[what]
    amount = np.round(median * rng.lognormal(0.0, 0.25, m), 2)
    day = vi["day"][visit]
    recovered = rng.random(m) < RECOVERY_SHARE
    back_day = day + rng.integers(3, 76, m)
    add = recovered & (back_day <= L.as_of_day)
    # one recovery visit per (vehicle, day), however many items it wins back
    veh_add, day_add = vi["veh"][visit][add], back_day[add]
    pairs = np.unique(np.stack([veh_add, day_add]), axis=1) if add.any() else np.zeros((2, 0), dtype=np.int64)
    k = pairs.shape[1]
    if k:
        veh_new, day_new = pairs[0], pairs[1]
        amount_new = np.round(
            np.array([a for _, a in DECLINED])[rng.integers(0, len(DECLINED), k)] * rng.lognormal(0.0, 0.25, k), 2
        )
        L.visits = dict(
            veh=np.concatenate([vi["veh"], veh_new]),
            cust=np.concatenate([vi["cust"], L.vehicles["cust"][veh_new]]),
            day=np.concatenate([vi["day"], day_new]),
            kind=np.concatenate([vi["kind"], np.ones(k, dtype=vi["kind"].dtype)]),
            pay=np.concatenate([vi["pay"], np.zeros(k, dtype=vi["pay"].dtype)]),
            amount=np.concatenate([vi["amount"], amount_new]),
            mileage=np.concatenate([vi["mileage"], np.zeros(k, dtype=np.int64)]),
        )
    L.declined = dict(
        visit=visit,  # index into L.visits (unchanged by the appended recovery visits)
        what=what,
        amount=amount,
        minute=rng.integers(7 * 60 + 30, 18 * 60, m),
        has_vin=rng.random(m) >= 0.05,
    )


def odometer(rng: np.random.Generator, L) -> None:
    """Readings of every visit from a per-vehicle daily rate, with a few gaps and typos."""
    v, vi = L.vehicles, L.visits
    nv = len(v["cust"])
    rate = np.clip(rng.lognormal(np.log(33.0), 0.35, nv), 5.0, 150.0)
    age_at_acq = np.maximum(1970 + v["acquired"] / 365.25 - v["model_year"], 0.0)
    base = age_at_acq * 12000 * rng.uniform(0.7, 1.3, nv) + rng.integers(5, 40, nv)
    veh, day = vi["veh"], vi["day"]
    n = len(veh)
    owned = np.maximum(day - v["acquired"][veh], 0)
    miles = np.floor(base[veh] + rate[veh] * owned + rng.normal(0, 20, n)).clip(0).astype(np.int64)
    typo = rng.random(n) < 0.015
    miles = np.where(typo, np.where(rng.random(n) < 0.5, miles // 10, miles * 10), miles)
    vi["mileage"] = miles
    vi["mileage_known"] = rng.random(n) >= 0.04
