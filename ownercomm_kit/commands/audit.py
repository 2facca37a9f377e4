"""`ownercomm audit` (not built yet)."""
from __future__ import annotations

import click

from ..cli import main


@main.command("audit")
def audit() -> None:
    """Not built yet."""
    raise click.ClickException("'ownercomm audit' is not built yet")
