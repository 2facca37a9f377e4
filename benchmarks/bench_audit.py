"""Audit speed on a big dealer: the kit's engine against DuckDB SQL and naive pandas.

    .venv/bin/python benchmarks/bench_audit.py                 # 10 million messages
    .venv/bin/python benchmarks/bench_audit.py --messages 200000

Generates one dealer in memory (``ownercomm_kit.synth.generate_dealer`` when it exists, else a
vectorised numpy generator below), then in the same run times:
  - the kit: sorting once, every rule (and per rule family), the whole ``run_audit``;
  - DuckDB SQL computing cap_total alone (window function, RANGE ... PRECEDING);
  - naive pandas computing cap_total alone (``groupby().rolling()``);
checks that the three agree on the cap_total flagged set, and prints seconds, ratios and the
peak memory (RSS, sampled) of each phase. Target: all rules <= 3x DuckDB's cap_total, peak
<= 6 GB.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
import psutil

from ownercomm_kit import schema
from ownercomm_kit.audit import RULES, run_audit, run_rules_timed
from ownercomm_kit.audit.windows import messages_of
from ownercomm_kit.data import DealerData, empty_table
from ownercomm_kit.params import load_defaults

TZ = "America/Chicago"
GB = 1024**3


class Peak:
    """Peak RSS of this process while a phase runs (sampled every 20 ms)."""

    def __init__(self):
        self.proc = psutil.Process(os.getpid())
        self.peak = 0
        self._stop = threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    @contextmanager
    def phase(self):
        self.peak = self.proc.memory_info().rss
        self._stop.clear()
        t = threading.Thread(target=self._run, daemon=True)
        t.start()
        try:
            yield self
        finally:
            self._stop.set()
            t.join()
            self.peak = max(self.peak, self.proc.memory_info().rss)


def generate(n_messages: int, seed: int = 7, kind: str = "synth") -> DealerData:
    """A dealer of about ``n_messages`` messages, every table filled.

    The synth helper's realistic generator (about 93 messages per customer over three years,
    with injected rule breaks) when it is there, else a plain random one.
    """
    try:
        from ownercomm_kit.synth import generate_dealer
    except ImportError:
        generate_dealer = None
    if kind == "random":
        generate_dealer = None
    if generate_dealer is not None:
        frames, _ = generate_dealer("BENCH", max(n_messages // 93, 10), seed, timezone=TZ)
        as_of = max(frames["communications"]["sent_at"]).date() if len(frames["communications"]) else None
        return DealerData("BENCH", "Bench Motors", TZ, as_of, frames, [], {t: [] for t in schema.TABLES})
    return _random_dealer(n_messages, seed)


def _random_dealer(n_messages: int, seed: int) -> DealerData:
    """A plain random dealer (~100 messages per customer over two years)."""
    rng = np.random.default_rng(seed)
    k = max(n_messages // 100, 10)
    cust_ids = pd.array(np.char.add("C", np.arange(k).astype("U7")), dtype="string")
    start = pd.Timestamp("2024-07-01", tz=TZ).value // 10**9
    span = 2 * 365 * 86400
    cust = rng.integers(0, k, n_messages)
    sec = start + rng.integers(0, span, n_messages)
    # unique (customer, second): lets SQL and pandas peers agree with the kit's tie rule trivially
    keep = ~pd.DataFrame({"c": cust, "s": sec}).duplicated().to_numpy()
    cust, sec = cust[keep], sec[keep]
    n = len(cust)

    def pick(values, p=None, size=n):
        return pd.array(np.asarray(values, dtype=object)[rng.choice(len(values), size, p=p)], dtype="string")

    def ts(seconds):
        return (
            pd.Series(pd.to_datetime(seconds, unit="s", utc=True))
            .dt.tz_convert(TZ)
            .astype(pd.DatetimeTZDtype("ns", TZ))
        )

    cat_p = np.array([14, 14, 10, 4, 3, 2, 3, 3, 5, 12, 3, 6, 21], float)
    responded = rng.random(n) < 0.05
    comm = pd.DataFrame(
        {
            "message_id": pd.array(np.char.add("M", np.arange(n).astype("U9")), dtype="string"),
            "customer_id": cust_ids[cust],
            "sent_at": ts(sec),
            "channel": pick(schema.CHANNELS, [0.5, 0.25, 0.1, 0.15]),
            "sender": pick(schema.SENDERS, [0.3, 0.2, 0.2, 0.2, 0.1]),
            "category": pick(schema.CATEGORIES, cat_p / cat_p.sum()),
            "campaign_id": pd.array(
                np.where(rng.random(n) < 0.6, np.char.add("K", rng.integers(0, 3000, n).astype("U5")), None),
                dtype="string",
            ),
            "vin": pd.array(np.where(rng.random(n) < 0.5, np.char.add("V", cust.astype("U7")), None), dtype="string"),
            "model": pick(["Camry", "Corolla", "RAV4", "Highlander", "Tacoma"]),
            "offer_price": rng.integers(18000, 60000, n).astype(float),
            "status": pick(["delivered", "bounced", "failed"], [0.95, 0.04, 0.01]),
            "opened_at": ts(np.where(rng.random(n) < 0.3, sec + 3600, 0)).where(pd.Series(rng.random(n) < 0.3)),
            "clicked_at": ts(sec).where(pd.Series(np.zeros(n, bool))),
            "responded_at": ts(sec + 7200).where(pd.Series(responded)),
            "unsubscribed": pd.array(rng.random(n) < 0.002, dtype="boolean"),
        }
    )

    def bools(p_true, p_false, size=k):
        r = rng.random(size)
        return pd.array(np.where(r < p_true, True, np.where(r < p_true + p_false, False, None)), dtype="boolean")

    customers = empty_table("customers", TZ).reindex(range(k))
    customers["customer_id"] = cust_ids
    customers["timezone"] = pick(
        ["America/Chicago", "America/New_York", "America/Denver", "America/Los_Angeles"], [0.7, 0.1, 0.1, 0.1], k
    )
    customers["preferred_channel"] = pd.array(
        np.where(rng.random(k) < 0.4, np.asarray(pick(schema.CHANNELS, None, k), dtype=object), None), dtype="string"
    )
    # where they live: a state for most, some in the states with their own contact laws (SPEC §4)
    customers["state"] = pick(["FL", "OK", "MD", "TX", "CA", "IL", None], [0.1, 0.05, 0.05, 0.2, 0.2, 0.2, 0.2], k)
    customers["sms_consent"], customers["email_opt_in"] = bools(0.7, 0.2), bools(0.85, 0.1)
    customers["phone_dnc"], customers["mail_opt_out"] = bools(0.05, 0.8), bools(0.03, 0.8)

    def owned(m, cols):
        idx = rng.integers(0, k, m)
        return idx, {c: v for c, v in cols(idx, m).items()}

    def date(days_from_start, m):
        return (
            pd.Series(pd.to_datetime(start + days_from_start * 86400, unit="s")).dt.normalize().astype("datetime64[ns]")
        )

    s_idx = rng.integers(0, k, k // 3)
    sales = pd.DataFrame(
        {
            "sale_id": pd.array(np.char.add("S", np.arange(len(s_idx)).astype("U8")), dtype="string"),
            "customer_id": cust_ids[s_idx],
            "sale_date": date(rng.integers(-400, 730, len(s_idx)), len(s_idx)),
            "vin": pd.array(np.char.add("V", s_idx.astype("U7")), dtype="string"),
            "model": pick(["Camry", "Corolla", "RAV4", "Highlander", "Tacoma"], None, len(s_idx)),
            "price": rng.integers(20000, 60000, len(s_idx)).astype(float),
        }
    )
    v_idx = rng.integers(0, k, 2 * k)
    visits = pd.DataFrame(
        {
            "ro_id": pd.array(np.char.add("R", np.arange(len(v_idx)).astype("U8")), dtype="string"),
            "customer_id": cust_ids[v_idx],
            "visit_date": date(rng.integers(0, 730, len(v_idx)), len(v_idx)),
            "vin": pd.array(
                np.where(rng.random(len(v_idx)) < 0.8, np.char.add("V", v_idx.astype("U7")), None), dtype="string"
            ),
        }
    )
    a_idx = rng.integers(0, k, k)
    booked = start + rng.integers(0, span, len(a_idx))
    appts = pd.DataFrame(
        {
            "appointment_id": pd.array(np.char.add("A", np.arange(len(a_idx)).astype("U8")), dtype="string"),
            "customer_id": cust_ids[a_idx],
            "booked_at": ts(booked),
            "scheduled_for": ts(booked + rng.integers(86400, 30 * 86400, len(a_idx))),
            "status": pick(["scheduled", "kept", "no_show", "cancelled"], [0.1, 0.7, 0.1, 0.1], len(a_idx)),
        }
    )
    l_idx = rng.integers(0, k, k // 10)
    opened = start + rng.integers(0, span, len(l_idx))
    leads = pd.DataFrame(
        {
            "lead_id": pd.array(np.char.add("L", np.arange(len(l_idx)).astype("U8")), dtype="string"),
            "customer_id": cust_ids[l_idx],
            "opened_at": ts(opened),
            "closed_at": ts(opened + rng.integers(86400, 60 * 86400, len(l_idx))).where(
                pd.Series(rng.random(len(l_idx)) < 0.8)
            ),
        }
    )
    vehicles = pd.DataFrame(
        {
            "vin": pd.array(np.char.add("V", np.unique(s_idx).astype("U7")), dtype="string"),
            "customer_id": cust_ids[np.unique(s_idx)],
        }
    )
    tables = {
        "communications": comm,
        "customers": customers,
        "sales": sales,
        "service_visits": visits,
        "appointments": appts,
        "leads": leads,
        "vehicles": vehicles,
    }
    full = {}
    for name in schema.TABLES:
        base = empty_table(name, TZ)
        t = tables.get(name)
        full[name] = (
            base
            if t is None
            else pd.concat([base.iloc[:0], t], ignore_index=True)[base.columns].astype(base.dtypes.to_dict())
        )
    missing = {
        name: [c for c in schema.TABLES[name].column_names if name not in tables or c not in tables[name]]
        for name in schema.TABLES
    }
    return DealerData(
        "BENCH",
        "Bench Motors",
        TZ,
        pd.Timestamp(sec.max(), unit="s").date(),
        full,
        missing_tables=[t for t in schema.TABLES if t not in tables],
        missing_columns=missing,
    )


def _tied_messages(comm: pd.DataFrame) -> set:
    """Messages sharing (customer_id, sent_at) with another one."""
    d = comm.duplicated(["customer_id", "sent_at"], keep=False).to_numpy()
    return set(comm["message_id"].to_numpy(object)[d])


def cap_total_window_sql(windows: list[dict]) -> tuple[str, str]:
    """DuckDB's reading of cap_total (SPEC §4): one trailing-window count per cap, (t - days, t]
    in elapsed time, and the condition that one is over its max."""
    counts = ",\n".join(
        f"count(*) OVER (PARTITION BY customer_id ORDER BY sent_at RANGE BETWEEN "
        f"INTERVAL '{int(w['days'] * 86400 * 10**6) - 1} microseconds' PRECEDING AND CURRENT ROW) AS c{i}"
        for i, w in enumerate(windows)
    )
    return counts, " OR ".join(f"c{i} > {w['max']}" for i, w in enumerate(windows))


def duckdb_cap_total(comm: pd.DataFrame, p: dict) -> tuple[float, set]:
    import duckdb

    exempt = p["audit"]["exempt_categories"]
    frame = pd.DataFrame(
        {  # UTC wall time: windows are elapsed time, as in the kit
            "message_id": comm["message_id"],
            "customer_id": comm["customer_id"],
            "category": comm["category"],
            "sent_at": comm["sent_at"].dt.tz_convert("UTC").dt.tz_localize(None),
        }
    )
    counts, over = cap_total_window_sql(p["rules"]["cap_total"]["windows"])
    sql = f"""
        SELECT message_id FROM (
            SELECT message_id, {counts}
            FROM frame WHERE category NOT IN ({", ".join(repr(c) for c in exempt)})
        ) WHERE {over}"""
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.register("frame", frame)
    t0 = time.perf_counter()
    ids = con.execute(sql).fetchnumpy()["message_id"]
    secs = time.perf_counter() - t0
    con.close()
    return secs, set(map(str, ids))


def naive_pandas_cap_total(comm: pd.DataFrame, p: dict) -> tuple[float, set]:
    t0 = time.perf_counter()
    df = comm.loc[~comm["category"].isin(p["audit"]["exempt_categories"]), ["message_id", "customer_id", "sent_at"]]
    # sorted as the kit breaks ties; a time-based rolling window then counts up to this row
    df = df.assign(sent_at=df["sent_at"].dt.tz_convert("UTC"), one=1).sort_values(
        ["customer_id", "sent_at", "message_id"]
    )
    flagged = np.zeros(len(df), bool)
    for w in p["rules"]["cap_total"]["windows"]:
        counts = df.set_index("sent_at").groupby("customer_id", sort=False)["one"].rolling(f"{w['days']}D").count()
        flagged |= counts.to_numpy() > w["max"]
    secs = time.perf_counter() - t0
    return secs, set(df["message_id"].to_numpy(object)[flagged])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-naive", action="store_true", help="leave out naive pandas (slowest)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="runs of the kit's rules and of DuckDB, alternated; the best of each is shown",
    )
    ap.add_argument(
        "--generator",
        choices=["synth", "random"],
        default="synth",
        help="synth: the kit's realistic synthetic dealer; random: plain uniform random messages",
    )
    args = ap.parse_args(argv)
    p = load_defaults()
    peak = Peak()

    t0 = time.perf_counter()
    with peak.phase():
        data = generate(args.messages, args.seed, args.generator)
    gen_s, gen_peak = time.perf_counter() - t0, peak.peak
    n = len(data["communications"])
    print(f"dealer: {n:,} messages, {len(data['customers']):,} customers (generated in {gen_s:.1f} s)", flush=True)

    rows = []  # (what, seconds, peak bytes)
    comm = data["communications"]
    tied = _tied_messages(comm)
    # the machine is shared: the kit's rules and DuckDB alternate, and each keeps its best run
    best, duck_s, kit_peak, duck_peak = None, float("inf"), 0, 0
    for _ in range(args.repeat):
        gc.collect()
        data.__dict__.pop("_audit_messages", None)  # every run sorts again
        with peak.phase():
            t0 = time.perf_counter()
            messages_of(data)
            prep = time.perf_counter() - t0
            flags, skipped, per_rule = run_rules_timed(data, p)
            total = time.perf_counter() - t0
        kit_peak = max(kit_peak, peak.peak)
        if best is None or total < best[0]:
            best = (total, prep, per_rule)
        kit_cap = set(flags.loc[flags["rule"] == "cap_total", "message_id"].to_numpy(object))
        del flags
        gc.collect()
        with peak.phase():
            secs, duck_cap = duckdb_cap_total(comm, p)
        duck_s, duck_peak = min(duck_s, secs), max(duck_peak, peak.peak)
    rules_total, prep, per_rule = best
    rows.append(("kit: sort once (customer, sent_at)", prep, None))
    families: dict[str, float] = {}
    for name, secs in per_rule.items():
        families[RULES[name].family] = families.get(RULES[name].family, 0.0) + secs
    for fam, secs in families.items():
        count = sum(1 for r in per_rule if RULES[r].family == fam)
        rows.append((f"kit: rule family '{fam}' ({count} rule{'s' if count > 1 else ''})", secs, None))
    rows.append(("kit: all rules (incl. sort)", rules_total, kit_peak))
    rows.append(("kit: cap_total alone (after sort)", per_rule["cap_total"], None))
    for name in ("state_quiet_hours", "state_contact_cap"):  # SPEC §4 State rules
        if name in per_rule:
            rows.append((f"kit: {name} alone (after sort)", per_rule[name], None))
    data.__dict__.pop("_audit_messages", None)  # the whole audit starts cold
    with peak.phase():
        t0 = time.perf_counter()
        result = run_audit(data, p)
        whole = time.perf_counter() - t0
    rows.append(("kit: whole run_audit (rules, metrics, suppression)", whole, peak.peak))
    print(f"flags: {result.headline['flags_total']:,} rows; skipped: {skipped or 'none'}", flush=True)
    del result
    gc.collect()
    rows.append(("DuckDB SQL: cap_total", duck_s, duck_peak))
    # SQL's RANGE frame counts every peer of identical sent_at; the kit counts ties up to this
    # message (sent_at, then message_id): compare away from ties, and say how many were set aside
    agree = {"duckdb": (duck_cap - tied) == (kit_cap - tied)}
    if not args.skip_naive:
        gc.collect()
        with peak.phase():
            naive_s, naive_cap = naive_pandas_cap_total(comm, p)
        rows.append(("naive pandas groupby().rolling(): cap_total", naive_s, peak.peak))
        agree["naive pandas"] = naive_cap == kit_cap

    print(
        f"\n{'what (best of ' + str(args.repeat) + ' for the kit rules and DuckDB)':<62} {'seconds':>8} {'x DuckDB':>9} {'peak RSS':>9}"
    )
    for what, secs, pk in rows:
        mem = f"{pk / GB:.2f} GB" if pk else ""
        print(f"{what:<62} {secs:>8.2f} {secs / duck_s:>9.2f} {mem:>9}")
    print(
        "(rule families: seconds inside each family's rules; the rules run on two threads, so the families add up"
        " to more than 'all rules')"
    )
    print(
        f"(data generation peak {gen_peak / GB:.2f} GB; families: "
        + "; ".join(f"{fam}: {', '.join(r for r in per_rule if RULES[r].family == fam)}" for fam in families)
        + ")"
    )
    print(
        f"\ncap_total flagged: kit {len(kit_cap):,} ({len(tied):,} messages with a same-time twin set aside for SQL); agreement: "
        + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in agree.items())
    )
    ratio = rules_total / duck_s
    kit_peaks = [r[2] for r in rows if r[0].startswith("kit") and r[2]]
    print(
        f"all rules / DuckDB cap_total = {ratio:.2f} (target <= 3); the kit's peak RSS {max(kit_peaks) / GB:.2f} GB "
        f"(target <= 6; data included)"
    )
    return 0 if all(agree.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
