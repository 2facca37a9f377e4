"""The dealer file: written whole, the same bytes for the same input; the consultant's own
files/mapping/values entries win over guesses and keep their comments, as do the file's
other keys. ``onboard()`` is the one call: read the folder, recognise it, write the file.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path


from .. import outputs, paths
from ..dealer_file import BLOCKS, OWN_COMMENT, merge_block, read_comments, render_dealer_file
from .folder import Onboarding, recognise_folder
from .sources import Source, read_sources


def _own_comment(how: str) -> str | None:
    """The comment onboard puts on a guessed entry (none on the consultant's own)."""
    return {
        "synonym": f"{OWN_COMMENT} synonym",
        "fuzzy": f"{OWN_COMMENT} fuzzy, check",
        "content": f"{OWN_COMMENT} by content, check",
        "words": f"{OWN_COMMENT} by a word of its name, check",
        "file name": f"{OWN_COMMENT} by file name",
        "file name and content": f"{OWN_COMMENT} by file name and content",
    }.get(how)


def dealer_document(
    onb: Onboarding, *, dealer_id: str, timezone: str, data_dir: str, existing: dict | None = None
) -> tuple[dict, dict[tuple, str]]:
    """The dealer file's content and onboard's own line comments.

    An existing file's other keys (dealer_name, rule overrides, ...) are kept as they are;
    its files, mapping and values entries win over guesses and are all kept, even those
    the data no longer shows (a consultant may be preparing the next export).
    """
    existing = dict(existing or {})
    doc = {
        "dealer_id": dealer_id,
        "dealer_name": existing.pop("dealer_name", None) or dealer_id,
        "data_dir": data_dir,
        "timezone": timezone,
    }
    comments: dict[tuple, str] = {}
    files = onb.files_block()
    for t in onb.tables:
        if t.table in files and _own_comment(t.how):
            comments[("files", t.table)] = _own_comment(t.how)
    mapping = onb.mapping_block()
    for c in onb.columns:
        if c.source is not None and c.source != c.column and _own_comment(c.how):
            comments[("mapping", c.table, c.source)] = _own_comment(c.how)
    blocks = {"files": files, "mapping": mapping, "values": onb.values_block()}
    for name in BLOCKS:
        blocks[name] = merge_block(blocks[name], existing.pop(name, None) or {}, nested=name != "files")
    for k in ("dealer_id", "data_dir", "timezone"):
        existing.pop(k, None)
    doc.update({k: blocks[k] for k in BLOCKS})
    doc.update(existing)  # the consultant's other keys, in their order
    return doc, comments


# A dealer id names its dealer file and report folder: no separators, no "..", nothing hidden
# (the same rule as the runner's).
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class OnboardError(Exception):
    """A problem with the command's own input (folder, time zone): a message, no traceback."""


@dataclass
class Result:
    onboarding: Onboarding
    out: Path
    text: str  # the dealer file written
    timezone_guessed: bool
    unreadable: list[str]


def onboard(
    data_dir: str | Path,
    dealer_id: str,
    *,
    timezone: str | None = None,
    out: str | Path | None = None,
    root: str | Path | None = None,
) -> Result:
    """Recognise ``data_dir``'s exports and write the dealer file ``out``
    (default ``<root>/params/dealers/<dealer_id>.yaml``); an existing file's own entries win.

    The file is written whole or not at all (temporary name, then renamed).
    """
    from ..params import ParamsError, read_yaml

    if not SAFE_ID.match(str(dealer_id)):
        raise OnboardError(
            f"--dealer-id {dealer_id!r}: use letters, digits, '.', '_' or '-' (it names files and folders)"
        )
    data_dir = Path(data_dir).expanduser().resolve()
    if not data_dir.is_dir():
        raise OnboardError(f"{data_dir}: no such folder")
    root = Path(root) if root else None
    out = Path(out) if out else (root or paths.kit_root()) / "params" / "dealers" / f"{dealer_id}.yaml"
    root = root or paths.root_of_params_file(out) or paths.kit_root()
    existing, old_text = {}, ""
    if out.is_file():
        try:
            existing = read_yaml(out)
        except ParamsError as e:
            raise OnboardError("\n".join(e.problems)) from None
        old_text = out.read_text(encoding="utf-8-sig")
    sources, unreadable = read_sources(data_dir)
    if not sources:
        raise OnboardError(
            f"{data_dir}: no readable export (.csv, .txt, .tsv, .xlsx or .parquet)"
            + "".join(f"\n  {m}" for m in unreadable)
        )
    onb = recognise_folder(sources, {k: existing.get(k) for k in BLOCKS})
    onb.decisions += _existing_problems(existing, out)
    tz, guessed = _timezone(timezone, existing, old_text, onb, sources)
    doc, comments = dealer_document(
        onb, dealer_id=str(dealer_id), timezone=tz, data_dir=_data_dir_text(data_dir, root), existing=existing
    )
    if guessed:
        comments[("timezone",)] = f"{OWN_COMMENT} guessed, check"
    comments = {**comments, **read_comments(old_text)}
    text = render_dealer_file(doc, comments)
    with outputs.atomic_open(out, "w", newline="\n") as f:  # whole or not at all
        f.write(text)
    return Result(onb, out, text, guessed, unreadable)


def _existing_problems(existing: dict, out: Path) -> list[str]:
    """Typos the consultant made in the file (a mapping to no column, an unknown key): kept as
    they are, since they are theirs, but said now rather than at the first run."""
    from ..params import check_layer, load_defaults

    return check_layer(existing, str(out), "dealer", load_defaults()) if existing else []


def _timezone(
    given: str | None, existing: dict, old_text: str, onb: Onboarding, sources: list[Source]
) -> tuple[str, bool]:
    """The dealer's zone and whether it is a guess: given, else the existing file's (still a
    guess while onboard's "guessed" comment is on its line), else the customers' most common."""
    if given:
        if given not in zoneinfo.available_timezones():
            raise OnboardError(f"--timezone {given!r} is not an IANA time zone (e.g. America/Chicago)")
        return given, False
    if existing.get("timezone"):
        still = re.search(rf"^timezone:.*{re.escape(OWN_COMMENT)} guessed", old_text, flags=re.M)
        return str(existing["timezone"]), bool(still)
    col = next((c for c in onb.columns if c.table == "customers" and c.column == "timezone" and c.source), None)
    if col is not None:
        src = next(s for s in sources if s.ref == next(t.source for t in onb.tables if t.table == "customers"))
        if col.source in src.frame.columns:
            zones = src.frame[col.source].dropna().astype(str).str.strip()
            zones = zones[zones.isin(zoneinfo.available_timezones())]
            if not zones.empty:
                return str(zones.value_counts().sort_index().idxmax()), True
    return "America/New_York", True


def _data_dir_text(data_dir: Path, root: Path) -> str:
    """Relative to the kit root when inside it (the dealer file then travels with the kit)."""
    try:
        return data_dir.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(data_dir)
