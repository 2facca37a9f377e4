"""procs.keep_freed_memory (``ownercomm audit`` asks glibc to keep freed memory for reuse): harmless."""

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
