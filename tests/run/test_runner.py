"""`ownercomm run`: papermill's results, atomic publishing, resume, failures as one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml
from click.testing import CliRunner

from ownercomm_kit import errors, params
from ownercomm_kit.run import kernels as run_kernels
from ownercomm_kit.run import notebooks as run_notebooks
from ownercomm_kit.run import publish as run_publish
from ownercomm_kit.run import resume as run_resume
from ownercomm_kit.run import store as run_store
from ownercomm_kit.cli import main

from helpers.batch import FIXTURE_NOTEBOOKS, make_kit, make_store, slow_notebooks, tree  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def kit(tmp_path):
    return make_kit(tmp_path / "kit")


def _hidden_leftovers(out: Path) -> list[Path]:
    """Hidden entries of an output folder but the stores' lock files (empty, kept by design)."""
    return [p for p in out.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock")]


def _published(store: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree(store).items() if not k.startswith(run_publish.FAILED_DIR)}


def test_outputs_equal_plain_papermill(kit, tmp_path):
    dealer = make_store(kit, "D001", extra={"as_of": "2026-06-30"})
    result = run_store.run_dealer(dealer, out=kit / "out")
    assert result.status == "ok", result.error
    store = kit / "out" / "D001"
    assert {
        "audit.html",
        "retention.html",
        "referrals.html",
        "audit.ipynb",
        "retention.ipynb",
        "referrals.ipynb",
        "flags.csv",
        "kpis.json",
        "due_for_service.csv",
        "referral_followups.csv",
    } <= set(result.outputs)
    # The same notebook through papermill itself, with the same parameters.
    plain = tmp_path / "plain"
    plain.mkdir()
    ours = nbformat.read(store / "audit.ipynb", as_version=4)
    injected = [c for c in ours.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1, "papermill's parameter injection must still happen"
    parameters = run_notebooks.notebook_parameters(dealer, None, None, plain, params.resolve(dealer_file=dealer))
    papermill.execute_notebook(
        str(FIXTURE_NOTEBOOKS / "audit.ipynb"),
        str(plain / "audit.ipynb"),
        parameters=parameters,
        progress_bar=False,
        cwd=str(plain),
    )
    theirs = nbformat.read(plain / "audit.ipynb", as_version=4)
    theirs_injected = [c for c in theirs.cells if "injected-parameters" in c.metadata.get("tags", [])][0]
    strip = lambda src: [ln for ln in src.splitlines() if not ln.startswith("out_dir")]  # noqa: E731
    assert strip(injected[0].source) == strip(theirs_injected.source)
    assert 'as_of = "2026-06-30"' in injected[0].source
    assert (plain / "flags.csv").read_bytes() == (store / "flags.csv").read_bytes()
    audit_kpis = {
        k: v
        for k, v in json.loads((store / "kpis.json").read_text()).items()
        if k in json.loads((plain / "kpis.json").read_text())
    }
    assert audit_kpis == json.loads((plain / "kpis.json").read_text())
    # Execution counts start at 1 in every notebook, as in a fresh kernel.
    for name in ("audit", "retention", "referrals"):
        counts = [
            c.execution_count
            for c in nbformat.read(store / f"{name}.ipynb", as_version=4).cells
            if c.cell_type == "code" and c.execution_count
        ]
        assert counts[0] == 1, name
    # No code in the HTML.
    page = (store / "audit.html").read_text()
    assert "merge_kpis" not in page and "for_notebook" not in page


def test_no_variable_leaks_between_notebooks(kit, tmp_path):
    """The store's notebooks share a kernel; a variable of one is not seen by the next."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    for name in ("audit", "retention", "referrals"):
        nb = nbformat.read(FIXTURE_NOTEBOOKS / f"{name}.ipynb", as_version=4)
        if name == "retention":
            nb.cells.append(nbformat.v4.new_code_cell("assert 'comms' not in globals(), 'leaked from audit'"))
        nbformat.write(nb, folder / f"{name}.ipynb")
    result = run_store.run_dealer(make_store(kit, "D001"), out=kit / "out", notebooks_dir=folder)
    assert result.status == "ok", result.error


def test_failure_keeps_the_previous_report(kit):
    dealer = make_store(kit, "D001")
    assert run_store.run_dealer(dealer, out=kit / "out").status == "ok"
    store = kit / "out" / "D001"
    before = _published(store)
    make_store(kit, "D001", broken="dates")  # retention fails after audit wrote its outputs
    result = run_store.run_dealer(dealer, out=kit / "out")
    assert result.status == "failed"
    assert result.error.startswith("retention.ipynb, cell ")
    assert "ValueError" in result.error and "not a date" in result.error
    assert "\n" not in result.error and "Traceback" not in result.error
    assert _published(store) == before, "a failed run must not touch the last good report"
    assert result.failed_notebook == str(store / "_failed" / "retention.ipynb")
    failed = nbformat.read(result.failed_notebook, as_version=4)
    assert any(o.get("output_type") == "error" for c in failed.cells for o in c.get("outputs", []))
    assert not _hidden_leftovers(kit / "out"), "staging left behind"


def test_data_error_is_a_message_with_its_problems(kit):
    result = run_store.run_dealer(make_store(kit, "D003", broken="columns"), out=kit / "out")
    assert result.status == "failed"
    assert result.error.startswith("audit.ipynb, cell ")
    assert "DataError: 2 blocking data problems" in result.error
    assert "column 'sent_at'" in result.error and "column 'channel'" in result.error
    # Nothing published on a first run that failed; only the diagnosis.
    assert sorted(p.name for p in (kit / "out" / "D003").iterdir()) == ["_failed"]


def test_resume_skips_unchanged_and_reruns_on_any_input_change(kit):
    dealer = make_store(kit, "D001")
    out = kit / "out"
    assert run_store.run_dealer(dealer, out=out).status == "ok"
    again = run_store.run_dealer(dealer, out=out)
    assert again.status == "skipped" and "audit.html" in again.outputs
    assert run_store.run_dealer(dealer, out=out, force=True).status == "ok"
    # A data file touched (same content, new mtime) is no change: resume compares contents.
    data_file = kit / "data" / "D001" / "communications.csv"
    st = data_file.stat()
    os.utime(data_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert run_store.run_dealer(dealer, out=out).status == "skipped"
    # New bytes under the old modification time are a change.
    text = data_file.read_bytes()
    data_file.write_bytes(text.replace(b"\n", b"\r\n", 1) if b"\r\n" not in text else text.replace(b"\r\n", b"\n", 1))
    os.utime(data_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert run_store.run_dealer(dealer, out=out).status == "ok"
    assert run_store.run_dealer(dealer, out=out).status == "skipped"
    # Another as_of is another report.
    assert run_store.run_dealer(dealer, out=out, as_of="2026-06-01").status == "ok"
    assert run_store.run_dealer(dealer, out=out, as_of="2026-06-01").status == "skipped"
    # The dealer file's parameters.
    doc = yaml.safe_load(dealer.read_text())
    doc["rules"] = {"cap_total": {"windows": [{"days": 7, "max": 2}]}}
    dealer.write_text(yaml.safe_dump(doc))
    assert run_store.run_dealer(dealer, out=out, as_of="2026-06-01").status == "ok"
    # A deleted output is not "up to date".
    (out / "D001" / "flags.csv").unlink()
    assert run_store.run_dealer(dealer, out=out, as_of="2026-06-01").status == "ok"


def test_fingerprint_covers_defaults_notebooks_and_group(kit, tmp_path):
    dealer = make_store(kit, "D001")
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    for p in FIXTURE_NOTEBOOKS.glob("*.ipynb"):
        (nbs / p.name).write_bytes(p.read_bytes())
    group = kit / "params" / "groups" / "g.yaml"
    group.write_text("group_id: g\ndealers: [D001]\n")

    def fp():
        return run_resume.fingerprint(
            dealer_file=dealer,
            group_file=group,
            data_dir=kit / "data" / "D001",
            root=kit,
            notebooks=sorted(nbs.glob("*.ipynb")),
            as_of=None,
        )

    first = fp()
    assert fp() == first
    for path, change in [
        (nbs / "audit.ipynb", b" "),
        (kit / "params" / "defaults.yaml", b"\n# c\n"),
        (group, b"\n# c\n"),
    ]:
        path.write_bytes(path.read_bytes() + change)
        assert fp() != first, path
        first = fp()


def test_timeout_fails_the_store_naming_the_cell(kit, tmp_path):
    folder = slow_notebooks(tmp_path, 60, after="audit")
    result = run_store.run_dealer(make_store(kit, "D001"), out=kit / "out", notebooks_dir=folder, timeout=4)
    assert result.status == "failed"
    assert result.error.startswith("audit.ipynb, cell ") and "TimeoutError" in result.error
    assert Path(result.failed_notebook).is_file()


def test_parameter_problems_fail_cleanly(kit):
    dealer = make_store(kit, "D001", extra={"rulez": {}})
    result = run_store.run_dealer(dealer, out=kit / "out")
    assert result.status == "failed"
    assert result.error.startswith("parameters: ") and "'rulez'" in result.error
    assert not (kit / "out" / "D001").exists()


def test_dealer_id_must_be_a_safe_folder_name(kit):
    dealer = make_store(kit, "D001")
    doc = yaml.safe_load(dealer.read_text())
    doc["dealer_id"] = "../escape"
    dealer.write_text(yaml.safe_dump(doc))
    result = run_store.run_dealer(dealer, out=kit / "out")
    assert result.status == "failed" and "dealer_id" in result.error
    assert not (kit / "escape").exists()


def test_missing_data_folder(kit):
    dealer = make_store(kit, "D001", extra={"data_dir": "nowhere"})
    result = run_store.run_dealer(dealer, out=kit / "out")
    assert result.status == "failed" and result.error.startswith("data folder not found")


def test_failure_line_shapes():
    from ownercomm_kit.run import failure

    class E:
        ename, exec_count = "DataError", 3
        evalue = "5 blocking data problems\n" + "\n".join(f"ERROR f.csv, row {i}: value 'v': bad" for i in range(2, 7))

    recorded = failure.Failure(
        "data",
        "5 blocking data problems",
        error="DataError",
        problems=[failure.Problem("bad", file="f.csv", row=i) for i in range(2, 7)],
    ).to_dict()
    line = failure.of_notebook("audit.ipynb", E(), recorded).line()
    assert line == (
        "audit.ipynb, cell 3: DataError: 5 blocking data problems: ERROR f.csv, row 2: bad; "
        "ERROR f.csv, row 3: bad; ERROR f.csv, row 4: bad; and 2 more"
    )
    # Without the kernel's record the problems are not read from the text (it quotes values).
    assert failure.of_notebook("audit.ipynb", E()).line() == (
        "audit.ipynb, cell 3: DataError: 5 blocking data problems (listed in the executed notebook)"
    )

    class K:
        ename, exec_count, evalue = "KeyError", None, "'x'"

    assert failure.of_notebook("retention.ipynb", K()).line() == "retention.ipynb: KeyError: 'x'"


def test_notebook_imports_are_found():
    mods = run_kernels.notebook_imports(sorted(FIXTURE_NOTEBOOKS.glob("*.ipynb")))
    assert {"pandas", "plotly.graph_objects", "ownercomm_kit.params", "ownercomm_kit.data"} <= set(mods)
    assert "_pio.renderers.default" in run_kernels._warm_code(mods)


def test_cli_run_ok_skip_and_failure(kit):
    dealer = make_store(kit, "D001")
    cli = CliRunner()
    first = cli.invoke(main, ["run", str(dealer), "--out", str(kit / "out")])
    assert first.exit_code == 0, first.output
    assert "reports written to" in first.output
    second = cli.invoke(main, ["run", str(dealer), "--out", str(kit / "out")])
    assert second.exit_code == 0 and "skipped" in second.output
    bad = cli.invoke(main, ["run", str(make_store(kit, "D002", broken="dates")), "--out", str(kit / "out")])
    assert bad.exit_code == 1
    assert "D002: FAILED: retention.ipynb, cell" in bad.output and "Traceback" not in bad.output


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_run_leaves_no_partial_file(kit, tmp_path, sig):
    """Killed mid-run (after the audit wrote its outputs): the target keeps the previous
    report byte for byte; SIGTERM also removes the staging folder; the next run cleans up
    what SIGKILL left and succeeds."""
    dealer = make_store(kit, "D001")
    out = kit / "out"
    assert run_store.run_dealer(dealer, out=out).status == "ok"
    before = tree(out / "D001")
    (kit / "notebooks").rename(kit / "fast_notebooks")
    (slow_notebooks(tmp_path, 120, after="audit")).rename(kit / "notebooks")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "ownercomm"), "run", str(dealer), "--out", str(out), "--force"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            partial = [p for p in out.glob(".D001.partial-*") if (p / "flags.csv").exists()]
            if partial:
                break
            time.sleep(0.2)
        assert partial, "the run never got to write the audit's outputs"
        time.sleep(0.5)
        os.kill(proc.pid, sig) if sig == signal.SIGTERM else os.killpg(proc.pid, sig)
    finally:
        proc.wait(timeout=60)
    assert tree(out / "D001") == before
    if sig == signal.SIGTERM:
        assert not list(out.glob(".D001.partial-*")), "SIGTERM must clean its staging folder"
    (kit / "notebooks").rename(tmp_path / "slow_used")
    (kit / "fast_notebooks").rename(kit / "notebooks")
    assert run_store.run_dealer(dealer, out=out, force=True).status == "ok"
    assert not _hidden_leftovers(out)


def test_kernel_start_flakiness_is_retried_a_bounded_number_of_times(monkeypatch):
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    real = AsyncKernelManager.start_kernel
    calls = []

    async def flaky(self, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise zmq.ZMQError(98, "Address already in use")
        return await real(self, **kw)

    monkeypatch.setattr(AsyncKernelManager, "start_kernel", flaky)
    kernel = run_kernels.StoreKernel.start(retries=2, startup_timeout=60)
    try:
        assert kernel.is_alive() and len(calls) == 2
    finally:
        kernel.shutdown()
    assert not Path(kernel.sockets).exists(), "the kernel's socket folder is removed"

    async def always(self, **kw):
        raise zmq.ZMQError(98, "Address already in use")

    monkeypatch.setattr(AsyncKernelManager, "start_kernel", always)
    with pytest.raises(errors.KernelStartError, match="after 3 attempts: ZMQError: Address already in use"):
        run_kernels.StoreKernel.start(retries=2)


def test_real_notebooks_equal_plain_papermill(tmp_path):
    """The kit's own notebooks on a tiny synthetic dealer: the CSVs and kpis.json of
    `run_dealer` equal those of plain papermill runs of the same notebooks."""
    real = run_notebooks.notebooks_for(Path(__file__).resolve().parents[2])
    assert (real / "audit.ipynb").is_file()  # a renamed notebook fails here, never skips
    kit = make_kit(tmp_path / "kit", notebooks=None)
    synth = CliRunner().invoke(
        main, ["synth", str(kit), "--dealers", "1", "--customers", "40", "--seed", "3", "--quiet"]
    )
    assert synth.exit_code == 0, synth.output
    dealer = next((kit / "params" / "dealers").glob("*.yaml"))
    result = run_store.run_dealer(dealer, out=kit / "out", notebooks_dir=real)
    assert result.status == "ok", result.error
    store = Path(result.out_dir)
    plain = tmp_path / "plain"
    plain.mkdir()
    parameters = run_notebooks.notebook_parameters(dealer, None, None, plain, params.resolve(dealer_file=dealer))
    for nb_path, _, _ in run_notebooks.notebook_specs(real):
        papermill.execute_notebook(
            str(nb_path), str(plain / nb_path.name), parameters=parameters, progress_bar=False, cwd=str(kit)
        )
    produced = sorted(p.name for p in plain.iterdir() if p.suffix in (".csv", ".json"))
    assert "flags.csv" in produced and "kpis.json" in produced
    for name in produced:
        assert (store / name).read_bytes() == (plain / name).read_bytes(), name


def test_blocking_data_keeps_the_data_quality_page_for_diagnosis(tmp_path):
    """With the kit's notebooks, a store whose data blocks the audit publishes nothing, yet its
    data-quality page (made first, non-strictly) waits in _failed/ and names the problem."""
    real = run_notebooks.notebooks_for(Path(__file__).resolve().parents[2])
    assert (real / "data_quality.ipynb").is_file()  # a renamed notebook fails here, never skips
    kit = make_kit(tmp_path / "kit", notebooks=None)
    dealer = make_store(kit, "D009", broken="columns")
    result = run_store.run_dealer(dealer, out=kit / "out", notebooks_dir=real)
    assert result.status == "failed"
    assert result.error.startswith("audit.ipynb, cell ")
    failed = kit / "out" / "D009" / run_publish.FAILED_DIR
    assert sorted(p.name for p in (kit / "out" / "D009").iterdir()) == [run_publish.FAILED_DIR]
    page = (failed / "data_quality.html").read_text(encoding="utf-8")
    assert "sent_at" in page and "channel" in page
    assert (failed / "audit.ipynb").is_file()
