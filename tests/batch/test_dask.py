"""A real Dask scheduler and workers on loopback run a group to the local pool's outputs."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ownercomm_kit import batch
from ownercomm_kit.cli import main

from helpers.batch import make_group, make_kit, make_store  # noqa: E402

pytestmark = pytest.mark.slow

COMPARED = ("kpis.json", "flags.csv", "due_for_service.csv", "referral_followups.csv")


def test_dask_cluster_gives_the_local_pool_outputs(tmp_path):
    import distributed  # a dependency of the kit: missing is a failure

    kit = make_kit(tmp_path / "kit")
    for d in ("D001", "D002", "D003"):
        make_store(kit, d, broken="dates" if d == "D003" else None)
    group = make_group(kit, "g", ["D001", "D002", "D003"])
    local = batch.run_batch(group, out=tmp_path / "local", workers=2)

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=40
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        res = CliRunner().invoke(
            main, ["batch", str(group), "--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address]
        )
    assert res.exit_code == 1, res.output  # D003 fails on both
    assert "D003: retention.ipynb, cell" in res.output

    manifest = json.loads((tmp_path / "dask" / "g" / "manifest.json").read_text())
    assert manifest["executor"] == "dask" and manifest["workers"] == 2
    assert (
        {s["dealer_id"]: s["status"] for s in manifest["stores"]}
        == {s["dealer_id"]: s["status"] for s in local.stores}
        == {"D001": "ok", "D002": "ok", "D003": "failed"}
    )
    for d in ("D001", "D002"):
        for name in COMPARED:
            ours = (tmp_path / "dask" / "g" / d / name).read_bytes()
            assert ours == (local.out_dir / d / name).read_bytes(), (d, name)
    assert (tmp_path / "dask" / "g" / "index.html").is_file()


def test_unreachable_scheduler_is_a_message(tmp_path, monkeypatch):
    from ownercomm_kit.batch import executors

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 2)
    kit = make_kit(tmp_path / "kit")
    make_store(kit, "D001")
    res = CliRunner().invoke(
        main,
        [
            "batch",
            str(make_group(kit, "g", ["D001"])),
            "--out",
            str(tmp_path / "o"),
            "--scheduler",
            "tcp://127.0.0.1:9",
        ],
    )
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in res.output
    assert not (tmp_path / "o" / "g" / "manifest.json").exists()
