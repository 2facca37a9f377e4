"""Faults of the machine (SPEC §8, issue 10 item 6): kills, time limits, full or read-only
disks, two runs of one store at once. Real processes wherever it matters.

What each test really exercises is said in its docstring. The full-disk and read-only
tests mount a small tmpfs in a private user and mount namespace (``unshare -Urm``), so the
kit meets a real ENOSPC / EROFS from the kernel (tests run as root, whom chmod does not
stop); where unprivileged namespaces are not allowed they are skipped, and the in-process
tests that inject the OSError at the runner's write layer still run.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from click.testing import CliRunner

from ownercomm_kit import errors, procs
from ownercomm_kit.run import engine as run_engine
from ownercomm_kit.run import kernels as run_kernels
from ownercomm_kit.run import publish as run_publish
from ownercomm_kit.run import resume as run_resume
from ownercomm_kit.run import store as run_store
from ownercomm_kit.cli import main

from helpers.batch import make_group, make_kit, make_store, tree  # noqa: E402

pytestmark = pytest.mark.slow

OWNERCOMM = str(Path(sys.executable).parent / "ownercomm")
WAIT = 180  # upper bound of a wait for a state (never a timing assertion)


@pytest.fixture
def kit(tmp_path):
    return make_kit(tmp_path / "kit")


def _slow_for(kit: Path, seconds: float, *, except_for: str | None = None, after: str = "audit") -> None:
    """Append a sleep to the kit's ``after`` notebook (its outputs are written by then);
    the store ``except_for`` does not sleep."""
    path = kit / "notebooks" / f"{after}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cond = f"if dealer_id != {except_for!r}:\n    " if except_for else ""
    nb.cells.append(nbformat.v4.new_code_cell(f"import time\n{cond}time.sleep({seconds})"))
    nbformat.write(nb, path)


def _wait_for(what, check, proc=None):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"the command ended ({proc.returncode}) before {what}: {out}")
        time.sleep(0.2)
    pytest.fail(f"never saw {what}")


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(procs_: list[psutil.Process]) -> list[str]:
    gone, alive = psutil.wait_procs(procs_, timeout=WAIT)
    return [
        f"{p.pid} {' '.join(p.cmdline()[:4])}" for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    ]


def _half_written(folder: Path) -> list[str]:
    """Staging folders, temporary files, and published stores whose run record lists a file
    that is not there or a notebook that does not parse."""
    bad = [
        str(p)
        for p in folder.rglob("*")
        if ".partial-" in p.name or p.name.endswith(".tmp") or ".old-" in p.name or ".new-" in p.name
    ]
    for record in folder.rglob(run_resume.RUN_RECORD):
        doc = json.loads(record.read_text())
        for name in doc["outputs"]:
            path = record.parent / name
            if not path.is_file():
                bad.append(f"missing {path}")
            elif path.suffix == ".ipynb":
                json.loads(path.read_bytes())
            elif path.suffix == ".html" and not path.read_text().rstrip().endswith("</html>"):
                bad.append(f"cut short: {path}")
    return bad


# --------------------------------------------------------------------------- kills


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_batch_leaves_no_process_and_no_half_written_file(kit, sig):
    """A real `ownercomm batch` of three stores on two workers: D001 finishes, D002 and D003
    hang in their audit notebook. The batch process alone gets the signal (not its group):
    every descendant it had (fork server, workers, kernels) must end by itself. On SIGTERM
    the batch also says so in one line, exits 143 and writes the manifest of what finished."""
    for d in ("D001", "D002", "D003"):
        make_store(kit, d)
    group = make_group(kit, "g", ["D001", "D002", "D003"])
    _slow_for(kit, 600, except_for="D001")
    out = kit / "out"
    proc = subprocess.Popen(
        [OWNERCOMM, "batch", str(group), "--out", str(out), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for("D001 published", lambda: (out / "g" / "D001" / run_resume.RUN_RECORD).is_file(), proc)
        _wait_for(
            "a hanging store with its audit outputs",
            lambda: [p for p in (out / "g").glob(".D00*.partial-*") if (p / "flags.csv").exists()],
            proc,
        )
        family = _descendants(proc.pid)
        kernels = [p for p in family if "kernel_launcher" in " ".join(p.cmdline())]
        assert len(kernels) >= 1, [p.cmdline() for p in family]
        os.kill(proc.pid, sig)
        output, _ = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not _alive(family), "processes left behind"
    assert not _half_written(out)
    assert (out / "g" / "D001" / "audit.html").is_file()
    assert not (out / "g" / "D002").exists() and not (out / "g" / "D003").exists()
    if sig == signal.SIGTERM:
        assert proc.returncode == procs.EXIT_SIGTERM, output
        assert "Traceback" not in output
        assert "stopped by SIGTERM: 1 store finished, recorded in" in output
        manifest = json.loads((out / "g" / "manifest.json").read_text())
        assert [(s["dealer_id"], s["status"]) for s in manifest["stores"]] == [("D001", "ok")]
        assert manifest["stopped"] == {"by": "SIGTERM", "not_finished": ["D002", "D003"]}
    else:
        assert proc.returncode == -signal.SIGKILL


def test_sigkilled_run_leaves_no_kernel(kit):
    """`ownercomm run` SIGKILLed while its notebook runs: the kernel (in its own session, so
    a signal to the run's group would not reach it) dies with it; the next run cleans the
    staging folder SIGKILL could not remove and succeeds."""
    dealer = make_store(kit, "D001")
    _slow_for(kit, 600)
    out = kit / "out"
    proc = subprocess.Popen(
        [OWNERCOMM, "run", str(dealer), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(
            "the audit's outputs", lambda: [p for p in out.glob(".D001.partial-*") if (p / "flags.csv").exists()], proc
        )
        family = _descendants(proc.pid)
        assert any("kernel_launcher" in " ".join(p.cmdline()) for p in family)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not _alive(family)
    assert not (out / "D001").exists()
    (kit / "notebooks").rename(kit / "slow")
    make_kit(kit)  # the plain fixture notebooks again
    assert run_store.run_dealer(dealer, out=out).status == "ok"
    assert not _half_written(out)


def test_sigterm_run_says_so_without_traceback(kit):
    dealer = make_store(kit, "D001")
    _slow_for(kit, 600)
    out = kit / "out"
    proc = subprocess.Popen(
        [OWNERCOMM, "run", str(dealer), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for(
            "the audit's outputs", lambda: [p for p in out.glob(".D001.partial-*") if (p / "flags.csv").exists()], proc
        )
        family = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == procs.EXIT_SIGTERM
    assert output.strip() == "stopped by SIGTERM: nothing was published, the last good reports are unchanged"
    assert not _alive(family)
    assert not _half_written(out) and not (out / "D001").exists()


# --------------------------------------------------------------------------- time limit


@pytest.mark.parametrize("command", ["run", "batch"])
@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_timeout_must_be_a_positive_number(kit, command, value):
    target = make_store(kit, "D001") if command == "run" else make_group(kit, "g", ["D001"])
    make_store(kit, "D001")
    r = CliRunner().invoke(main, [command, str(target), "--timeout", value, "--out", str(kit / "out")])
    assert r.exit_code == 2
    assert "Invalid value for '--timeout'" in r.output and "Traceback" not in r.output
    assert not (kit / "out").exists()


def test_timeout_covers_the_kernel_start(kit, monkeypatch):
    """The kernel start is inside the store's limit: a start that hangs (made to, in this
    process) fails the store with the limit's message instead of waiting for the start-up
    timeout; nothing is published and nothing is kept."""
    dealer = make_store(kit, "D001")

    def hang(*a, **k):
        time.sleep(600)

    monkeypatch.setattr(run_kernels.KERNELS, "take", hang)
    result = run_store.run_dealer(dealer, out=kit / "out", timeout=1)
    assert result.status == "failed"
    assert result.error.startswith("time limit of 1 s reached for the whole store")
    assert not (kit / "out" / "D001").exists() and not _half_written(kit / "out")


def test_timeout_covers_the_export_and_keeps_no_cut_page(kit, monkeypatch):
    """The HTML export is inside the limit too. The page's write is made to hang once its
    bytes are in the temporary file (``os.fsync`` sleeps, in this process: the kernel is
    another process): the limit stops it there, the atomic writer removes its temporary
    file, no page is kept, the executed notebooks (whole) are."""
    dealer = make_store(kit, "D001")
    monkeypatch.setattr(os, "fsync", lambda fd: time.sleep(600))
    # a limit the first notebook surely meets on a loaded machine: the export is where it hangs
    result = run_store.run_dealer(dealer, out=kit / "out", timeout=60)
    assert result.status == "failed" and result.error.startswith("time limit of 60 s reached"), result.error
    failed = kit / "out" / "D001" / run_publish.FAILED_DIR
    kept = sorted(p.name for p in failed.iterdir())
    assert kept == ["audit.ipynb"], kept
    for p in failed.glob("*.ipynb"):
        nbformat.read(p, as_version=4)  # whole notebooks only
    assert not _half_written(kit / "out")


def test_time_limit_waits_for_a_shielded_block():
    """The limit fires once, and not inside a shielded block (a kernel shutting down): it is
    raised when the block ends."""

    class Stop(BaseException):
        pass

    seen = []
    with pytest.raises(Stop):
        with procs.time_limit(0.05, Stop):
            with procs.shielded():
                time.sleep(0.3)
                seen.append("shielded block finished")
            seen.append("not reached")
    assert seen == ["shielded block finished"]
    with procs.time_limit(30, Stop):  # nothing fires once the block is left
        pass
    time.sleep(0.01)


# --------------------------------------------------------------------------- full or read-only disk


def _unshare_ok() -> bool:
    try:
        r = subprocess.run(
            ["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && echo ok"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.stdout.strip() == "ok"


needs_namespace = pytest.mark.skipif(
    sys.platform != "linux" or not _unshare_ok(), reason="no unprivileged user+mount namespace to mount a small tmpfs"
)


def _in_namespace(mountpoint: Path, mount_opts: str, commands: list[list[str]]) -> subprocess.CompletedProcess:
    """Run ``commands`` in a private mount namespace where ``mountpoint`` is a fresh tmpfs
    (``mount_opts``); print each command's exit code, then every file left in the tmpfs."""
    script = [f"mount -t tmpfs -o {mount_opts} tmpfs {shlex.quote(str(mountpoint))} || exit 99"]
    for cmd in commands:
        if cmd[0] == "REMOUNT":
            script.append(f"mount -o remount,{cmd[1]} {shlex.quote(str(mountpoint))}")
            continue
        script.append(" ".join(shlex.quote(c) for c in cmd) + '; echo "EXIT=$?"')
    script.append(f"echo FILES; cd {shlex.quote(str(mountpoint))} && find . -mindepth 1 | sort")
    mountpoint.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["unshare", "-Urm", "sh", "-c", "\n".join(script)], capture_output=True, text=True, timeout=900
    )


def _files_left(stdout: str) -> list[str]:
    return stdout.split("FILES\n", 1)[1].split()


@needs_namespace
@pytest.mark.parametrize("size", ["12k", "600k"], ids=["full-in-the-notebook", "full-at-the-export"])
def test_full_disk_is_one_line_and_keeps_no_cut_copy(kit, tmp_path, size):
    """A real full disk: the output folder is a tmpfs of ``size``. With 12k the notebook's
    own CSV writing hits ENOSPC in the kernel, then papermill's saving of the executed
    notebook hits it too (that OSError is what the runner sees; the kernel-side text alone
    is covered by test_write_faults_are_told_apart_from_input_problems); with 600k the
    runner's HTML export does. Either way: exit 1, one line naming the folder and what to
    do, no traceback, and nothing but the lock file in the folder (no _failed/, no cut copy)."""
    dealer = make_store(kit, "D001", messages=400)
    mnt = tmp_path / "small"
    r = _in_namespace(mnt, f"size={size}", [[OWNERCOMM, "run", str(dealer), "--out", str(mnt)]])
    assert "EXIT=1" in r.stdout, r.stdout + r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert r.stderr.strip() == (
        f"D001: FAILED: cannot write the reports to {mnt}: no space left on the disk "
        "(ENOSPC); free some space there or choose another folder with --out"
    ), r.stderr
    assert _files_left(r.stdout) == ["./.D001.lock"]


@needs_namespace
def test_read_only_output_folder_is_one_line_and_keeps_the_reports(kit, tmp_path):
    """A real read-only file system: a good run, then the folder is remounted read-only and
    the store forced again: exit 1, one line, the reports as they were."""
    dealer = make_store(kit, "D001")
    mnt = tmp_path / "ro"
    listing = [["sh", "-c", f"cd {shlex.quote(str(mnt))} && find . -type f | sort | xargs md5sum"]]
    r = _in_namespace(
        mnt,
        "size=64m",
        [
            [OWNERCOMM, "run", str(dealer), "--out", str(mnt)],
            *listing,
            ["REMOUNT", "ro"],
            [OWNERCOMM, "run", str(dealer), "--out", str(mnt), "--force"],
            *listing,
        ],
    )
    codes = [line for line in r.stdout.splitlines() if line.startswith("EXIT=")]
    assert codes == ["EXIT=0", "EXIT=0", "EXIT=1", "EXIT=0"], r.stdout + r.stderr
    # stdout: run 1's line, EXIT=0, checksums, EXIT=0, (run 2 writes to stderr) EXIT=1, checksums, EXIT=0
    before = r.stdout.split("EXIT=0\n")[1]
    after = r.stdout.split("EXIT=1\n")[1].split("EXIT=0\n")[0]
    assert before and before == after, "the reports changed"
    assert "Traceback" not in r.stderr
    assert r.stderr.strip() == (
        f"D001: FAILED: cannot write the reports to {mnt}: the folder is read-only (EROFS); "
        "choose a folder you can write to with --out"
    )


@needs_namespace
def test_batch_into_a_read_only_folder_is_one_line(kit, tmp_path):
    """`ownercomm batch` into a real read-only file system: its group folder cannot be made;
    one line naming it, exit 1, no traceback, nothing run."""
    make_store(kit, "D001")
    group = make_group(kit, "g", ["D001"])
    mnt = tmp_path / "ro"
    r = _in_namespace(mnt, "ro,size=1m", [[OWNERCOMM, "batch", str(group), "--out", str(mnt)]])
    assert "EXIT=1" in r.stdout, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        f"cannot write the reports to {mnt}: the folder is read-only "
        "(EROFS); choose a folder you can write to with --out"
    )
    assert _files_left(r.stdout) == []


def test_full_disk_at_the_runner_write_layer(kit, monkeypatch):
    """Injected, in this process: the HTML export's write fails with ENOSPC after writing
    half the page. The last good report stays byte for byte, nothing is kept in _failed/,
    no staging folder remains, and the reason is one line naming the output folder."""
    dealer = make_store(kit, "D001")
    out = kit / "out"
    assert run_store.run_dealer(dealer, out=out).status == "ok"
    before = tree(out / "D001")

    def full(text, path):
        Path(path).write_text(text[:1000])
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(run_engine, "_atomic_write", full)
    result = run_store.run_dealer(dealer, out=out, force=True)
    assert result.status == "failed"
    assert result.error == (
        f"cannot write the reports to {out}: no space left on the disk (ENOSPC); "
        "free some space there or choose another folder with --out"
    )
    assert tree(out / "D001") == before
    assert not (out / "D001" / run_publish.FAILED_DIR).exists() and not _half_written(out)


def test_unwritable_output_folder_in_the_cli_is_one_line(kit):
    """A folder under /sys cannot be made, even by root (EPERM): `run` and `batch` say so in
    one line (this is the early check only: the folder never exists)."""
    make_store(kit, "D001")
    group = make_group(kit, "g", ["D001"])
    cli = CliRunner()
    r = cli.invoke(main, ["run", str(kit / "params" / "dealers" / "D001.yaml"), "--out", "/sys/ownercomm-out"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.strip() == (
        "D001: FAILED: cannot write the reports to /sys/ownercomm-out: no permission to "
        "write there (EPERM); choose a folder you can write to with --out"
    )
    b = cli.invoke(main, ["batch", str(group), "--out", "/sys/ownercomm-out"])
    assert b.exit_code == 1 and isinstance(b.exception, SystemExit), b.output
    assert b.output.strip().splitlines()[-1].startswith("cannot use /sys/ownercomm-out: permission denied (EPERM)")
    assert "Traceback" not in b.output


def test_write_faults_are_told_apart_from_input_problems(tmp_path):
    out = tmp_path / "out"
    full = OSError(errno.ENOSPC, "No space left on device", "/anywhere/x")
    assert "no space left" in str(errors.output_error(full, out))
    denied_out = PermissionError(errno.EACCES, "Permission denied", str(out / ".D1.partial-1-a" / "flags.csv"))
    assert "no permission to write" in str(errors.output_error(denied_out, out))
    denied_in = PermissionError(errno.EACCES, "Permission denied", "/data/D1/sales.csv")
    assert errors.output_error(denied_in, out) is None
    text = f"audit.ipynb, cell 4: OSError: [Errno 28] No space left on device: '{out}/.D1.partial-1-a/flags.csv'"
    assert "ENOSPC" in str(errors.output_error_in_text(None, text, out))
    assert errors.output_error_in_text(None, "audit.ipynb, cell 4: KeyError: 'x'", out) is None
    assert (
        errors.output_error_in_text(None, "cell 2: PermissionError: [Errno 13] Permission denied: '/data/a.csv'", out)
        is None
    )


# --------------------------------------------------------------------------- one run per store


def test_second_run_of_the_same_store_says_already_running(kit):
    """Two real runs of one store into one output folder: the second says "already running"
    (exit 1, no traceback) and touches nothing; another output folder is not blocked."""
    dealer = make_store(kit, "D001")
    _slow_for(kit, 600)
    out = kit / "out"
    first = subprocess.Popen(
        [OWNERCOMM, "run", str(dealer), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for("the first run's staging", lambda: list(out.glob(".D001.partial-*")), first)
        staging = sorted(out.glob(".D001.partial-*"))
        second = subprocess.run(
            [OWNERCOMM, "run", str(dealer), "--out", str(out), "--force"], capture_output=True, text=True, timeout=WAIT
        )
        assert second.returncode == 1
        assert "Traceback" not in second.stderr
        assert second.stderr.startswith(f"D001: FAILED: already running: another run of D001 is writing to {out}")
        assert sorted(out.glob(".D001.partial-*")) == staging, "the second run touched the first one's staging"
        (kit / "elsewhere").mkdir()
        with procs.store_lock(kit / "elsewhere" / "D001"):
            pass  # another output folder: its own lock, free
    finally:
        os.kill(first.pid, signal.SIGTERM)
        first.wait(timeout=WAIT)


def test_store_lock_is_released_when_its_holder_dies(tmp_path):
    """A lock held by a SIGKILLed process is free at once (an OS lock, not a marker file)."""
    target = tmp_path / "D001"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib\nfrom ownercomm_kit import procs\n"
            f"with procs.store_lock(pathlib.Path({str(target)!r})):\n"
            "    print('held', flush=True)\n    time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(procs.AlreadyRunning):
        with procs.store_lock(target):
            pass
    holder.kill()
    holder.wait()
    with procs.store_lock(target):
        pass
