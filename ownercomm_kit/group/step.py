"""The group step of a batch (SPEC §9): after the stores, join them as one customer base.

It reads only what the group's own store runs wrote (``<store>/group_extract/``, see
``extract``), for the stores that succeeded; a failed store is listed as missing. Persons are
matched over every customer of the group (customers are few next to messages: one frame).
Messages are then handled in buckets of persons: DuckDB reads the stores' parquet extracts
and hands over one bucket at a time (out of core: no frame of every message), each bucket is
audited by ``rules.run_group_rules``, locally or as one task per bucket on the batch's Dask
cluster (the same function, the same outputs). Resumable: when neither the extracts, the
group's parameters nor the kit changed, the step is skipped.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__, outputs, schema
from ..audit.windows import DAY
from . import extract
from .persons import match_persons
from .rules import GROUP_FLAG_COLUMNS, GROUP_RULES, opt_outs, rule_params, run_group_rules, _exempt

FOLDER = "group"
RECORD = ".ownercomm-group.json"
WORK = ".work"
SUPPRESSION_COLUMNS = ["dealer_id", "customer_id", "channel", "rule", "until"]
PERSON_COLUMNS = ["person_id", "dealer_id", "customer_id", "matched_by"]
OUTPUTS = ("group_flags.csv", "group_suppression.csv", "persons.csv", "group_audit.html")
KPI_KEYS = ("shared_customers", "shared_customer_message_share", "group_flags_total")
NO_DAY = np.iinfo(np.int32).min


@dataclass
class Store:
    dealer_id: str
    dealer_name: str
    folder: Path  # its group_extract folder
    timezone: str
    as_of: str
    caps: dict | None = None  # the store's cap_total settings and exempt categories (meta.json)


def stores_of(manifest_stores: list[dict], group_dir: Path) -> tuple[list[Store], list[dict]]:
    """(stores with an extract, stores missing from the group view with why)."""
    ok, missing = [], []
    for s in manifest_stores:
        name = s.get("dealer_name") or s["dealer_id"]
        if s.get("status") not in ("ok", "skipped") or not s.get("out_dir"):
            missing.append({"dealer_id": s["dealer_id"], "dealer_name": name, "reason": "its run failed"})
            continue
        folder = group_dir / s["out_dir"] / extract.FOLDER
        meta = extract.read_meta(folder)
        if meta is None:
            missing.append(
                {
                    "dealer_id": s["dealer_id"],
                    "dealer_name": name,
                    "reason": "its run left no group extract (run the batch again with --force)",
                }
            )
            continue
        caps = (
            {"cap_total": meta["cap_total"], "exempt": meta.get("exempt_categories")} if "cap_total" in meta else None
        )
        ok.append(
            Store(
                str(meta["dealer_id"]),
                str(meta.get("dealer_name") or name),
                folder,
                str(meta["timezone"]),
                str(meta["as_of"]),
                caps,
            )
        )
    return ok, missing


def fingerprint(stores: list[Store], missing: list[dict], params: dict, as_of, plotlyjs: str = "inline") -> str:
    h = hashlib.sha256()
    settings = {
        "kit": __version__,
        "group": params.get("group"),
        "cap": params["rules"]["cap_total"],
        "exempt": _exempt(params),
        "report": params.get("report"),
        "plotlyjs": plotlyjs,
        "as_of": str(as_of),
        "missing": missing,
    }
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for s in sorted(stores, key=lambda s: s.dealer_id):
        h.update(s.dealer_id.encode() + b"\0")
        for name in (*extract.TABLES, extract.META):
            p = s.folder / (f"{name}.parquet" if name in extract.TABLES else name)
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def _q(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _union(stores: list[Store], table: str, columns: str = "*") -> str:
    return " UNION ALL ".join(
        f"SELECT {_q(s.dealer_id)} AS dealer_id, {columns} FROM read_parquet({_q(s.folder / (table + '.parquet'))})"
        for s in stores
    )


def _connect(memory: str = "2GB"):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit='{memory}'")
    con.execute("SET threads=2")
    return con


def all_customers(stores: list[Store]) -> pd.DataFrame:
    """Every customer record of the group, also customer_ids that only appear in messages,
    sales, visits or vehicles (no match keys: a person of their own)."""
    con = _connect()
    known = _union(stores, "customers", "customer_id, email, phone, last_name")
    others = " UNION ALL ".join(_union(stores, t, "customer_id") for t in ("messages", "sales", "visits", "vehicles"))
    sql = (
        f"WITH k AS ({known}) SELECT * FROM k UNION ALL "
        f"SELECT DISTINCT o.dealer_id, o.customer_id, NULL, NULL, NULL FROM ({others}) o "
        f"ANTI JOIN k ON o.dealer_id = k.dealer_id AND o.customer_id = k.customer_id "
        f"WHERE o.customer_id IS NOT NULL"
    )
    df = con.execute(sql).df()
    con.close()
    return (
        df.drop_duplicates(["dealer_id", "customer_id"])
        .sort_values(["dealer_id", "customer_id"], kind="stable")
        .reset_index(drop=True)
    )


def message_count(stores: list[Store]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(s.folder / "messages.parquet").metadata.num_rows for s in stores)


def run_bucket(task: dict) -> dict:
    """One bucket of persons: its flags, suppression rows and message counts. Runs locally
    or on a Dask worker (reads the extracts and the persons map by path)."""
    stores = [Store(**{**s, "folder": Path(s["folder"])}) for s in task["stores"]]
    k, params = task["bucket"], task["params"]
    con = _connect(task.get("memory", "2GB"))
    pmap = f"read_parquet({_q(task['persons'])})"
    # A person with one record, at a store whose cap_total settings are the group's, can break
    # no group rule (no other store; the group's cap counts what the store's counted): left out.
    others = [s.dealer_id for s in stores if not task["same_caps"].get(s.dealer_id)]
    keep = "pm.records > 1" + (f" OR pm.dealer_id IN ({', '.join(_q(d) for d in others)})" if others else "")

    dealers = sorted(s.dealer_id for s in stores)

    def typed(sql: str) -> pd.DataFrame:
        # one Arrow chunk per column (DuckDB hands over many small ones, which makes every
        # later take slow); the few-valued columns as categoricals with fixed categories, so
        # that columns of different tables compare
        df = con.sql(sql).to_arrow_table().combine_chunks().to_pandas()
        for col, values in (
            ("dealer_id", dealers),
            ("channel", schema.CHANNELS),
            ("sender", schema.SENDERS),
            ("category", schema.CATEGORIES),
        ):
            if col in df:
                extra = sorted(set(df[col].dropna().unique()) - set(values))
                df[col] = pd.Categorical(df[col], categories=[*values, *extra])
        return df

    def q(table, cols):
        return typed(
            f"SELECT x.*, pm.person_id, pm.p, pm.stores FROM ({_union(stores, table, cols)}) x "
            f"JOIN {pmap} pm ON x.dealer_id = pm.dealer_id AND x.customer_id = pm.customer_id "
            f"WHERE pm.bucket = {int(k)} AND ({keep})"
        )

    msgs = q("messages", "*")
    sales = q("sales", "*")
    visits = q("visits", "*")
    vehicles = q("vehicles", "*")
    members = typed(
        f"SELECT dealer_id, customer_id, person_id, p, stores FROM {pmap} pm WHERE bucket = {int(k)} AND ({keep})"
    )
    con.close()
    names = task["names"]
    flags = run_group_rules(msgs, sales, visits, vehicles, params, names)
    supp = suppression(msgs, sales, visits, members, params, task["as_of"])
    return {"flags": flags, "suppression": supp}


def message_counts(stores: list[Store], persons_path: Path) -> dict[str, list[int]]:
    """Per store: messages, and messages to persons of two or more stores (DuckDB, aggregated)."""
    con = _connect()
    rows = con.execute(
        f"SELECT x.dealer_id, count(*), sum(CASE WHEN pm.stores >= 2 THEN 1 ELSE 0 END) "
        f"FROM ({_union(stores, 'messages', 'customer_id')}) x JOIN read_parquet({_q(persons_path)}) pm "
        f"ON x.dealer_id = pm.dealer_id AND x.customer_id = pm.customer_id GROUP BY x.dealer_id"
    ).fetchall()
    con.close()
    return {str(d): [int(n), int(s or 0)] for d, n, s in rows}


# ---------------------------------------------------------------- suppression


def suppression(msgs, sales, visits, members, params, as_of: str) -> pd.DataFrame:
    """What each store must hold back as of ``as_of`` because of the others (one row per
    store, customer, channel, rule; ``until`` the last day it holds, empty = indefinitely)."""
    rp = rule_params(params)
    a_day = int(np.datetime64(as_of, "D").astype(np.int64))
    a_end = (a_day + 1) * DAY - 1  # the end of as_of, UTC
    mem = members[["p", "dealer_id", "customer_id"]]
    parts = []

    def spread(events: pd.DataFrame, rule: str, channel_col: str | None):
        """events: p, edealer, until (+ channel): a row for every member record at another store."""
        j = events.merge(mem, on="p")
        j = j[j["dealer_id"] != j["edealer"]]
        parts.append(
            pd.DataFrame(
                {
                    "dealer_id": j["dealer_id"].to_numpy(object),
                    "customer_id": j["customer_id"].to_numpy(object),
                    "channel": j[channel_col].to_numpy(object) if channel_col else "all",
                    "rule": rule,
                    "until": j["until"].to_numpy(np.int64),
                }
            )
        )

    for table, name in ((sales, "sister_promo_after_purchase"), (visits, "sister_reminder_after_service")):
        if not (rp.get(name) or {}).get("enabled", True):
            continue
        days = int(rp[name]["days"])
        live = table[(table["day"] <= a_day) & (table["day"] >= a_day - days) & (table["day"] > NO_DAY)]
        spread(
            pd.DataFrame(
                {
                    "p": live["p"].to_numpy(np.int64),
                    "edealer": live["dealer_id"].to_numpy(object),
                    "until": live["day"].to_numpy(np.int64) + days,
                }
            ),
            name,
            None,
        )
    if (rp.get("sister_after_opt_out") or {}).get("enabled", True):
        u = opt_outs(msgs[msgs["t"].to_numpy(np.int64) <= a_end])
        spread(
            pd.DataFrame(
                {
                    "p": u["p"],
                    "edealer": u["udealer"],
                    "channel": u["channel"],
                    "until": np.full(len(u), np.iinfo(np.int64).min),
                }
            ),
            "sister_after_opt_out",
            "channel",
        )
    if (rp.get("group_cap_total") or {}).get("enabled", True):
        counted = msgs[~msgs["category"].isin(_exempt(params)).to_numpy(bool) & (msgs["t"].to_numpy(np.int64) <= a_end)]
        counted = counted.iloc[np.lexsort((counted["t"].to_numpy(np.int64), counted["p"].to_numpy(np.int64)))]
        for w in rp["group_cap_total"]["windows"]:
            width = int(w["days"] * DAY)
            inw = counted[counted["t"].to_numpy(np.int64) > a_end - width]  # sorted by (p, t, ...)
            if inw.empty:
                continue
            p = inw["p"].to_numpy(np.int64)
            first = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
            count = np.diff(np.append(first, len(p)))
            full = count >= int(w["max"])
            leaving = first[full] + count[full] - int(w["max"])  # the window frees up when this one leaves it
            free_at = inw["t"].to_numpy(np.int64)[leaving] + width
            ev = pd.DataFrame({"p": p[first[full]], "until": np.floor_divide(free_at - 1, DAY)})
            j = ev.merge(mem, on="p")
            parts.append(
                pd.DataFrame(
                    {
                        "dealer_id": j["dealer_id"].to_numpy(object),
                        "customer_id": j["customer_id"].to_numpy(object),
                        "channel": "all",
                        "rule": "group_cap_total",
                        "until": j["until"].to_numpy(np.int64),
                    }
                )
            )
    parts = [x for x in parts if len(x)]
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype="string") for c in SUPPRESSION_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    every = out["channel"] == "all"
    wide = out[every]
    rows = wide.loc[wide.index.repeat(len(schema.CHANNELS))].copy()
    rows["channel"] = np.tile(np.array(schema.CHANNELS, dtype=object), len(wide))
    out = pd.concat([out[~every], rows], ignore_index=True)
    # the latest until per (store, customer, channel, rule); indefinitely wins
    out["k"] = np.where(out["until"] == np.iinfo(np.int64).min, np.iinfo(np.int64).max, out["until"])
    out = out.sort_values(["dealer_id", "customer_id", "channel", "rule", "k"], kind="stable")
    out = out.drop_duplicates(["dealer_id", "customer_id", "channel", "rule"], keep="last")
    until = out["until"].to_numpy(np.int64)
    text = np.where(
        until == np.iinfo(np.int64).min,
        "",
        np.datetime_as_string(np.where(until == np.iinfo(np.int64).min, 0, until).astype("datetime64[D]")),
    )
    return pd.DataFrame(
        {
            "dealer_id": out["dealer_id"].to_numpy(object),
            "customer_id": out["customer_id"].to_numpy(object),
            "channel": out["channel"].to_numpy(object),
            "rule": out["rule"].to_numpy(object),
            "until": text.astype(object),
        }
    ).astype("string")


# ---------------------------------------------------------------- the step


def run_group_step(
    group_dir: str | Path,
    manifest: dict,
    params: dict,
    *,
    as_of=None,
    force: bool = False,
    client=None,
    plotlyjs: str = "inline",
) -> dict:
    """Run the group step into ``<group_dir>/group/``; returns its manifest entry (status ok,
    skipped or failed, the group KPIs, missing stores)."""
    import time

    started = time.perf_counter()
    group_dir = Path(group_dir)
    out = group_dir / FOLDER
    stores, missing = stores_of(manifest.get("stores", []), group_dir)
    if as_of is None:
        as_of = max((s.as_of for s in stores), default=None)
    fp = fingerprint(stores, missing, params, as_of, plotlyjs)
    record_path = out / RECORD
    if not force and record_path.is_file() and all((out / o).is_file() for o in OUTPUTS):
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except ValueError:
            record = {}
        if record.get("fingerprint") == fp:
            return {**record.get("entry", {}), "status": "skipped", "seconds": round(time.perf_counter() - started, 3)}
    out.mkdir(parents=True, exist_ok=True)
    work = out / WORK
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    timings: dict[str, float] = {}
    try:
        result = _compute(stores, params, as_of, work, client, timings)
        persons, flags, supp, per_store = result
        kpis = group_kpis(persons, per_store, flags)
        t0 = time.perf_counter()
        outputs.write_csv(flags[GROUP_FLAG_COLUMNS], out / "group_flags.csv")
        outputs.write_csv(supp[SUPPRESSION_COLUMNS], out / "group_suppression.csv")
        outputs.write_csv(persons[PERSON_COLUMNS], out / "persons.csv")
        timings["csv"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        from . import page

        html = page.build_page(
            group_name=manifest.get("group_name") or manifest.get("group_id") or "",
            stores=stores,
            missing=missing,
            persons=persons,
            flags=flags,
            per_store=per_store,
            kpis=kpis,
            params=params,
            as_of=as_of,
            plotlyjs=plotlyjs,
        )
        outputs.write_text(html, out / "group_audit.html")
        timings["page"] = round(time.perf_counter() - t0, 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    entry = {
        "status": "ok",
        "out_dir": FOLDER,
        "outputs": [f"{FOLDER}/{o}" for o in OUTPUTS],
        "as_of": str(as_of) if as_of else None,
        "stores": len(stores),
        "missing": missing,
        "kpis": kpis,
        "flags_by_rule": {r: int((flags["rule"] == r).sum()) for r in GROUP_RULES},
        "timings": timings,
    }
    outputs.write_json({"fingerprint": fp, "entry": entry}, record_path)
    return {**entry, "seconds": round(time.perf_counter() - started, 3)}


def group_kpis(persons: pd.DataFrame, per_store: pd.DataFrame, flags: pd.DataFrame) -> dict:
    total = int(per_store["messages"].sum()) if len(per_store) else 0
    shared_msgs = int(per_store["shared_messages"].sum()) if len(per_store) else 0
    return {
        "shared_customers": int(persons.loc[persons["stores"] >= 2, "person_id"].nunique()),
        "shared_customer_message_share": (shared_msgs / total) if total else None,
        "group_flags_total": int(len(flags)),
    }


def _compute(stores, params, as_of, work: Path, client, timings: dict | None = None):
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq

    if not stores:
        persons = pd.DataFrame({c: pd.Series([], dtype="string") for c in PERSON_COLUMNS}).assign(
            stores=pd.Series([], dtype="int64")
        )
        return (
            persons,
            pd.DataFrame({c: pd.Series([], dtype="string") for c in GROUP_FLAG_COLUMNS}),
            pd.DataFrame({c: pd.Series([], dtype="string") for c in SUPPRESSION_COLUMNS}),
            _per_store([], {}),
        )
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    match = (params.get("group") or {}).get("match") or {}
    persons = match_persons(
        all_customers(stores),
        region=str(match.get("default_region") or "US"),
        ignore_plus_tags=bool(match.get("ignore_plus_tags")),
    )
    persons = persons.sort_values(["person_id", "dealer_id", "customer_id"], kind="stable").reset_index(drop=True)
    per_bucket = int((params.get("group") or {}).get("partition_messages") or 2_000_000)
    buckets = max(1, math.ceil(message_count(stores) / max(per_bucket, 1)))
    p = pd.factorize(persons["person_id"])[0].astype(np.int64)
    h = pd.util.hash_pandas_object(persons["person_id"], index=False).to_numpy(np.uint64)
    records = np.bincount(p, minlength=len(p))[p] if len(p) else np.zeros(0, np.int64)
    pmap = pa.Table.from_pandas(
        pd.DataFrame(
            {
                "dealer_id": persons["dealer_id"].astype(str),
                "customer_id": persons["customer_id"].astype(str),
                "person_id": persons["person_id"].astype(str),
                "p": p,
                "stores": persons["stores"].to_numpy(np.int64),
                "records": records.astype(np.int64),
                "bucket": (h % np.uint64(buckets)).astype(np.int64),
            }
        ),
        preserve_index=False,
    )
    pq.write_table(pmap, work / "persons.parquet")
    names = {s.dealer_id: s.dealer_name for s in stores}
    plain = {k: v for k, v in params.items() if k in ("rules", "audit", "group")}
    group_caps = {
        "cap_total": {
            "enabled": bool((params["rules"]["cap_total"]).get("enabled", True)),
            "windows": rule_params(params)["group_cap_total"]["windows"],
        },
        "exempt": _exempt(params),
    }
    cap_on = bool((rule_params(params).get("group_cap_total") or {}).get("enabled", True))
    same_caps = {
        s.dealer_id: (not cap_on)
        or (
            s.caps is not None
            and s.caps["cap_total"]["enabled"]
            and s.caps["cap_total"]["windows"] == group_caps["cap_total"]["windows"]
            and list(s.caps["exempt"] or []) == group_caps["exempt"]
        )
        for s in stores
    }
    tasks = [
        {
            "stores": [{**s.__dict__, "folder": str(s.folder)} for s in stores],
            "bucket": b,
            "persons": str(work / "persons.parquet"),
            "params": plain,
            "names": names,
            "as_of": str(as_of),
            "same_caps": same_caps,
        }
        for b in range(buckets)
    ]
    timings["persons"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    if client is not None:
        futures = client.map(run_bucket, tasks, pure=False)
        results = client.gather(futures)
    else:
        results = [run_bucket(t) for t in tasks]
    flags = pd.concat([r["flags"] for r in results], ignore_index=True)
    flags = flags.sort_values(["t", "dealer_id", "message_id", "rule"], kind="stable").reset_index(drop=True)
    supp = pd.concat([r["suppression"] for r in results], ignore_index=True)
    supp = supp.sort_values(SUPPRESSION_COLUMNS[:4], kind="stable").reset_index(drop=True)
    timings["buckets"] = round(time.perf_counter() - t0, 3)
    timings["bucket_count"] = buckets
    t0 = time.perf_counter()
    per_store = _per_store(stores, message_counts(stores, work / "persons.parquet"))
    timings["counts"] = round(time.perf_counter() - t0, 3)
    return persons, flags, supp, per_store


def _per_store(stores, counts) -> pd.DataFrame:
    rows = [
        {
            "dealer_id": s.dealer_id,
            "dealer_name": s.dealer_name,
            "messages": counts.get(s.dealer_id, [0, 0])[0],
            "shared_messages": counts.get(s.dealer_id, [0, 0])[1],
        }
        for s in stores
    ]
    return pd.DataFrame(rows, columns=["dealer_id", "dealer_name", "messages", "shared_messages"])
