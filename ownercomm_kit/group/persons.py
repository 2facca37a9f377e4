"""Person matching across the stores of a group (SPEC §9).

Two customer records (of any stores, also of one store) are the same *person* when their
normalized email is equal, or their E.164 phone and normalized last name are both equal.
Matches are transitive: persons are the connected components of the records linked by a
shared key, found by vectorised min-label propagation over key groups (no Python loop over
records). A person's ``person_id`` is a deterministic function of its members: a 64-bit hash
of each (dealer_id, customer_id), summed over the members (order-free), in hex.

Phones are read with ``phonenumbers`` (Google's libphonenumber port): one parse per distinct
written form, not per record.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PERSON_COLUMNS = ["person_id", "dealer_id", "customer_id", "matched_by"]
NANP = frozenset({"US", "CA"})  # regions whose plain 10-digit numbers take the vectorised path


def normalize_email(values: pd.Series, ignore_plus_tags: bool = False) -> pd.Series:
    """Trimmed, lower-case; blank -> NA. With ``ignore_plus_tags`` 'ann+x@y.com' = 'ann@y.com'."""
    e = values.astype("string").str.strip().str.lower()
    if ignore_plus_tags:
        e = e.str.replace(r"^([^@+]*)\+[^@]*@", r"\1@", regex=True)
    return e.where(e.str.contains("@", regex=False).fillna(False) & (e.str.len() > 2))


def normalize_last_name(values: pd.Series) -> pd.Series:
    """Letters only; case, accents, spacing and punctuation ignored ('García' = 'garcia',
    'Van Dyke' = 'vandyke', "O'Neil" = 'ONeil'); blank -> NA."""
    n = values.astype("string").str.normalize("NFKD").str.replace(r"[\W\d_]+", "", regex=True).str.casefold()
    return n.where(n.str.len() > 0)


def normalize_phone(values: pd.Series, region: str = "US") -> pd.Series:
    """E.164 ('+17145550123') of each phone, read in ``region`` when it has no country code;
    NA when blank or not a possible number."""
    import phonenumbers

    raw = values.astype("string").str.strip()
    raw = raw.where(raw.str.contains(r"\d", regex=True).fillna(False))
    codes, uniques = pd.factorize(raw)
    out = np.empty(len(uniques) + 1, dtype=object)
    out[-1] = None
    todo = np.ones(len(uniques), bool)
    if region in NANP and len(uniques):
        # the common North American forms ("(714) 555-0101", "714.555.0101", "+1 714 555 0101"),
        # vectorised: what phonenumbers returns for them (tests compare); the rest goes to it
        u = pd.Series(uniques, dtype="string")
        plain = u.str.fullmatch(r"[\d\s().+\-]+").fillna(False).to_numpy(bool)
        digits = u.str.replace(r"\D", "", regex=True)
        plus = u.str.startswith("+").fillna(False).to_numpy(bool)
        ten = (
            plain
            & ~plus
            & (digits.str.len() == 10).fillna(False).to_numpy(bool)
            & ~digits.str[0].isin(["0", "1"]).to_numpy(bool)
        )
        eleven = (
            plain
            & (digits.str.len() == 11).fillna(False).to_numpy(bool)
            & (digits.str[0] == "1").fillna(False).to_numpy(bool)
            & ~digits.str[1].isin(["0", "1"]).to_numpy(bool)
        )
        fast = ten | eleven
        out[:-1][ten] = ("+1" + digits[ten]).to_numpy(object)
        out[:-1][eleven] = ("+" + digits[eleven]).to_numpy(object)
        todo = ~fast
    for i in np.flatnonzero(todo):
        u = uniques[i]
        try:
            p = phonenumbers.parse(u, region)
        except phonenumbers.NumberParseException:
            out[i] = None
            continue
        out[i] = (
            phonenumbers.format_number(p, phonenumbers.PhoneNumberFormat.E164)
            if phonenumbers.is_possible_number(p)
            else None
        )
    return pd.Series(out[codes], index=values.index, dtype="string")


def _components(n: int, keys: list[np.ndarray]) -> np.ndarray:
    """Connected components of records linked by equal key codes (-1 = no key).

    Each round gives every key group the smallest label among its members and every record
    the smallest label of its groups, then jumps pointers; it stops when nothing changes.
    """
    label = np.arange(n, dtype=np.int64)
    keys = [(k[k >= 0], np.flatnonzero(k >= 0)) for k in keys]
    while True:
        before = label.copy()
        for codes, rows in keys:
            if not len(rows):
                continue
            low = np.full(int(codes.max()) + 1, n, dtype=np.int64)
            np.minimum.at(low, codes, label[rows])
            np.minimum.at(label, rows, low[codes])
        label = label[label]  # pointer jumping: a label is a record whose own label may be lower
        while True:
            nxt = label[label]
            if np.array_equal(nxt, label):
                break
            label = nxt
        if np.array_equal(label, before):
            return label


def match_persons(customers: pd.DataFrame, *, region: str = "US", ignore_plus_tags: bool = False) -> pd.DataFrame:
    """``persons.csv`` of a group's customers (columns dealer_id, customer_id, email, phone,
    last_name; the last three optional): one row per customer record, with ``person_id``,
    ``matched_by`` (email, phone_name, both or none: the keys this record shares with another
    record of its person) and ``stores`` (how many stores the person spans)."""
    c = customers.reset_index(drop=True)
    n = len(c)
    blank = pd.Series(pd.NA, index=c.index, dtype="string")
    email = normalize_email(c["email"], ignore_plus_tags) if "email" in c else blank
    phone = normalize_phone(c["phone"], region) if "phone" in c else blank
    last = normalize_last_name(c["last_name"]) if "last_name" in c else blank
    pn = (phone + "\x1f" + last).where(phone.notna() & last.notna())
    ecode = pd.factorize(email)[0].astype(np.int64)
    pcode = pd.factorize(pn)[0].astype(np.int64)
    label = _components(n, [ecode, pcode]) if n else np.zeros(0, np.int64)

    def shared(code):
        cnt = np.bincount(code[code >= 0], minlength=1) if (code >= 0).any() else np.zeros(1, np.int64)
        return (code >= 0) & (cnt[np.maximum(code, 0)] > 1)

    by_email, by_phone = shared(ecode), shared(pcode)
    matched_by = np.where(
        by_email & by_phone, "both", np.where(by_email, "email", np.where(by_phone, "phone_name", "none"))
    )
    dealer = c["dealer_id"].astype("string")
    member = pd.util.hash_pandas_object(
        pd.DataFrame({"d": dealer, "c": c["customer_id"].astype("string")}), index=False
    ).to_numpy(np.uint64)
    pid = np.zeros(n, np.uint64)
    np.add.at(pid, label, member)  # wraps modulo 2**64: order-free, deterministic
    hexes = pd.Series(pid[label]).map("P{:016x}".format)
    # stores spanned per person
    dcode = pd.factorize(dealer)[0].astype(np.int64)
    pair = pd.DataFrame({"p": label, "d": dcode}).drop_duplicates()
    stores = np.bincount(pair["p"].to_numpy(), minlength=n)[label] if n else np.zeros(0, np.int64)
    return pd.DataFrame(
        {
            "person_id": pd.array(hexes.to_numpy(object), dtype="string"),
            "dealer_id": dealer.to_numpy(object),
            "customer_id": c["customer_id"].astype("string").to_numpy(object),
            "matched_by": pd.array(matched_by.astype(object), dtype="string"),
            "stores": stores.astype(np.int64),
        }
    ).astype({"dealer_id": "string", "customer_id": "string"})


def span_counts(persons: pd.DataFrame) -> pd.DataFrame:
    """Persons spanning 2, 3 or more stores, by the keys their records matched on (a person
    matched by 'email' only, 'phone_name' only, or 'both' kinds of key across its records)."""
    multi = persons[persons["stores"] >= 2]
    if multi.empty:
        return pd.DataFrame(
            {"stores": pd.Series([], dtype="string"), "email": [], "phone_name": [], "both": [], "persons": []}
        )
    keys = multi.assign(
        e=multi["matched_by"].isin(["email", "both"]), p=multi["matched_by"].isin(["phone_name", "both"])
    )
    per = keys.groupby("person_id").agg(stores=("stores", "first"), e=("e", "any"), p=("p", "any"))
    per["key"] = np.where(per["e"] & per["p"], "both", np.where(per["e"], "email", "phone_name"))
    per["band"] = np.where(per["stores"] >= 4, "4 or more", per["stores"].astype(str))
    out = per.groupby(["band", "key"]).size().unstack(fill_value=0)
    for k in ("email", "phone_name", "both"):
        if k not in out:
            out[k] = 0
    out = out[["email", "phone_name", "both"]]
    out["persons"] = out.sum(axis=1)
    out.index.name = "stores"
    return out.reset_index()
