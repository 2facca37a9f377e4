"""Arrays to the canonical frames of SPEC §2 (dtypes exactly as ``data.py`` documents them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema
from . import lives as lv
from .messages import CATS, CHANNELS, SENDERS
from .timeutil import aware, dates

STRING = pd.StringDtype("pyarrow")
ID_WIDTH = 8  # message ids M00000001...


def ids(prefix: str, numbers, width: int) -> pd.Series:
    """``prefix`` + zero-padded numbers, built in Arrow (fast for millions of rows)."""
    arr = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pd.Series(pd.arrays.ArrowStringArray(pc.binary_join_element_wise(prefix, arr, "")), dtype=STRING)


def strings(values) -> pd.Series:
    """Object array (None = missing) to a ``string`` Series."""
    return pd.Series(pd.array(np.asarray(values, dtype=object), dtype=STRING))


def coded(codes, labels, missing=None) -> pd.Series:
    """Small int codes (-1 = missing) to a ``string`` Series of their labels, via Arrow ``take``."""
    codes = np.asarray(codes)
    idx = pa.array(codes, mask=codes < 0 if missing is None else missing | (codes < 0))
    out = pa.array(list(labels), type=pa.string()).take(idx)
    return pd.Series(pd.arrays.ArrowStringArray(out), dtype=STRING)


def booleans(values, known) -> pd.Series:
    return pd.Series(pd.arrays.BooleanArray(np.asarray(values, dtype=bool), ~np.asarray(known, dtype=bool)))


def ints(values, valid=None) -> pd.Series:
    values = np.asarray(values, dtype=np.int64)
    mask = np.zeros(len(values), bool) if valid is None else ~np.asarray(valid, dtype=bool)
    return pd.Series(pd.arrays.IntegerArray(values, mask))


def floats(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype="float64"))


def frame(table: str, cols: dict) -> pd.DataFrame:
    names = schema.TABLES[table].column_names
    return pd.DataFrame({n: cols[n].reset_index(drop=True) for n in names})


def customers(L: lv.Lives, cid: pd.Series) -> pd.DataFrame:
    c = L.cust
    return frame(
        "customers",
        dict(
            customer_id=cid,
            first_name=strings(c["first_name"]),
            last_name=strings(c["last_name"]),
            email=strings(np.where(c["has_email"], c["email"], None)),
            phone=strings(np.where(c["has_phone"], c["phone"], None)),
            postal_code=strings(c["postal_code"]),
            state=strings(c["state"]),
            timezone=strings(c["timezone"]),
            birth_date=dates(c["birth_day"], c["birth_known"]),
            preferred_channel=coded(c["pref"], CHANNELS),
            email_opt_in=booleans(c["email_opt_in"], c["email_opt_in_known"]),
            sms_consent=booleans(c["sms_consent"], c["sms_consent_known"]),
            phone_dnc=booleans(c["phone_dnc"], c["phone_dnc_known"]),
            mail_opt_out=booleans(c["mail_opt_out"], c["mail_opt_out_known"]),
            household_id=ids("H", c["household"] + 1, 6).where(c["has_household"], None).astype(STRING),
        ),
    )


def build(L: lv.Lives, salespeople) -> dict[str, pd.DataFrame]:
    tz = L.tz
    n_c = len(L.cust["kind"])
    cid_all = ids("C", np.arange(1, n_c + 1), 6)
    cid = cid_all.to_numpy(dtype=object)

    def cust_ids(idx):
        return coded(idx, cid)

    v, s, vi, ap, le, rf = L.vehicles, L.sales, L.visits, L.appts, L.leads, L.referrals
    vin = v["vin"]
    out = {"customers": customers(L, cid_all)}
    out["vehicles"] = frame(
        "vehicles",
        dict(
            vin=strings(vin),
            customer_id=cust_ids(v["cust"]),
            make=strings(v["make"]),
            model=strings(v["model"]),
            model_year=ints(v["model_year"]),
            warranty_end=dates(v["warranty_day"]),
        ),
    )
    ns = len(s["cust"])
    sale_ids = ids("S", np.arange(1, ns + 1), 6)
    out["sales"] = frame(
        "sales",
        dict(
            sale_id=sale_ids,
            customer_id=cust_ids(s["cust"]),
            sale_date=dates(s["day"]),
            vin=strings(s["vin"]),
            model=strings(s["model"]),
            new_used=coded(np.where(s["new"], 0, 1), schema.NEW_USED),
            price=floats(s["price"]),
            salesperson=strings(np.asarray(salespeople, dtype=object)[s["salesperson_idx"]]),
            products=strings(s["products"]),
        ),
    )
    order = np.lexsort((vi["cust"], vi["day"]))
    vi = {k: a[order] for k, a in vi.items()}
    out["service_visits"] = frame(
        "service_visits",
        dict(
            ro_id=ids("RO", np.arange(1, len(order) + 1), 7),
            customer_id=cust_ids(vi["cust"]),
            visit_date=dates(vi["day"]),
            vin=strings(vin[vi["veh"]]),
            pay_type=coded(vi["pay"], schema.PAY_TYPES),
            amount=floats(vi["amount"]),
            service_type=coded(vi["kind"], schema.SERVICE_TYPES),
            mileage=ints(vi["mileage"], vi.get("mileage_known")),
        ),
    )
    out["declined_work"] = _declined_work(L, order, vin, cust_ids)
    out["appointments"] = frame(
        "appointments",
        dict(
            appointment_id=ids("A", np.arange(1, len(ap["cust"]) + 1), 7),
            customer_id=cust_ids(ap["cust"]),
            booked_at=aware(ap["booked"], tz),
            scheduled_for=aware(ap["sched"], tz),
            status=coded(ap["status"], schema.APPOINTMENT_STATUSES),
            vin=strings(vin[ap["veh"]]),
            source=coded(ap["source"], lv.APPT_SOURCES),
        ),
    )
    out["leads"] = frame(
        "leads",
        dict(
            lead_id=ids("L", np.arange(1, len(le["cust"]) + 1), 6),
            customer_id=cust_ids(le["cust"]),
            opened_at=aware(le["opened"], tz),
            closed_at=aware(le["closed"], tz),
            outcome=coded(le["outcome"], schema.LEAD_OUTCOMES),
            source=coded(le["source"], lv.LEAD_SOURCES),
        ),
    )
    out["referrals"] = _referrals(rf, tz, cid, sale_ids.to_numpy(dtype=object))
    return out


def _declined_work(L: lv.Lives, order: np.ndarray, vin, cust_ids) -> pd.DataFrame:
    """Declined items on the repair orders of their visits (``order``: the visits' sort order)."""
    from .service import DECLINED

    dw = getattr(L, "declined", None) or {}
    visit = dw.get("visit", np.array([], dtype=np.int64))
    if len(visit) == 0:
        from ..data import empty_table

        return empty_table("declined_work", L.tz)
    ro_number = np.empty(len(order), dtype=np.int64)
    ro_number[order] = np.arange(1, len(order) + 1)
    vi = L.visits
    veh = vi["veh"][visit]
    ns = (vi["day"][visit].astype(np.int64) * 1440 + dw["minute"]) * 60 * 10**9
    return frame(
        "declined_work",
        dict(
            ro_id=ids("RO", ro_number[visit], 7),
            customer_id=cust_ids(vi["cust"][visit]),
            declined_at=aware(ns, L.tz),
            vin=strings(np.where(dw["has_vin"], vin[veh], None)),
            description=coded(dw["what"], [d for d, _ in DECLINED]),
            amount=floats(dw["amount"]),
        ),
    )


def _referrals(rf: dict, tz: str, cid, sale_ids) -> pd.DataFrame:
    n = len(rf.get("referrer", []))
    if n == 0:
        from ..data import empty_table

        return empty_table("referrals", tz)
    return frame(
        "referrals",
        dict(
            referral_id=ids("R", np.arange(1, n + 1), 5),
            referrer_id=strings(cid[rf["referrer"]]),
            referred_at=aware(rf["referred_at"], tz),
            referred_name=strings(rf["name"]),
            referred_email=strings(rf["email"]),
            referred_phone=strings(rf["phone"]),
            referred_customer_id=strings(np.where(rf["ref_cust"] >= 0, cid[np.maximum(rf["ref_cust"], 0)], None)),
            incentive_category=coded(rf["incentive"], schema.INCENTIVE_CATEGORIES),
            reward_value=floats(rf["reward"]),
            status=coded(rf["status"], schema.REFERRAL_STATUSES),
            first_contact_at=aware(rf["first_contact"], tz),
            sold_at=aware(rf["sold_at"], tz),
            sale_id=strings(np.where(rf["sale"] >= 0, sale_ids[np.maximum(rf["sale"], 0)], None)),
            acknowledged_at=aware(rf["ack"], tz),
        ),
    )


CAT_CODE = {
    "service_reminder": "SVC",
    "offer": "OFR",
    "sales_promo": "PRM",
    "conquest": "CNQ",
    "birthday": "BDY",
    "anniversary": "ANV",
    "warranty": "WTY",
    "recall": "RCL",
    "survey": "SRV",
    "newsletter": "NWS",
    "referral": "REF",
    "event": "EVT",
    "transactional": "TRX",
}


def campaign_codes(sender, cat, slot, has) -> tuple[list, np.ndarray]:
    """Campaign ids of clean messages as (labels, codes; -1 = none): sender + category + slot
    number, shared by everyone messaged in that slot. A customer has at most one message per
    slot, so no one gets a campaign twice.
    """
    slot = np.asarray(slot, dtype=np.int64)
    n_slots = int(slot.max()) + 1 if len(slot) else 1
    labels = [f"{s[:2].upper()}-{CAT_CODE[c]}-{j:04d}" for s in SENDERS for c in CATS for j in range(n_slots)]
    code = (np.asarray(sender, dtype=np.int64) * len(CATS) + np.asarray(cat, dtype=np.int64)) * n_slots + slot
    return labels, np.where(np.asarray(has, dtype=bool), code, -1)


def communications(m: dict, L: lv.Lives, cid, campaign_labels, model_labels) -> pd.DataFrame:
    """Messages already in their final order; ``campaign`` and ``model`` are codes into labels."""
    tz = L.tz
    n = len(m["cust"])
    return frame(
        "communications",
        dict(
            message_id=ids("M", np.arange(1, n + 1), ID_WIDTH if n < 10**8 else 10),
            customer_id=coded(m["cust"], cid),
            sent_at=aware(m["t"], tz),
            channel=coded(m["channel"], CHANNELS),
            sender=coded(m["sender"], SENDERS),
            category=coded(m["cat"], CATS),
            campaign_id=coded(m["campaign"], campaign_labels),
            vin=coded(m["vidx"], L.vehicles["vin"]),
            model=coded(m["model"], model_labels),
            offer_price=floats(m["offer_price"]),
            status=coded(m["status"], schema.MESSAGE_STATUSES),
            opened_at=aware(m["opened"], tz),
            clicked_at=aware(m["clicked"], tz),
            responded_at=aware(m["responded"], tz),
            unsubscribed=booleans(m["unsub"], np.ones(n, bool)),
        ),
    )
