"""`ownercomm docs [--out DIR] [--check]`: the reference pages generated from the code (``reference``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("docs")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the reference pages (default: docs/ in the kit's root).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a page differs from what the code says.")
def docs(out: str | None, check: bool) -> None:
    """Write the reference (rules, figures, parameters, data model, outputs) from the kit's code."""
    from .. import paths, reference

    folder = Path(out) if out else paths.kit_root() / "docs"
    if check:
        stale = reference.stale(folder)
        if stale:
            click.echo(f"{folder}: out of date: {', '.join(stale)}; run `ownercomm docs`", err=True)
            sys.exit(1)
        click.echo(f"{folder}: up to date")
        return
    for path in reference.write(folder):
        click.echo(f"wrote {path}")
