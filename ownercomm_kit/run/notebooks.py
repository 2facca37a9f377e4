"""The notebooks a store runs, in order, and the parameters papermill injects into them."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from ..words import noun
from .. import params, paths
from ..errors import StoreFailure
from .failure import Failure

# The notebooks of a dealer, in the order they run: (notebook stem, HTML name, HTML title).
# SPEC §7 names. The data-quality notebook is optional: it runs when it exists.
# Data quality first: it loads non-strictly, so when a later notebook stops on blocking data
# its page explaining every problem is already made (kept in _failed/ with the notebooks).
NOTEBOOKS: tuple[tuple[str, str, str], ...] = (
    ("data_quality", "data_quality.html", "Data quality"),
    ("audit", "audit.html", "Communication audit"),
    ("retention", "retention.html", "Retention"),
    ("referrals", "referrals.html", "Referrals"),
)
REQUIRED_NOTEBOOKS = ("audit", "retention", "referrals")


def notebook_specs(notebooks_dir: str | os.PathLike | None = None) -> list[tuple[Path, str, str]]:
    """(notebook path, HTML name, title) of the notebooks that run, in order.

    A missing required notebook is an error (the run would silently lose a report).
    """
    folder = Path(notebooks_dir) if notebooks_dir else paths.notebooks_dir()
    specs, missing = [], []
    for stem, html, title in NOTEBOOKS:
        path = folder / f"{stem}.ipynb"
        if path.is_file():
            specs.append((path, html, title))
        elif stem in REQUIRED_NOTEBOOKS:
            missing.append(str(path))
    if missing:
        raise StoreFailure(Failure("other", f"{noun(len(missing), 'notebook')} not found: {', '.join(missing)}"))
    return specs


def notebooks_for(root: Path) -> Path:
    """The kit's notebooks: beside the dealer's params/, else the installed kit's."""
    own = paths.notebooks_dir(root)
    return own if own.is_dir() else paths.kit_notebooks_dir()


def notebook_parameters(
    dealer_file: Path, group_file: Path | None, as_of: dt.date | None, out_dir: Path, resolved: dict
) -> dict:
    """The parameters papermill injects: the dealer file's content, data_dir absolute, + run keys."""
    raw = params.read_yaml(dealer_file)
    chosen = {k: raw.get(k) for k in params.NOTEBOOK_PARAMETERS if k in raw}
    chosen["data_dir"] = resolved["data_dir"]
    run_as_of = as_of if as_of is not None else params.parse_as_of(raw.get("as_of"))
    chosen["as_of"] = run_as_of.isoformat() if run_as_of else None
    chosen["group_file"] = str(group_file) if group_file else None
    chosen["out_dir"] = str(out_dir)
    return _plain(chosen)


def _plain(value: Any) -> Any:
    """YAML dates and the like as strings: papermill writes parameters as Python literals."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
