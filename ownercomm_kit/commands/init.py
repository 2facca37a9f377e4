"""`ownercomm init DIR`: a consultant's workspace (``workspace.init``)."""

from __future__ import annotations

import click

from ..words import plural


@click.command("init")
@click.argument("folder", type=click.Path(file_okay=False))
def init(folder: str) -> None:
    """Lay out a workspace in FOLDER: params/ (dealers/, groups/, an example dealer file),
    data/, reports/ and the kit's notebooks/.

    The thresholds are the installed kit's defaults; dealer and group files override them.
    Existing files are kept: running it again only adds what is missing.
    """
    from ..workspace import init as make

    result = make(folder)
    for rel in result.created:
        click.echo(f"  created {rel}")
    if result.kept:
        click.echo(f"  kept {plural(len(result.kept), 'existing file')} as they were")
    click.echo(
        f"Workspace ready: {result.root}\n"
        f"Next: put a dealer's exports in {result.root / 'data' / '<dealer_id>'}, then\n"
        f"  cd {result.root}\n"
        "  ownercomm onboard data/<dealer_id> --dealer-id <dealer_id> --timezone <Area/City>\n"
        "  ownercomm run params/dealers/<dealer_id>.yaml"
    )
