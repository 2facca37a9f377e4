"""Where the kit's own files live (params/, notebooks/, sample_data/)."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def kit_root(start: str | os.PathLike | None = None) -> Path:
    """The folder holding ``params/defaults.yaml``.

    ``OWNERCOMM_ROOT`` wins; else the first parent of ``start`` (default: the working
    folder, so a notebook opened in ``notebooks/`` finds it) that has it; else the folder
    above the installed package (an editable install of this repository).
    """
    env = os.environ.get("OWNERCOMM_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(start or os.getcwd()).resolve()
    for p in (here, *here.parents):
        if (p / "params" / "defaults.yaml").is_file():
            return p
    return PACKAGE_DIR.parent


def defaults_file(root: Path | None = None) -> Path:
    return (root or kit_root()) / "params" / "defaults.yaml"


def notebooks_dir(root: Path | None = None) -> Path:
    return (root or kit_root()) / "notebooks"


SAMPLE_DEALER_ID = "D001"


def sample_dealer_file(root: Path | None = None) -> Path:
    return (root or kit_root()) / "params" / "dealers" / f"{SAMPLE_DEALER_ID}.yaml"


def root_of_params_file(path: Path) -> Path | None:
    """``X`` for a file at ``X/params/dealers/<id>.yaml`` or ``X/params/groups/<g>.yaml``."""
    path = Path(path).resolve()
    if path.parent.parent.name == "params":
        return path.parent.parent.parent
    return None
