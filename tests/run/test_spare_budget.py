"""The spare-kernel budget a batch's local pool workers share (run.kernels.SpareBudget)."""

from __future__ import annotations

import multiprocessing

from ownercomm_kit.run import kernels


def budget(stores: int, workers: int = 2) -> kernels.SpareBudget:
    return kernels.SpareBudget(multiprocessing.get_context("spawn"), stores, workers)


def test_no_spare_when_no_store_waits():
    b = budget(3, workers=3)
    for _ in range(3):
        b.claim(had_spare=False)
    assert b.counts() == (0, 0)
    assert not b.reserve(1) and not b.reserve(3)


def test_spares_never_outnumber_the_waiting_stores():
    b = budget(5)
    b.claim(False), b.claim(False)  # two workers take the first two stores: three wait
    assert not b.reserve(b.workers + 2)  # early: only when enough wait for every worker
    assert b.reserve(b.workers)
    assert b.reserve(1) and b.reserve(1)
    assert not b.reserve(1)  # three spares for three waiting stores
    assert b.counts() == (3, 3)
    b.claim(had_spare=True)  # a worker with a spare takes a store: one fewer of each
    assert b.counts() == (2, 2)
    b.claim(had_spare=False)  # one without: a spare may now go unused, none more is warmed
    assert b.counts() == (1, 2) and not b.reserve(1)
    b.release(), b.release(), b.release()
    assert b.counts() == (1, 0)
    b.claim(False), b.claim(False)
    assert b.counts() == (0, 0)


def test_warm_spare_follows_the_budget(monkeypatch):
    started = []

    class Pool:
        spare = False

        def has_spare(self):
            return self.spare

        def prestart(self, imports):
            started.append(list(imports))
            return ok

    monkeypatch.setattr(kernels, "KERNELS", Pool())
    b = budget(2)
    ok = False  # a kernel that fails to start gives its place back
    kernels.warm_spare(b, 1, lambda: ["pandas"])
    assert started == [["pandas"]] and b.counts() == (2, 0)
    ok = True
    kernels.warm_spare(b, 1, lambda: ["pandas"])
    assert b.counts() == (2, 1)
    kernels.KERNELS.spare = True  # one spare per process
    kernels.warm_spare(b, 1, lambda: ["numpy"])
    assert len(started) == 2 and b.counts() == (2, 1)
    kernels.warm_spare(None, 1, lambda: ["numpy"])
    assert len(started) == 2


def test_a_task_outside_a_pool_starts_no_spare(monkeypatch):
    from ownercomm_kit.run import store

    seen = {}
    monkeypatch.setattr(kernels, "BUDGET", None)
    monkeypatch.setattr(store, "run_dealer", lambda f, **kw: seen.update(kw) or store.RunResult(dealer_id="x"))
    store.run_task({"dealer_file": "x.yaml", "dealer_id": "x", "prestart": "auto"})
    assert seen["prestart"] is False
