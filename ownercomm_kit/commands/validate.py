"""`ownercomm validate` (not built yet)."""
from __future__ import annotations

import click

from ..cli import main


@main.command("validate")
def validate() -> None:
    """Not built yet."""
    raise click.ClickException("'ownercomm validate' is not built yet")
