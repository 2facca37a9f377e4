"""Customers' lives at one dealer: people, vehicles, purchases, service, appointments, leads,
referrals. Everything but the messages (see ``messages.py``), as numpy arrays.

Days are ints (days since 1970-01-01) and time stamps int64 wall-clock nanoseconds in the
dealer's zone (see ``timeutil``). Sales go back six years so that repurchases after 36
months exist; service, appointments, leads and messages cover the last three years.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import pool as pool_mod
from .timeutil import NEVER, NS_DAY, NS_HOUR, at_hour

# Customer kinds: bought here, bought elsewhere but service here, prospects (leads only).
OWNER, SERVICE_ONLY, PROSPECT = 0, 1, 2
KIND_WEIGHTS = (0.66, 0.20, 0.14)

BRANDS = {
    "Toyota": (
        ("Camry", 29500),
        ("Corolla", 23000),
        ("RAV4", 31500),
        ("Highlander", 42000),
        ("Tacoma", 36000),
        ("Tundra", 49000),
        ("Prius", 29000),
        ("Sienna", 41000),
    ),
    "Ford": (
        ("F-150", 46000),
        ("Escape", 30000),
        ("Explorer", 41000),
        ("Mustang", 35000),
        ("Bronco", 42000),
        ("Maverick", 27000),
        ("Edge", 38500),
    ),
    "Honda": (
        ("Civic", 25000),
        ("Accord", 29500),
        ("CR-V", 32500),
        ("Pilot", 42500),
        ("Odyssey", 40500),
        ("HR-V", 26000),
        ("Passport", 41500),
    ),
    "Chevrolet": (
        ("Silverado", 45000),
        ("Equinox", 29000),
        ("Malibu", 26500),
        ("Tahoe", 58000),
        ("Traverse", 39000),
        ("Trax", 22000),
    ),
    "Hyundai": (
        ("Elantra", 22500),
        ("Sonata", 27500),
        ("Tucson", 29500),
        ("Santa Fe", 34000),
        ("Palisade", 39000),
        ("Kona", 25000),
    ),
}
BRAND_NAMES = tuple(BRANDS)
FI_PRODUCTS = ("GAP", "Extended Warranty", "Tire & Wheel", "Paint Protection", "Maintenance Plan", "Key Replacement")
LEAD_SOURCES = ("website", "walk-in", "phone", "third-party", "oem", "referral")
APPT_SOURCES = ("online", "phone", "app", "walk-in")
OTHER_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles")


@dataclass
class Lives:
    """What happened at one dealer (arrays; index = row)."""

    tz: str
    brand: str
    start_day: int
    as_of_day: int
    cust: dict = field(default_factory=dict)
    vehicles: dict = field(default_factory=dict)
    sales: dict = field(default_factory=dict)
    visits: dict = field(default_factory=dict)
    appts: dict = field(default_factory=dict)
    leads: dict = field(default_factory=dict)
    referrals: dict = field(default_factory=dict)
    declined: dict = field(default_factory=dict)  # declined work on visits (synth/service.py)


def _bools(rng, n, p_true, p_false):
    """Nullable booleans as (value, known) arrays."""
    u = rng.random(n)
    return u < p_true, u < p_true + p_false


def customers(rng, n: int, seed: int, tz: str, as_of_day: int) -> dict:
    c = pool_mod.people(rng, n, seed, tz)
    c["kind"] = rng.choice(3, size=n, p=KIND_WEIGHTS)
    # Own time zone: most blank (the dealer's), some explicit, ~6% elsewhere (snowbirds, movers).
    u = rng.random(n)
    zone = np.full(n, None, dtype=object)
    zone[u < 0.25] = tz
    other = u >= 0.94
    zone[other] = np.array([z for z in OTHER_ZONES if z != tz], dtype=object)[
        rng.integers(0, len(OTHER_ZONES) - 1, other.sum())
    ]
    c["timezone"] = zone
    # Where they live (customers.state; ZIP and area code of the law states): a generator of its own
    where = pool_mod.with_states(np.random.default_rng([int(seed), 15]), c, tz, seed)
    c["state"], c["postal_code"], c["phone"] = where["state"], where["postal_code"], where["phone"]
    moved = where["zone"] != None  # noqa: E711 (object array)
    c["timezone"][moved] = where["zone"][moved]
    c["birth_day"] = as_of_day - rng.integers(18 * 365, 85 * 365, n)
    c["birth_known"] = rng.random(n) < 0.8
    c["has_email"] = rng.random(n) < 0.92
    c["has_phone"] = rng.random(n) < 0.95
    c["email_opt_in"], c["email_opt_in_known"] = _bools(rng, n, 0.75, 0.10)
    c["sms_consent"], c["sms_consent_known"] = _bools(rng, n, 0.45, 0.15)
    c["phone_dnc"], c["phone_dnc_known"] = _bools(rng, n, 0.10, 0.70)
    c["mail_opt_out"], c["mail_opt_out_known"] = _bools(rng, n, 0.05, 0.80)
    # Preferred channel (-1 = none). Whoever prefers a channel can be reached on it.
    pref = rng.choice(5, size=n, p=[0.44, 0.20, 0.05, 0.06, 0.25])
    pref = np.where(pref == 4, -1, pref)
    pref[(pref == 0) & ~c["has_email"]] = -1
    pref[((pref == 1) | (pref == 2)) & ~c["has_phone"]] = -1
    c["email_opt_in"][pref == 0] = True
    c["email_opt_in_known"][pref == 0] = True
    c["sms_consent"][pref == 1] = True
    c["sms_consent_known"][pref == 1] = True
    c["phone_dnc"][pref == 2] = False
    c["phone_dnc_known"][pref == 2] = True
    c["mail_opt_out"][pref == 3] = False
    c["mail_opt_out_known"][pref == 3] = True
    c["pref"] = pref
    # Households: about a fifth of customers share one with the customer next to them.
    hh = np.arange(n)
    pair = rng.random(n) < 0.1
    pair[-1] = False
    hh[1:][pair[:-1]] = hh[:-1][pair[:-1]]
    c["household"] = hh
    c["has_household"] = rng.random(n) < 0.85
    c["engagement"] = rng.beta(1.6, 3.5, n)
    c["activity"] = rng.lognormal(0.0, 0.35, n)
    return c


def catalog(brand: str):
    models = np.array([m for m, _ in BRANDS[brand]], dtype=object)
    prices = np.array([p for _, p in BRANDS[brand]], dtype=float)
    return models, prices


def all_models():
    models = [(b, m, p) for b in BRAND_NAMES for m, p in BRANDS[b]]
    return (
        np.array([b for b, _, _ in models], dtype=object),
        np.array([m for _, m, _ in models], dtype=object),
        np.array([p for _, _, p in models], dtype=float),
    )


def sales_and_vehicles(rng, L: Lives) -> None:
    s_cust, s_day = _purchase_days(rng, L)
    L.sales = _sales(rng, L, s_cust, s_day)
    _vehicles(rng, L)


def _purchase_days(rng, L: Lives):
    """Owners' purchases over six years: a first car, some repurchases, some second cars."""
    c = L.cust
    owners = np.flatnonzero(c["kind"] == OWNER)
    first = L.as_of_day - rng.integers(5, 6 * 365, len(owners))
    s_cust, s_day = [owners], [first]
    prev = first
    for p in (0.42, 0.25):  # repurchases: some customers come back after 2-5 years
        nxt = prev + rng.integers(24 * 30, 60 * 30, len(prev))
        ok = (rng.random(len(prev)) < p) & (nxt <= L.as_of_day - 1)
        s_cust.append(owners[ok])
        s_day.append(nxt[ok])
        owners, prev = owners[ok], nxt[ok]
    second = np.flatnonzero(c["kind"] == OWNER)
    second = second[rng.random(len(second)) < 0.12]  # a second car for the household
    sd = L.as_of_day - rng.integers(5, 4 * 365, len(second))
    s_cust.append(second)
    s_day.append(sd)
    s_cust = np.concatenate(s_cust)
    s_day = np.concatenate(s_day)
    order = np.lexsort((s_cust, s_day))
    return s_cust[order], s_day[order]


def _sales(rng, L: Lives, s_cust, s_day) -> dict:
    """What was bought: new or used, model, price, F&I products, warranty."""
    ns = len(s_cust)
    new = rng.random(ns) < 0.65
    b_make, b_model, b_price = all_models()
    own_models, own_prices = catalog(L.brand)
    mi = rng.integers(0, len(own_models), ns)
    model = own_models[mi].copy()
    base = own_prices[mi].copy()
    make = np.full(ns, L.brand, dtype=object)
    other = ~new & (rng.random(ns) < 0.5)  # half of used cars are other brands
    oi = rng.integers(0, len(b_model), other.sum())
    make[other], model[other], base[other] = b_make[oi], b_model[oi], b_price[oi]
    year = 1970 + (s_day / 365.25).astype(int)
    age = np.where(new, 0, rng.integers(1, 9, ns))
    model_year = year - age + (new & (rng.random(ns) < 0.4))
    price = np.where(new, base * rng.uniform(0.95, 1.12, ns), base * 0.86**age * rng.uniform(0.9, 1.1, ns))
    price = np.round(price / 50) * 50
    nprod = np.minimum(rng.poisson(1.1, ns), 4)
    products = np.empty(ns, dtype=object)
    for i in range(ns):
        products[i] = ";".join(sorted(rng.choice(FI_PRODUCTS, nprod[i], replace=False))) if nprod[i] else None
    warranty = np.where(new, s_day + 3 * 365, np.where(rng.random(ns) < 0.3, s_day + 365, NEVER))
    sales = dict(
        cust=s_cust,
        day=s_day,
        new=new,
        model=model,
        price=price,
        products=products,
        make=make,
        model_year=model_year,
        warranty_day=warranty,
        hour=at_hour(np.zeros(ns), rng, 9, 19),
    )
    sales["salesperson_idx"] = rng.integers(0, 12, ns)
    return sales


def _vehicles(rng, L: Lives) -> None:
    """One vehicle per sale, plus the service-only customers' cars bought elsewhere; VINs."""
    s = L.sales
    ns = len(s["cust"])
    b_make, b_model, _ = all_models()
    svc = np.flatnonzero(L.cust["kind"] == SERVICE_ONLY)
    extra = svc[rng.random(len(svc)) < 0.15]
    v_other = np.concatenate([svc, extra])
    nv = len(v_other)
    acq = L.as_of_day - rng.integers(30, 8 * 365, nv)
    oi = rng.integers(0, len(b_model), nv)
    v_year = 1970 + (acq / 365.25).astype(int) - rng.integers(0, 4, nv)
    v_warranty = np.where(rng.random(nv) < 0.6, (v_year - 1970) * 365 + 3 * 365 + rng.integers(0, 365, nv), NEVER)
    L.vehicles = dict(
        cust=np.concatenate([s["cust"], v_other]),
        acquired=np.concatenate([s["day"], acq]),
        make=np.concatenate([s["make"], b_make[oi]]),
        model=np.concatenate([s["model"], b_model[oi]]),
        model_year=np.concatenate([s["model_year"], v_year]),
        warranty_day=np.concatenate([s["warranty_day"], v_warranty]),
        sale=np.concatenate([np.arange(ns), np.full(nv, -1)]),
    )
    nveh = len(L.vehicles["cust"])
    serial = rng.permutation(nveh) + 100000
    chars = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"))
    body = chars[rng.integers(0, len(chars), (nveh, 8))]
    wmi = {"Toyota": "4T1", "Ford": "1FA", "Honda": "1HG", "Chevrolet": "1G1", "Hyundai": "KMH"}
    L.vehicles["vin"] = np.array(
        [wmi[m] + "".join(b) + f"{s:06d}" for m, b, s in zip(L.vehicles["make"], body, serial)], dtype=object
    )
    L.sales["vin"] = L.vehicles["vin"][:ns]


def service(rng, L: Lives) -> None:
    """Visits every 4-7 months per vehicle; keepers keep the cadence, others stop or never come."""
    v = L.vehicles
    nv = len(v["cust"])
    style = rng.choice(3, size=nv, p=[0.45, 0.33, 0.22])  # keep, abandon, never
    first = v["acquired"] + rng.integers(60, 420, nv)  # a few first come back after a year
    # Those who abandon stop at some point of the three years (or the coming months).
    quit_day = rng.integers(L.start_day, L.as_of_day + 200, nv)
    stop = np.where(style == 0, L.as_of_day + 400, np.where(style == 1, np.maximum(quit_day, first), NEVER))
    nmax = np.clip((L.as_of_day + 200 - first) // 120 + 1, 0, 40)
    veh = np.repeat(np.arange(nv), nmax)
    gaps = rng.integers(120, 215, len(veh))
    starts = np.cumsum(nmax) - nmax
    cs = np.cumsum(gaps)
    s0 = starts[veh]  # (vehicles with no visit at all have no rows, so s0 is always a valid row)
    within = cs - (cs[s0] - gaps[s0]) - gaps  # 0 for each vehicle's first visit
    day = first[veh] + within
    keep = day <= stop[veh]
    # The next visit after as_of (for appointments already booked) before truncating.
    future = keep & (day > L.as_of_day)
    nxt_veh, nxt_day = veh[future], day[future]
    _, fi = np.unique(nxt_veh, return_index=True)
    L.appts["future_veh"], L.appts["future_day"] = nxt_veh[fi], nxt_day[fi]
    keep &= (day >= L.start_day) & (day <= L.as_of_day)
    veh, day = veh[keep], day[keep]
    n = len(veh)
    kind = rng.choice(5, size=n, p=[0.6, 0.2, 0.05, 0.08, 0.07])  # maintenance, repair, recall, tires, other
    in_warranty = day <= v["warranty_day"][veh]
    pay = np.where((kind == 2) | ((kind == 1) & in_warranty), 1, 0)
    pay[rng.random(n) < 0.02] = 2
    amount = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [rng.lognormal(5.0, 0.4, n), rng.lognormal(6.4, 0.7, n), np.zeros(n), rng.lognormal(6.6, 0.2, n)],
        rng.lognormal(5.5, 0.6, n),
    )
    amount = np.where(pay == 1, 0.0, np.round(amount, 2))
    years_used = np.maximum(day - v["acquired"][veh], 0) / 365.25
    base_miles = np.maximum(1970 + v["acquired"][veh] / 365.25 - v["model_year"][veh], 0) * 12000
    mileage = (base_miles + years_used * rng.normal(12000, 2500, n).clip(4000)).astype(np.int64)
    L.visits = dict(veh=veh, cust=v["cust"][veh], day=day, kind=kind, pay=pay, amount=amount, mileage=mileage)


def appointments(rng, L: Lives) -> None:
    """Kept appointments behind most visits, plus no-shows, cancellations and future bookings."""
    vi = L.visits
    n = len(vi["day"])
    has = rng.random(n) < 0.85
    a_cust = [vi["cust"][has]]
    a_veh = [vi["veh"][has]]
    sched = [at_hour(vi["day"][has], rng, 7, 16)]
    booked_days = vi["day"][has] - rng.integers(1, 22, has.sum())
    booked = [at_hour(booked_days, rng, 8, 19)]
    status = [np.full(has.sum(), 1)]  # kept
    # No-shows and cancellations: a slot a week or two before some visits.
    for st, p in ((2, 0.11), (3, 0.07)):
        m = rng.random(n) < p
        sd = vi["day"][m] - rng.integers(7, 21, m.sum())
        bd = sd - rng.integers(1, 20, m.sum())
        a_cust.append(vi["cust"][m])
        a_veh.append(vi["veh"][m])
        sched.append(at_hour(sd, rng, 7, 16))
        booked.append(at_hour(bd, rng, 8, 19))
        status.append(np.full(m.sum(), st))
    # Already booked for the coming weeks: scheduled, booked on or before as_of.
    fv, fd = L.appts.pop("future_veh"), L.appts.pop("future_day")
    m = (fd <= L.as_of_day + 45) & (rng.random(len(fd)) < 0.6)
    fv, fd = fv[m], fd[m]
    bd = np.maximum(L.as_of_day - rng.integers(0, 20, len(fd)), fd - 30)
    bd = np.minimum(bd, L.as_of_day)
    a_cust.append(L.vehicles["cust"][fv])
    a_veh.append(fv)
    sched.append(at_hour(fd, rng, 7, 16))
    booked.append(at_hour(bd, rng, 8, 19))
    status.append(np.zeros(len(fd), dtype=int))
    a = dict(
        cust=np.concatenate(a_cust),
        veh=np.concatenate(a_veh),
        sched=np.concatenate(sched),
        booked=np.concatenate(booked),
        status=np.concatenate(status),
    )
    # Booked later than it is scheduled cannot be: book at least an hour before.
    a["booked"] = np.minimum(a["booked"], a["sched"] - NS_HOUR)
    order = np.lexsort((a["cust"], a["booked"]))
    L.appts = {k: v[order] for k, v in a.items()}
    L.appts["source"] = rng.integers(0, len(APPT_SOURCES), len(order))


def leads(rng, L: Lives) -> None:
    """A sold lead before most recent sales; lost and still-open leads for prospects and some owners."""
    s = L.sales
    recent = (s["day"] >= L.start_day - 60) & (rng.random(len(s["day"])) < 0.85)
    o_day = s["day"][recent] - rng.integers(2, 45, recent.sum())
    l_cust = [s["cust"][recent]]
    opened = [at_hour(o_day, rng, 9, 19)]
    closed = [s["day"][recent] * NS_DAY + s["hour"][recent]]
    outcome = [np.zeros(recent.sum(), dtype=int)]  # sold
    c = L.cust
    who = np.flatnonzero((c["kind"] == PROSPECT) | ((c["kind"] == OWNER) & (rng.random(len(c["kind"])) < 0.15)))
    who = np.concatenate([who, who[rng.random(len(who)) < 0.3]])
    od = rng.integers(L.start_day, L.as_of_day + 1, len(who))
    cd = od + rng.integers(5, 120, len(who))
    l_cust.append(who)
    opened.append(at_hour(od, rng, 9, 19))
    closed.append(np.where(cd <= L.as_of_day, at_hour(cd, rng, 9, 19), NEVER))
    outcome.append(np.where(cd <= L.as_of_day, 1, -1))  # lost, or still open
    lead = dict(
        cust=np.concatenate(l_cust),
        opened=np.concatenate(opened),
        closed=np.concatenate(closed),
        outcome=np.concatenate(outcome),
    )
    open_ = lead["closed"] <= NEVER
    lead["closed"] = np.where(open_, NEVER, np.maximum(lead["closed"], lead["opened"] + NS_HOUR))
    order = np.lexsort((lead["cust"], lead["opened"]))
    L.leads = {k: v[order] for k, v in lead.items()}
    L.leads["source"] = rng.integers(0, len(LEAD_SOURCES), len(order))


def referrals(rng, L: Lives, seed: int) -> None:
    """Advocates refer friends; some referrals become real sales, most move partway through the funnel."""
    first_sale = np.full(len(L.cust["kind"]), 1 << 30)
    np.minimum.at(first_sale, L.sales["cust"], L.sales["day"])
    advocates = np.flatnonzero(first_sale < L.as_of_day)
    if len(advocates) == 0:
        L.referrals = {}
        return
    referrer, ref_day, pick = _referrers(rng, L, advocates, first_sale)
    r = _funnel(rng, L, ref_day, pick)
    r.update(_referred_people(rng, L, seed, referrer, pick))
    r["referrer"] = referrer
    order = np.argsort(r["referred_at"], kind="stable")
    L.referrals = {k: v[order] for k, v in r.items()}


def _referrers(rng, L: Lives, advocates, first_sale):
    """Who referred when: sold referrals (a real sale 5-60 days later), then about three
    times as many not (yet) sold; an advocate has bought before referring. ``pick`` is the
    sale of each sold referral, -1 for the others (which come after the sold ones)."""
    s = L.sales
    pick = np.flatnonzero((s["day"] >= L.start_day + 60) & (rng.random(len(s["day"])) < 0.12))
    ref_day = s["day"][pick] - rng.integers(5, 60, len(pick))
    referrer = advocates[rng.integers(0, len(advocates), len(pick))]
    ok = (first_sale[referrer] < ref_day) & (referrer != s["cust"][pick])
    pick, ref_day, referrer = pick[ok], ref_day[ok], referrer[ok]
    n_other = max(3 * len(pick), len(advocates) // 30)
    o_ref = advocates[rng.integers(0, len(advocates), n_other)]
    o_day = rng.integers(L.start_day + 1, L.as_of_day + 1, n_other)
    ok = first_sale[o_ref] < o_day
    return (
        np.concatenate([referrer, o_ref[ok]]),
        np.concatenate([ref_day, o_day[ok]]),
        np.concatenate([pick, np.full(ok.sum(), -1)]),
    )


def _funnel(rng, L: Lives, ref_day, pick) -> dict:
    """Status, first contact (median ~10 h, a third over a day), sale, thanks and reward."""
    s = L.sales
    n = len(ref_day)
    sold = pick >= 0
    n_sold = int(sold.sum())
    as_of_end = (L.as_of_day + 1) * NS_DAY - 1
    referred_at = at_hour(ref_day, rng, 9, 20)
    status = np.concatenate([np.full(n_sold, 3), rng.choice([0, 1, 2, 4], n - n_sold, p=[0.1, 0.3, 0.15, 0.45])])
    young = ~sold & (referred_at > as_of_end - 7 * NS_DAY)  # last week's: new or just contacted
    status[young] = rng.choice([0, 1], young.sum())
    delay = (rng.lognormal(2.3, 1.1, n) * NS_HOUR).astype(np.int64)
    first_contact = np.where(status == 0, NEVER, np.minimum(referred_at + delay, as_of_end))
    sold_at = np.where(sold, s["day"][np.maximum(pick, 0)] * NS_DAY + s["hour"][np.maximum(pick, 0)], NEVER)
    first_contact = np.where(sold, np.minimum(first_contact, sold_at - NS_HOUR), first_contact)
    ack_base = np.where(status == 3, sold_at, first_contact)
    ack = ack_base + rng.integers(1, 15, n) * NS_DAY
    ack = np.where(
        (rng.random(n) < np.where(status == 3, 0.7, 0.35)) & (ack_base > NEVER) & (ack <= as_of_end), ack, NEVER
    )
    incentive = rng.choice(4, n, p=[0.45, 0.25, 0.15, 0.15])
    reward = np.choose(
        incentive, [rng.choice([250.0, 500.0], n), np.full(n, 150.0), rng.choice([0.0, 25.0], n), np.full(n, 100.0)]
    )
    return dict(
        referred_at=referred_at,
        status=status,
        first_contact=first_contact,
        sold_at=sold_at,
        sale=pick,
        ack=ack,
        incentive=incentive,
        reward=np.where(status == 3, reward, np.nan),
    )


def _referred_people(rng, L: Lives, seed: int, referrer, pick) -> dict:
    """The buyer for sold referrals, a new fake person otherwise; plus a few anomalies the
    report must catch: self-referrals (the advocate's own email or phone) and one friend
    referred twice."""
    c = L.cust
    n = len(pick)
    sold = pick >= 0
    n_sold, n_other = int(sold.sum()), int((~sold).sum())
    who = pool_mod.people(rng, n_other, seed, L.tz)
    buyer = np.where(sold, L.sales["cust"][np.maximum(pick, 0)], -1)
    name, email, phone = (np.empty(n, dtype=object) for _ in range(3))
    b = buyer[sold]
    name[sold] = c["first_name"][b] + " " + c["last_name"][b]
    email[sold] = np.where(c["has_email"][b], c["email"][b], None)
    phone[sold] = np.where(c["has_phone"][b], c["phone"][b], None)
    name[~sold] = who["first_name"] + " " + who["last_name"]
    email[~sold] = who["email"]
    phone[~sold] = who["phone"]
    if n_other:
        selfs = n_sold + rng.choice(n_other, min(max(1, n // 60), n_other), replace=False)
        adv = referrer[selfs]
        email[selfs] = np.where(c["has_email"][adv], c["email"][adv], email[selfs])
        phone[selfs] = np.where(c["has_phone"][adv], c["phone"][adv], phone[selfs])
    if n_other >= 4:
        a, b2 = n_sold + rng.choice(n_other, 2, replace=False)
        name[b2], email[b2], phone[b2] = name[a], email[a], phone[a]
    return dict(name=name, email=email, phone=phone, ref_cust=buyer)


def build(rng, *, n_customers: int, seed: int, tz: str, brand: str, start_day: int, as_of_day: int) -> Lives:
    L = Lives(tz=tz, brand=brand, start_day=start_day, as_of_day=as_of_day)
    L.cust = customers(rng, n_customers, seed, tz, as_of_day)
    sales_and_vehicles(rng, L)
    service(rng, L)
    from . import service as service_data  # odometer readings and declined work (own random stream)

    extra = service_data.rng_for(seed)
    service_data.add_declined_and_recoveries(extra, L)
    service_data.odometer(extra, L)
    appointments(rng, L)
    leads(rng, L)
    referrals(rng, L, seed)
    return L
