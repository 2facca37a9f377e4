"""`ownercomm run` (not built yet)."""
from __future__ import annotations

import click

from ..cli import main


@main.command("run")
def run() -> None:
    """Not built yet."""
    raise click.ClickException("'ownercomm run' is not built yet")
