"""procs.keep_freed_memory, freed_memory_kept and one_arena (how the CLI, the rules and the kernels set the C allocator): harmless, and first."""

import platform
import subprocess
import sys

import pytest

from ownercomm_kit.procs import keep_freed_memory


def test_keep_freed_memory_is_safe_to_call_twice():
    first = keep_freed_memory()
    assert isinstance(first, bool)
    assert keep_freed_memory() == first
    if sys.platform.startswith("linux"):
        # big arrays are still allocated, filled and freed normally afterwards
        code = (
            "from ownercomm_kit.procs import keep_freed_memory as k; import numpy as np;"
            "k(); a = [np.arange(3_000_000) * i for i in range(4)]; del a[1:3];"
            "b = np.ones(5_000_000); print(int(a[-1][-1] + b.sum()))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == str(2_999_999 * 3 + 5_000_000)


GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def _run(code: str, **env) -> str:
    """``code``'s output in a fresh Python, none of the runner's own allocator settings kept."""
    import os

    ours = ("ARROW_DEFAULT_MEMORY_POOL", "GLIBC_TUNABLES", "LD_PRELOAD")  # LD_PRELOAD: another allocator
    clean = {k: v for k, v in os.environ.items() if k not in ours and not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**clean, **env})
    return out.stdout.strip()


def test_one_arena_puts_arrow_on_the_c_allocator_and_threads_still_compute_right():
    code = (
        "from ownercomm_kit.procs import one_arena; applied = one_arena();"
        "import numpy as np, pyarrow as pa, pyarrow.compute as pc;"
        "from concurrent.futures import ThreadPoolExecutor;"
        "f = lambda i: int(pc.sum(pa.array(np.arange(2_000_000) * i)).as_py() + (np.ones(3_000_000) * i).sum());"
        "r = list(ThreadPoolExecutor(2).map(f, range(6)));"
        "import os; print(applied, pa.default_memory_pool().backend_name, sum(r), os.environ.get('MALLOC_ARENA_MAX'))"
    )
    applied, backend, total, env = _run(code).split()
    want = sum(i * (2_000_000 * 1_999_999 // 2) + 3_000_000 * i for i in range(6))
    assert int(total) == want
    if GLIBC:  # and the processes it starts get the limit with the pool (MALLOC_ARENA_MAX)
        assert (applied, backend, env) == ("True", "system", "1")
    else:
        assert (applied, env) == ("False", "None")


def test_a_child_of_the_cli_starts_with_both_settings_together():
    code = (
        "import subprocess, sys; from ownercomm_kit.procs import one_arena; one_arena();"
        "print(subprocess.run([sys.executable, '-c', 'import os, pyarrow as pa; from ownercomm_kit.procs import one_arena;"
        ' print(one_arena(), os.environ.get("MALLOC_ARENA_MAX"), pa.default_memory_pool().backend_name)\'],'
        " capture_output=True, text=True, check=True).stdout)"
    )
    out = _run(code).split()
    if GLIBC:  # the child's glibc read the limit at its start; its call is then a no-op
        assert out == ["False", "1", "system"]


def test_one_arena_leaves_the_users_own_settings_alone():
    code = (
        "import os; from ownercomm_kit.procs import one_arena; applied = one_arena();"
        "import pyarrow as pa; print(applied, pa.default_memory_pool().backend_name)"
    )
    assert _run(code, MALLOC_ARENA_MAX="4", ARROW_DEFAULT_MEMORY_POOL="mimalloc").split() == ["False", "mimalloc"]
    # the user's arena setting alone: Arrow keeps its own default pool (not swapped without the limit)
    default = _run("import pyarrow as pa; print(pa.default_memory_pool().backend_name)")
    assert _run(code, MALLOC_ARENA_MAX="2").split() == ["False", default]
    assert _run(code, GLIBC_TUNABLES="glibc.malloc.arena_max=2").split() == ["False", default]
    if GLIBC:  # the user's pool alone: the arena limit is still set
        assert _run(code, ARROW_DEFAULT_MEMORY_POOL="mimalloc").split() == ["True", "mimalloc"]


def test_the_kits_kernels_set_the_allocator_before_ipykernel_starts(monkeypatch):
    from ipykernel import kernelapp

    from ownercomm_kit import kernel_launcher, lean, procs

    calls = []
    monkeypatch.setattr(procs, "one_arena", lambda: calls.append("one_arena"))
    monkeypatch.setattr(procs, "die_with_parent", lambda *a: calls.append("die_with_parent"))
    monkeypatch.setattr(lean, "skip_iri_grammar", lambda: calls.append("lean"))
    monkeypatch.setattr(lean, "skip_kernel_debugger", lambda: calls.append("lean"))
    monkeypatch.setattr(kernelapp, "launch_new_instance", lambda: calls.append("kernel"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    kernel_launcher.main()
    assert calls.index("one_arena") < calls.index("kernel")


def _command_names() -> list[str]:
    from ownercomm_kit.commands import COMMANDS

    return [c.name for c in COMMANDS]


@pytest.mark.parametrize("command", _command_names())
def test_every_command_of_the_cli_sets_the_allocator_first(monkeypatch, command):
    from click.testing import CliRunner

    from ownercomm_kit import procs
    from ownercomm_kit.cli import main

    calls = []
    monkeypatch.setattr(procs, "one_arena", lambda: calls.append("one_arena"))
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and calls == ["one_arena"]


@pytest.mark.parametrize("command, load", [("audit", "load_dealer"), ("validate", "load_with_info")])
def test_the_one_shot_commands_keep_freed_memory_before_they_load(monkeypatch, tmp_path, command, load):
    """``ownercomm audit`` and ``validate`` are one load (and the rules) in a process of their
    own: freed memory is kept for the whole process, set before the load."""
    from click.testing import CliRunner

    from ownercomm_kit import loader, procs
    from ownercomm_kit.cli import main

    calls = []
    monkeypatch.setattr(procs, "keep_freed_memory", lambda: calls.append("keep") or True)

    def loading(*a, **k):
        calls.append("load")
        raise SystemExit(0)  # enough: the order is what is checked

    monkeypatch.setattr(loader, load, loading)
    result = CliRunner().invoke(main, [command, str(tmp_path), "--timezone", "America/Chicago"])
    assert result.exit_code == 0 and calls == ["keep", "load"]


# A fresh Python that reports where an allocation came from: glibc's mallinfo2() counts the bytes
# of mapped blocks (hblkhd); an array taken from the heap does not add to it.
_MAPPED = (
    "import ctypes, numpy as np\n"
    "class MI(ctypes.Structure):\n"
    "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost'.split())]\n"
    "libc = ctypes.CDLL('libc.so.6'); libc.mallinfo2.restype = MI\n"
    "def where(mb=64):\n"
    "    before = libc.mallinfo2().hblkhd; a = np.ones(mb * 125_000); grew = libc.mallinfo2().hblkhd - before\n"
    "    del a; return 'mapped' if grew >= mb * 1_000_000 else 'heap'\n"
)
HAS_MALLINFO2 = GLIBC and tuple(int(x) for x in platform.libc_ver()[1].split(".")[:2]) >= (2, 33)


@pytest.mark.skipif(not HAS_MALLINFO2, reason="glibc >= 2.33 (mallinfo2) tells where a block came from")
def test_freed_memory_kept_within_a_step_and_mmap_back_after():
    code = _MAPPED + (
        "from ownercomm_kit.procs import freed_memory_kept\n"
        "seen = [where()]  # glibc's default: mapped\n"
        "with freed_memory_kept() as outer:\n"
        "    with freed_memory_kept() as inner:\n"
        "        seen.append(where())\n"
        "    seen.append(where())  # the outer step still keeps it\n"
        "seen += [where(), where(24)]  # mapped again above the fixed 32 MB threshold, from the heap below\n"
        "try:\n"
        "    with freed_memory_kept():\n"
        "        raise ValueError\n"
        "except ValueError:\n"
        "    pass\n"
        "seen.append(where())  # a step that failed turns mmap back on too\n"
        "print(outer, inner, *seen)\n"
    )
    assert _run(code).split() == ["True", "True", "mapped", "heap", "heap", "mapped", "heap", "mapped"]


@pytest.mark.skipif(not HAS_MALLINFO2, reason="glibc >= 2.33 (mallinfo2) tells where a block came from")
def test_freed_memory_kept_leaves_memory_kept_for_good_and_the_users_settings():
    kept_for_good = _MAPPED + (
        "from ownercomm_kit.procs import freed_memory_kept, keep_freed_memory\n"
        "keep_freed_memory()\n"
        "with freed_memory_kept() as applies:\n"
        "    pass\n"
        "print(applies, where())  # ownercomm audit: kept until the process ends\n"
    )
    assert _run(kept_for_good).split() == ["False", "heap"]
    users = _MAPPED + (
        "from ownercomm_kit.procs import freed_memory_kept, keep_freed_memory\n"
        "with freed_memory_kept() as applies:\n"
        "    inside = where()\n"
        "print(applies, keep_freed_memory(), inside)\n"
    )
    # the user's own mmap setting stands (here: map every block of 1 MB and more)
    assert _run(users, MALLOC_MMAP_THRESHOLD_="1048576").split() == ["False", "False", "mapped"]
    assert _run(users, GLIBC_TUNABLES="glibc.malloc.mmap_threshold=1048576").split() == ["False", "False", "mapped"]
