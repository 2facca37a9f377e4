"""Month-end history of a dealer (SPEC §10): every §4-6 figure at each of the last N month-ends.

Each month-end's figures come from the very functions a report at that ``as_of`` calls
(``audit.headline_figures``, ``retention.kpi_values``, ``referrals.kpis``) on the dealer's data
with its ``as_of`` moved: nothing is computed a second way. What is shared between month-ends:

- the exports are read, parsed and checked once (a report at another ``as_of`` reads the
  same rows: ``as_of`` only moves the report's "today");
- the audit's rules run once, over the messages up to the last month-end. A message's flags
  depend only on data at or before its own time (earlier messages in trailing windows,
  earlier unsubscribes, sales and visits before it, its own attributes) and never on
  ``as_of``, except through the audit's cut of messages dated after ``as_of``
  (``audit.up_to_as_of``), which removes later messages only. So the flags of the report at
  an earlier month-end are exactly those of the messages that report keeps. ``tests/
  test_history.py`` checks the equality key by key against full reports at each month-end.

``history.csv``: one row per month-end (oldest first): ``as_of``, a column per kpi key (the
registry's order) and a column per rule (its id) with the flags of the messages sent in that month
(the dealer's calendar). A rule the data cannot support (a missing table or column) is blank.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import DealerData
from .registry import KPIS

HISTORY_FILE = "history.csv"


def month_ends(last: dt.date, months: int) -> list[dt.date]:
    """The last ``months`` month-ends on or before ``last``, oldest first.

    ``last`` itself counts when it is a month's last day (a report dated 31 October has the
    October month-end); otherwise the history stops at the end of the previous month.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    y, m = last.year, last.month
    if last.day != calendar.monthrange(y, m)[1]:
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    out = []
    for _ in range(months):
        out.append(dt.date(y, m, calendar.monthrange(y, m)[1]))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def at(data: DealerData, as_of: dt.date) -> DealerData:
    """The dealer as a report dated ``as_of`` sees it: the same rows, another "today"."""
    return dataclasses.replace(data, as_of=as_of)


def figures(
    data: DealerData, params: dict, flags: pd.DataFrame | None = None, upto: DealerData | None = None
) -> dict[str, Any]:
    """Every kpis.json figure of a report at ``data.as_of`` (SPEC §7): the report's own functions.

    ``flags``: the audit's flags of the messages up to ``data.as_of`` when already known
    (the history passes them cut from one run of the rules); else the rules run here.
    ``upto``: ``audit.up_to_as_of(data)`` when already known (the same rows, maybe in another order).
    """
    from .. import audit, referrals, retention

    upto = audit.up_to_as_of(upto if upto is not None else data)
    if flags is None:
        flags, _ = audit.run_rules(upto, params)
    out: dict[str, Any] = dict(audit.headline_figures(upto, flags, params))
    out.update(retention.kpi_values(data, params)[0])
    out.update(referrals.kpis(data, params)[0])
    return out


def ordered_keys(keys) -> list[str]:
    """Registry order first (headline counts, then §5, §6), then any figure it does not know."""
    keys = list(keys)
    return [k for k in KPIS if k in keys] + [k for k in keys if k not in KPIS]


def compute(data: DealerData, params: dict, months: int, *, timings: dict | None = None) -> pd.DataFrame:
    """The history frame: one row per month-end (see the module docstring)."""
    from .. import audit

    ends = month_ends(data.as_of, months)
    t = time.perf_counter()
    # Messages sorted by time once (row order changes no figure: every rule and metric sorts
    # for itself); each month-end's messages are then a prefix, sliced without a copy.
    data = _sorted_by_time(data)
    comm = data["communications"]
    prefix = not bool(comm["sent_at"].isna().any())  # a missing time would sort last, wherever it was kept
    # One run of the rules over the messages up to the last month-end.
    last = audit.up_to_as_of(at(data, ends[-1]))
    flags_all, skipped = audit.run_rules(last, params)
    if timings is not None:
        timings["rules"] = time.perf_counter() - t
    sent = comm["sent_at"]
    flag_sent = flags_all["sent_at"]
    first = ends[0].replace(day=1) - dt.timedelta(days=1)  # the month before the first row
    previous_counts = _rule_counts(flags_all, _cut(at(data, first), sent, flag_sent)[1])
    rows = []
    t = time.perf_counter()
    for end in ends:
        data_at = at(data, end)
        kept, keep = _cut(data_at, sent, flag_sent)
        upto = None
        if prefix and len(kept) and (kept[-1] == len(kept) - 1):  # the kept rows are the first len(kept)
            upto = dataclasses.replace(data_at, tables={**data_at.tables, "communications": comm.iloc[: len(kept)]})
        elif prefix and not len(kept):
            upto = dataclasses.replace(data_at, tables={**data_at.tables, "communications": comm.iloc[:0]})
        flags_at = flags_all[keep.to_numpy()] if not keep.all() else flags_all
        row: dict[str, Any] = {"as_of": end.isoformat()}
        row.update(figures(data_at, params, flags=flags_at.reset_index(drop=True), upto=upto))
        counts = _rule_counts(flags_all, keep)
        for rule in audit.RULES:
            if rule in skipped and not str(skipped[rule]).startswith("partly"):
                row[rule] = None
            else:
                row[rule] = int(counts.get(rule, 0) - previous_counts.get(rule, 0))
        previous_counts = counts
        rows.append(row)
    if timings is not None:
        timings["month_ends"] = time.perf_counter() - t
    keys = ordered_keys(k for k in rows[0] if k != "as_of" and k not in audit.RULES)
    df = pd.DataFrame(rows, columns=["as_of", *keys, *audit.RULES])
    for r in audit.RULES:
        df[r] = df[r].astype("Int64")
    return df


def _sorted_by_time(data: DealerData) -> DealerData:
    from ..audit.windows import ns_utc

    comm = data["communications"]
    if comm["sent_at"].isna().any():  # left as it is: the report would stop on it anyway
        return data
    t = ns_utc(comm["sent_at"])
    if len(t) < 2 or bool((t[1:] >= t[:-1]).all()):
        return data
    order = np.argsort(t, kind="stable")
    return dataclasses.replace(data, tables={**data.tables, "communications": comm.take(order).reset_index(drop=True)})


def _cut(data_at: DealerData, sent: pd.Series, flag_sent: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(positions of the messages the report at ``data_at.as_of`` keeps, which flags are theirs).

    The cut is the audit's own (``up_to_as_of``, applied to the messages' times): every kept
    message is strictly earlier than every left-out one, so the earliest left-out time bounds
    the kept flags.
    """
    from .. import audit

    probe = pd.DataFrame({"sent_at": sent, "_row": np.arange(len(sent))})
    kept = audit.up_to_as_of(dataclasses.replace(data_at, tables={**data_at.tables, "communications": probe}))[
        "communications"
    ]["_row"].to_numpy()
    if len(kept) == len(sent):
        return kept, pd.Series(True, index=flag_sent.index)
    left_out = np.ones(len(sent), dtype=bool)
    left_out[kept] = False
    bound = sent[left_out].min()
    return kept, (flag_sent < bound).fillna(False).astype(bool)


def _rule_counts(flags: pd.DataFrame, keep: pd.Series) -> pd.Series:
    part = flags.loc[keep.to_numpy(dtype=bool), "rule"] if len(flags) else flags["rule"]
    return part.value_counts()


def write(df: pd.DataFrame, store_dir: str | Path) -> Path:
    from .. import outputs

    return outputs.write_csv(df, Path(store_dir) / HISTORY_FILE)


def read(store_dir: str | Path) -> pd.DataFrame | None:
    """A store's history.csv, or None when it has none (or it cannot be read)."""
    path = Path(store_dir) / HISTORY_FILE
    if not path.is_file():
        return None
    try:
        df = pd.read_csv(path, dtype={"as_of": "string"})
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    return df if "as_of" in df.columns else None


@dataclasses.dataclass
class HistoryResult:
    dealer_id: str
    path: Path
    frame: pd.DataFrame
    seconds: float
    timings: dict


def build(
    dealer_file: str | Path,
    *,
    months: int,
    out: str | Path | None = None,
    group_file: str | Path | None = None,
    as_of: dt.date | None = None,
) -> HistoryResult:
    """``ownercomm history``: load the dealer once, compute ``months`` month-ends, write
    ``<out>/<dealer_id>/history.csv`` atomically (the store's reports are left as they are)."""
    from .. import params as params_mod
    from .. import paths
    from ..loader import load_dealer

    started = time.perf_counter()
    resolved = params_mod.resolve(dealer_file=Path(dealer_file), group_file=group_file, overrides={"as_of": as_of})
    dealer_id = resolved["dealer_id"]
    if not paths.SAFE_ID.match(dealer_id):
        raise params_mod.ParamsError(
            [
                f"{dealer_file}: dealer_id {dealer_id!r} must be letters, digits, '.', '_' "
                "or '-' (it names the report folder)"
            ]
        )
    timings: dict[str, float] = {}
    t = time.perf_counter()
    data = load_dealer(resolved, strict=True)
    timings["load"] = time.perf_counter() - t
    frame = compute(data, resolved, months, timings=timings)
    store_dir = (Path(out).resolve() if out else paths.reports_dir(Path(resolved["kit_root"]))) / dealer_id
    path = write(frame, store_dir)
    return HistoryResult(
        dealer_id, path, frame, round(time.perf_counter() - started, 3), {k: round(v, 3) for k, v in timings.items()}
    )
