"""`ownercomm onboard` (not built yet)."""
from __future__ import annotations

import click

from ..cli import main


@main.command("onboard")
def onboard() -> None:
    """Not built yet."""
    raise click.ClickException("'ownercomm onboard' is not built yet")
