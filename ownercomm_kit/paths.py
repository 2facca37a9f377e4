"""Where the kit's own files live (params/, notebooks/, sample_data/)."""

from __future__ import annotations

import os
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# A built install (`pip install ownercomm-kit`) carries the repository's params/defaults.yaml
# and notebooks/ here, copied by the build (setup.py); a checkout reads them in place.
SHIPPED_DIR = PACKAGE_DIR / "shipped"


def _is_checkout(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() and (folder / "params" / "defaults.yaml").is_file()


def kit_home() -> Path:
    """The folder holding the kit's own ``params/defaults.yaml`` and ``notebooks/``: the
    repository of an editable install, else the package data of a built one."""
    return PACKAGE_DIR.parent if _is_checkout(PACKAGE_DIR.parent) else SHIPPED_DIR


def _is_root(folder: Path) -> bool:
    """A kit root: its params/ holds defaults.yaml (the repository, a copy) or a dealers/
    folder (a workspace made by ``ownercomm init`` or ``ownercomm synth``)."""
    return (folder / "params" / "defaults.yaml").is_file() or (folder / "params" / "dealers").is_dir()


def kit_root(start: str | os.PathLike | None = None) -> Path:
    """The folder holding ``params/`` (defaults, dealers, groups).

    ``OWNERCOMM_ROOT`` wins; else the first parent of ``start`` (default: the working
    folder, so a notebook opened in ``notebooks/`` finds it) that is one; else the folder
    above the installed package when that is a checkout of the repository (an editable
    install), else the working folder.
    """
    env = os.environ.get("OWNERCOMM_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(start or os.getcwd()).resolve()
    for p in (here, *here.parents):
        if _is_root(p):
            return p
    return PACKAGE_DIR.parent if _is_checkout(PACKAGE_DIR.parent) else here


def defaults_file(root: Path | None = None) -> Path:
    """The root's own ``params/defaults.yaml``; a tree without one (a workspace, a synth
    tree) runs with the kit's, in the CLI and in a notebook's kernel alike."""
    own = (root or kit_root()) / "params" / "defaults.yaml"
    return own if own.is_file() else kit_defaults_file()


def kit_defaults_file() -> Path:
    return kit_home() / "params" / "defaults.yaml"


def notebooks_dir(root: Path | None = None) -> Path:
    return (root or kit_root()) / "notebooks"


def kit_notebooks_dir() -> Path:
    """The kit's own notebooks (the repository's notebooks/, or the package's copy)."""
    return kit_home() / "notebooks"


SAMPLE_DEALER_ID = "D001"


def sample_dealer_file(root: Path | None = None) -> Path:
    return (root or kit_root()) / "params" / "dealers" / f"{SAMPLE_DEALER_ID}.yaml"


def root_of_params_file(path: Path) -> Path | None:
    """``X`` for a file at ``X/params/dealers/<id>.yaml`` or ``X/params/groups/<g>.yaml``."""
    path = Path(path).resolve()
    if path.parent.parent.name == "params":
        return path.parent.parent.parent
    return None


# A dealer or group id becomes a folder name: no separators, no "..", nothing hidden.
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def reports_dir(root: Path | None = None) -> Path:
    """Where ``ownercomm run``, ``batch`` and ``history`` write when given no ``--out``."""
    return (root or kit_root()) / "reports"
