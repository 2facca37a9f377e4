"""``python -m ownercomm_kit.kernel_launcher -f CONNECTION_FILE``: ipykernel, bound to its parent.

The kit starts its kernels with this instead of ``-m ipykernel_launcher``: the kernel asks
Linux for SIGKILL when the process that launched it (a CLI run or a batch worker) dies, even
by SIGKILL, so a killed run leaves no kernel behind; and it skips an unused, slow optional
import and the debugger's (``ownercomm_kit.lean``). Otherwise it is ipykernel unchanged.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    from ownercomm_kit.procs import die_with_parent, one_arena

    one_arena()  # first, before ipykernel's threads and Arrow's first buffer (see procs; a no-op when
    # the launching CLI already put it in the environment, which glibc read at this process's start)

    parent = os.environ.get("JPY_PARENT_PID")  # set by jupyter_client to the launching process
    die_with_parent(signal.SIGKILL, int(parent) if parent and parent.isdigit() else None)
    if sys.path and (sys.path[0] == "" or os.path.abspath(sys.path[0]) == os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does: the working folder is not a package path
    from ownercomm_kit.lean import skip_iri_grammar, skip_kernel_debugger

    skip_iri_grammar()  # before the kernel imports nbformat (plotly's renderers do)
    skip_kernel_debugger()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
