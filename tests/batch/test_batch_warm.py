"""The batch's process warms the group step while the stores run (ownercomm_kit/batch/warm.py)."""

from __future__ import annotations

import subprocess
import sys


def test_warming_imports_the_group_step_and_builds_the_exporter():
    code = (
        "import sys\n"
        "from ownercomm_kit.batch import warm\n"
        "warm.warm_group_step('inline').join(300)\n"
        "from ownercomm_kit.report import export\n"
        "assert export.exporter.cache_info().currsize == 1\n"
        "assert export.plotlyjs_tag.cache_info().currsize == 1\n"
        "assert all(m in sys.modules for m in warm.MODULES), [m for m in warm.MODULES if m not in sys.modules]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_failure_while_warming_is_harmless(monkeypatch):
    from ownercomm_kit.batch import warm

    monkeypatch.setattr(warm, "MODULES", ("ownercomm_kit_no_such_module",))
    thread = warm.warm_group_step("inline")
    thread.join(60)
    assert not thread.is_alive()
