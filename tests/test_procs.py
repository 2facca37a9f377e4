"""procs.keep_freed_memory and one_arena (how the CLI and the kernels set the C allocator): harmless, and first."""

import subprocess
import sys

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


def _run(code: str, **env) -> str:
    import os

    clean = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "ARROW_DEFAULT_MEMORY_POOL")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**clean, **env})
    return out.stdout.strip()


def test_one_arena_puts_arrow_on_the_c_allocator_and_threads_still_compute_right():
    code = (
        "from ownercomm_kit.procs import one_arena; applied = one_arena();"
        "import numpy as np, pyarrow as pa, pyarrow.compute as pc;"
        "from concurrent.futures import ThreadPoolExecutor;"
        "f = lambda i: int(pc.sum(pa.array(np.arange(2_000_000) * i)).as_py() + (np.ones(3_000_000) * i).sum());"
        "r = list(ThreadPoolExecutor(2).map(f, range(6)));"
        "print(applied, pa.default_memory_pool().backend_name, sum(r))"
    )
    applied, backend, total = _run(code).split()
    want = sum(i * (2_000_000 * 1_999_999 // 2) + 3_000_000 * i for i in range(6))
    assert int(total) == want
    if sys.platform.startswith("linux"):
        assert (applied, backend) == ("True", "system")


def test_one_arena_leaves_the_users_own_settings_alone():
    code = (
        "import os; from ownercomm_kit.procs import one_arena; applied = one_arena();"
        "import pyarrow as pa; print(applied, pa.default_memory_pool().backend_name)"
    )
    assert _run(code, MALLOC_ARENA_MAX="4", ARROW_DEFAULT_MEMORY_POOL="mimalloc").split() == ["False", "mimalloc"]
    # the user's arena setting alone: Arrow keeps its own default pool (not swapped without the limit)
    default = _run("import pyarrow as pa; print(pa.default_memory_pool().backend_name)")
    assert _run(code, MALLOC_ARENA_MAX="2").split() == ["False", default]
    if sys.platform.startswith("linux"):  # the user's pool alone: the arena limit is still set
        assert _run(code, ARROW_DEFAULT_MEMORY_POOL="mimalloc").split() == ["True", "mimalloc"]


def test_the_kits_kernels_set_the_allocator_before_ipykernel_starts(monkeypatch):
    from ipykernel import kernelapp

    from ownercomm_kit import kernel_launcher, procs

    calls = []
    monkeypatch.setattr(procs, "one_arena", lambda: calls.append("one_arena"))
    monkeypatch.setattr(procs, "die_with_parent", lambda *a: calls.append("die_with_parent"))
    monkeypatch.setattr(kernelapp, "launch_new_instance", lambda: calls.append("kernel"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    kernel_launcher.main()
    assert calls.index("one_arena") < calls.index("kernel")


def test_every_command_of_the_cli_sets_the_allocator_first(monkeypatch):
    from click.testing import CliRunner

    from ownercomm_kit import procs
    from ownercomm_kit.cli import main

    calls = []
    monkeypatch.setattr(procs, "one_arena", lambda: calls.append("one_arena"))
    CliRunner().invoke(main, ["audit", "/nonexistent-folder-of-exports"])
    assert calls == ["one_arena"]
