"""What several commands share: the parameters of a data folder, with or without a dealer file."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click


class LazyChoice(click.Choice):
    """A ``click.Choice`` whose choices are computed when first needed (parsing or help of its
    own command), so that building the CLI does not import what they come from (pandas, for
    the audit's rule names)."""

    def __init__(self, load, case_sensitive: bool = True):
        self._load = load
        self._choices: tuple | None = None
        self.case_sensitive = case_sensitive

    @property
    def choices(self) -> tuple:
        if self._choices is None:
            self._choices = tuple(self._load())
        return self._choices

    @choices.setter
    def choices(self, value) -> None:
        self._choices = tuple(value)


def resolve_params(
    data_dir: Path | None, dealer_file: Path | None, timezone: str | None, as_of, group_file: Path | None = None
) -> dict:
    """Merged parameters for a data folder, with or without a dealer file.

    A DATA_DIR that does not exist is said first (exit 1, like every data problem): asking
    for a time zone would send the user the wrong way.
    """
    from .. import params  # its time zone rules import pandas: only when a command needs them

    if data_dir is not None and not data_dir.is_dir():
        click.echo(f"ERROR {data_dir}: data folder not found", err=True)
        sys.exit(1)
    overrides = {"timezone": timezone, "as_of": as_of}
    if dealer_file is not None:
        overrides["data_dir"] = str(data_dir.resolve()) if data_dir else None
        return params.resolve(dealer_file=dealer_file, group_file=group_file, overrides=overrides)
    if data_dir is None:
        raise click.UsageError("give a DATA_DIR, or --params DEALER_FILE")
    if not timezone:
        raise click.UsageError(
            "the dealer's time zone is needed to read time stamps: pass --timezone "
            "(e.g. --timezone America/Los_Angeles) or --params DEALER_FILE"
        )
    dealer = {"dealer_id": folder_id(data_dir), "data_dir": str(data_dir.resolve()), "timezone": timezone}
    return params.resolve(dealer, group_file=group_file, overrides={"as_of": as_of})


def folder_id(data_dir: Path) -> str:
    """A dealer id from a data folder's name, made safe as a folder name ("my store" -> "my_store")."""
    from .. import params_schema

    name = re.sub(r"[^A-Za-z0-9._-]+", "_", data_dir.resolve().name).replace("..", "_").strip("._-")
    return name[:100] if name and not params_schema.id_problem(name[:100]) else "dealer"
