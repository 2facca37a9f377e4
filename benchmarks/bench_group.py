"""The group step (SPEC §9) on a big synthetic group: its time against the stores' audits,
and its peak memory.

    .venv/bin/python benchmarks/bench_group.py                # 10 stores x 2M messages
    .venv/bin/python benchmarks/bench_group.py --scale 0.1    # 10 stores x 200k messages

Each store is generated in memory (``synth.generate_dealer``), a share of its customers made
customers of the previous store too (the previous store's email, written in capitals), then
audited (``run_audit``: the heart of a store run, timed) and its group extract written, as a
store run of a batch does; then the store's frames are dropped. The group step then runs in a
child process over the extracts (DuckDB, person buckets), timed, with its peak RSS (the
child's ``ru_maxrss``). Printed: the seconds of each store audit, their sum, the group step,
the ratio, and the group step's peak. Target: peak <= 6 GB.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ownercomm_kit import schema
from ownercomm_kit.audit import run_audit
from ownercomm_kit.data import DealerData
from ownercomm_kit.group import extract
from ownercomm_kit.params import load_defaults
from ownercomm_kit.synth import generate_dealer

TZS = ["America/Los_Angeles", "America/Chicago", "America/New_York", "America/Denver"]
GB = 1024**3


def store(i: int, n_messages: int, seed: int, prev_customers, share: float, out: Path, params: dict):
    dealer_id = f"B{i:02d}"
    tz = TZS[i % len(TZS)]
    frames, _ = generate_dealer(dealer_id, max(n_messages // 93, 10), seed, timezone=tz)
    c = frames["customers"]
    if prev_customers is not None and share > 0:
        rng = np.random.default_rng([seed, i])
        n = int(share * min(len(c), len(prev_customers)))
        mine = rng.choice(len(c), n, replace=False)
        theirs = rng.choice(len(prev_customers), n, replace=False)
        c.loc[c.index[mine], "email"] = prev_customers["email"].iloc[theirs].str.upper().to_numpy()
    as_of = max(frames["communications"]["sent_at"]).date()
    data = DealerData(dealer_id, f"Store {i}", tz, as_of, frames, [], {t: [] for t in schema.TABLES})
    t0 = time.perf_counter()
    result = run_audit(data, params)
    audit_s = time.perf_counter() - t0
    folder = out / dealer_id
    t0 = time.perf_counter()
    extract.write(folder, data, result.flags)
    extract_s = time.perf_counter() - t0
    n = len(frames["communications"])
    return {
        "dealer_id": dealer_id,
        "dealer_name": f"Store {i}",
        "status": "ok",
        "out_dir": dealer_id,
        "messages": n,
        "audit_s": audit_s,
        "extract_s": extract_s,
    }, c[["email"]].copy()


CHILD = """
import json, sys, time
from pathlib import Path
from ownercomm_kit.group import step
from ownercomm_kit.group import page  # nbformat and the exporter: imported by a batch's index anyway
from ownercomm_kit.params import load_defaults
manifest = json.loads(Path(sys.argv[1]).read_text())
params = load_defaults()
t0 = time.perf_counter()
entry = step.run_group_step(Path(sys.argv[2]), manifest, params, force=True)
print(json.dumps({"seconds": time.perf_counter() - t0, "kpis": entry["kpis"], "timings": entry["timings"],
                  "flags_by_rule": entry["flags_by_rule"]}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stores", type=int, default=10)
    ap.add_argument("--messages", type=int, default=2_000_000, help="messages per store at scale 1")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies --messages (e.g. 0.1)")
    ap.add_argument("--shared-share", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=None, help="folder for the extracts (default: a temporary one)")
    a = ap.parse_args(argv)
    n = int(a.messages * a.scale)
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="bench-group-"))
    params = load_defaults()
    stores, prev = [], None
    for i in range(a.stores):
        entry, prev = store(i, n, a.seed + i, prev, a.shared_share, out, params)
        stores.append(entry)
        gc.collect()
        print(
            f"{entry['dealer_id']}: {entry['messages']:,} messages, audit {entry['audit_s']:.1f} s, "
            f"extract {entry['extract_s']:.1f} s",
            flush=True,
        )
    manifest = out / "bench-manifest.json"
    manifest.write_text(json.dumps({"group_id": "bench", "group_name": "Bench group", "stores": stores}))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, "-c", CHILD, str(manifest), str(out)], capture_output=True, text=True)
    if proc.returncode:
        print(proc.stderr, file=sys.stderr)
        return 1
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    total = sum(s["messages"] for s in stores)
    audits = sum(s["audit_s"] for s in stores)
    print(f"\ngroup: {a.stores} stores, {total:,} messages ({n:,} per store, scale {a.scale:g})")
    print(f"store audits (sum): {audits:8.1f} s   (+ extracts {sum(s['extract_s'] for s in stores):.1f} s)")
    print(f"group step:         {res['seconds']:8.1f} s   ratio group / stores = {res['seconds'] / audits:.2f}")
    print(f"group step peak RSS: {peak / GB:.2f} GB (target <= 6 GB){'' if before == 0 else ' (child max)'}")
    print(f"group step phases (s): {res['timings']}")
    print(f"KPIs: {res['kpis']}\nflags by rule: {res['flags_by_rule']}")
    return 0 if peak <= 6 * GB else 2


if __name__ == "__main__":
    sys.exit(main())
