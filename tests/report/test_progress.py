"""Recorded runs, baselines and the change shown against them (SPEC §10)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from ownercomm_kit import params as params_mod
from ownercomm_kit.kpis import history, registry, runs
from ownercomm_kit.report import audit_report, html, notebook, referrals_report, retention_report

from helpers.report import AS_OF, tiny_data  # noqa: E402

D = dt.date


def _record(store: Path, as_of: D, **kpis) -> Path:
    return runs.record_run(store, as_of=as_of, fingerprint="f" + as_of.isoformat(), kpis=kpis, dealer_id="T01")


# --- the registry ---------------------------------------------------------------------------


def test_registry_covers_every_kpis_json_key_once():
    from ownercomm_kit import audit, referrals, retention

    keys = [*audit.HEADLINE_KEYS, *retention.KPI_KEYS, *referrals.KPI_KEYS]
    assert set(keys) <= set(registry.KPIS)
    labels = [k.label for k in registry.KPIS.values()]
    assert len(labels) == len(set(labels)), "one plain label per figure"
    for k in registry.KPIS.values():
        assert k.unit in registry.UNITS and k.better in registry.BETTER


def test_definitions_use_the_dealers_parameters():
    p = params_mod.resolve(
        {"dealer_id": "T", "data_dir": ".", "referrals": {"window_months": 6}, "retention": {"show_rate_days": 60}}
    )
    assert "last 6 months" in registry.get("referrals_12m").definition(p)
    assert "last 60 days" in registry.get("appointment_show_rate_90d").definition(p)
    assert registry.get("flags_high").definition(p)


def test_change_words_and_colour_follow_the_better_direction():
    since = "on 31 May 2026"
    c = registry.change("flags_high", 35, 47, since)
    assert c.words == "12 fewer serious problems than on 31 May 2026" and c.tone == "good" and c.arrow == "down"
    c = registry.change("flags_high", 48, 47, since)
    assert c.words == "1 more serious problem than on 31 May 2026" and c.tone == "bad"
    c = registry.change("appointment_show_rate_90d", 0.80, 0.75, since)
    assert c.words == "5.0 percentage points higher than on 31 May 2026" and c.tone == "good"
    c = registry.change("over_cap_customer_share", 0.80, 0.75, since)
    assert c.tone == "bad"
    c = registry.change("messages", 1200, 1000, since)  # a volume: no better direction, no colour
    assert c.tone == "" and "200 more messages" in c.words
    c = registry.change("referral_revenue_12m", 1000, 3000, since)
    assert c.words == "$2,000 less than on 31 May 2026" and c.tone == "bad"
    assert registry.change("flags_high", 5, 5, since).words == "the same as on 31 May 2026"
    # no baseline value, or no value now: no change at all (never a zero change)
    assert registry.change("flags_high", 5, None, since) is None
    assert registry.change("repurchase_rate", None, 0.2, since) is None
    assert registry.change("repurchase_rate", float("nan"), 0.2, since) is None


# --- recorded runs and the baseline ---------------------------------------------------------


def test_record_is_never_replaced_unless_forced(tmp_path):
    first = _record(tmp_path, D(2026, 5, 31), flags_high=10)
    assert first == tmp_path / "runs" / "2026-05-31.json"
    assert (
        runs.record_run(tmp_path, as_of=D(2026, 5, 31), fingerprint="x", kpis={"flags_high": 99}, dealer_id="T01")
        is None
    )
    assert json.loads(first.read_text())["kpis"]["flags_high"] == 10
    runs.record_run(
        tmp_path, as_of=D(2026, 5, 31), fingerprint="x", kpis={"flags_high": 99}, dealer_id="T01", force=True
    )
    doc = json.loads(first.read_text())
    assert doc["kpis"]["flags_high"] == 99 and doc["as_of"] == "2026-05-31" and doc["fingerprint"] == "x"


def test_default_baseline_is_the_previous_recorded_run(tmp_path):
    _record(tmp_path, D(2026, 3, 31), flags_high=30)
    _record(tmp_path, D(2026, 5, 31), flags_high=20)
    _record(tmp_path, D(2026, 6, 30), flags_high=15)  # this report's own date: never its own baseline
    (tmp_path / "runs" / "notes.json").write_text("{}")  # foreign files are ignored
    (tmp_path / "runs" / "2026-01-31.json").write_text("not json")
    p = runs.progress(tmp_path, D(2026, 6, 30))
    assert p.baseline.as_of == D(2026, 5, 31) and p.baseline.kpis["flags_high"] == 20
    assert not p.baseline.chosen and p.baseline.source == "recorded run"
    assert p.baseline.since() == "on 31 May 2026"
    # an earlier report (a re-run of March) compares with nothing before it
    p = runs.progress(tmp_path, D(2026, 3, 31))
    assert p.baseline is None and "first recorded run" in p.note


def test_chosen_baseline_run_or_history_row(tmp_path):
    _record(tmp_path, D(2026, 3, 31), flags_high=30)
    _record(tmp_path, D(2026, 5, 31), flags_high=20)
    pd.DataFrame({"as_of": ["2026-01-31", "2026-02-28", "2026-03-31"], "flags_high": [50, 40, 31]}).to_csv(
        tmp_path / history.HISTORY_FILE, index=False
    )
    p = runs.progress(tmp_path, D(2026, 6, 30), requested=D(2026, 3, 31))
    # a recorded run of that date wins over the history row of the same date
    assert p.baseline.source == "recorded run" and p.baseline.kpis["flags_high"] == 30 and p.baseline.chosen
    p = runs.progress(tmp_path, D(2026, 6, 30), requested=D(2026, 2, 28))
    assert p.baseline.source == "history" and p.baseline.kpis["flags_high"] == 40
    p = runs.progress(tmp_path, D(2026, 6, 30), requested=D(2026, 2, 27))
    assert p.baseline is None and "neither a recorded run nor a month-end" in p.note
    p = runs.progress(tmp_path, D(2026, 3, 31), requested=D(2026, 3, 31))
    assert p.baseline is None and "not before" in p.note


def test_baseline_parameter_is_checked(tmp_path):
    good = params_mod.resolve({"dealer_id": "T", "data_dir": ".", "baseline": "2026-05-31"})
    assert good["baseline"] == D(2026, 5, 31)
    assert params_mod.resolve({"dealer_id": "T", "data_dir": "."})["baseline"] is None
    with pytest.raises(params_mod.ParamsError) as e:
        params_mod.resolve({"dealer_id": "T", "data_dir": ".", "baseline": "31/05/2026"})
    assert any("baseline" in p for p in e.value.problems)


def test_carry_over_keeps_runs_and_history_only(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    _record(old, D(2026, 5, 31), flags_high=1)
    (old / "history.csv").write_text("as_of\n2026-04-30\n")
    (old / "runs" / "evil.sh").write_text("x")
    os.symlink("/etc/passwd", old / "runs" / "2026-01-31.json")
    new.mkdir()
    runs.carry_over(old, new)
    assert sorted(p.name for p in (new / "runs").iterdir()) == ["2026-05-31.json"]
    assert (new / "history.csv").read_text() == "as_of\n2026-04-30\n"
    runs.carry_over(tmp_path / "missing", new)  # a first run: nothing to carry


# --- the pages --------------------------------------------------------------------------------

PAGES = {"audit": audit_report, "retention": retention_report, "referrals": referrals_report}


@pytest.fixture(scope="module")
def resolved():
    return params_mod.resolve({"dealer_id": "T01", "data_dir": "."})


def _render(report, out_dir, resolved, sections=("headline", "progress")) -> str:
    module = PAGES[report]
    ctx = notebook.context(report, resolved, tiny_data(), out_dir)
    result = module.compute(ctx)
    with html.capture() as got:
        for name in sections:
            getattr(module, name)(ctx, result)
    return "".join(b.get("text/html", "") for b, _ in got)


@pytest.mark.parametrize("report", list(PAGES))
def test_no_earlier_run_shows_no_change(report, resolved, tmp_path):
    page = _render(report, tmp_path, resolved)
    assert "oc-tile-change" not in page and "oc-change-" not in page
    assert "No change shown: this is the first recorded run" in page
    assert 'id="progress"' in page or "Progress" in page
    assert "No earlier figures yet" in page


@pytest.mark.parametrize("report", list(PAGES))
def test_tiles_carry_the_change_against_the_previous_run(report, resolved, tmp_path):
    module = PAGES[report]
    keys = [k for k, *_ in module.KPIS]
    earlier = AS_OF - dt.timedelta(days=30)
    # the previous run: every figure a little different from today's (shares 0.1, counts 0)
    _record(tmp_path, earlier, **{k: (0.1 if registry.get(k).unit == "share" else 0) for k in keys})
    page = _render(report, tmp_path, resolved)
    since = f"than on {html.long_date(earlier)}"
    assert "oc-tile-change" in page and since in page
    assert f"Changes compare with the previous report, of {html.long_date(earlier)}." in page
    assert "Headline figures over time" in page  # the progress chart
    assert 'class="oc-table oc-progress"' in page


def test_audit_tile_words_and_colour(resolved, tmp_path):
    earlier = AS_OF - dt.timedelta(days=30)
    ctx = notebook.context("audit", resolved, tiny_data(), tmp_path)
    r = audit_report.compute(ctx)
    high = int(r.headline["flags_high"])
    _record(tmp_path, earlier, flags_high=high + 12, flags_total=r.headline["flags_total"])
    with html.capture() as got:
        audit_report.headline(ctx, r)
    page = "".join(b.get("text/html", "") for b, _ in got)
    words = f"Better: 12 fewer serious problems than on {html.long_date(earlier)}"
    assert f'oc-tile-change oc-change-good">\u25bc {words}' in page
    assert "Problems found" in page and f"the same as on {html.long_date(earlier)}" in page


def test_chosen_history_baseline_in_the_progress_section(resolved, tmp_path):
    r = dict(resolved, baseline=D(2026, 4, 30))
    pd.DataFrame(
        {"as_of": ["2026-03-31", "2026-04-30", "2026-05-31"], "flags_high": [9, 8, 7], "messages": [10, 20, 30]}
    ).to_csv(tmp_path / "history.csv", index=False)
    page = _render("audit", tmp_path, r)
    assert "the baseline chosen in the dealer file" in page and "30 April 2026" in page
    assert "Baseline (30 April 2026)" in page


def test_progress_series_merges_history_and_earlier_runs(tmp_path):
    _record(tmp_path, D(2026, 5, 15), flags_high=4)
    _record(tmp_path, D(2026, 7, 15), flags_high=1)  # after this report: not part of its past
    pd.DataFrame({"as_of": ["2026-04-30", "2026-05-31", "2026-06-30"], "flags_high": [6, 5, None]}).to_csv(
        tmp_path / "history.csv", index=False
    )
    p = runs.progress(tmp_path, D(2026, 6, 18))
    s = p.series("flags_high")
    assert list(s["source"]) == ["history", "history", "run"]  # the June month-end is after the report
    assert list(s["value"]) == [6.0, 5.0, 4.0]


# --- the runner: records, the swap, the real notebooks -----------------------------------------

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_runner_records_runs_and_keeps_them_across_the_swap(tmp_path):
    """Fixture notebooks (fast): the record's as_of is the run's; a changed export of the same
    as_of keeps the first record unless forced; runs/ and history.csv survive every swap."""
    from helpers.batch import make_kit, make_store

    from ownercomm_kit.run import resume as run_resume
    from ownercomm_kit.run import store as run_store

    kit = make_kit(tmp_path / "kit")
    dealer = make_store(kit, "D001")
    out = kit / "out"
    store = out / "D001"
    r = run_store.run_dealer(dealer, out=out, as_of="2026-05-31")
    assert r.status == "ok", r.error
    first = json.loads((store / "runs" / "2026-05-31.json").read_text())
    assert first["as_of"] == "2026-05-31" and first["dealer_id"] == "D001"
    assert first["kpis"] == json.loads((store / "kpis.json").read_text())
    assert first["fingerprint"] == run_resume.read_run_record(store)["fingerprint"]
    assert not any(o.startswith("runs/") for o in r.outputs)  # the store's past, not this run's outputs
    (store / "history.csv").write_text("as_of,messages\n2026-04-30,3\n")
    assert run_store.run_dealer(dealer, out=out, as_of="2026-06-30").status == "ok"
    assert sorted(p.name for p in (store / "runs").iterdir()) == ["2026-05-31.json", "2026-06-30.json"]
    assert (store / "history.csv").read_text() == "as_of,messages\n2026-04-30,3\n"
    # a new export, same as_of: the reports are redone, the first record of that date stays
    comm = kit / "data" / "D001" / "communications.csv"
    comm.write_text(comm.read_text() + "M99,CUSTX0,2026-05-20 10:00,email\n")
    assert run_store.run_dealer(dealer, out=out, as_of="2026-05-31").status == "ok"
    assert json.loads((store / "runs" / "2026-05-31.json").read_text()) == first
    assert json.loads((store / "kpis.json").read_text())["messages"] == first["kpis"]["messages"] + 1
    assert run_store.run_dealer(dealer, out=out, as_of="2026-05-31", force=True).status == "ok"
    forced = json.loads((store / "runs" / "2026-05-31.json").read_text())
    assert forced["kpis"]["messages"] == first["kpis"]["messages"] + 1
    assert forced["fingerprint"] != first["fingerprint"]
    # a failed run leaves the records as they were
    (kit / "data" / "D001" / "communications.csv").write_text("message_id,customer_id\nM1,C1\n")
    assert run_store.run_dealer(dealer, out=out, as_of="2026-07-31").status == "failed"
    assert sorted(p.name for p in (store / "runs").iterdir()) == ["2026-05-31.json", "2026-06-30.json"]
    assert not list(store.glob(".report-as-of"))


@pytest.mark.slow
def test_history_row_equals_a_real_report_run_and_pages_show_progress(tmp_path):
    """The real notebooks: the kpis.json of `ownercomm run --as-of <month-end>` equals that
    month-end's history row key by key; the next run's pages carry the change and the progress."""
    from click.testing import CliRunner
    from helpers.report import write_tiny_dealer

    from ownercomm_kit.run import store as run_store
    from ownercomm_kit.cli import main

    dealer = write_tiny_dealer(tmp_path / "dealer")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["history", str(dealer), "--months", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    hist = pd.read_csv(out / "T01" / "history.csv", dtype={"as_of": str}).set_index("as_of")
    r = run_store.run_dealer(dealer, out=out, as_of="2026-05-31", notebooks_dir=ROOT / "notebooks")
    assert r.status == "ok", r.error
    kpis = json.loads((out / "T01" / "kpis.json").read_text())
    row = hist.loc["2026-05-31"]
    for key, value in kpis.items():
        assert (value is None and pd.isna(row[key])) or row[key] == pytest.approx(value, rel=1e-12), key
    r = run_store.run_dealer(dealer, out=out, notebooks_dir=ROOT / "notebooks")  # the dealer file's as_of
    assert r.status == "ok", r.error
    store = out / "T01"
    assert sorted(p.name for p in (store / "runs").iterdir()) == ["2026-05-31.json", "2026-06-18.json"]
    assert (store / "history.csv").is_file()
    for page in ("audit.html", "retention.html", "referrals.html"):
        text = (store / page).read_text()
        assert '<section id="progress"' in text, page
        assert "Changes compare with the previous report, of 31 May 2026." in text, page
        assert "than on 31 May 2026" in text, page


# --- the group index ---------------------------------------------------------------------------


def _store(group_dir: Path, dealer_id: str, as_of: D, kpis: dict, earlier: dict | None, hist: dict | None) -> dict:
    from ownercomm_kit import outputs
    from ownercomm_kit.run import resume as run_resume

    folder = group_dir / dealer_id
    outputs.update_kpis(folder, kpis)
    (folder / run_resume.RUN_RECORD).write_text(json.dumps({"as_of": as_of.isoformat(), "outputs": []}))
    _record(folder, as_of, **kpis)
    for d, k in (earlier or {}).items():
        _record(folder, d, **k)
    if hist:
        pd.DataFrame(hist).to_csv(folder / "history.csv", index=False)
    return {
        "dealer_id": dealer_id,
        "dealer_name": f"<b>{dealer_id}</b>",
        "status": "ok",
        "out_dir": dealer_id,
        "outputs": [],
        "seconds": 1,
    }


def test_index_changes_and_group_history(tmp_path):
    from ownercomm_kit.batch import index

    stores = [
        _store(
            tmp_path,
            "A",
            D(2026, 6, 30),
            {"flags_high": 8, "repurchase_rate": 0.40},
            {D(2026, 5, 31): {"flags_high": 20, "repurchase_rate": 0.35}, D(2026, 4, 30): {"flags_high": 1}},
            {"as_of": ["2026-04-30", "2026-05-31"], "flags_high": [3, 4], "repurchase_rate": [0.2, 0.4]},
        ),
        _store(
            tmp_path,
            "B",
            D(2026, 6, 30),
            {"flags_high": 5, "repurchase_rate": 0.30},
            None,
            {"as_of": ["2026-05-31"], "flags_high": [10], "repurchase_rate": [0.6]},
        ),
    ]
    manifest = {"group_id": "g", "group_name": "G", "stores": stores, "counts": {"ok": 2}}
    table = index.changes_table(manifest, tmp_path)
    assert table.count("<tr>") == 3
    a_row, b_row = table.split("<tr>")[2], table.split("<tr>")[3]
    assert "31 May 2026" in a_row and "30 June 2026" in a_row  # the previous run, not the oldest
    assert "\u25bc -12 (better)" in a_row and "oc-change-good" in a_row
    assert "\u25b2 +5.0 pts (better)" in a_row
    assert "no earlier run" in b_row and "oc-change-good" not in b_row and "oc-change-bad" not in b_row
    assert "&lt;b&gt;A&lt;/b&gt;" in table
    gh = index.group_history(manifest, tmp_path).set_index("as_of")
    assert gh.loc["2026-05-31", "flags_high"] == 14 and gh.loc["2026-05-31", "stores"] == 2  # counts add up
    assert gh.loc["2026-05-31", "repurchase_rate"] == pytest.approx(0.5)  # shares: the median
    assert gh.loc["2026-04-30", "flags_high"] == 3 and gh.loc["2026-04-30", "stores"] == 1
    assert index.group_history_chart(gh.reset_index()) is not None
    page = index.build_index(manifest, tmp_path)
    assert 'id="changes"' in page and 'id="group-history"' in page


@pytest.mark.slow
def test_runner_history_months_refreshes_the_history(tmp_path):
    from click.testing import CliRunner
    from helpers.batch import FIXTURE_NOTEBOOKS
    from helpers.report import write_tiny_dealer

    from ownercomm_kit.run import store as run_store
    from ownercomm_kit.cli import main

    assert "--history" in CliRunner().invoke(main, ["batch", "--help"]).output
    dealer = write_tiny_dealer(tmp_path / "d")
    out = tmp_path / "out"
    r = run_store.run_dealer(dealer, out=out, notebooks_dir=FIXTURE_NOTEBOOKS, history_months=2)
    assert r.status == "ok", r.error
    assert list(pd.read_csv(out / "T01" / "history.csv")["as_of"]) == ["2026-04-30", "2026-05-31"]
    # unchanged inputs and the same months: skipped; other months: run again, history rebuilt
    assert run_store.run_dealer(dealer, out=out, notebooks_dir=FIXTURE_NOTEBOOKS, history_months=2).status == "skipped"
    r = run_store.run_dealer(dealer, out=out, notebooks_dir=FIXTURE_NOTEBOOKS, history_months=3)
    assert r.status == "ok", r.error
    assert len(pd.read_csv(out / "T01" / "history.csv")) == 3
    assert "history.csv" not in r.outputs
