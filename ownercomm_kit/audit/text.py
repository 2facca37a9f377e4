"""Vectorised building blocks of the ``detail`` sentences (built for flagged rows only).

Every piece is an Arrow-backed pandas string Series built in bulk (numbers formatted by
Arrow's cast, words picked from a small table by ``take``), and pieces are joined with
Arrow's element-wise concatenation: no Python string per row, also with millions of flags.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .windows import DAY

VERB = {"email": "Emailed", "sms": "Texted", "phone": "Called", "mail": "Mailed"}
VERB_WHAT = {"email": "Emailed", "sms": "Texted", "phone": "Phoned with", "mail": "Mailed"}  # + "an offer"
BY = {"email": "email", "sms": "text", "phone": "phone", "mail": "mail"}
SENDER = {"oem": "the OEM", "sales": "sales", "dealer": "dealer marketing", "service": "service", "fi": "F&I"}
SENDER_SHORT = {"oem": "OEM", "sales": "sales", "dealer": "dealer marketing", "service": "service", "fi": "F&I"}
NOUN = {"email": "email", "sms": "text", "phone": "call", "mail": "mailing"}
CATEGORY = {
    "service_reminder": "a service reminder",
    "offer": "an offer",
    "sales_promo": "a sales promotion",
    "conquest": "a conquest offer",
    "birthday": "a birthday message",
    "anniversary": "an anniversary message",
    "warranty": "a warranty message",
    "recall": "a recall notice",
    "survey": "a survey",
    "newsletter": "a newsletter",
    "referral": "a referral invitation",
    "event": "an event invitation",
    "transactional": "a transactional message",
}


def s(values) -> pd.Series:
    """Any array-like as a pandas string Series with a clean 0..n-1 index."""
    if isinstance(values, pd.Series):
        if isinstance(values.array, pd.arrays.ArrowStringArray):
            return values.reset_index(drop=True)
        values = values.to_numpy(object)
    values = np.asarray(values)
    if values.dtype.kind == "U":
        return _arrow(pa.array(values, pa.large_string()))
    return _arrow(pa.array(np.asarray(values, dtype=object), pa.large_string(), from_pandas=True))


def _arrow(arr: pa.Array) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(arr))


def join(*pieces) -> pd.Series:
    """Pieces (string Series of one length, or ``str``) end to end, in one pass: the same as
    ``a + b + c`` (NA anywhere gives NA) without a new array per ``+``."""
    args = []
    for p in pieces:
        if isinstance(p, str):
            args.append(pa.scalar(p, pa.large_string()))
        else:
            arr = s(p).array._pa_array
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
            args.append(arr if arr.type == pa.large_string() else arr.cast(pa.large_string()))
    if all(isinstance(a, pa.Scalar) for a in args):
        raise TypeError("join needs at least one column")
    return _arrow(pc.binary_join_element_wise(*args, pa.scalar("", pa.large_string())))


def num(values) -> pd.Series:
    return _arrow(pc.cast(pa.array(np.asarray(values).astype(np.int64)), pa.large_string()))


def pick_words(table, codes: np.ndarray) -> pd.Series:
    """``table[codes]`` for a short list of words and int codes (any valid index)."""
    lut = pa.array([str(w) for w in table], pa.large_string())
    return _arrow(lut.take(pa.array(np.asarray(codes, dtype=np.int64) % max(len(table), 1))))


def lookup(codes: np.ndarray, names: tuple[str, ...], words: dict[str, str] | None = None) -> pd.Series:
    """Words for int codes into ``names`` (code -1 -> 'unknown')."""
    lut = [(words or {}).get(n, n) for n in names] + ["unknown"]
    codes = np.asarray(codes, dtype=np.int64)
    return pick_words(lut, np.where(codes < 0, len(names), codes))


def ordinal(n: np.ndarray) -> pd.Series:
    n = np.asarray(n).astype(np.int64)
    code = np.where(
        (n % 100 >= 11) & (n % 100 <= 13), 0, np.select([n % 10 == 1, n % 10 == 2, n % 10 == 3], [1, 2, 3], 0)
    )
    return join(num(n), pick_words(("th", "st", "nd", "rd"), code))


def plural(n: np.ndarray, word: str) -> pd.Series:
    n = np.asarray(n).astype(np.int64)
    return num(n) + pick_words((f" {word}s", f" {word}"), n == 1)


def days_after(n: np.ndarray) -> pd.Series:
    """'2 days after ' or 'the same day as ' (followed by the event)."""
    n = np.asarray(n).astype(np.int64)
    return (plural(n, "day") + " after ").where(pd.Series(n != 0), "the same day as ")


def day_text(days: np.ndarray) -> pd.Series:
    """ISO dates of int day numbers since 1970-01-01."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) and (days.min() < -719_162 or days.max() > 2_932_896):  # outside years 1-9999: numpy's text
        return s(np.datetime_as_string(days.astype("datetime64[D]")))
    return _arrow(pc.cast(pa.array(days.astype(np.int32), pa.date32()), pa.large_string()))


def duration(ns: np.ndarray) -> pd.Series:
    """'3 days' for a day or more, else '5 hours', else '12 minutes'."""
    ns = np.asarray(ns, dtype=np.int64)
    days, hours, minutes = ns // DAY, ns // (3600 * 10**9), ns // (60 * 10**9)
    out = plural(days, "day")
    out = out.where(pd.Series(ns >= DAY), plural(hours, "hour"))
    return out.where(pd.Series(ns >= 3600 * 10**9), plural(minutes, "minute"))


def clock(tod_ns: np.ndarray) -> pd.Series:
    """'9:42 PM' of nanoseconds since local midnight."""
    minutes = np.asarray(tod_ns, dtype=np.int64) // (60 * 10**9)
    h, m = minutes // 60, minutes % 60
    return join(
        num((h + 11) % 12 + 1), ":", pick_words([f"{i:02d}" for i in range(60)], m), pick_words((" PM", " AM"), h < 12)
    )


def clock_param(hhmm: str) -> str:
    """'9 PM' or '8:30 AM' of a parameter like '21:00'."""
    h, m = (int(x) for x in str(hhmm).split(":")[:2])
    return f"{(h + 11) % 12 + 1}{'' if m == 0 else f':{m:02d}'} {'AM' if h < 12 else 'PM'}"


def money(values) -> pd.Series:
    """'$29,500' (cents only when there are any). Few rows: the flagged offers."""
    out = [
        None if pd.isna(v) else (f"${v:,.0f}" if float(v).is_integer() else f"${v:,.2f}")
        for v in np.asarray(values, dtype=float)
    ]
    return s(out)


def with_article(words: pd.Series) -> pd.Series:
    """'a Camry', 'an Elantra' (by the first letter; NA stays NA)."""
    vowel = words.str.strip().str.slice(0, 1).str.lower().isin(list("aeiou")).to_numpy(bool)
    return s(np.where(vowel, "an ", "a ")) + words.reset_index(drop=True)


def capital(text: pd.Series) -> pd.Series:
    return text.str.slice(0, 1).str.upper() + text.str.slice(1)
