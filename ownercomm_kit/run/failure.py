"""Why a store failed, as data: a :class:`Failure` (kind, where, problems), never cell values.

The kind (``errors``: data, params, timeout, kernel, output, other) is what the CLI, the batch
manifest and the group index branch on. A data failure lists its blocking problems by file,
spreadsheet row, column and message, without the offending values (``data.Problem.public``
where its message would quote the data), so a failure can be shown beyond the store (the
manifest, the group index, a terminal log) without leaking a customer's data. Only an
unexpected error (kind ``other``) has its exception's own text (``detail``), which may quote
anything: the manifest's one-line ``error`` and the terminal show it; the failure as data
(``to_dict``: the manifest's ``failure``) and the group index never do.

When a notebook fails, its kernel writes the failure into the store's staging folder
(:func:`record_last`, ``FAILURE_FILE``) and the runner reads it back (:func:`of_notebook`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..words import plural
from .. import errors

KINDS = ("data", "params", "timeout", "kernel", "output", "other")
FAILURE_LINE_MAX = 500  # a store's one-line reason in the manifest and the index
FAILURE_FILE = ".ownercomm-failure.json"  # written by a failing notebook's kernel into staging
MAX_PROBLEMS = 50  # problems listed in a failure; the rest are counted

# What the papermill engine records as the running cell's error when the store's time limit
# is reached, or the kernel dies, while a cell runs (run.engine).
CELL_TIMEOUT = ("TimeoutError", "the store's time limit was reached while this cell ran")
KERNEL_DIED = ("DeadKernelError", "the kernel died while this cell ran (out of memory?)")


@dataclass(frozen=True)
class Problem:
    """One blocking problem: where (file, spreadsheet row, column) and what, never the value."""

    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    table: str | None = None
    count: int = 1

    def text(self) -> str:
        """``ERROR customers.csv, row 4, column 'customer_id': duplicate customer_id ...``."""
        if self.file is None and self.table is None and self.row is None and self.column is None:
            return self.message
        where = [self.file or self.table or "data"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        more = f" ({self.count} rows)" if self.count > 1 else ""
        return f"ERROR {', '.join(where)}: {self.message}{more}"


@dataclass
class Failure:
    """A store's failure. ``summary``: the kit's own words (no data); ``detail``: an unexpected
    error's own message (kind ``other`` only; may quote data): in the one ``line`` (the
    manifest's ``error``, the terminal), never in ``to_dict`` nor in ``public_line``."""

    kind: str
    summary: str = ""
    notebook: str | None = None  # the notebook that failed (its file name)
    cell: int | None = None  # its execution count
    error: str | None = None  # the exception's class name (DataError, KeyError, ...)
    problems: list[Problem] = field(default_factory=list)
    more: int = 0  # problems beyond those listed
    detail: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown failure kind {self.kind!r} (one of {', '.join(KINDS)})")

    # ------------------------------------------------------------------ rendering

    def _head(self) -> str:
        if not self.notebook:
            return ""
        return f"{self.notebook}{f', cell {self.cell}' if self.cell is not None else ''}: "

    def line(self, limit: int = FAILURE_LINE_MAX) -> str:
        """The one-line reason (manifest ``error``, the terminal): ``audit.ipynb, cell 3:
        DataError: 2 blocking data problems: ERROR ...; ERROR ...``; an unexpected error's
        headline as it was raised."""
        prefix = self._head() + (f"{self.error}: " if self.error else "")
        if self.kind == "params" and self.problems and not self.notebook:
            return f"{prefix}{self.summary}: {'; '.join(p.text() for p in self.problems)}"
        if self.problems:
            return prefix + _whole_problems(
                self.summary, [p.text() for p in self.problems], self.more, limit - len(prefix)
            )
        body = ": ".join(t for t in (self.summary, self.detail) if t)
        return (prefix + body)[:limit]

    def headline(self) -> str:
        """Where and what, without the problems: ``audit.ipynb, cell 3: DataError: 2 blocking
        data problems`` (the line above a list of :meth:`problem_lines`)."""
        prefix = self._head() + (f"{self.error}: " if self.error else "")
        return prefix + ": ".join(t for t in (self.summary, self.detail) if t)

    def problem_lines(self) -> list[str]:
        """Each listed problem on its own line, then how many more there are."""
        lines = [p.text() for p in self.problems]
        return lines + ([f"and {self.more} more"] if self.more else [])

    def public_line(self, limit: int = FAILURE_LINE_MAX) -> str:
        """The line for pages beyond the store (the group index): an unexpected error by its
        name only (its message may quote the data); the kit's own words otherwise."""
        if self.kind != "other" or not self.error:
            return self.line(limit)
        where = "the executed notebook" if self.notebook else "manifest.json"
        return (self._head() + f"{self.error} (an unexpected error; its message is in {where})")[:limit]

    # ------------------------------------------------------------------ as data

    def to_dict(self) -> dict:
        """The failure as plain data, never a value from the data: without ``detail``."""
        doc = asdict(self)
        del doc["detail"]
        return doc

    @classmethod
    def from_dict(cls, doc: dict) -> "Failure":
        problems = [
            Problem(
                **{k: p.get(k) for k in ("message", "file", "row", "column", "table") if k in p},
                count=int(p.get("count") or 1),
            )
            for p in doc.get("problems") or []
            if isinstance(p, dict) and p.get("message") is not None
        ]
        kind = doc.get("kind") if doc.get("kind") in KINDS else "other"
        return cls(
            kind=kind,
            summary=str(doc.get("summary") or ""),
            notebook=doc.get("notebook"),
            cell=doc.get("cell"),
            error=doc.get("error"),
            problems=problems,
            more=int(doc.get("more") or 0),
        )


def _whole_problems(headline: str, problems: list[str], more: int, room: int) -> str:
    """``headline: p1; p2; and N more``: whole problems only (a problem cut in half misleads)."""
    shown: list[str] = []
    total = len(problems) + more
    for i, p in enumerate(problems[:3]):
        rest = total - i - 1
        tail = f"; and {rest} more" if rest else ""
        if len(f"{headline}: {'; '.join([*shown, p])}{tail}") > room and shown:
            break
        shown.append(p)
    rest = total - len(shown)
    text = f"{headline}: {'; '.join(shown)}{f'; and {rest} more' if rest else ''}"
    return text if len(text) <= room else text[: room - 1] + "…"


def one_line(e: BaseException | None) -> str:
    """``ValueError: <the last line of its message>``."""
    text = str(e or "").strip().splitlines()
    return f"{type(e).__name__}: {text[-1] if text else ''}"


# ---------------------------------------------------------------------- from exceptions


def _data_problems(problems) -> tuple[list[Problem], int]:
    blocking = [p for p in problems if getattr(p, "level", "error") == "error"]
    out = []
    for p in blocking[:MAX_PROBLEMS]:
        public = getattr(p, "public", None)
        out.append(
            Problem(
                message=str(public if public is not None else p.message),
                file=p.file,
                row=p.row,
                column=p.column,
                table=p.table,
                count=int(getattr(p, "count", 1) or 1),
            )
        )
    return out, max(0, len(blocking) - MAX_PROBLEMS)


def from_exception(e: BaseException) -> Failure:
    """The failure an exception stands for (in the runner's process or in a kernel)."""
    if isinstance(e, errors.StoreFailure):
        return e.failure
    if isinstance(e, errors.DataError):
        problems, more = _data_problems(e.problems)
        return Failure("data", plural(len(problems) + more, "blocking data problem"), problems=problems, more=more)
    if isinstance(e, errors.ParamsError):
        return Failure("params", "parameters", problems=[Problem(str(p)) for p in e.problems])
    if isinstance(e, (errors.KitError, errors.StoreTimeout)):
        return Failure(e.kind, str(e))
    return Failure("other", error=type(e).__name__, detail=one_line(e).split(": ", 1)[1])


# ---------------------------------------------------------------------- through the kernel


def record(error: BaseException, path: str | os.PathLike) -> None:
    """Write ``error``'s failure (and its class name) to ``path`` as JSON, whole or not at all."""
    doc = from_exception(error).to_dict()
    doc["error"] = type(error).__name__
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)


def record_last(path: str | os.PathLike) -> None:
    """In a kernel, after a cell failed: record the exception IPython last showed."""
    import sys

    error = getattr(sys, "last_value", None)
    if isinstance(error, BaseException):
        record(error, path)


def read(path: Path) -> dict | None:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def asks_the_kernel(ename: str | None, evalue: str | None) -> bool:
    """Whether the kernel can say more about a notebook's error: not when the engine marked a
    time limit or a dead kernel (the kernel may still be busy, or gone)."""
    return (ename, evalue) not in (CELL_TIMEOUT, KERNEL_DIED)


def of_notebook(notebook: str, error, recorded: dict | None = None) -> Failure:
    """The failure of a notebook's cell (papermill's ``PapermillExecutionError``: ``ename``,
    ``evalue``, ``exec_count``), from what its kernel recorded when that is the same error,
    else from the error's name (a data failure then lists no problems: its text quotes values).
    An unexpected error is said by its headline (pandas and others put hints on later lines)."""
    ename = getattr(error, "ename", type(error).__name__)
    evalue = str(getattr(error, "evalue", error) or "")
    cell = getattr(error, "exec_count", None)
    if recorded and recorded.get("error") == ename and recorded.get("kind") != "other":
        failure = Failure.from_dict(recorded)
    elif (ename, evalue) == CELL_TIMEOUT:
        failure = Failure("timeout", evalue)
    elif (ename, evalue) == KERNEL_DIED:
        failure = Failure("kernel", evalue)
    else:
        lines = [ln.strip() for ln in evalue.splitlines() if ln.strip()]
        if ename == "DataError":
            failure = Failure(
                "data", (lines[0] if lines else "blocking data problems") + " (listed in the executed notebook)"
            )
        elif ename == "ParamsError":
            failure = Failure("params", "parameters", problems=[Problem(p) for p in lines])
        else:
            failure = Failure("other", detail=lines[0] if lines else "")
    failure.notebook, failure.cell, failure.error = notebook, cell, ename
    return failure
