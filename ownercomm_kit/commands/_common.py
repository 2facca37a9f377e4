"""What several commands share: the parameters of a data folder, with or without a dealer file."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from .. import params, params_schema


def resolve_params(
    data_dir: Path | None, dealer_file: Path | None, timezone: str | None, as_of, group_file: Path | None = None
) -> dict:
    """Merged parameters for a data folder, with or without a dealer file.

    A DATA_DIR that does not exist is said first (exit 1, like every data problem): asking
    for a time zone would send the user the wrong way.
    """
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
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", data_dir.resolve().name).replace("..", "_").strip("._-")
    return name[:100] if name and not params_schema.id_problem(name[:100]) else "dealer"
