"""The audit figures' fast paths against their general forms (random and edge inputs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.audit import dealer, msg, params
from ownercomm_kit.arrays import from_min, take
from ownercomm_kit.audit import metrics
from ownercomm_kit.audit.suppression import as_of_bounds
from ownercomm_kit.audit.windows import DAY, asof_latest, messages_of, ns_utc

TZ = "America/Chicago"


def _random_dealer(seed: int, n: int, customers: int, *, sub_second=False, tz=TZ, appointments=0):
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2025-03-01", tz="UTC").value
    t = base + rng.integers(0, 500 * DAY, n)
    if not sub_second:
        t -= t % 10**9
        t[: n // 3] -= t[: n // 3] % (3600 * 10**9)  # ties on the hour
    cust = rng.integers(0, customers, n)
    msgs = [
        msg(
            f"M{i}",
            pd.Timestamp(int(t[i]), tz="UTC"),
            customer=f"C{cust[i]}",
            responded_at=pd.Timestamp(int(t[i]) + 3600 * 10**9, tz="UTC") if rng.random() < 0.2 else None,
        )
        for i in range(n)
    ]
    appts = []
    for k in range(appointments):
        at = base + int(rng.integers(-30 * DAY, 520 * DAY))
        appts.append(
            {
                "appointment_id": f"A{k}",
                "customer_id": f"C{rng.integers(0, customers + 3)}",  # some never messaged
                "booked_at": pd.Timestamp(at, tz="UTC"),
                "scheduled_for": pd.Timestamp(at + 5 * DAY, tz="UTC"),
                "status": rng.choice(["kept", "no_show", "cancelled"]),
            }
        )
    people = [{"customer_id": f"C{c}"} for c in range(customers + 3) if c % 5 != 1]  # some only messaged
    people += [{"customer_id": "C0"}, {"customer_id": None}]  # a duplicate and a missing id
    tables = {"appointments": appts} if appts else {}
    return dealer(msgs, people, timezone=tz, as_of="2026-06-30", **tables)


@pytest.mark.parametrize("sub_second", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_latest_at_or_before_is_asof_latest(seed, sub_second):
    data = _random_dealer(seed, 300, 80 if sub_second else 12, sub_second=sub_second)
    m = messages_of(data)
    assert (m.uniq_t is not None) == sub_second  # nanosecond stamps of 80 customers: ranked times
    rng = np.random.default_rng(seed + 100)
    k = 400
    cust = rng.integers(-1, len(m.customers) + 0, k)
    bound = np.concatenate(
        [
            m.t[rng.integers(0, len(m), k // 2)] + rng.integers(-2, 3, k // 2),  # on and around message times
            m.t.min() + rng.integers(-DAY, 520 * DAY, k - k // 2),
        ]
    )
    bound[:3] = [np.iinfo(np.int64).min // 2, m.t.min() - 1, m.t.max() + DAY]
    got = metrics.latest_at_or_before(m, cust, bound)
    want = asof_latest(np.maximum(cust, 0), bound, m.cust, m.t)
    want[cust < 0] = -1
    # the same message time (of tied times, either row)
    assert np.array_equal(got >= 0, want >= 0)
    assert np.array_equal(take(m.t, got, 0), take(m.t, want, 0))
    assert np.all(m.cust[got[got >= 0]] == cust[got >= 0])


def test_latest_at_or_before_empty_inputs():
    m = messages_of(_random_dealer(0, 5, 2))
    assert metrics.latest_at_or_before(m, np.array([], np.int64), np.array([], np.int64)).shape == (0,)
    assert list(metrics.latest_at_or_before(m, [-1, -1], [0, 10**18])) == [-1, -1]


def _tiers_general(data, p):
    """The tiers' "booked from a message" by the general as-of join (the form before the fast path)."""
    m = messages_of(data)
    months = int(p["audit"]["tier_window_months"])
    _, a_end = as_of_bounds(data)
    start = pd.Timestamp(data.as_of) + pd.Timedelta(days=1) - pd.DateOffset(months=months)
    a_start = int(start.tz_localize(data.timezone, nonexistent="shift_forward", ambiguous=False).value) - 1
    ids = pd.Index(pd.concat([data["customers"]["customer_id"], pd.Series(m.customers)]).dropna().unique()).astype(
        "string"
    )
    in_win = (m.t > a_start) & (m.t <= a_end)
    code_of_msg = ids.get_indexer(m.customers)[m.cust]
    booked = np.zeros(len(ids), bool)
    ap = data["appointments"]
    ac = ids.get_indexer(pd.Index(ap["customer_id"]))
    at = ns_utc(ap["booked_at"])
    win = np.flatnonzero(in_win)
    b = np.flatnonzero((ac >= 0) & (at > a_start) & (at <= a_end))
    prev = asof_latest(ac[b], at[b] - 1, code_of_msg[win], m.t[win])
    gap = at[b] - take(m.t[win], prev, 0)
    hit = (prev >= 0) & (gap <= int(p["audit"]["booking_attribution_days"] * DAY))
    booked[ac[b][hit]] = True
    return pd.DataFrame({"booked": booked, "messages": np.bincount(code_of_msg[in_win], minlength=len(ids))}, index=ids)


@pytest.mark.parametrize("sub_second", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_tiers_booked_from_message_as_the_general_join(seed, sub_second):
    data = _random_dealer(seed, 400, 15, sub_second=sub_second, appointments=60)
    p = params(audit={"booking_attribution_days": [1, 7, 14, 30][seed % 4]})
    t = metrics.tiers(data, p).set_index("customer_id")
    want = _tiers_general(data, p)
    assert list(t.index) == list(want.index)  # the same customers in the same order
    assert list(t["booked_from_message"]) == list(want["booked"])
    assert list(t["messages_12m"]) == list(want["messages"])
    assert want["booked"].any() and not want["booked"].all()  # the cases say something


def test_tiers_booked_from_one_message_at_the_window_edges():
    p = params()
    at = [
        {
            "appointment_id": "A1",
            "customer_id": "C1",
            "booked_at": "2025-07-02 10:00",
            "scheduled_for": "2025-07-05 10:00",
            "status": "kept",
        }
    ]
    # the only earlier message is before the 12-month window: not booked from a message
    before = dealer([msg("M1", "2025-06-30 23:59")], timezone=TZ, as_of="2026-06-30", appointments=at)
    inside = dealer([msg("M1", "2025-07-01 00:00")], timezone=TZ, as_of="2026-06-30", appointments=at)
    for data in (before, inside):
        t = metrics.tiers(data, p).set_index("customer_id")
        assert t["booked_from_message"].to_dict() == _tiers_general(data, p)["booked"].to_dict()
    assert not metrics.tiers(before, p)["booked_from_message"].any()
    assert metrics.tiers(inside, p)["booked_from_message"].all()


@pytest.mark.parametrize("tz", [TZ, "Australia/Lord_Howe", "Asia/Kolkata", "UTC"])
def test_month_index_as_datetime_months(tz):
    # around month ends, DST changes and before 1970
    stamps = [
        "1969-12-31 23:30",
        "1970-01-01 00:30",
        "2026-03-08 01:59",
        "2026-03-08 03:00",
        "2026-03-31 23:59",
        "2026-04-01 00:00",
        "2026-10-04 01:30",
        "2026-11-01 01:30",
        "2024-02-29 12:00",
    ]
    msgs = [
        msg(f"M{i}-{h}", pd.Timestamp(s, tz="UTC") + pd.Timedelta(hours=h), customer=f"C{i % 3}")
        for i, s in enumerate(stamps)
        for h in (-7, 0, 6)
    ]
    m = messages_of(dealer(msgs, timezone=tz, as_of="2026-12-31"))
    want = from_min(m.local_day().astype("datetime64[D]").astype("datetime64[M]").astype(np.int64))
    assert np.array_equal(metrics._month_index(m), want)


def test_month_index_one_message_and_none():
    m = messages_of(dealer([msg("M1", "2026-05-01 10:00")], timezone=TZ))
    assert list(metrics._month_index(m)) == [0]
    empty = dealer([], [{"customer_id": "C1"}], timezone=TZ, as_of="2026-06-30")
    assert len(metrics._month_index(messages_of(empty))) == 0
    assert metrics.frequency(empty).empty and metrics.fatigue(empty, params()).empty


def _sent_by_customer_and_sender(seed):
    rng = np.random.default_rng(seed)
    n = 200
    msgs = [
        msg(
            f"M{i}",
            pd.Timestamp("2026-05-01 10:00", tz="UTC") + pd.Timedelta(minutes=int(rng.integers(0, 3000))),
            customer=f"Ç{rng.integers(0, 9)}",  # non-ASCII ids
            sender=str(rng.choice(["dealer", "oem", "sales", "service"])),
            channel=str(rng.choice(["email", "sms"])),
        )
        for i in range(n)
    ]
    return dealer(msgs, timezone=TZ, as_of="2026-06-30")


@pytest.mark.parametrize("seed", range(4))
def test_counts_from_the_sorted_messages_as_counted_from_the_table(seed):
    from ownercomm_kit.audit import run_rules
    from ownercomm_kit.load_cache import fresh_copy

    data = _sent_by_customer_and_sender(seed)
    p = params(audit={"top_customers": 5})
    flags, _ = run_rules(data, p)  # builds the sorted messages
    assert metrics.sorted_if_built(data, "customer_id") is not None
    general = fresh_copy(data)  # nothing built on it
    assert metrics.sorted_if_built(general, "customer_id") is None
    pd.testing.assert_frame_equal(metrics.top_customers(data, flags, p), metrics.top_customers(general, flags, p))
    pd.testing.assert_frame_equal(metrics.replay_by_sender(data, flags), metrics.replay_by_sender(general, flags))
    assert metrics.customers_messaged(data) == metrics.customers_messaged(general) == 9
    # object columns (a frame built by hand) take the general count
    obj = fresh_copy(data)
    obj.tables["communications"] = obj["communications"].astype({"customer_id": object, "sender": object})
    run_rules(obj, p)
    pd.testing.assert_frame_equal(metrics.top_customers(obj, flags, p), metrics.top_customers(general, flags, p))
    assert metrics.customers_messaged(obj) == 9


def test_top_customers_counts_a_flagged_customer_never_in_the_messages_as_zero():
    from ownercomm_kit.audit import run_rules

    data = _sent_by_customer_and_sender(0)
    p = params()
    flags, _ = run_rules(data, p)
    ghost = flags.head(1).assign(customer_id=pd.Series(["ghost"], dtype=flags["customer_id"].dtype))
    out = metrics.top_customers(
        data, pd.concat([flags, ghost], ignore_index=True), params(audit={"top_customers": 100})
    )
    assert out.set_index("customer_id").loc["ghost", "messages"] == 0


def _frequency_general(data):
    """frequency's per-value counts by one mask per value (the form before the single pass)."""
    from ownercomm_kit import schema

    m = messages_of(data)
    active, slot = metrics._month_runs(m)
    rows = [("all", "all", np.bincount(slot, minlength=len(active)))]
    for by, codes, names in (("channel", m.channel, schema.CHANNELS), ("sender", m.sender, schema.SENDERS)):
        for code, name in enumerate(names):
            sel = codes == code
            if sel.any():
                rows.append((by, name, np.bincount(slot[sel], minlength=len(active))))
    cols = ["by", "value", "customer_months", "mean", "median", "p90", "max"]
    q = metrics._quantile
    out = [(by, v, len(c), c.mean(), q(c, 0.5), q(c, 0.9), int(c.max())) for by, v, c in rows]
    return pd.DataFrame(out, columns=cols)


@pytest.mark.parametrize("seed", range(4))
def test_frequency_single_pass_as_one_mask_per_value(seed):
    rng = np.random.default_rng(seed)
    msgs = [
        msg(
            f"M{i}",
            pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(hours=int(rng.integers(0, 24 * 200))),
            customer=f"C{rng.integers(0, 7)}",
            channel=str(rng.choice(["email", "sms", "fax"])),  # fax: not a channel of the schema (code -1)
            sender=str(rng.choice(["dealer", "oem", "robot"])),
        )
        for i in range(150)
    ]
    data = dealer(msgs, timezone=TZ, as_of="2026-12-31")
    pd.testing.assert_frame_equal(metrics.frequency(data), _frequency_general(data))


def test_frequency_of_one_message():
    data = dealer([msg("M1", "2026-05-01 10:00", channel="sms", sender="oem")], timezone=TZ)
    pd.testing.assert_frame_equal(metrics.frequency(data), _frequency_general(data))


@pytest.mark.parametrize("seed", range(3))
def test_customer_local_as_one_conversion_per_row(seed):
    from ownercomm_kit.audit.rules import customer_local
    from ownercomm_kit.audit.windows import local_ns

    rng = np.random.default_rng(seed)
    zones = [TZ, "Asia/Kolkata", "Australia/Lord_Howe", "Not/AZone", None]
    people = [{"customer_id": f"C{i}", "timezone": zones[i % len(zones)]} for i in range(10)]
    # around the 2026 DST changes of Chicago and Lord Howe
    edges = [pd.Timestamp(x, tz="UTC") for x in ("2026-03-08 08:00", "2026-11-01 07:00", "2026-04-04 15:00")]
    msgs = [
        msg(
            f"M{i}",
            edges[i % 3] + pd.Timedelta(minutes=int(rng.integers(-90, 90))),
            customer=f"C{rng.integers(0, 10)}",
        )
        for i in range(120)
    ]
    data = dealer(msgs, people, timezone=TZ, as_of="2026-12-31")
    m = messages_of(data)
    zone_of = {p["customer_id"]: p["timezone"] for p in people}
    for rows in (np.arange(len(m)), np.flatnonzero(rng.random(len(m)) < 0.3), np.array([], np.int64)):
        local, own = customer_local(data, m, rows)
        for i, r in enumerate(rows):
            z = zone_of[m.customers[m.cust[r]]]
            valid = z is not None and z != "Not/AZone"
            assert local[i] == local_ns(m.t[r : r + 1], z if valid else TZ)[0]
            assert own[i] == valid


def _caps_general(data, p):
    """suppression's cap rows with every window looking at all counted rows of its channel."""
    from ownercomm_kit import schema
    from ownercomm_kit.audit import suppression
    from ownercomm_kit.audit.rules import exempt_mask

    m = messages_of(data)
    _, a_end = as_of_bounds(data)
    counted = ~exempt_mask(m, p) & (m.t <= a_end)
    out = []
    if p["rules"]["cap_total"].get("enabled", True):
        for w in p["rules"]["cap_total"]["windows"]:
            out.append(suppression._cap_window(data, m, np.flatnonzero(counted), w, a_end, "all", "cap_total"))
    if p["rules"]["cap_channel"].get("enabled", True):
        for ch, ws in (p["rules"]["cap_channel"].get("windows") or {}).items():
            on = np.flatnonzero(counted & (m.channel == schema.CHANNELS.index(ch)))
            out += [suppression._cap_window(data, m, on, w, a_end, ch, "cap_channel") for w in ws or []]
    return out


@pytest.mark.parametrize(
    "over",
    [
        {},
        {"cap_total": {"windows": [{"days": 30, "max": 3}, {"days": 1.5, "max": 1}]}},
        {"cap_total": {"enabled": False}, "cap_channel": {"windows": {"sms": [{"days": 7, "max": 0}]}}},
        {"cap_total": {"enabled": False}, "cap_channel": {"enabled": False}},
    ],
)
@pytest.mark.parametrize("seed", range(3))
def test_suppression_caps_from_the_widest_window_rows(seed, over):
    from ownercomm_kit.audit import suppression

    rng = np.random.default_rng(seed)
    msgs = [
        msg(
            f"M{i}",
            pd.Timestamp("2026-06-30 12:00", tz=TZ) - pd.Timedelta(hours=int(rng.integers(-48, 24 * 60))),
            customer=f"C{rng.integers(0, 6)}",
            channel=str(rng.choice(["email", "sms"])),
            category=str(rng.choice(["newsletter", "service_reminder", "recall"])),
        )
        for i in range(200)
    ]
    data = dealer(msgs, timezone=TZ, as_of="2026-06-30")
    p = params(**over)
    got, want = suppression._caps(data, p), _caps_general(data, p)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        pd.testing.assert_frame_equal(g, w)
    assert not over or any(len(g) for g in got) or len(got) == 0


def _sender_mix_general(data):
    """sender_mix with windows.runs and int64 bits (the form before the leaner pass)."""
    from ownercomm_kit import schema
    from ownercomm_kit.audit.windows import runs

    m = messages_of(data)
    week = from_min((m.local_day() + 3) // 7)
    starts, _ = runs(m.cust * (int(week.max()) + 1) + week)
    bits = np.left_shift(1, np.maximum(m.sender, 0).astype(np.int64))
    heard = np.bitwise_or.reduceat(bits, starts)
    per_week = np.array([bin(b).count("1") for b in range(1 << len(schema.SENDERS))])[heard]
    senders = np.arange(1, len(schema.SENDERS) + 1)
    counts = np.array([(per_week == k).sum() for k in senders])
    return pd.DataFrame({"senders": senders, "customer_weeks": counts, "share": counts / counts.sum()})


@pytest.mark.parametrize("seed", range(4))
def test_sender_mix_as_the_general_pass(seed):
    rng = np.random.default_rng(seed)
    msgs = [
        msg(
            f"M{i}",
            pd.Timestamp("2026-01-04 23:00", tz="UTC") + pd.Timedelta(hours=int(rng.integers(0, 24 * 60))),
            customer=f"C{rng.integers(0, 5)}",
            sender=str(rng.choice(["dealer", "oem", "sales", "service", "fi", "robot"])),  # robot: unknown (-1)
        )
        for i in range(160)
    ]
    data = dealer(msgs, timezone=TZ, as_of="2026-12-31")
    pd.testing.assert_frame_equal(metrics.sender_mix(data), _sender_mix_general(data))
    one = dealer([msg("M1", "2026-05-01 10:00")], timezone=TZ)
    pd.testing.assert_frame_equal(metrics.sender_mix(one), _sender_mix_general(one))


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [TZ, "Australia/Lord_Howe", "Asia/Kolkata"])
def test_message_dates_from_the_sorted_messages_as_converted(unit, tz, monkeypatch):
    from ownercomm_kit.kpis.common import local_date, local_dates
    from ownercomm_kit.report.audit_report import _share_message_dates

    rng = np.random.default_rng(7)
    edges = [
        pd.Timestamp(x, tz="UTC")
        for x in ("2026-03-08 08:00", "2026-11-01 06:30", "2026-04-04 14:45", "1969-12-31 23:59")
    ]
    msgs = [
        msg(
            f"M{i}",
            edges[i % 4] + pd.Timedelta(minutes=int(rng.integers(-120, 120))),
            customer=f"C{rng.integers(0, 4)}",
        )
        for i in range(80)
    ]
    data = dealer(msgs, timezone=tz, as_of="2026-12-31")
    comm = data["communications"]
    data.tables["communications"] = comm.assign(sent_at=comm["sent_at"].dt.tz_convert(tz).dt.as_unit(unit))
    want = local_date(data["communications"]["sent_at"], tz)
    messages_of(data)
    with monkeypatch.context() as mp:
        mp.setattr("ownercomm_kit.kpis.common.local_date", None)  # not converted again
        _share_message_dates(data)  # fills the store's shared frame from the sorted messages
        got = local_dates(data, "communications", "sent_at")
    pd.testing.assert_series_equal(got, want)
    assert got.dtype == want.dtype == f"datetime64[{unit}]"


def test_message_dates_are_converted_when_nothing_is_sorted():
    from ownercomm_kit.kpis.common import local_date, local_dates
    from ownercomm_kit.report.audit_report import _share_message_dates

    data = dealer([msg("M1", "2026-05-01 23:30")], timezone=TZ, as_of="2026-06-30")
    _share_message_dates(data)  # no sorted messages: nothing shared
    pd.testing.assert_series_equal(
        local_dates(data, "communications", "sent_at"), local_date(data["communications"]["sent_at"], TZ)
    )
