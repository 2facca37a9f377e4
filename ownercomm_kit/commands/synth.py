"""`ownercomm synth` (not built yet)."""
from __future__ import annotations

import click

from ..cli import main


@main.command("synth")
def synth() -> None:
    """Not built yet."""
    raise click.ClickException("'ownercomm synth' is not built yet")
