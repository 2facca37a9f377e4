"""`ownercomm onboard`: recognise a dealer's exports and write its dealer file."""

from __future__ import annotations

import click


@click.command("onboard")
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=str))
@click.option("--dealer-id", required=True, help="The dealer's id, e.g. D042 (also the default file name).")
@click.option("--timezone", default=None, help="The dealer's IANA time zone, e.g. America/Chicago.")
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(dir_okay=False, path_type=str),
    help="Dealer file to write (default params/dealers/<ID>.yaml under the kit root).",
)
def onboard(data_dir: str, dealer_id: str, timezone: str | None, out: str | None) -> None:
    """Recognise the exports in DATA_DIR and write a dealer file.

    Tables are recognised by file or sheet name and by their headers, columns by the
    headers real DMS/CRM exports use (case, spaces and punctuation ignored) or by their
    values, and enum values ("Text" for sms) likewise. It prints each canonical column,
    the column found for it, how sure it is and what to edit when it guessed wrong.
    Re-running it keeps your own edits to files, mapping and values.
    """
    from .. import onboard as ob

    try:
        result = ob.onboard(data_dir, dealer_id, timezone=timezone, out=out)
    except ob.OnboardError as e:
        raise click.ClickException(str(e)) from None
    click.echo(ob.summary(result))
