"""Every rule's flags as integer arrays until they are read (issue 12).

A rule returns ``Lean`` parts: its flagged sorted rows, its detail sentences (one Arrow string
array) and its related ids (Arrow strings, or sorted rows whose message_id is the related id).
``FlagTable`` puts the rules' parts in the flags' order (customer, sent_at, message_id, then
rule) by sorting integers, and keeps every column as what it is made from:

- message_id: a take of the communications column at the flags' rows;
- customer_id, channel, sender, category, rule, severity: codes into a few distinct values
  (rendered once for the CSV, then taken);
- sent_at: the sorted UTC nanoseconds and the wall clock of the column's zone;
- detail and related_id: the rules' arrays, left where each rule made them and taken in the
  flags' order (``Parted``): not kept joined into one array, which on 6 million flags was 0.4
  GB of fresh memory at the audit's peak; ``write_csv`` joins one chunk of rows at a time.

``frame()`` is the pandas DataFrame of ``FLAG_COLUMNS`` that ``run_rules`` returns (the same
values and dtypes as the columns taken from the communications table); ``write_csv`` writes
the bytes ``csv_arrow.write_frame(frame())`` would, a chunk of rows at a time on two threads,
without building the frame: ``ownercomm audit`` never needs it. A column whose dtype has no
fast path here (not a pandas string column, an unusual time stamp) is rendered as the general
writer renders it, from the frame's column.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import csv_arrow
from ..arrays import stable_argsort
from ..data import DealerData
from .windows import Messages

FLAG_COLUMNS = [
    "message_id",
    "customer_id",
    "sent_at",
    "channel",
    "sender",
    "category",
    "rule",
    "severity",
    "detail",
    "related_id",
]
ENUMS = ("channel", "sender", "category")
NS = 1_000_000_000
_EMPTY = pa.array([], pa.large_string())


def _strings(arr) -> pa.Array:
    """One large_string Arrow array (no chunks)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


@dataclass
class Part:
    """Flags of one rule for sorted ``rows``: detail, and related_id as text or as rows."""

    rows: np.ndarray
    detail: pa.Array
    related: pa.Array | None = None  # large_string (nulls allowed); None: see related_rows
    related_rows: np.ndarray | None = None  # message_id of these sorted rows; both None: no related id


class Lean(list):
    """What a rule function returns: its ``Part``s (one per ``make_flags``)."""

    def __len__(self) -> int:  # the number of flags, as a frame's len
        return sum(len(p.rows) for p in self)


def concat(parts) -> Lean:
    """One rule's flags from several ``make_flags`` (``pd.concat`` of the former frames)."""
    return Lean(p for lean in parts for p in lean)


def is_text(s: pd.Series | pd.Index) -> bool:
    """A pandas string column (Arrow or Python storage, NA as pd.NA): cell-wise text."""
    return isinstance(s.dtype, pd.StringDtype) and s.dtype.na_value is pd.NA


class Parted:
    """Several Arrow string arrays read as their concatenation, which is not kept: ``take``
    gathers from each array, then puts the pieces in the asked order (only what is taken is
    joined). Not a ``pa.ChunkedArray``: its ``take`` was as fast here with pyarrow 26 (71 against
    74 ms for 500k of 6.3M sentences), but older pyarrow, which the pin allows, joins the chunks
    on every call (see ``formats.one_chunk``), and ``write_csv`` takes once per chunk of rows."""

    def __init__(self, arrays: list[pa.Array]):
        self.arrays = arrays
        self.starts = np.concatenate([[0], np.cumsum([len(a) for a in arrays], dtype=np.int64)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def take(self, idx: np.ndarray) -> pa.Array:
        """``pa.concat_arrays(arrays).take(idx)``."""
        idx = np.asarray(idx, np.int64)
        if len(self.arrays) == 1:
            return self.arrays[0].take(pa.array(idx))
        # side="right": an empty array's start equals the next one's, so its index is never picked
        part = np.searchsorted(self.starts, idx, side="right") - 1
        if len(self.arrays) <= np.iinfo(np.uint16).max:
            part = part.astype(np.uint16)  # a small-integer key: numpy's stable sort is a radix sort
        order = np.argsort(part, kind="stable")
        local = idx[order] - self.starts[part[order]]
        counts = np.bincount(part, minlength=len(self.arrays))
        pieces, at = [], 0
        for arr, k in zip(self.arrays, counts):
            if k:
                pieces.append(arr.take(pa.array(local[at : at + k])))
                at += k
        joined = pa.concat_arrays(pieces) if pieces else _EMPTY
        del pieces, local  # a whole-table take (``frame()``) holds the text twice at most, as before
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        del order
        return joined.take(pa.array(back))


class FlagTable:
    """All rules' flags, sorted, as integer arrays plus the rules' detail and related arrays."""

    def __init__(self, data: DealerData, m: Messages, names: list[str], severities: list[str], results):
        """``results``: (rule number into ``names``, ``Lean``) per rule that ran, any order."""
        self.data, self.m, self.names, self.severities = data, m, list(names), list(severities)
        parts = [(code, p) for code, lean in results for p in lean]
        sizes = [len(p.rows) for _, p in parts]
        z = np.zeros(0, np.int64)
        rows = np.concatenate([np.asarray(p.rows, np.int64) for _, p in parts] + [z])
        code = np.concatenate([np.full(k, c, np.int64) for (c, _), k in zip(parts, sizes)] + [z])
        # rows then rule: a sort of packed integers (arrays.stable_argsort)
        self.perm = stable_argsort(rows * max(len(names), 1) + code)
        self.rows, self.code = rows[self.perm], code[self.perm]
        self.detail = Parted([_strings(p.detail) for _, p in parts])
        # related ids as text: only the rules that give them (most flags have none); rel_at is
        # each flag's index into them, -1 for none
        texted = [p.related is not None for _, p in parts]
        self.rel_text = Parted([_strings(p.related) for (_, p), t in zip(parts, texted) if t])
        at, ends = 0, []
        for t, k in zip(texted, sizes):
            ends.append(np.arange(at, at + k, dtype=np.int64) if t else np.full(k, -1, np.int64))
            at += k if t else 0
        self.rel_at = np.concatenate(ends + [z])[self.perm]
        msg = [p.related_rows is not None for _, p in parts]
        self.rel_is_msg = np.concatenate([np.full(k, b) for b, k in zip(msg, sizes)] + [np.zeros(0, bool)])[self.perm]
        self.rel_rows = np.concatenate(
            [
                np.asarray(p.related_rows, np.int64) if b else np.zeros(k, np.int64)
                for (_, p), b, k in zip(parts, msg, sizes)
            ]
            + [z]
        )[self.perm]
        self._mid = None

    def __len__(self) -> int:
        return len(self.rows)

    def rule_counts(self) -> dict[str, int]:
        counts = np.bincount(self.code, minlength=len(self.names))
        return {n: int(c) for n, c in zip(self.names, counts) if c}

    # ---------------------------------------------------------------- columns

    def _comm(self, name: str) -> pd.Series:
        return self.data["communications"][name]

    def _positions(self, s: int, e: int) -> np.ndarray:
        return self.m.order[self.rows[s:e]]

    def _message_ids(self) -> pa.Array:
        if self._mid is None:
            self._mid = _strings(pa.array(self._comm("message_id").array))
        return self._mid

    def _dictionary(self, name: str) -> tuple[pa.Array, np.ndarray] | None:
        """(distinct values + a null for code -1, the column's code at every sorted row), or
        None when the column is not a pandas string column."""
        m, comm = self.m, self.data["communications"]
        if not is_text(comm[name]):
            return None
        if name == "customer_id":
            values, codes = pa.array(np.asarray(m.customers, dtype=object), pa.large_string(), from_pandas=True), m.cust
        elif name in ENUMS and name in m.raw:
            codes, uniques = m.raw[name]
            values = pa.array(np.asarray(uniques, dtype=object), pa.large_string(), from_pandas=True)
        else:
            return None
        return pa.concat_arrays([values, pa.nulls(1, pa.large_string())]), codes

    def _coded(self, name: str):
        """A column as (values, codes(s, e)) when it is one of a few values: the code of each
        of flags [s, e) into ``values`` (a null last), or None."""
        if name in ("rule", "severity"):
            values = pa.array(self.names if name == "rule" else self.severities, pa.large_string())
            return values, lambda s, e: self.code[s:e]
        found = self._dictionary(name)
        if found is None:
            return None
        values, codes = found
        last = len(values) - 1

        def at(s: int, e: int) -> np.ndarray:
            own = codes[self.rows[s:e]].astype(np.int64)
            return np.where(own < 0, last, own)

        return values, at

    def column(self, name: str, s: int = 0, e: int | None = None) -> pa.Array:
        """The flags' ``name`` column (Arrow strings, nulls kept) for flags [s, e): not for
        sent_at, nor for message columns that are not pandas strings."""
        e = len(self) if e is None else e
        if name == "message_id":
            return self._message_ids().take(pa.array(self._positions(s, e)))
        if name == "detail":
            return self.detail.take(self.perm[s:e])
        if name == "related_id":
            at = self.rel_at[s:e]
            has = at >= 0
            if has.all():
                text = self.rel_text.take(at)
            else:
                text = pa.nulls(e - s, pa.large_string())
                if has.any():
                    text = pc.replace_with_mask(text, pa.array(has), self.rel_text.take(at[has]))
            msg = self.rel_is_msg[s:e]
            if msg.any():
                ids = self._message_ids().take(pa.array(self.m.order[self.rel_rows[s:e][msg]]))
                text = pc.replace_with_mask(text, pa.array(msg), ids)
            return text
        values, codes = self._coded(name)
        return values.take(pa.array(codes(s, e)))

    def _general(self, name: str) -> pd.Series:
        """A message column as the communications table has it, at the flags' rows."""
        return self._comm(name).take(self._positions(0, len(self))).reset_index(drop=True)

    def frame(self) -> pd.DataFrame:
        """``FLAG_COLUMNS`` as a DataFrame (index 0..n-1)."""
        out = {}
        for name in FLAG_COLUMNS:
            if name in FLAG_COLUMNS[:6] and (name == "sent_at" or not is_text(self._comm(name))):
                out[name] = self._general(name).array
            elif name in FLAG_COLUMNS[:6]:
                col = self._comm(name)
                same = col.dtype == pd.StringDtype("pyarrow") and pa.array(col.array[:0]).type == pa.large_string()
                out[name] = pd.arrays.ArrowStringArray(self.column(name)) if same else self._general(name).array
            else:
                out[name] = pd.arrays.ArrowStringArray(self.column(name))
        return pd.DataFrame(out, index=pd.RangeIndex(len(self)))

    # ---------------------------------------------------------------- CSV

    def _renderer(self, name: str):
        """(s, e) -> the CSV text of flags [s, e) of one column, quoted (``csv_arrow``)."""
        quote = csv_arrow._quote
        if name == "sent_at":
            fast = self._time_text()
            if fast is not None:
                return fast
        elif name == "message_id" and is_text(self._comm(name)):
            if _plain(self._message_ids()):  # no cell to neutralize or quote: the values as they are
                return lambda s, e: self.column(name, s, e)
            return lambda s, e: quote(csv_arrow.text_cells(self.column(name, s, e)), single=False)
        elif name in ("detail", "related_id"):
            return lambda s, e: quote(csv_arrow.text_cells(self.column(name, s, e)), single=False)
        else:
            coded = self._coded(name)
            if coded is not None:
                values, codes = coded
                text = quote(csv_arrow.text_cells(values), single=False)
                return lambda s, e: text.take(pa.array(codes(s, e)))
        # the general writer's text of the whole column (pandas decides some formats per column)
        whole = csv_arrow.render(self._general(name))
        return lambda s, e: quote(whole.slice(s, e - s), single=False)

    def _time_text(self, tail: bytes = b""):
        """sent_at as ``str(Timestamp)`` in its column's zone, from integers, or None when the
        column needs the general writer (not zone-aware, fractions of seconds, odd offsets)."""
        col = self._comm("sent_at")
        if not isinstance(col.dtype, pd.DatetimeTZDtype) or col.isna().any():
            return None
        m, tz = self.m, col.dtype.tz
        try:
            if str(tz) == m.timezone:
                wall = m.local_ns()
            else:
                wall = pd.DatetimeIndex(m.t.view("datetime64[ns]")).tz_localize("UTC").tz_convert(tz)
                wall = wall.tz_localize(None).asi8
        except (OverflowError, pd.errors.OutOfBoundsDatetime):
            return None
        # what csv_arrow._tz_text writes from integers; its other cases go through pandas
        if np.any((wall - m.t) % (60 * NS)) or np.any(wall % NS):
            return None
        rows, t = self.rows, m.t

        def text(s: int, e: int) -> pa.Array:
            w, u = wall[rows[s:e]], t[rows[s:e]]
            return csv_arrow._fixed_width_text(w // NS, (w - u) // (60 * NS), tail)  # no cell needs quotes

        return text

    def _pieces(self) -> list:
        """The pieces of a CSV line, joined with nothing: (s, e) -> Arrow strings, or a scalar.
        Separators go into the values where a column is a few values (and into sent_at's
        fixed width), and channel to severity are one value out of their combinations: fewer
        pieces per line to take and join."""
        comma, crlf = (pa.scalar(x, pa.large_string()) for x in (",", "\r\n"))
        quote = csv_arrow._quote
        pieces = [self._renderer("message_id"), comma]
        coded = self._coded("customer_id")
        if coded is not None:
            values, codes = coded
            text = _with_tail(quote(csv_arrow.text_cells(values), single=False), ",")
            pieces.append(lambda s, e: text.take(pa.array(codes(s, e))))
        else:
            pieces += [self._renderer("customer_id"), comma]
        fast = self._time_text(b",")
        pieces += [fast] if fast is not None else [self._renderer("sent_at"), comma]
        middle = FLAG_COLUMNS[3:8]
        coded = [self._coded(c) for c in middle]
        sizes = [len(c[0]) for c in coded if c is not None]
        if len(sizes) == len(middle) and np.prod(sizes, dtype=float) <= 1 << 20:
            pieces.append(_combined([(quote(csv_arrow.text_cells(v), single=False), f) for v, f in coded]))
        else:
            for c in middle:
                pieces += [self._renderer(c), comma]
        pieces += [self._renderer("detail"), comma, self._renderer("related_id"), crlf]
        return pieces

    def write_csv(self, f: IO[bytes], chunk_rows: int = csv_arrow.CHUNK_ROWS, threads: int | None = None) -> None:
        """The bytes of ``csv_arrow.write_frame(self.frame(), f)``, built a chunk at a time
        (chunks on up to two threads, written in order)."""
        f = csv_arrow.Sink(f)
        f.write(csv_arrow.header_bytes(FLAG_COLUMNS))
        pieces = self._pieces()
        nothing = pa.scalar("", pa.large_string())
        n = len(self)

        def lines(s: int) -> pa.Array:
            e = min(s + chunk_rows, n)
            return pc.binary_join_element_wise(*[p if isinstance(p, pa.Scalar) else p(s, e) for p in pieces], nothing)

        starts = range(0, n, chunk_rows)
        threads = threads or min(2, os.cpu_count() or 1)
        if threads < 2 or len(starts) < 2:
            for s in starts:
                f.write(csv_arrow._concatenated(lines(s)))
            return
        with ThreadPoolExecutor(max_workers=threads) as pool:
            ahead: deque = deque()
            for s in starts:  # at most threads + 1 chunks in memory
                ahead.append(pool.submit(lines, s))
                if len(ahead) > threads:
                    f.write(csv_arrow._concatenated(ahead.popleft().result()))
            while ahead:
                f.write(csv_arrow._concatenated(ahead.popleft().result()))


def _with_tail(text: pa.Array, tail: str) -> pa.Array:
    return pc.binary_join_element_wise(text, pa.scalar(tail, pa.large_string()), pa.scalar("", pa.large_string()))


def _combined(columns) -> "callable":
    """Several coded columns as one: every combination of their rendered values, each
    followed by a comma, and (s, e) -> the combination's text of each flag."""
    sizes = [len(text) for text, _ in columns]
    total = int(np.prod(sizes))
    strides = [int(np.prod(sizes[i + 1 :])) for i in range(len(sizes))]
    every = np.arange(total, dtype=np.int64)
    parts = []
    for (text, _), size, stride in zip(columns, sizes, strides):
        parts += [text.take(pa.array(every // stride % size)), pa.scalar(",", pa.large_string())]
    values = pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))

    def at(s: int, e: int) -> pa.Array:
        code = np.zeros(e - s, np.int64)
        for (_, codes), stride in zip(columns, strides):
            code += codes(s, e) * stride
        return values.take(pa.array(code))

    return at


def _plain(arr: pa.Array) -> bool:
    """No null, no cell starting like a formula, no byte that needs quotes: CSV text as is."""
    return (
        arr.null_count == 0
        and not csv_arrow._first_byte_in(arr, csv_arrow.FORMULA_BYTES).any()
        and not csv_arrow._cells_holding(arr, csv_arrow.QUOTE_BYTES).any()
    )
