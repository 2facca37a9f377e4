"""`ownercomm audit DATA_DIR [--params DEALER_FILE] [--timezone TZ] [--as-of DATE] --out flags.csv`."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import LazyChoice, resolve_params


def _rule_names() -> list[str]:
    from ..audit import RULES

    return list(RULES)


@click.command("audit")
@click.argument("data_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--params",
    "dealer_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Dealer file (params/dealers/<id>.yaml): its mapping, timezone and rule overrides apply.",
)
@click.option("--timezone", help="IANA time zone of the dealer, e.g. America/Los_Angeles (else the dealer file's).")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="The audit's 'today' (YYYY-MM-DD); empty = the last date in the data.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("flags.csv"),
    show_default=True,
    help="Where to write the flags (one row per message and rule broken).",
)
@click.option(
    "--suppression",
    "suppression_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the suppression list (customer_id, channel, rule, until) here.",
)
@click.option(
    "--parquet",
    "parquet_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the flags as Parquet here: the same rows as the CSV, typed (time stamps with their "
    "zone), values as they are (the flags.parquet of `ownercomm run`, for analysts).",
)
@click.option(
    "--rule",
    "rules",
    multiple=True,
    type=LazyChoice(_rule_names),
    help="Run only this rule (repeatable); default: every enabled rule.",
)
def audit(data_dir, dealer_file, timezone, as_of, out, suppression_out, parquet_out, rules) -> None:
    """Run the communication audit's rules alone (no notebook) and write flags.csv.

    DATA_DIR is the dealer's folder of exports (it overrides the dealer file's data_dir).
    Prints the flags per rule and which rules were skipped for lack of data.
    """
    from .. import loader, outputs
    from ..procs import keep_freed_memory

    keep_freed_memory()  # see procs: fewer fresh pages for the big arrays
    from ..audit import RULES
    from ..audit.rules import run_rules_table

    resolved = resolve_params(data_dir, dealer_file, timezone, as_of.date() if as_of else None)
    data = loader.load_dealer(resolved, strict=True, columns=loader.AUDIT_COLUMNS)
    # the flags stay integer arrays and are written straight into the CSV: no frame is built
    flags, skipped, _ = run_rules_table(data, resolved, rules=list(rules) or None)
    with outputs.atomic_open(out, "wb") as f:
        flags.write_csv(f)
    if parquet_out is not None:
        outputs.write_parquet(flags.frame(), parquet_out)
    click.echo(f"{data.dealer_id}: {len(data['communications']):,} messages, {len(flags):,} flags -> {out}")
    if data["communications"].empty:  # a header-only export: said plainly, not a silent zero
        click.echo("  no messages in the data: the communications table has no rows, so nothing is audited")
    counts = flags.rule_counts()
    for name in rules or RULES:
        if name in skipped and not skipped[name].startswith("partly"):
            click.echo(f"  {name:<28} skipped: {skipped[name]}")
        else:
            note = f"  ({skipped[name]})" if name in skipped else ""
            click.echo(f"  {name:<28} {int(counts.get(name, 0)):>10,}{note}")
    if suppression_out is not None:
        from ..audit import suppression_list

        sup = suppression_list(data, resolved)
        outputs.write_csv(sup, suppression_out)
        click.echo(f"{len(sup):,} suppression rows -> {suppression_out}")
