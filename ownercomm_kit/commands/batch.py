"""`ownercomm batch` (not built yet)."""
from __future__ import annotations

import click

from ..cli import main


@main.command("batch")
def batch() -> None:
    """Not built yet."""
    raise click.ClickException("'ownercomm batch' is not built yet")
