"""The SPEC §5-6 KPI definitions computed a second, independent way (DuckDB SQL) and compared
key by key with ``retention.compute`` and ``referrals.compute`` on randomized dealers.

The random dealers crowd their dates onto the window edges (A, A-90d, A-14d, A-12m, A-24m,
A-36m and the day either side) and their times onto local midnight, so an off-by-one or a
UTC-instead-of-local reading shows up as a mismatch. Time zones are DuckDB's own (ICU).
"""

from __future__ import annotations

import functools
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from ownercomm_kit import referrals, retention
from ownercomm_kit.data import DealerData, from_frames

from helpers.kpis import PARAMS, ROOT

CHANNELS = ["email", "sms", "phone", "mail"]
CATEGORIES = ["service_reminder", "offer", "newsletter", "recall"]


def edge_days(a: pd.Timestamp) -> list[pd.Timestamp]:
    marks = [
        a,
        a - pd.Timedelta(days=90),
        a - pd.Timedelta(days=14),
        a + pd.Timedelta(days=90),
        a + pd.Timedelta(days=30) - pd.Timedelta(days=180),
    ]
    marks += [a - pd.DateOffset(months=m) for m in (12, 24, 36)]
    return [m + pd.Timedelta(days=k) for m in marks for k in (-1, 0, 1)]


@functools.lru_cache(maxsize=4)  # shared by the tests of one worker; never modified
def random_dealer(seed: int, tz: str, as_of: str, n_customers: int = 200) -> DealerData:
    rng = np.random.default_rng(seed)
    a = pd.Timestamp(as_of)
    edges = edge_days(a)

    def days(n: int, back: int = 1600, ahead: int = 40) -> pd.Series:
        """Dates: 40% on a window edge, the rest uniform from A-back to A+ahead."""
        uniform = a + pd.to_timedelta(rng.integers(-back, ahead + 1, n), unit="D")
        on_edge = pd.DatetimeIndex([edges[i] for i in rng.integers(0, len(edges), n)])
        return pd.Series(np.where(rng.random(n) < 0.4, on_edge, uniform))

    def times(n: int, **kw) -> pd.Series:
        """Wall-clock times, many in the last and first hours of a local day."""
        minutes = np.where(
            rng.random(n) < 0.5,
            rng.choice([0, 1, 22 * 60 + 59, 23 * 60 + 59, 23 * 60 + 30], n),
            rng.integers(0, 24 * 60, n),
        )
        return days(n, **kw) + pd.to_timedelta(minutes, unit="m")

    def pick(values, n, p_none=0.0):
        out = rng.choice(np.array(values, dtype=object), n)
        return np.where(rng.random(n) < p_none, None, out)

    ids = [f"C{i}" for i in range(n_customers)]
    n = n_customers
    birth = pd.Series(pd.to_datetime("1950-01-01") + pd.to_timedelta(rng.integers(0, 20000, n), unit="D"))
    near = a.replace(year=1980) + pd.to_timedelta(rng.integers(-3, 34, n), unit="D")  # birthdays around A
    birth = birth.where(rng.random(n) < 0.6, pd.Series(near))
    birth[: min(3, n)] = pd.Timestamp("1980-02-29")
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "first_name": "N",
            "last_name": ids,
            "email": np.where(rng.random(n) < 0.2, None, [f"{c.lower()}@x.com" for c in ids]),
            "phone": np.where(rng.random(n) < 0.2, None, [f"555{i:07d}" for i in range(n)]),
            "postal_code": np.where(rng.random(n) < 0.5, None, "10001"),
            "email_opt_in": pick([True, False], n, p_none=0.3),
            "sms_consent": pick([True, False], n, p_none=0.3),
            "phone_dnc": pick([True, False], n, p_none=0.3),
            "mail_opt_out": pick([True, False], n, p_none=0.3),
            "preferred_channel": pick(CHANNELS, n, p_none=0.3),
            "birth_date": birth.where(rng.random(n) < 0.9),
            "household_id": [f"H{i // 3}" for i in range(n)],
        }
    )
    n_sales = n_customers * 2
    vins = [f"V{i}" for i in range(n_sales)]
    sales = pd.DataFrame(
        {
            "sale_id": [f"S{i}" for i in range(n_sales)],
            "customer_id": pick(ids, n_sales),
            "sale_date": days(n_sales),
            "vin": np.where(
                rng.random(n_sales) < 0.1, None, np.where(rng.random(n_sales) < 0.15, pick(vins, n_sales), vins)
            ),
            "price": np.round(rng.uniform(15000, 60000, n_sales), 2),
        }
    )
    # visits: some of sold vehicles at sale + 12 months (+-1 day), the rest random
    n_vis = n_customers * 5
    sold = sales.sample(n_vis, replace=True, random_state=seed)
    offset = sold["sale_date"] + pd.DateOffset(months=12) + pd.to_timedelta(rng.integers(-1, 2, n_vis), unit="D")
    visit_date = np.where(rng.random(n_vis) < 0.3, offset, days(n_vis))
    visits = pd.DataFrame(
        {
            "ro_id": [f"R{i}" for i in range(n_vis)],
            "customer_id": sold["customer_id"].to_numpy(),
            "visit_date": pd.to_datetime(visit_date),
            "vin": np.where(rng.random(n_vis) < 0.1, None, sold["vin"].to_numpy()),
        }
    )
    # odometer: each vehicle drives its own miles per day from its own base; 20% of visits without a
    # reading, 3% typos (a digit lost or added), and same-day visits from the edge dates
    vin_no = pd.Series(visits["vin"]).str[1:].astype("float").fillna(-1).astype(int).to_numpy()
    base = rng.integers(0, 40000, n_sales + 1)[vin_no]
    rate = rng.choice([0.0, 5.0, 20.0, 36.0, 55.0, 120.0], n_sales + 1)[vin_no]
    miles = base + rate * (visits["visit_date"] - pd.Timestamp("2020-01-01")).dt.days.to_numpy()
    miles = np.where(rng.random(n_vis) < 0.03, miles * rng.choice([0.1, 10.0], n_vis), miles)
    visits["mileage"] = pd.array(np.where(rng.random(n_vis) < 0.2, np.nan, np.floor(miles)), dtype="Int64")
    visits["service_type"] = pick(["maintenance", "repair", "tires"], n_vis)
    n_dw = n_customers * 2
    dw_from = visits.sample(n_dw, replace=True, random_state=seed + 1)
    declined = pd.DataFrame(
        {
            "ro_id": dw_from["ro_id"].to_numpy(),
            "customer_id": dw_from["customer_id"].to_numpy(),
            "vin": np.where(rng.random(n_dw) < 0.2, None, dw_from["vin"].to_numpy()),
            "declined_at": times(n_dw, back=400),
            "description": pick(["Brake pads", "brake pads ", "Tires", "Wiper blades", None], n_dw),
            "amount": np.round(rng.uniform(50, 900, n_dw), 2),
        }
    )
    n_msg = n_customers * 10
    sent = times(n_msg, back=200)
    msgs = pd.DataFrame(
        {
            "message_id": [f"M{i}" for i in range(n_msg)],
            "customer_id": pick(ids, n_msg),
            "sent_at": sent,
            "channel": pick(CHANNELS, n_msg),
            "sender": pick(["oem", "dealer", "service"], n_msg),
            "category": pick(CATEGORIES, n_msg),
            "status": pick(["delivered", "bounced", "failed"], n_msg, p_none=0.3),
            "responded_at": np.where(rng.random(n_msg) < 0.3, sent + pd.Timedelta(hours=3), pd.NaT),
        }
    )
    n_ap = n_customers * 4
    reminders = msgs[msgs["category"].eq("service_reminder")].sample(n_ap // 2, replace=True, random_state=seed)
    # bookings 0 to 15 days after a reminder, often exactly at the 14-day mark
    lag = pd.to_timedelta(
        np.where(rng.random(n_ap // 2) < 0.3, 14 * 24 * 60, rng.integers(0, 15 * 24 * 60, n_ap // 2)), unit="m"
    )
    booked = pd.concat(
        [pd.Series(reminders["sent_at"].to_numpy() + lag.to_numpy()), times(n_ap - n_ap // 2, back=200)],
        ignore_index=True,
    )
    aps = pd.DataFrame(
        {
            "appointment_id": [f"A{i}" for i in range(n_ap)],
            "customer_id": np.concatenate([reminders["customer_id"].to_numpy(), pick(ids, n_ap - n_ap // 2)]),
            "booked_at": booked,
            "scheduled_for": times(n_ap, back=200),
            "status": pick(["kept", "no_show", "cancelled", "scheduled"], n_ap),
            "vin": np.where(rng.random(n_ap) < 0.7, None, pick(vins, n_ap)),
        }
    )
    n_ref = n_customers
    referred = times(n_ref, back=500)
    contact_lag = pd.to_timedelta(
        np.where(rng.random(n_ref) < 0.3, 24 * 60, rng.integers(-60, 72 * 60, n_ref)), unit="m"
    )
    status = pick(["new", "contacted", "appointment", "sold", "lost"], n_ref)
    refs = pd.DataFrame(
        {
            "referral_id": [f"F{i}" for i in range(n_ref)],
            "referrer_id": pick(ids, n_ref),
            "referred_at": referred,
            "status": status,
            "first_contact_at": np.where(rng.random(n_ref) < 0.8, referred + contact_lag, pd.NaT),
            "sold_at": np.where(
                status == "sold", referred + pd.to_timedelta(rng.integers(0, 90 * 24, n_ref), unit="h"), pd.NaT
            ),
            "sale_id": np.where(status == "sold", pick(sales["sale_id"].tolist() + ["S_unknown"], n_ref), None),
            "acknowledged_at": np.where(rng.random(n_ref) < 0.5, referred + pd.Timedelta(days=20), pd.NaT),
            "incentive_category": pick(
                ["transactional", "experiential", "recognition", "altruistic"], n_ref, p_none=0.1
            ),
            "reward_value": rng.choice([0.0, 50.0, 100.0], n_ref),
        }
    )
    vehicles = pd.DataFrame(
        {
            "vin": vins,
            "customer_id": sales["customer_id"].to_numpy(),
            "warranty_end": days(n_sales, back=30, ahead=120).where(rng.random(n_sales) < 0.9),
            "model_year": pd.array(
                np.where(rng.random(n_sales) < 0.1, np.nan, rng.integers(a.year - 10, a.year + 2, n_sales)),
                dtype="Int64",
            ),
        }
    )
    frames = {
        "customers": customers,
        "sales": sales,
        "service_visits": visits,
        "communications": msgs,
        "appointments": aps,
        "referrals": refs,
        "vehicles": vehicles,
        "declined_work": declined,
    }
    return from_frames(frames, timezone=tz, as_of=as_of)


def sql_kpis(d: DealerData) -> dict:
    """Every KPI of SPEC §5-6, straight from the SPEC's words, in DuckDB SQL."""
    con = duckdb.connect()
    for name in ("customers", "sales", "service_visits", "communications", "appointments", "referrals"):
        con.register(name, d[name])
    a, tz = d.as_of.isoformat(), d.timezone
    q = {
        "first_year_service_retention": f"""
            WITH sold AS (SELECT vin, sale_date::DATE AS d FROM sales
                          WHERE vin IS NOT NULL AND sale_date::DATE > DATE '{a}' - INTERVAL 24 MONTH
                                AND sale_date::DATE <= DATE '{a}' - INTERVAL 12 MONTH)
            SELECT (SELECT count(DISTINCT vin) FROM sold s WHERE EXISTS (
                        SELECT 1 FROM service_visits v WHERE v.vin = s.vin AND v.visit_date::DATE > s.d
                        AND v.visit_date::DATE <= s.d + INTERVAL 12 MONTH)),
                   (SELECT count(DISTINCT vin) FROM sold)""",
        "service_customer_retention_12m": f"""
            WITH before AS (SELECT DISTINCT customer_id FROM service_visits
                            WHERE visit_date::DATE > DATE '{a}' - INTERVAL 24 MONTH AND visit_date::DATE <= DATE '{a}' - INTERVAL 12 MONTH),
                 recent AS (SELECT DISTINCT customer_id FROM service_visits
                            WHERE visit_date::DATE > DATE '{a}' - INTERVAL 12 MONTH AND visit_date::DATE <= DATE '{a}')
            SELECT (SELECT count(*) FROM before JOIN recent USING (customer_id)), (SELECT count(*) FROM before)""",
        "appointment_show_rate_90d": f"""
            SELECT count(*) FILTER (status = 'kept'), count(*) FILTER (status IN ('kept', 'no_show'))
            FROM appointments WHERE timezone('{tz}', scheduled_for)::DATE > DATE '{a}' - 90
                                AND timezone('{tz}', scheduled_for)::DATE <= DATE '{a}'""",
        "reminder_booking_rate_90d": f"""
            WITH r AS (SELECT message_id, customer_id, timezone('{tz}', sent_at) AS t FROM communications
                       WHERE category = 'service_reminder' AND timezone('{tz}', sent_at)::DATE > DATE '{a}' - 90
                             AND timezone('{tz}', sent_at)::DATE <= DATE '{a}' - 14)
            SELECT count(*) FILTER (EXISTS (SELECT 1 FROM appointments p WHERE p.customer_id = r.customer_id
                       AND timezone('{tz}', p.booked_at) > r.t AND timezone('{tz}', p.booked_at) <= r.t + INTERVAL 14 DAY)),
                   count(*) FROM r""",
        "response_rate_90d": f"""
            SELECT count(responded_at), count(*) FROM communications
            WHERE (status IS NULL OR status = 'delivered') AND timezone('{tz}', sent_at)::DATE > DATE '{a}' - 90
                  AND timezone('{tz}', sent_at)::DATE <= DATE '{a}'""",
        "repurchase_rate": f"""
            WITH f AS (SELECT customer_id, min(sale_date::DATE) AS first FROM sales GROUP BY customer_id
                       HAVING min(sale_date::DATE) <= DATE '{a}' - INTERVAL 36 MONTH)
            SELECT count(*) FILTER (EXISTS (SELECT 1 FROM sales s WHERE s.customer_id = f.customer_id
                       AND s.sale_date::DATE > f.first AND s.sale_date::DATE <= DATE '{a}')), count(*) FROM f""",
    }
    in12 = f"timezone('{tz}', referred_at)::DATE > DATE '{a}' - INTERVAL 12 MONTH AND timezone('{tz}', referred_at)::DATE <= DATE '{a}'"
    q |= {
        "advocate_rate_12m": f"""
            SELECT (SELECT count(DISTINCT referrer_id) FROM referrals WHERE {in12}),
                   (SELECT count(DISTINCT customer_id) FROM (
                        SELECT customer_id FROM sales WHERE sale_date::DATE > DATE '{a}' - INTERVAL 12 MONTH AND sale_date::DATE <= DATE '{a}'
                        UNION SELECT customer_id FROM service_visits
                        WHERE visit_date::DATE > DATE '{a}' - INTERVAL 12 MONTH AND visit_date::DATE <= DATE '{a}'))""",
        "referral_conversion_12m": f"SELECT count(*) FILTER (status = 'sold'), count(*) FROM referrals WHERE {in12}",
        "first_contact_24h_share": f"""SELECT count(*) FILTER (epoch(first_contact_at) - epoch(referred_at) <= 24 * 3600),
                                              count(*) FROM referrals WHERE {in12}""",
        "acknowledgment_rate": f"SELECT count(acknowledged_at), count(*) FROM referrals WHERE {in12}",
    }
    con.register("declined_work", d["declined_work"])
    A = f"DATE '{a}'"
    seg = segment_sql(A)
    for s in ("active", "recently_lost", "defected", "never_serviced"):
        q[f"segment_{s}_share"] = f"SELECT count(*) FILTER (segment = '{s}'), count(*) FROM ({seg})"
    q["declined_work_recovery_90d"] = f"""
        WITH i AS (SELECT customer_id, nullif(trim(vin), '') AS vin, timezone('{tz}', declined_at)::DATE AS d FROM declined_work)
        SELECT count(*) FILTER (EXISTS (SELECT 1 FROM service_visits v
                   WHERE (v.vin = i.vin OR (i.vin IS NULL AND v.customer_id = i.customer_id))
                     AND v.visit_date::DATE > i.d AND v.visit_date::DATE <= i.d + 90)), count(*)
        FROM i WHERE d > {A} - 180 AND d <= {A} - 90"""
    out = {}
    for key, sql in q.items():
        num, den = con.execute(sql).fetchone()
        out[key] = None if den == 0 else num / den
    out["referrals_12m"] = con.execute(f"SELECT count(*) FROM referrals WHERE {in12}").fetchone()[0]
    out["referral_revenue_12m"] = con.execute(f"""
        SELECT coalesce(sum(price), 0) FROM sales WHERE sale_id IN (
            SELECT sale_id FROM referrals WHERE status = 'sold'
            AND timezone('{tz}', sold_at)::DATE > DATE '{a}' - INTERVAL 12 MONTH AND timezone('{tz}', sold_at)::DATE <= DATE '{a}')
    """).fetchone()[0]
    out["response_by_channel"] = dict(
        con.execute(f"""
        SELECT channel, count(responded_at) / count(*) FROM communications
        WHERE (status IS NULL OR status = 'delivered') AND timezone('{tz}', sent_at)::DATE > DATE '{a}' - 90
              AND timezone('{tz}', sent_at)::DATE <= DATE '{a}' GROUP BY channel""").fetchall()
    )
    return out


def segment_sql(A: str, at: str | None = None) -> str:
    """customer_id, segment of every customer with a sale or a visit on or before ``at`` (default A)."""
    at = at or A
    return f"""
        WITH c AS (SELECT customer_id FROM sales WHERE sale_date::DATE <= {at}
                   UNION SELECT customer_id FROM service_visits WHERE visit_date::DATE <= {at}),
             lv AS (SELECT customer_id, max(visit_date::DATE) AS lv FROM service_visits WHERE visit_date::DATE <= {at} GROUP BY 1)
        SELECT customer_id, CASE WHEN lv IS NULL THEN 'never_serviced'
                                 WHEN lv > {at} - INTERVAL 12 MONTH THEN 'active'
                                 WHEN lv > {at} - INTERVAL 24 MONTH THEN 'recently_lost'
                                 ELSE 'defected' END AS segment
        FROM c LEFT JOIN lv USING (customer_id)"""


def vehicle_sql(A: str, p: dict) -> str:
    """Per vehicle (VIN, else one per customer): customer of the last visit, last visit, mileage rate,
    estimated mileage at A, time and mileage due dates (SPEC §5 service intelligence)."""
    return f"""
        WITH v AS (SELECT ro_id, customer_id, visit_date::DATE AS d, nullif(trim(vin), '') AS vin, mileage,
                          coalesce(nullif(trim(vin), ''), chr(0) || customer_id) AS k
                   FROM service_visits WHERE visit_date::DATE <= {A}),
             r AS (SELECT k, d, ro_id, mileage, lag(d) OVER w AS pd, lag(mileage) OVER w AS pm
                   FROM v WHERE mileage IS NOT NULL WINDOW w AS (PARTITION BY k ORDER BY d, ro_id)),
             own AS (SELECT k, median((mileage - pm) / (d - pd)) AS rate FROM r
                     WHERE d - pd > 0 AND mileage - pm >= 0 GROUP BY k),
             fleet AS (SELECT coalesce(median(rate), {p["default_daily_miles"]}) AS f FROM own),
             lr AS (SELECT k, mileage AS lr, d AS lrd FROM (
                        SELECT *, row_number() OVER (PARTITION BY k ORDER BY d DESC, ro_id DESC) AS n
                        FROM v WHERE mileage IS NOT NULL) WHERE n = 1),
             lv AS (SELECT k, vin, customer_id, d AS lv FROM (
                        SELECT *, row_number() OVER (PARTITION BY k ORDER BY d DESC, ro_id DESC) AS n FROM v) WHERE n = 1)
        SELECT lv.*, coalesce(own.rate, fleet.f) AS rate, lr.lr, lr.lrd,
               lv.lv + {p["service_interval_days"]} AS time_due,
               floor(lr.lr + coalesce(own.rate, fleet.f) * ({A} - lr.lrd) + 0.5)::BIGINT AS est,
               CASE WHEN coalesce(own.rate, fleet.f) > 0
                    THEN lr.lrd + ceil({p["service_interval_miles"]} / coalesce(own.rate, fleet.f))::INT END AS miles_due
        FROM lv CROSS JOIN fleet LEFT JOIN own USING (k) LEFT JOIN lr USING (k)"""


REACHABLE = """
    SELECT customer_id FROM customers WHERE
        (coalesce(trim(email), '') <> '' AND coalesce(email_opt_in, true))
        OR (coalesce(trim(phone), '') <> '' AND coalesce(sms_consent, false))
        OR (coalesce(trim(phone), '') <> '' AND NOT coalesce(phone_dnc, false))
        OR (coalesce(trim(postal_code), '') <> '' AND NOT coalesce(mail_opt_out, false))"""


def sql_lists(d: DealerData) -> dict[str, list]:
    """The call lists and lapsed customers of SPEC §5 as sorted lists of keys, in DuckDB SQL."""
    con = duckdb.connect()
    for name in ("customers", "sales", "service_visits", "appointments", "vehicles", "declined_work"):
        con.register(name, d[name])
    a, tz, p = d.as_of.isoformat(), d.timezone, PARAMS["retention"]
    A = f"DATE '{a}'"

    def rows(sql: str) -> list:
        return sorted(tuple(str(v) for v in row) for row in con.execute(sql).fetchall())

    last = (
        f"SELECT customer_id, max(visit_date::DATE) AS lv FROM service_visits WHERE visit_date::DATE <= {A} GROUP BY 1"
    )
    # the next birthday or purchase anniversary on or after A; Feb 29 -> Feb 28 in common years
    anniversary = """make_date(y, month(d), CASE WHEN month(d) = 2 AND day(d) = 29
                                           AND NOT (y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0)) THEN 28 ELSE day(d) END)"""
    years = f"(VALUES ({d.as_of.year}), ({d.as_of.year + 1})) AS t(y)"
    return {
        "lapsed": rows(f"""SELECT customer_id FROM ({last}) WHERE lv > {A} - INTERVAL {p["lapsed_max_months"]} MONTH
                           AND lv <= {A} - INTERVAL {p["lapsed_min_months"]} MONTH"""),
        "due_for_service": rows(f"""
            WITH x AS ({vehicle_sql(A, p)}),
                 up AS (SELECT customer_id, nullif(trim(vin), '') AS vin FROM appointments
                        WHERE timezone('{tz}', scheduled_for)::DATE >= {A} AND status NOT IN ('cancelled', 'no_show')),
                 due AS (SELECT *, time_due < {A} + {p["due_horizon_days"]} AS t,
                                coalesce(miles_due <= {A} + {p["due_horizon_days"]}, false) AS m FROM x)
            SELECT customer_id, coalesce(vin, ''), CASE WHEN t AND m THEN 'both' WHEN t THEN 'time' ELSE 'mileage' END,
                   strftime(least(time_due, coalesce(miles_due, time_due)), '%Y-%m-%d'), coalesce(est::VARCHAR, '<NA>')
            FROM due WHERE (t OR m) AND customer_id IN ({REACHABLE})
              AND NOT EXISTS (SELECT 1 FROM up WHERE up.vin = due.vin OR (up.vin IS NULL AND up.customer_id = due.customer_id))"""),
        "recently_lost": rows(f"""SELECT customer_id FROM ({segment_sql(A)}) WHERE segment = 'recently_lost'
                                  AND customer_id IN ({REACHABLE})"""),
        "declined_work": rows(f"""
            WITH i AS (SELECT ro_id, customer_id, nullif(trim(vin), '') AS vin, timezone('{tz}', declined_at)::DATE AS d,
                              strftime(timezone('{tz}', declined_at), '%Y-%m-%d %H:%M') AS t FROM declined_work)
            SELECT ro_id, customer_id, t FROM i WHERE d > {A} - {p["declined_days"]} AND d <= {A}
              AND NOT EXISTS (SELECT 1 FROM service_visits v WHERE (v.vin = i.vin OR (i.vin IS NULL AND v.customer_id = i.customer_id))
                              AND v.visit_date::DATE > i.d AND v.visit_date::DATE <= {A})
              AND customer_id IN ({REACHABLE})"""),
        "warranty_expiring": rows(f"""
            SELECT vin FROM vehicles WHERE warranty_end::DATE BETWEEN {A} AND {A} + {p["warranty_horizon_days"]}
              AND customer_id IN ({REACHABLE})"""),
        "milestones": rows(f"""
            WITH b AS (SELECT customer_id, customer_id AS k, birth_date::DATE AS d FROM customers WHERE birth_date::DATE <= {A}),
                 s AS (SELECT customer_id, sale_id AS k, sale_date::DATE AS d FROM sales WHERE sale_date::DATE < {A}),
                 nb AS (SELECT customer_id, 'birthday' AS kind, min({anniversary}) AS m FROM b, {years}
                        WHERE {anniversary} >= {A} GROUP BY customer_id, k),
                 ns AS (SELECT customer_id, 'purchase_anniversary' AS kind, min({anniversary}) AS m FROM s, {years}
                        WHERE {anniversary} >= {A} GROUP BY customer_id, k)
            SELECT customer_id, kind, strftime(m, '%Y-%m-%d') FROM (SELECT * FROM nb UNION ALL SELECT * FROM ns)
            WHERE m <= {A} + {p["milestone_horizon_days"]} AND customer_id IN ({REACHABLE})"""),
    }


def same(x, y) -> bool:
    if x is None or y is None:
        return x is None and y is None
    return math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-9)


CASES = [
    (1, "America/Los_Angeles", "2026-03-31"),  # end of month, evening local = next day UTC
    (2, "Asia/Tokyo", "2028-02-29"),  # leap day, morning local = previous day UTC
    (3, "America/New_York", "2026-11-02"),  # the day after the end of daylight saving time
]


@pytest.mark.parametrize("seed,tz,as_of", CASES)
def test_kpis_equal_independent_sql(seed, tz, as_of):
    d = random_dealer(seed, tz, as_of)
    expected = sql_kpis(d)
    got = {**retention.compute(d, PARAMS).kpis, **referrals.compute(d, PARAMS).kpis}
    assert set(got) == set(retention.KPI_KEYS) | set(referrals.KPI_KEYS)
    mismatches = {k: (got[k], expected[k]) for k in got if not same(got[k], expected[k])}
    assert not mismatches
    # the randomized data must exercise every KPI (no vacuous None = None)
    assert all(v is not None for v in got.values())


@pytest.mark.parametrize("seed,tz,as_of", CASES[:1])
def test_response_rate_per_channel_equals_sql(seed, tz, as_of):
    d = random_dealer(seed, tz, as_of)
    expected = sql_kpis(d)["response_by_channel"]
    got = retention.response_by_channel(d, PARAMS["retention"]).set_index("channel")["response_rate"].to_dict()
    assert got.keys() == expected.keys()
    assert all(same(got[k], expected[k]) for k in got)


@pytest.mark.parametrize("tz,as_of", [("America/Los_Angeles", "2026-03-31"), ("Europe/Berlin", "2025-10-26")])
def test_kpis_equal_sql_on_synth_dealer(tz, as_of):
    from ownercomm_kit import synth

    frames, _truth = synth.generate_dealer("SYNKPI", 400, 7, timezone=tz, as_of=as_of)
    d = from_frames(frames, timezone=tz, as_of=as_of)
    expected = sql_kpis(d)
    got = {**retention.compute(d, PARAMS).kpis, **referrals.compute(d, PARAMS).kpis}
    mismatches = {k: (got[k], expected[k]) for k in got if not same(got[k], expected[k])}
    assert not mismatches
    assert sum(v is not None for v in got.values()) >= 10  # the synthetic dealer feeds nearly every KPI


@pytest.mark.parametrize("seed,tz,as_of", CASES)
def test_call_lists_equal_independent_sql(seed, tz, as_of):
    d = random_dealer(seed, tz, as_of)
    expected = sql_lists(d)
    r = retention.compute(d, PARAMS)
    got = {
        "lapsed": sorted((c,) for c in r.lapsed["customer_id"]),
        "due_for_service": sorted(
            zip(
                r.due_for_service["customer_id"],
                r.due_for_service["vin"].fillna(""),
                r.due_for_service["due_reason"],
                r.due_for_service["due_date"].dt.strftime("%Y-%m-%d"),
                r.due_for_service["estimated_mileage"].astype("string").fillna("<NA>"),
            )
        ),
        "recently_lost": sorted((c,) for c in r.recently_lost["customer_id"]),
        "declined_work": sorted(
            zip(
                r.declined_work["ro_id"],
                r.declined_work["customer_id"],
                r.declined_work["declined_at"].dt.strftime("%Y-%m-%d %H:%M"),
            )
        ),
        "warranty_expiring": sorted((v,) for v in r.warranty_expiring["vin"]),
        "milestones": sorted(
            zip(
                r.milestones["customer_id"],
                r.milestones["milestone"],
                r.milestones["milestone_date"].dt.strftime("%Y-%m-%d"),
            )
        ),
    }
    for name, rows in got.items():
        assert rows == expected[name], name
        assert rows, f"the randomized dealer puts nobody on {name}"
    assert r.excluded["due_for_service"] > 0  # consent filtering is exercised too
    assert set(r.due_for_service["due_reason"]) == {"time", "mileage", "both"}


def kit_lists(r) -> dict[str, list]:
    """The kit's call lists as the sorted keys ``sql_lists`` returns."""
    due = r.due_for_service
    return {
        "lapsed": sorted((c,) for c in r.lapsed["customer_id"]),
        "due_for_service": sorted(
            zip(
                due["customer_id"],
                due["vin"].fillna(""),
                due["due_reason"],
                due["due_date"].dt.strftime("%Y-%m-%d"),
                due["estimated_mileage"].astype("string").fillna("<NA>"),
            )
        ),
        "recently_lost": sorted((c,) for c in r.recently_lost["customer_id"]),
        "declined_work": sorted(
            zip(
                r.declined_work["ro_id"],
                r.declined_work["customer_id"],
                r.declined_work["declined_at"].dt.strftime("%Y-%m-%d %H:%M"),
            )
        ),
        "warranty_expiring": sorted((v,) for v in r.warranty_expiring["vin"]),
        "milestones": sorted(
            zip(
                r.milestones["customer_id"],
                r.milestones["milestone"],
                r.milestones["milestone_date"].dt.strftime("%Y-%m-%d"),
            )
        ),
    }


@pytest.mark.parametrize("tz,as_of", [("America/Chicago", "2026-10-31")])
def test_service_lists_equal_sql_on_synth_dealer(tz, as_of):
    """Realistic odometer readings (per-vehicle rates, typos) and declined work with recovery."""
    from ownercomm_kit import synth

    frames, _truth = synth.generate_dealer("SYNSVC", 400, 11, timezone=tz, as_of=as_of)
    d = from_frames(frames, timezone=tz, as_of=as_of)
    r = retention.compute(d, PARAMS)
    got, expected = kit_lists(r), sql_lists(d)
    for name in ("due_for_service", "recently_lost", "declined_work", "lapsed"):
        assert got[name] == expected[name], name
        assert got[name], f"the synthetic dealer puts nobody on {name}"
    assert {"mileage", "both"} <= {row[2] for row in got["due_for_service"]}
    segments = {k: v for k, v in r.kpis.items() if k.startswith("segment_")}
    assert all(v for v in segments.values())  # synth makes every segment


def sql_age_bands(d: DealerData) -> list[tuple]:
    """Retention by vehicle age band (0-2, 3-5, 6+ years at A; 12-month retention per vehicle), in DuckDB SQL."""
    con = duckdb.connect()
    for name in ("sales", "service_visits", "vehicles"):
        con.register(name, d[name])
    A, y = f"DATE '{d.as_of.isoformat()}'", d.as_of.year
    band = f"""CASE WHEN m.model_year IS NULL THEN 'unknown model year'
                    WHEN {y} - m.model_year < 3 THEN '0-2 years' WHEN {y} - m.model_year < 6 THEN '3-5 years'
                    ELSE '6+ years' END"""
    sql = f"""
        WITH my AS (SELECT vin, any_value(model_year) AS model_year FROM vehicles WHERE model_year IS NOT NULL GROUP BY vin),
             sold AS (SELECT vin, sale_date::DATE AS d FROM sales WHERE vin IS NOT NULL AND trim(vin) <> ''
                      AND sale_date::DATE > {A} - INTERVAL 24 MONTH AND sale_date::DATE <= {A} - INTERVAL 12 MONTH),
             f AS (SELECT vin, bool_or(EXISTS (SELECT 1 FROM service_visits v WHERE v.vin = sold.vin
                        AND v.visit_date::DATE > sold.d AND v.visit_date::DATE <= sold.d + INTERVAL 12 MONTH)) AS back
                   FROM sold GROUP BY vin),
             r AS (SELECT DISTINCT vin FROM service_visits WHERE vin IS NOT NULL
                   AND visit_date::DATE > {A} - INTERVAL 24 MONTH AND visit_date::DATE <= {A} - INTERVAL 12 MONTH),
             rr AS (SELECT vin, EXISTS (SELECT 1 FROM service_visits v WHERE v.vin = r.vin
                        AND v.visit_date::DATE > {A} - INTERVAL 12 MONTH AND v.visit_date::DATE <= {A}) AS back FROM r),
             fb AS (SELECT {band} AS band, count(*) AS n, count(*) FILTER (back) AS k FROM f LEFT JOIN my m USING (vin) GROUP BY 1),
             rb AS (SELECT {band} AS band, count(*) AS n, count(*) FILTER (back) AS k FROM rr LEFT JOIN my m USING (vin) GROUP BY 1)
        SELECT band, coalesce(fb.n, 0), coalesce(fb.k, 0), coalesce(rb.n, 0), coalesce(rb.k, 0)
        FROM fb FULL JOIN rb USING (band) ORDER BY band"""
    return [tuple(row) for row in con.execute(sql).fetchall()]


@pytest.mark.parametrize("seed,tz,as_of", CASES)
def test_age_bands_equal_independent_sql(seed, tz, as_of):
    d = random_dealer(seed, tz, as_of)
    from ownercomm_kit import service

    b = service.age_bands(d, PARAMS["retention"])
    b = b[(b["sold_vehicles"] > 0) | (b["serviced_vehicles"] > 0)]
    got = sorted(
        zip(
            b["age_band"],
            b["sold_vehicles"],
            b["back_within_first_year"],
            b["serviced_vehicles"],
            b["back_in_last_12m"],
        )
    )
    assert got == sql_age_bands(d)
    assert len(got) == 4


def sql_cohort(d: DealerData) -> list[tuple]:
    """The cohort heat map of SPEC §5 (sale quarter x quarters since sale), in DuckDB SQL."""
    con = duckdb.connect()
    con.register("sales", d["sales"])
    con.register("service_visits", d["service_visits"])
    p = PARAMS["retention"]
    A = f"DATE '{d.as_of.isoformat()}'"
    sql = f"""
        WITH s AS (SELECT vin, min(sale_date::DATE) AS d, date_trunc('quarter', sale_date::DATE) AS q
                   FROM sales WHERE vin IS NOT NULL AND sale_date::DATE <= {A} GROUP BY vin, q),
             cells AS (SELECT s.*, n FROM s, range(1, {p["cohort_max_quarters"]} + 1) AS t(n)
                       WHERE last_day(q + INTERVAL 2 MONTH) + to_months(3 * n::INT) <= {A}),
             shown AS (SELECT DISTINCT q FROM cells ORDER BY q DESC LIMIT {p["cohort_quarters"]})
        SELECT strftime(q, '%Y') || 'Q' || quarter(q), n, count(*),
               count(*) FILTER (EXISTS (SELECT 1 FROM service_visits v WHERE v.vin = cells.vin
                   AND v.visit_date::DATE > cells.d + to_months(3 * (n::INT - 1))
                   AND v.visit_date::DATE <= cells.d + to_months(3 * n::INT)))
        FROM cells WHERE q IN (SELECT q FROM shown) GROUP BY q, n ORDER BY q, n"""
    return [tuple(row) for row in con.execute(sql).fetchall()]


@pytest.mark.parametrize("seed,tz,as_of", CASES)
def test_cohort_equals_independent_sql(seed, tz, as_of):
    d = random_dealer(seed, tz, as_of)
    c = retention.cohort(d, PARAMS["retention"])
    got = list(zip(c["sale_quarter"], c["quarters_since_sale"], c["vehicles"], c["with_visit"]))
    assert got == sql_cohort(d)
    assert len(got) > 20


SAMPLE_DEALERS = sorted((ROOT / "params" / "dealers").glob("D00*.yaml"))[:1]  # the shipped sample, through the loader


@pytest.mark.parametrize("dealer_file", SAMPLE_DEALERS, ids=lambda p: p.stem)
def test_kpis_equal_sql_on_sample_dealers(dealer_file):
    from ownercomm_kit import loader, params

    p = params.resolve(dealer_file=dealer_file)
    d = loader.load_dealer(p)
    expected = sql_kpis(d)
    got = {**retention.compute(d, p).kpis, **referrals.compute(d, p).kpis}
    mismatches = {k: (got[k], expected[k]) for k in got if not same(got[k], expected[k])}
    assert not mismatches


def sql_referral_frames(d: DealerData) -> dict[str, list]:
    """Funnel, incentives and follow-ups of SPEC §6, in DuckDB SQL."""
    con = duckdb.connect()
    con.register("referrals", d["referrals"])
    a, tz, p = d.as_of.isoformat(), d.timezone, PARAMS["referrals"]
    A = f"DATE '{a}'"
    local = f"timezone('{tz}', referred_at)::DATE"
    in12 = f"{local} > {A} - INTERVAL {p['window_months']} MONTH AND {local} <= {A}"
    sold12 = (
        f"timezone('{tz}', sold_at)::DATE > {A} - INTERVAL {p['window_months']} MONTH "
        f"AND timezone('{tz}', sold_at)::DATE <= {A}"
    )
    now = f"timezone('{tz}', ({A} + 1)::TIMESTAMP)"  # the end of A on the dealer's clock
    stage = """greatest(CASE status WHEN 'contacted' THEN 1 WHEN 'appointment' THEN 2 WHEN 'sold' THEN 3 ELSE 0 END,
                        (first_contact_at IS NOT NULL)::INT)"""
    q = {
        "funnel": f"""SELECT i, count(*) FILTER ({stage} >= i) FROM referrals, range(4) AS t(i)
                      WHERE {in12} GROUP BY i ORDER BY i""",
        "by_incentive": f"""SELECT coalesce(incentive_category, 'unknown'), count(*), count(*) FILTER (status = 'sold'),
                                   sum(coalesce(reward_value, 0)) FROM referrals WHERE {in12} GROUP BY 1 ORDER BY 1""",
        "followups": f"""
            SELECT referral_id, 'contact_referred' FROM referrals
            WHERE {in12} AND (status IS NULL OR status = 'new') AND first_contact_at IS NULL
                  AND epoch({now}) - epoch(referred_at) > {p["first_contact_hours"]} * 3600
            UNION ALL
            SELECT referral_id, 'thank_advocate' FROM referrals
            WHERE status = 'sold' AND acknowledged_at IS NULL AND (({in12}) OR ({sold12}))
            ORDER BY 1, 2""",
    }
    return {k: [tuple(row) for row in con.execute(sql).fetchall()] for k, sql in q.items()}


@pytest.mark.parametrize("seed,tz,as_of", CASES)
def test_referral_frames_equal_independent_sql(seed, tz, as_of):
    d = random_dealer(seed, tz, as_of)
    expected = sql_referral_frames(d)
    r = referrals.compute(d, PARAMS)
    assert list(enumerate(r.funnel["referrals"])) == expected["funnel"]
    b = r.by_incentive[r.by_incentive["referrals"] > 0]
    got = sorted(zip(b["incentive_category"], b["referrals"], b["sold"], b["reward_spent"]))
    assert got == [(c, n, s, pytest.approx(w)) for c, n, s, w in expected["by_incentive"]]
    follow = sorted(zip(r.followups["referral_id"], r.followups["action"]))
    assert follow == expected["followups"]
    assert {a for _, a in follow} == {"contact_referred", "thank_advocate"}
