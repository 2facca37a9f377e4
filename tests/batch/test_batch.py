"""`ownercomm batch`: failure isolation, manifest, group index, resume, shared plotly.js."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from ownercomm_kit import batch, params
from ownercomm_kit.run import store as run_store
from ownercomm_kit.batch import index
from ownercomm_kit.cli import main

from helpers.batch import make_group, make_kit, make_store, tree  # noqa: E402


@pytest.fixture
def kit(tmp_path):
    return make_kit(tmp_path / "kit")


@pytest.mark.slow
def test_group_with_a_broken_store_then_resume_and_force(kit):
    for d in ("D001", "D002", "D003"):
        make_store(kit, d, broken="columns" if d == "D002" else None)
    group = make_group(kit, "north", ["D001", "D002", "D003"])
    out = kit / "out"
    cli = CliRunner()
    first = cli.invoke(main, ["batch", str(group), "--out", str(out), "--workers", "2"])
    assert first.exit_code == 1, first.output
    assert "2 ran, 0 unchanged (skipped), 1 failed" in first.output
    assert "D002: audit.ipynb, cell" in first.output and "DataError" in first.output
    gdir = out / "north"
    manifest = json.loads((gdir / "manifest.json").read_text())
    status = {s["dealer_id"]: s for s in manifest["stores"]}
    assert [s["dealer_id"] for s in manifest["stores"]] == ["D001", "D002", "D003"]  # group order
    assert status["D001"]["status"] == status["D003"]["status"] == "ok"
    assert status["D002"]["status"] == "failed" and "required column is missing" in status["D002"]["error"]
    assert status["D002"]["failed_notebook"] == "D002/_failed/audit.ipynb"
    assert (gdir / status["D002"]["failed_notebook"]).is_file()
    assert "D001/audit.html" in status["D001"]["outputs"] and status["D001"]["seconds"] > 0
    assert manifest["counts"] == {"ok": 2, "skipped": 0, "failed": 1}
    page = (gdir / "index.html").read_text()
    assert "Stores that failed" in page and "D002" in page and "required column is missing" in page
    assert 'href="D001/audit.html"' in page and 'href="D002/_failed/audit.ipynb"' in page
    assert "<b>&co</b>" not in page and "Store D001 &lt;b&gt;&amp;co&lt;/b&gt;" in page
    assert "CUSTX" not in page, "no customer in the group index"
    d001 = tree(gdir / "D001")

    # Re-run: unchanged stores are skipped, the broken one runs (and fails) again.
    second = cli.invoke(main, ["batch", str(group), "--out", str(out), "--workers", "2"])
    assert second.exit_code == 1
    assert "0 ran, 2 unchanged (skipped), 1 failed" in second.output
    assert tree(gdir / "D001") == d001
    manifest = json.loads((gdir / "manifest.json").read_text())
    assert {s["dealer_id"]: s["status"] for s in manifest["stores"]} == {
        "D001": "skipped",
        "D002": "failed",
        "D003": "skipped",
    }
    assert "D001/audit.html" in {o for s in manifest["stores"] for o in s["outputs"]}
    assert 'href="D001/audit.html"' in (gdir / "index.html").read_text()  # skipped stores keep their links

    # Fixed data and --force: everything runs, exit 0.
    make_store(kit, "D002")
    third = cli.invoke(main, ["batch", str(group), "--out", str(out), "--workers", "2", "--force"])
    assert third.exit_code == 0, third.output
    assert "3 ran, 0 unchanged (skipped), 0 failed" in third.output
    assert not (gdir / "D002" / "_failed").exists()


@pytest.mark.slow
def test_shared_plotlyjs_one_copy_for_the_group(kit):
    make_store(kit, "D001")
    group = make_group(kit, "g", ["D001"], report={"plotlyjs": "shared"})
    result = batch.run_batch(group, out=kit / "out", workers=1)
    gdir = kit / "out" / "g"
    assert (gdir / "plotly.min.js").stat().st_size > 1_000_000
    assert not (gdir / "D001" / "plotly.min.js").exists()
    page = (gdir / "D001" / "audit.html").read_text()
    assert 'src="../plotly.min.js"' in page and len(page) < 500_000
    assert 'src="plotly.min.js"' in (gdir / "index.html").read_text()
    assert result.failed == []


def test_read_group_ids_paths_and_problems(kit):
    make_store(kit, "D001")
    other = kit / "elsewhere" / "x.yaml"
    other.parent.mkdir()
    other.write_text("dealer_id: X1\ndata_dir: data/X1\n")
    group = make_group(kit, "g", ["D001", "../../elsewhere/x.yaml", "D404"])
    g = batch.read_group(group)
    assert g.group_id == "g" and g.root == kit
    assert g.dealer_files == [
        kit / "params" / "dealers" / "D001.yaml",
        other.resolve(),
        kit / "params" / "dealers" / "D404.yaml",
    ]
    assert g.report["plotlyjs"] == "inline"
    with pytest.raises(params.ParamsError) as e:
        batch.read_group(make_group(kit, "bad", ["D001", "D001"], rulez={}))
    text = "\n".join(e.value.problems)
    assert "more than once: D001" in text
    with pytest.raises(params.ParamsError) as e:
        batch.read_group(make_group(kit, "bad2", []))
    assert "dealers is required" in "\n".join(e.value.problems)
    with pytest.raises(params.ParamsError):
        batch.read_group(make_group(kit, "bad3", ["D001"], rulez={}))


def test_cli_batch_reports_parameter_problems_without_traceback(kit):
    group = make_group(kit, "g", ["D001"], rules={"cap_totl": {}})
    res = CliRunner().invoke(main, ["batch", str(group), "--out", str(kit / "out")])
    assert res.exit_code == 1
    assert "cap_totl" in res.output and "Traceback" not in res.output


def _manifest(stores):
    return {
        "group_id": "g",
        "group_name": "Group <script>alert(1)</script>",
        "finished_at": "2026-07-01T00:00:00",
        "counts": {"ok": 2, "failed": 1, "skipped": 1},
        "stores": stores,
    }


def _write_store(gdir: Path, dealer_id: str, kpis: dict) -> dict:
    (gdir / dealer_id).mkdir(parents=True)
    (gdir / dealer_id / "kpis.json").write_text(json.dumps(kpis))
    (gdir / dealer_id / "audit.html").write_text("<html></html>")
    return {
        "dealer_id": dealer_id,
        "dealer_name": f"<i>{dealer_id}</i>",
        "status": "ok",
        "out_dir": dealer_id,
        "outputs": [],
        "error": None,
        "failed_notebook": None,
        "seconds": 1.0,
    }


def test_index_ranks_summarises_and_escapes(tmp_path):
    gdir = tmp_path / "g"
    stores = [
        _write_store(
            gdir,
            "A",
            {
                "messages": 1000,
                "flags_high": 10,
                "over_cap_customer_share": 0.1,
                "appointment_show_rate_90d": 0.9,
                "response_rate_90d": None,
            },
        ),
        _write_store(
            gdir,
            "B",
            {
                "messages": 1000,
                "flags_high": 50,
                "over_cap_customer_share": 0.3,
                "appointment_show_rate_90d": 0.7,
                "response_rate_90d": 0.2,
            },
        ),
        _write_store(
            gdir,
            "C",
            {"messages": 2000, "flags_high": 20, "over_cap_customer_share": 0.2, "appointment_show_rate_90d": 0.8},
        ),
        {
            "dealer_id": "F",
            "dealer_name": "F",
            "status": "failed",
            "out_dir": "F",
            "outputs": [],
            "error": "audit.ipynb, cell 4: DataError: <bad>",
            "failed_notebook": "F/_failed/audit.ipynb",
            "seconds": 1,
            "failure": {"kind": "data", "summary": "<bad>", "notebook": "audit.ipynb", "cell": 4, "error": "DataError"},
        },
    ]
    manifest = _manifest(stores)
    df = index.store_frame(manifest, gdir)
    assert list(df["dealer_id"]) == ["A", "B", "C"]
    assert df.set_index("dealer_id").loc["C", "flags_high_per_1k"] == 10.0
    ranked = index.rank(df)
    assert list(ranked["dealer_id"]) == ["A", "C", "B"] and list(ranked["rank"]) == [1, 2, 3]
    summ = index.summary(df).set_index("kpi")
    row = summ.loc["Appointments kept (90 days)"]
    assert (row["q1"], row["median"], row["q3"], row["stores"]) == pytest.approx((0.75, 0.8, 0.85, 3))
    assert summ.loc["Messages answered (90 days)", "stores"] == 1
    assert summ.loc["Customers who bought again", "median"] is None or pd.isna(
        summ.loc["Customers who bought again", "median"]
    )
    page = index.build_index(manifest, gdir)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<i>A</i>" not in page and "&lt;i&gt;A&lt;/i&gt;" in page
    assert "DataError: &lt;bad&gt;" in page and 'href="F/_failed/audit.ipynb"' in page
    assert "last good audit" not in page  # F has no earlier report
    (gdir / "F").mkdir()
    (gdir / "F" / "audit.html").write_text("<html></html>")
    assert 'href="F/audit.html">last good audit</a>' in index.build_index(manifest, gdir)
    assert 'href="A/audit.html"' in page and 'href="A/retention.html"' not in page  # only pages that exist
    assert "no data" in page  # a null KPI is said, not shown as 0


def test_index_with_no_reports_at_all(tmp_path):
    manifest = _manifest(
        [
            {
                "dealer_id": "F",
                "dealer_name": "F",
                "status": "failed",
                "out_dir": None,
                "outputs": [],
                "error": "parameters: x",
                "failed_notebook": None,
                "seconds": 0,
                "failure": {"kind": "params", "summary": "parameters", "problems": [{"message": "x"}]},
            }
        ]
    )
    page = index.build_index(manifest, tmp_path)
    assert "No store has a report yet." in page and "parameters: x" in page


def test_prestart_only_where_another_store_follows(kit, monkeypatch):
    seen = []

    class Fake:
        name, slots = "fake", 2

        def run(self, fn, tasks):
            for t in tasks:
                seen.append((t["dealer_id"], t["prestart"]))
                yield t, run_store.RunResult(dealer_id=t["dealer_id"], status="failed", error="x").to_dict()

        def close(self):
            pass

    for d in ("D001", "D002", "D003", "D004"):
        make_store(kit, d)
    result = batch.run_batch(make_group(kit, "g", ["D001", "D002", "D003", "D004"]), out=kit / "out", executor=Fake())
    assert seen == [("D001", True), ("D002", True), ("D003", False), ("D004", False)]
    assert [s["status"] for s in result.stores] == ["failed"] * 4


def test_concurrency_rule_adds_a_store_only_for_a_small_uneven_group_that_fits_in_memory():
    from ownercomm_kit.batch.executors import concurrency_rule

    GB = 2**30

    def rule(n, slots=2, spread=True, each=GB, available=16 * GB):
        return concurrency_rule(n, slots, spread=spread, estimates=[each] * n, available=available)

    # small stores, plenty of memory: one more only where the last round would run alone
    assert [rule(n) for n in range(1, 9)] == [1, 2, 3, 2, 3, 2, 2, 2]  # 7 on 2: a 1/7 tail, not worth it
    assert [rule(n, slots=4) for n in range(1, 10)] == [1, 2, 3, 4, 5, 5, 4, 4, 5]
    assert rule(301) == 2 and rule(301, slots=4) == 4  # a big group: never 1.25-1.5x the memory all night
    # --workers N is exactly N at once
    assert [rule(n, spread=False) for n in range(1, 6)] == [1, 2, 2, 2, 2]
    assert rule(3, slots=1) == 1  # one core: nothing idles
    # memory: the largest slots + 1 stores must fit in MEMORY_SHARE of what is available
    assert rule(3, each=5 * GB, available=16 * GB) == 2  # 15 GB > 12.8 GB
    assert rule(3, each=4 * GB, available=16 * GB) == 3
    mixed = [8 * GB, GB, GB]
    assert concurrency_rule(3, 2, spread=True, estimates=mixed, available=12 * GB) == 2
    assert concurrency_rule(3, 2, spread=True, estimates=mixed, available=13 * GB) == 3
    # unknown memory or sizes: no extra store
    assert concurrency_rule(3, 2, spread=True, estimates=None, available=16 * GB) == 2
    assert concurrency_rule(3, 2, spread=True, estimates=[GB] * 3, available=None) == 2
    assert concurrency_rule(0, 2, spread=True) == 1


def test_local_pool_plans_from_the_stores_data_files(tmp_path, monkeypatch):
    from ownercomm_kit.batch import executors
    from ownercomm_kit.batch.executors import LocalPool, store_estimate

    small, big = tmp_path / "small", tmp_path / "big"
    small.mkdir(), big.mkdir()
    (small / "customers.csv").write_bytes(b"x" * 1000)
    (big / "customers.parquet").write_bytes(b"x" * 1000)
    (small / "~$customers.xlsx").write_bytes(b"x" * 10**6)  # an Office lock file is not data
    (small / ".cache").mkdir()
    (small / ".cache" / "old.parquet").write_bytes(b"x" * 10**6)
    assert store_estimate(small) == executors.STORE_BASE_BYTES + 5 * 1000
    assert store_estimate(big) == executors.STORE_BASE_BYTES + 15 * 1000
    assert store_estimate(None) == store_estimate(tmp_path / "missing") == executors.STORE_BASE_BYTES

    monkeypatch.setattr(executors, "available_memory", lambda: 16 * 2**30)
    default = LocalPool()
    default.slots = 2  # as on a 2-core machine
    assert default.plan([str(small)] * 3) == 3
    assert default.concurrency(3) == 3 and default.concurrency(2) == 2  # a restarted pool: no extra
    monkeypatch.setattr(executors, "available_memory", lambda: 2**30)
    assert default.plan([str(small)] * 3) == 2
    assert LocalPool(2).plan([str(small)] * 3) == 2
    assert LocalPool(1).concurrency(3) == 1


def test_prestart_counts_the_stores_run_at_once(kit):
    seen = []

    class Fake:
        name, slots = "fake", 2

        def concurrency(self, n):
            return 3

        def run(self, fn, tasks):
            for t in tasks:
                seen.append(t["prestart"])
                yield t, run_store.RunResult(dealer_id=t["dealer_id"], status="failed", error="x").to_dict()

        def close(self):
            pass

    for d in ("D001", "D002", "D003", "D004"):
        make_store(kit, d)
    batch.run_batch(make_group(kit, "g", ["D001", "D002", "D003", "D004"]), out=kit / "out", executor=Fake())
    assert seen == [True, False, False, False]
