"""Helpers shared by the KPI modules (retention, service, referrals): windows, local dates,
ratios, text, missing data, how to reach a customer, vehicle labels, call-list columns.

SPEC §5 reading (see ``retention``): a window (x, y] excludes x and includes y; months are
calendar months, a day missing in the target month clipped to its last day; a ratio whose
denominator is empty is ``None``. Nothing here imports an analytics module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..data import DealerData

CHANNELS_ORDER = ("email", "sms", "phone", "mail")
# The first columns of every call list.
LIST_COLUMNS = ["customer_id", "name", "vehicle", "vin", "channel", "contact"]


def months_before(a: pd.Timestamp, months: int) -> pd.Timestamp:
    """Calendar months back; a day missing in the target month clips to its last day."""
    return a - pd.DateOffset(months=int(months))


def local_date(s: pd.Series, timezone: str) -> pd.Series:
    """A timestamp column as naive midnight dates in the dealer's timezone."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert(timezone).dt.tz_localize(None)
    return s.dt.normalize()


def wall_clock(s: pd.Series, timezone: str) -> pd.Series:
    """A timestamp column as naive local times in the dealer's timezone."""
    return s.dt.tz_convert(timezone).dt.tz_localize(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else s


def in_window(dates: pd.Series, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Series:
    """dates in (lo, hi]; missing dates are outside."""
    return ((dates > lo) & (dates <= hi)).fillna(False).astype(bool)


def isin(s: pd.Series, values) -> pd.Series:
    """``s.isin(values)`` for string ids, through pyarrow: pandas 3 loops in Python over the values
    of an Arrow string column's isin (4 s for 200k ids). Missing ids never match."""
    if isinstance(values, (set, frozenset, dict)):
        values = list(values)
    right = pa.array(pd.Series(values, dtype="string").dropna().array)
    if len(s) == 0 or len(right) == 0:
        return pd.Series(False, index=s.index)
    left = pa.array(s.astype("string").array)
    hit = pc.is_in(left, value_set=right, skip_nulls=True).fill_null(False)
    return pd.Series(np.asarray(hit, dtype=bool), index=s.index)


def ratio(num: int | float, den: int | float) -> float | None:
    return None if not den else float(num) / float(den)


def text(s: pd.Series) -> pd.Series:
    """Strings with blanks for missing values, stripped."""
    return s.astype("string").fillna("").str.strip()


def missing(data: DealerData, table: str, columns: tuple[str, ...] = ()) -> str | None:
    """Why ``table``/``columns`` cannot be used, or None when they all came with the data."""
    if not data.has(table):
        return f"no {table} table in the data"
    absent = [c for c in columns if not data.has(table, c)]
    if absent:
        return f"{table} has no {', '.join(absent)} column" + ("s" if len(absent) > 1 else "")
    return None


def reachable_channels(customers: pd.DataFrame) -> pd.DataFrame:
    """Per customer (index aligned), whether each channel is open for contact (DEFINITIONS['consenting'])."""
    email, phone, postal = text(customers["email"]), text(customers["phone"]), text(customers["postal_code"])
    return pd.DataFrame(
        {
            "email": email.ne("") & customers["email_opt_in"].fillna(True).astype(bool),
            "sms": phone.ne("") & customers["sms_consent"].fillna(False).astype(bool),
            "phone": phone.ne("") & ~customers["phone_dnc"].fillna(False).astype(bool),
            "mail": postal.ne("") & ~customers["mail_opt_out"].fillna(False).astype(bool),
        },
        index=customers.index,
    )


def customer_contacts(customers: pd.DataFrame, fallback: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """customer_id, name, channel, contact, reachable: how staff should reach each customer.

    The customer's preferred channel when it is open, else the first open one of ``fallback``;
    the contact is the email (email), the phone (sms, phone) or the postal code (mail).
    """
    open_ = reachable_channels(customers)
    pref = text(customers["preferred_channel"]).str.lower()
    channel = pd.Series(pd.NA, index=customers.index, dtype="string")
    for ch in reversed([c for c in fallback if c in open_]):
        channel = channel.mask(open_[ch], ch)
    for ch in CHANNELS_ORDER:
        channel = channel.mask(pref.eq(ch) & open_[ch], ch)
    contact_by = {
        "email": text(customers["email"]),
        "sms": text(customers["phone"]),
        "phone": text(customers["phone"]),
        "mail": text(customers["postal_code"]),
    }
    contact = pd.Series(pd.NA, index=customers.index, dtype="string")
    for ch, values in contact_by.items():
        contact = contact.mask(channel.eq(ch).fillna(False), values)
    name = (text(customers["first_name"]) + " " + text(customers["last_name"])).str.strip()
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype("string"),
            "name": name,
            "channel": channel,
            "contact": contact,
            "reachable": open_.any(axis=1),
        }
    ).drop_duplicates("customer_id")


def vehicle_labels(vehicles: pd.DataFrame) -> pd.DataFrame:
    """vin -> 'YEAR MAKE MODEL' label from the vehicles table."""
    year = vehicles["model_year"].astype("string").fillna("")
    label = (year + " " + text(vehicles["make"]) + " " + text(vehicles["model"])).str.replace(r"\s+", " ", regex=True)
    return pd.DataFrame({"vin": vehicles["vin"].astype("string"), "vehicle": label.str.strip()}).drop_duplicates("vin")


def attach_vehicle(
    frame: pd.DataFrame, vehicles: pd.DataFrame, fallback_model: pd.Series | None = None
) -> pd.DataFrame:
    """Add a ``vehicle`` column ('2023 Toyota Camry (VIN ...)') to a frame holding ``vin``."""
    vehicles = vehicles[isin(vehicles["vin"], frame["vin"])]  # label only what is shown
    out = frame.merge(vehicle_labels(vehicles), on="vin", how="left")
    label = text(out["vehicle"])
    if fallback_model is not None:
        label = label.mask(label.eq(""), text(pd.Series(fallback_model.to_numpy(), index=out.index)))
    vin = text(out["vin"])
    with_vin = (label + " (VIN " + vin + ")").where(label.ne(""), "VIN " + vin)
    out["vehicle"] = with_vin.where(vin.ne(""), label)
    return out


def short_label(vehicle: pd.Series) -> pd.Series:
    """'2023 Toyota Camry' from '2023 Toyota Camry (VIN ...)'; 'vehicle' when only a VIN is known."""
    label = text(vehicle).str.replace(r"\s*\(VIN .*\)$", "", regex=True)
    return label.mask(label.eq("") | label.str.startswith("VIN "), "vehicle")


def count_words(n: pd.Series, unit: str) -> pd.Series:
    """'1 day', '3 days' for a Series of whole numbers."""
    n = pd.Series(n).astype("int64")
    return n.astype(str) + " " + unit + np.where(n.abs() == 1, "", "s")


def fmt_date(d: pd.Series) -> pd.Series:
    return d.dt.strftime("%Y-%m-%d").astype("string")


def contacts_of(data: DealerData, ids: pd.Series, p: dict) -> pd.DataFrame:
    """customer_contacts of the customers in ``ids`` (the rows of ``all_contacts``)."""
    contacts = all_contacts(data, p["contact_fallback"])
    return contacts[isin(contacts["customer_id"], ids)]


# ---------------------------------------------------------------------------------------------
# Frames a store's notebooks share (computed once per store: load_cache.shared_frames)
# ---------------------------------------------------------------------------------------------


def shared(data: DealerData, key: tuple, make):
    """``make()``, computed once per loaded store and ``key`` (a frame derived from ``data``'s
    tables only); a DataFrame or Series comes back as a copy-on-write copy."""
    from ..load_cache import shared_frames

    memo = shared_frames(data)
    key = (data.as_of, data.timezone, *key)  # a DealerData is mutable: its "today" and zone are part of the key
    # and a table replaced in place (no kit code does) must not meet a frame of the old one
    shape = tuple((name, len(df), tuple(df.columns)) for name, df in data.tables.items())
    hit = memo.get(key)
    if hit is None or hit[0] != shape:
        hit = memo[key] = (shape, make())
    value = hit[1]
    return value.copy(deep=False) if isinstance(value, (pd.DataFrame, pd.Series)) else value


def all_contacts(data: DealerData, fallback: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """``customer_contacts`` of every customer: the call lists and the referral pages take their rows."""
    fallback = tuple(fallback)
    return shared(data, ("contacts", fallback), lambda: customer_contacts(data["customers"], fallback))


def local_dates(data: DealerData, table: str, column: str, days=None) -> pd.Series:
    """``local_date`` of a whole column of a table (index aligned with ``data[table]``).

    ``days``: when the caller has the column's local days already (the audit's sorted
    messages), a callable giving them as int64 days since 1970-01-01 in table order, for a
    column without a missing value; used for a tz-aware column, else ignored."""
    return shared(data, ("local_date", table, column), lambda: _local_dates_of(data[table][column], data, days))


_UNIT_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _local_dates_of(s: pd.Series, data: DealerData, days) -> pd.Series:
    if days is not None and isinstance(s.dtype, pd.DatetimeTZDtype) and s.dtype.unit in _UNIT_DAY:
        # the same local midnights as converting the column again, in the column's unit
        values = (np.asarray(days(), dtype=np.int64) * _UNIT_DAY[s.dtype.unit]).view(f"datetime64[{s.dtype.unit}]")
        return pd.Series(values, index=s.index, name=s.name)
    return local_date(s, data.timezone)


def with_contacts(frame: pd.DataFrame, data: DealerData, p: dict, name: str, excluded: dict) -> pd.DataFrame:
    contacts = contacts_of(data, frame["customer_id"], p)
    out = frame.merge(contacts, on="customer_id", how="left")
    ok = out["reachable"].fillna(False).astype(bool)
    excluded[name] = int((~ok).sum())
    return out[ok].drop(columns="reachable")
