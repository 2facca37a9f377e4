"""The kit's exceptions, in one place, and the faults of the machine (a full disk, a read-only
output folder).

Each kind of failure has its exception; ``kind`` is what a store's structured failure
(``run.failure``) records and what the CLI, the manifest and the group index branch on:

- ``DataError`` (``data``): blocking problems in a dealer's data, every one listed;
- ``ParamsError`` (``params``): problems in the parameter files, every one listed;
- ``StoreTimeout`` (``timeout``): a store ran past its whole-store time limit;
- ``KernelError`` (``kernel``): the notebooks' kernel did not start, or failed its set-up;
- ``OutputError`` (``output``): the output folder cannot take the reports;
- anything else is ``other``.

A machine fault is said in one line naming the folder and what to do (SPEC §8 faults),
whether the error happened in this process (``OSError``) or inside a notebook's kernel
(where only the error's name and text come back).
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from .words import plural

# errno -> (what it means, what to do)
_DISK_FULL = ("no space left on the disk", "free some space there or choose another folder with --out")
_READ_ONLY = ("the folder is read-only", "choose a folder you can write to with --out")
_NO_RIGHT = ("no permission to write there", "choose a folder you can write to with --out")
OUTPUT_ERRNOS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: _DISK_FULL,
    errno.EDQUOT: ("the disk quota is used up", "free some space there or choose another folder with --out"),
    errno.EFBIG: ("a file is larger than this file system allows", "choose another folder with --out"),
    errno.EROFS: _READ_ONLY,
    errno.EACCES: _NO_RIGHT,
    errno.EPERM: _NO_RIGHT,
}
# Errors that can only come from writing (reading never fills a disk): said whatever the path.
WRITE_ONLY_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


class KitError(Exception):
    """Base of the kit's own errors; ``kind`` names the kind of failure it is."""

    kind = "other"


class DataError(KitError):
    """Blocking data problems; ``problems`` lists every one of them (``data.Problem``)."""

    kind = "data"

    def __init__(self, problems: list):
        self.problems = problems
        errors = [p for p in problems if p.level == "error"]
        super().__init__(f"{plural(len(errors), 'blocking data problem')}\n" + "\n".join(str(p) for p in errors))


class ParamsError(KitError):
    """One or more problems in parameter files; ``problems`` lists them all."""

    kind = "params"

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class KernelError(KitError):
    """The kernel the notebooks run in did not come up, or its set-up failed."""

    kind = "kernel"


class KernelStartError(KernelError):
    """The kernel did not start (after the bounded retries)."""


class StoreFailure(KitError):
    """A store could not be run: ``failure`` (a ``run.failure.Failure``) says why, as data;
    ``str()`` is its one line. ``notebook_path``: the executed notebook that failed."""

    def __init__(self, failure, notebook_path: str | None = None):
        self.failure = failure
        self.notebook_path = notebook_path
        super().__init__(failure.line())

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.failure.kind


class OutputError(KitError):
    """The output folder cannot take the reports; ``str()`` is the one line to show."""

    kind = "output"

    def __init__(self, folder: str | os.PathLike, code: int):
        self.folder, self.errno = str(folder), code
        what, todo = OUTPUT_ERRNOS.get(code, ("it cannot be written", "choose another folder with --out"))
        super().__init__(f"cannot write the reports to {folder}: {what} ({errno.errorcode.get(code, code)}); {todo}")


def _under(path: str | None, folders) -> bool:
    if not path:
        return False
    p = os.path.abspath(path)
    for f in folders:
        f = os.path.abspath(str(f))
        if p == f or p.startswith(f.rstrip(os.sep) + os.sep):
            return True
    return False


def output_error(error: BaseException, folder: str | os.PathLike, *, within=()) -> OutputError | None:
    """``error`` as an :class:`OutputError` on ``folder`` if it is a write fault, else None.

    A permission error counts only when its path is inside ``within`` (the output folders):
    elsewhere it is a problem of the input, said by the caller as it is.
    """
    if not isinstance(error, OSError) or error.errno not in OUTPUT_ERRNOS:
        return None
    if (
        error.errno in WRITE_ONLY_ERRNOS
        or _under(error.filename, [folder, *within])
        or _under(getattr(error, "filename2", None), [folder, *within])
    ):
        return OutputError(folder, error.errno)
    return None


_ERRNO_TEXT = re.compile(r"\[Errno (\d+)\][^:]*(?::\s*'([^']*)')?")


def output_error_in_text(
    ename: str | None, evalue: str | None, folder: str | os.PathLike, *, within=()
) -> OutputError | None:
    """The same for an error raised in a notebook's kernel, known by its name and text
    (``OSError``: ``[Errno 28] No space left on device: '/out/.D001.partial-1-ab/flags.csv'``)."""
    if not evalue or (ename and not (ename.endswith("Error") or ename == "OSError")):
        return None
    m = _ERRNO_TEXT.search(evalue)
    if not m:
        return None
    fake = OSError(int(m.group(1)), "", m.group(2))
    return output_error(fake, folder, within=within)


def describe_os_error(error: OSError) -> str | None:
    """A command's one line for an ``OSError`` met outside a store's run, or None when it is
    not a fault of the machine (the caller lets it through)."""
    name = error.filename or ""
    if error.errno in WRITE_ONLY_ERRNOS:
        folder = name if not name or Path(name).is_dir() else str(Path(name).parent)
        return str(OutputError(folder or ".", error.errno))
    if error.errno in (errno.EACCES, errno.EPERM):
        return (
            f"cannot use {name or 'a file'}: permission denied ({errno.errorcode[error.errno]}); "
            "check its permissions, or choose a folder you can write to with --out"
        )
    if error.errno in (errno.ENOENT, errno.ENOTDIR) and name:
        return f"cannot use {name}: {error.strerror or 'no such file or folder'}; check the path"
    return None


class StoreTimeout(BaseException):
    """A store ran past its whole-store time limit (``--timeout``).

    A ``BaseException``, like ``KeyboardInterrupt``: it is raised by a timer wherever the
    store happens to be, and the ``except Exception`` of a library in between must not take
    it for one of its own errors (a kernel start would be retried, for instance)."""

    kind = "timeout"

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(
            f"time limit of {seconds:g} s reached for the whole store "
            "(kernel start, notebooks and export); raise --timeout or look at the data's size"
        )
