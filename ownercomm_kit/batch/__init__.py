"""`ownercomm batch`: every store of a dealer group, isolated, resumable, with a group index.

``group_file`` reads and checks a group file, ``batch`` runs its stores (``run_batch``) on an
executor of ``executors``, ``manifest`` records each store's outcome, ``index`` builds the
group's page.
"""

from .batch import BatchInterrupted, BatchResult, make_executor, run_batch
from .group_file import Group, read_group
from .manifest import INDEX, MANIFEST

__all__ = ["BatchInterrupted", "BatchResult", "Group", "INDEX", "MANIFEST", "make_executor", "read_group", "run_batch"]
