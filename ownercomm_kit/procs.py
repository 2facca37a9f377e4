"""Processes that die with their parent, a store's wall-time limit, one run per store at once.

What `ownercomm run` and `ownercomm batch` start, and how each goes away (SPEC §8 faults):

- Jupyter kernels are launched through :mod:`ownercomm_kit.kernel_launcher`, which asks Linux
  to SIGKILL the kernel when the process that started it dies (``prctl(PR_SET_PDEATHSIG)``),
  even by SIGKILL. Elsewhere ipykernel's own parent poller remains (it notices within seconds).
- The batch's process pool runs on a ``forkserver``. The fork server exits as soon as the
  batch process is gone (its "alive" pipe closes); each pool worker asks for SIGTERM when
  its parent (the fork server) dies (:func:`worker_init`), so a SIGKILLed batch takes its
  workers with it, and they take their kernels.
- A worker that gets SIGTERM (from the batch stopping it, or from its parent dying) unwinds
  the store it runs: the staging folder is removed, the kernel shut down, then it exits at
  once (:func:`call_in_worker`). An idle worker just exits.
- :func:`time_limit` bounds a whole store (kernel start, notebooks, HTML export) by wall time
  with ``SIGALRM`` in the main thread (pool workers and the CLI run stores there).
- :func:`store_lock`: a lock file beside the store's folder (the ``filelock`` library), so a
  second run of the same store into the same output folder says "already running".
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# Exit status of a process stopped by a signal, as a shell reports it.
EXIT_SIGTERM = 128 + signal.SIGTERM
EXIT_SIGINT = 128 + signal.SIGINT


# --------------------------------------------------------------------------- death signal


def set_death_signal(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False elsewhere.

    The "parent" is the thread that forked this process: start children from a thread that
    lives as long as the work (the main thread, here).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(sig: int, parent_pid: int | None) -> None:
    """:func:`set_death_signal`, and if the parent is already gone (it died before the call),
    the signal now."""
    set_death_signal(sig)
    if parent_pid and os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


def bound_kernel_argv(argv: list[str]) -> list[str]:
    """A kernel spec's command with ``-m ipykernel_launcher`` replaced by the kit's launcher
    (:mod:`ownercomm_kit.kernel_launcher`); any other command unchanged."""
    argv = list(argv)
    for i in range(len(argv) - 1):
        if argv[i] == "-m" and argv[i + 1] == "ipykernel_launcher":
            argv[i + 1] = "ownercomm_kit.kernel_launcher"
            break
    return argv


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- pool workers


class Terminated(KeyboardInterrupt):
    """Raised in a worker's main thread by SIGTERM while it runs a store: unwinds the store
    (its ``finally`` blocks remove the staging folder and shut the kernel down).

    A ``KeyboardInterrupt``: the runner lets those through instead of recording a failure."""


_worker_state = {"busy": False, "stopping": False}


def worker_init(batch_pid: int) -> None:
    """Initializer of a batch's pool worker: stop cleanly on SIGTERM, and get one when the
    batch process is gone.

    Two ways, either enough: the fork server exits once every holder of its "alive" pipe is
    gone, and each worker is handed a copy of that pipe, so the worker drops its copy and
    asks for SIGTERM at its parent's (the fork server's) death; and a watchdog thread checks
    every second that the batch process still runs (also where there is no ``prctl``).
    """
    signal.signal(signal.SIGTERM, _worker_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the batch, which stops us
    _drop_forkserver_alive_fd()
    die_with_parent(signal.SIGTERM, os.getppid())
    threading.Thread(target=_watch_batch, args=(batch_pid,), name="ownercomm-watchdog", daemon=True).start()


def _drop_forkserver_alive_fd() -> None:
    try:
        from multiprocessing import forkserver
    except ImportError:  # pragma: no cover - no fork server on this platform
        return
    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if server is not None and fd is not None and server._forkserver_pid is None:  # a child, not the server's owner
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None


def _watch_batch(batch_pid: int, every: float = 1.0) -> None:
    try:
        import psutil

        batch = psutil.Process(batch_pid)  # its create time is kept: a reused pid is not the batch
    except Exception:  # noqa: BLE001 - the batch is already gone, or no psutil
        batch = None
    while True:
        if batch is not None:
            try:
                running = batch.is_running() and batch.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                running = False
        else:
            running = pid_alive(batch_pid)
        if not running:
            os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread: unwind, exit
            return
        time.sleep(every)


def _worker_sigterm(signum, frame) -> None:
    if _worker_state["stopping"]:
        return  # already unwinding: let the cleanup finish
    _worker_state["stopping"] = True
    if _worker_state["busy"]:
        raise Terminated(f"signal {signum}")
    _exit_now()


def _exit_now() -> None:
    _close_kernels()
    os._exit(EXIT_SIGTERM)


def _close_kernels() -> None:
    kernels = sys.modules.get("ownercomm_kit.run.kernels")
    if kernels is not None:
        with contextlib.suppress(Exception):
            kernels.KERNELS.close()


def call_in_worker(fn: Callable, task):
    """``fn(task)`` in a pool worker; a SIGTERM meanwhile unwinds it and ends the process."""
    _worker_state["busy"] = True
    try:
        result = fn(task)
    except Terminated:
        _exit_now()
    finally:
        _worker_state["busy"] = False
    if _worker_state["stopping"]:  # the signal came while the store was finishing
        _exit_now()
    return result


# How long stopped workers get to unwind their store (staging removed, kernel shut down)
# before they are killed: a SIGTERM that lands inside the kernel client's event loop can be
# swallowed there, and the worker would then wait out its cell (seen under heavy load).
STOP_GRACE = 15.0


def stop_workers(processes, grace: float = STOP_GRACE) -> None:
    """SIGTERM to a pool's worker processes (``multiprocessing.Process`` objects, or a
    ``ProcessPoolExecutor``'s ``{pid: process}``); those still running after ``grace``
    seconds are killed (their kernels die with them), so a stop never waits on a cell."""
    if isinstance(processes, dict):
        processes = processes.values()
    processes = list(processes)
    for proc in processes:
        with contextlib.suppress(Exception):
            if proc.is_alive():
                proc.terminate()
    deadline = time.monotonic() + grace
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(max(0.0, deadline - time.monotonic()))
    for proc in processes:
        with contextlib.suppress(Exception):
            if proc.is_alive():
                proc.kill()
                proc.join(5.0)


def reap_children(grace: float = 10.0) -> list[int]:
    """After a stop: wait up to ``grace`` seconds for this process's descendants (workers,
    kernels) to end, then SIGKILL those left. Returns the pids that had to be killed."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - a dependency of the kit
        return []
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    _, alive = psutil.wait_procs(children, timeout=grace)
    killed = []
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
            killed.append(proc.pid)
    return killed


def stop_reason(error: BaseException) -> tuple[str, int]:
    """(what stopped us, exit status) for a ``KeyboardInterrupt`` raised by Ctrl-C or by
    :func:`sigterm_interrupts` (whose message is ``signal 15``)."""
    text = str(error)
    if text in (f"signal {int(signal.SIGTERM)}", "SIGTERM"):
        return "SIGTERM", EXIT_SIGTERM
    return "Ctrl-C", EXIT_SIGINT


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a scheduler stopping the job) unwinds like Ctrl-C while inside: staging folders
    are removed and kernels shut down instead of the process vanishing mid-write."""

    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def after_stop(grace: float = 2.0) -> None:
    """What a command does once a stop has unwound, before its one line: end what is left of
    its descendants, and keep asyncio from printing the interrupted cell's task (a "Task
    exception was never retrieved" with a traceback) when the process exits."""
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL + 1)
    reap_children(grace=grace)


# --------------------------------------------------------------------------- time limit

_limit = {"active": False, "shielded": 0, "pending": None}


@contextlib.contextmanager
def time_limit(seconds: float | None, on_expiry: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``on_expiry()`` in this (main) thread once ``seconds`` of wall time have passed.

    It fires once. Inside :func:`shielded` (a kernel shutting down, a folder being swapped
    in) it waits for the end of the shielded block. Outside the main thread (a Dask worker's
    thread) signals cannot be used: the caller's own deadline checks are then the only bound.
    """
    if (
        not seconds
        or threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "setitimer")
        or _limit["active"]
    ):
        yield
        return

    def _expired(signum, frame):
        if not _limit["active"]:
            return
        _limit["active"] = False
        if _limit["shielded"]:
            _limit["pending"] = on_expiry
            return
        raise on_expiry()

    previous = signal.signal(signal.SIGALRM, _expired)
    _limit.update(active=True, shielded=0, pending=None)
    signal.setitimer(signal.ITIMER_REAL, max(0.001, float(seconds)))
    try:
        yield
    finally:
        _limit.update(active=False, pending=None)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """A block the time limit does not interrupt (it fires at the block's end instead)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _limit["shielded"] += 1
    try:
        yield
    finally:
        _limit["shielded"] -= 1
        pending = _limit["pending"]
        if pending is not None and not _limit["shielded"]:
            _limit["pending"] = None
            raise pending()


def remaining(deadline: float | None, default: float) -> int:
    """Whole seconds left before ``deadline`` (``time.monotonic``), at most ``default``, at
    least 1 (nbclient takes its start-up timeout in whole seconds)."""
    if deadline is None:
        return max(1, math.ceil(default))
    return max(1, math.ceil(min(default, deadline - time.monotonic())))


# --------------------------------------------------------------------------- one run per store


class AlreadyRunning(Exception):
    pass


def lock_path(target: Path) -> Path:
    """``<out>/.<dealer_id>.lock``: beside the store folder (which a run swaps as a whole)."""
    return target.with_name(f".{target.name}.lock")


@contextlib.contextmanager
def store_lock(target: Path) -> Iterator[None]:
    """Hold the store's lock file for the run; another holder means ``AlreadyRunning``.

    An advisory OS lock (``flock``): it goes with its process, SIGKILL included, so a killed
    run never leaves a stale lock. The empty lock file itself stays.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_path(target)), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise AlreadyRunning(str(lock_path(target))) from None
    try:
        yield
    finally:
        lock.release()


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -3, -4, -8


@functools.cache
def _glibc():
    """(glibc's ``mallopt``, its ``malloc_trim``), or None elsewhere (musl, macOS, Windows);
    looked up once per process."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        try:
            libc = ctypes.CDLL("libc.so.6")  # glibc's name: no ldconfig subprocess as find_library runs
        except OSError:
            libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt, trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (musl has no mallopt)
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return mallopt, trim


def _mallopt():
    """glibc's ``mallopt`` (None elsewhere)."""
    found = _glibc()
    return found[0] if found else None


def one_arena() -> bool:
    """Have every thread of this process allocate from one C heap, and Arrow too, before any
    thread or Arrow buffer exists (the CLI and the kit's kernels call it first thing).

    The audit's rules, a parquet load's decoding and Arrow's own pool run on threads. By
    default glibc gives each thread an arena of its own, made of heaps of at most 64 MB that
    are given back as soon as their top is free, and Arrow's mimalloc gives freed pages back to
    the system too: freed blocks are seldom reused, and on a virtual machine the first touch of
    each fresh page costs system time. One arena reuses the threads' freed blocks below glibc's
    mmap threshold (at most 32 MB; bigger arrays are mapped fresh in any arena, unless
    ``keep_freed_memory`` is on, as in ``ownercomm audit``, where a thread's arena still had to
    map them: strace counted 9.9 GB mapped by one rule thread before, 0.29 GB by the whole
    process after). Measured in alternated runs: ``ownercomm audit`` of 10 million messages,
    system time 6.0-11.9 -> 4.2-4.6 s (wall 14.4-18.3 -> 13.4-14.5 s); the 100k-customer
    ``ownercomm run`` 28.6-31.2 -> 26.7-28.4 s, peak 3.96 -> 3.61 GB. Arrow's own pool is
    swapped only together with the arena limit: alone, it raised the peak.

    Both are also put in the environment, so that the processes this one starts (the batch's
    fork server and workers, the kernels) start with the two together. glibc only; a user's
    own ``MALLOC_ARENA_MAX`` or ``GLIBC_TUNABLES`` arena setting, or
    ``ARROW_DEFAULT_MEMORY_POOL``, is left as it is. Returns whether the arena limit was set."""
    if _users_glibc_settings(("MALLOC_ARENA_MAX",), ("glibc.malloc.arena_max",)):
        return False
    mallopt = _mallopt()
    if not (mallopt and mallopt(_M_ARENA_MAX, 1)):
        return False
    os.environ["MALLOC_ARENA_MAX"] = "1"  # read by glibc as a child process starts
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")  # read on Arrow's first allocation
    return True


def keep_freed_memory() -> bool:
    """Let the C allocator reuse the memory of freed arrays instead of giving it back to the
    system and asking for fresh pages again, until the process ends (glibc only; a no-op
    elsewhere).

    ``ownercomm audit`` of a big store makes and drops hundreds of arrays of millions of
    elements; by default glibc maps each one fresh and unmaps it when freed, and on a virtual
    machine the first touch of every fresh page costs system time (about a third of the command's CPU on
    10 million messages). With mmap off and no trimming, a freed array's pages stay in the
    process and serve the next allocation. Peak memory grows a little (freed blocks are not
    returned until exit). Returns whether the settings were applied.

    The kit's kernels live through a store's four notebooks: they keep freed memory only for
    the big steps, and give it back after each (``freed_memory_kept``)."""
    global _kept_for_good
    mallopt = _mallopt()
    if mallopt is None or _users_malloc_settings():
        return False
    with _kept_lock:  # not undone by a step ending at the same time
        _kept_for_good = _keep(mallopt)
    return _kept_for_good


# Set when a ``freed_memory_kept`` step ends: glibc's default mmap count, and fixed mmap and
# trim thresholds. glibc adjusts its thresholds as big blocks are freed (up to 32 MB and twice
# that) until a mallopt of the mmap count or a threshold turns the adjustment off for good, as
# the step's own does: so the process goes on with the values the adjustment reaches.
_DEFAULT_MMAP_MAX, _AFTER_MMAP_THRESHOLD, _AFTER_TRIM_THRESHOLD = 65536, 32 * 1024 * 1024, 64 * 1024 * 1024
_MALLOC_ENV = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")
_MALLOC_TUNABLES = ("glibc.malloc.mmap_max", "glibc.malloc.trim_threshold", "glibc.malloc.mmap_threshold")
_kept_for_good = False
_kept_depth = 0
_kept_lock = threading.Lock()


def _users_malloc_settings() -> bool:
    """The user set glibc's mmap or trim behaviour themselves: theirs stands."""
    return _users_glibc_settings(_MALLOC_ENV, _MALLOC_TUNABLES)


def _users_glibc_settings(env: tuple[str, ...], tunables: tuple[str, ...]) -> bool:
    """One of glibc's environment variables ``env``, or one of its ``tunables`` named in
    GLIBC_TUNABLES (``name=value:name=value``), is set by the user."""
    named = {t.split("=", 1)[0].strip() for t in os.environ.get("GLIBC_TUNABLES", "").split(":")}
    return any(k in os.environ for k in env) or any(t in named for t in tunables)


def _keep(mallopt) -> bool:
    """mmap off, no trimming (glibc takes its main arena's lock to change them: threads that
    allocate meanwhile are safe). All or nothing."""
    if mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1):
        return True
    mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
    return False


@contextlib.contextmanager
def freed_memory_kept() -> Iterator[bool]:
    """Within: as ``keep_freed_memory``, freed arrays' memory stays in the process for the next
    ones; after: mmap is on again (with fixed thresholds, see ``_AFTER_MMAP_THRESHOLD``) and
    what is free then is handed back to the system (``malloc_trim``); blocks that outlive the
    step (the sorted messages cached on the data, the flags) stay where they were made, and
    their memory returns to the heap when they are freed. Yields whether it applies (glibc, no
    setting of the user's, not already kept for good); nested steps keep it until the
    outermost ends.

    For the big steps of a long-lived process, a kernel that serves a store's four notebooks:
    the load (``loader.load_with_info``) and the audit's sort and rules (``run_rules_table``).
    On a virtual machine whose balloon takes freed pages back, every fresh page costs system
    time at first touch. The 100k-customer store, alternated: the audit cell 12.4-12.7 ->
    10.6-10.7 s in one process; ``ownercomm run`` 25.9-28.8 -> 23.9-26.5 s in nine pairs, its
    peak 3.56-3.61 -> 3.64-3.73 GB. The load (its parquet buffers were mapped fresh and
    unmapped again: 1.07 million page faults for 2 GB kept) 8.5 -> 6.4 s in one process, CPU
    13.3 -> 9.8 s, the process's peak with the audit after it 3.20 -> 3.26 GB; ``ownercomm
    run`` 33.8-38.3 -> 31.2-36.4 s in six pairs (three more, an hour later on a slower host: no
    difference), its peak 3.32-3.58 -> 3.49-3.63 GB (a step around the load alone: kept for
    good through the audit, it came near 3.9 GB). Tried, no gain: the retention notebook."""
    global _kept_depth
    mallopt = _mallopt()
    applies = mallopt is not None and not _kept_for_good and not _users_malloc_settings()
    if applies:
        with _kept_lock:
            if _kept_depth == 0 and not _keep(mallopt):
                applies = False
            else:
                _kept_depth += 1
    try:
        yield applies
    finally:
        if applies:
            with _kept_lock:
                _kept_depth -= 1
                if _kept_depth == 0 and not _kept_for_good:  # keep_freed_memory meanwhile: kept
                    mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                    mallopt(_M_MMAP_THRESHOLD, _AFTER_MMAP_THRESHOLD)
                    mallopt(_M_TRIM_THRESHOLD, _AFTER_TRIM_THRESHOLD)
                    _malloc_trim()


def _malloc_trim() -> None:
    found = _glibc()
    if found:
        found[1](0)
