"""`ownercomm history DEALER_FILE --months N [--out DIR]`: month-end figures (``kpis.history.build``)."""

from __future__ import annotations

import click


@click.command("history")
@click.argument("dealer_file", type=click.Path(dir_okay=False))
@click.option(
    "--months",
    type=click.IntRange(min=1, max=600),
    default=24,
    show_default=True,
    help="How many month-ends, counting back from the report date (the dealer's as_of, else "
    "the last date in the data).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder that receives <dealer_id>/history.csv (default: reports/ in the kit's root).",
)
@click.option(
    "--group",
    "group_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A group file whose parameters apply below the dealer's.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    default=None,
    help="Count month-ends back from this date instead (YYYY-MM-DD).",
)
def history(dealer_file: str, months: int, out: str | None, group_file: str | None, as_of) -> None:
    """Every audit, retention and referral figure at each of the last N month-ends.

    Each month-end is computed exactly as a report dated that day would compute it, from one
    reading of the exports. Writes <out>/<dealer_id>/history.csv: one row per month-end, a
    column per figure of kpis.json and one per audit rule (flags of messages sent in that
    month). The reports show it in their progress sections.
    """
    from ..kpis.history import build

    result = build(dealer_file, months=months, out=out, group_file=group_file, as_of=as_of.date() if as_of else None)
    f = result.frame
    click.echo(
        f"{result.dealer_id}: {len(f)} month-ends ({f['as_of'].iloc[0]} to {f['as_of'].iloc[-1]}) "
        f"-> {result.path} ({result.seconds:.1f} s)"
    )
