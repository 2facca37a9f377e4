"""`ownercomm synth`: synthetic dealers with injected rule breaks and their ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click


@click.command("synth")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--dealers", default=3, show_default=True, type=click.IntRange(1), help="Number of stores.")
@click.option("--customers", default=300, show_default=True, type=click.IntRange(0), help="Customers per store.")
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same bytes.")
@click.option(
    "--inject-rate",
    default=0.01,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of customers per SPEC §4 rule who get a message breaking it (at least one each).",
)
@click.option("--no-inject", is_flag=True, help="Clean data only: breaks no rule, empty ground truth.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option(
    "--as-of",
    default="2026-10-31",
    show_default=True,
    metavar="YYYY-MM-DD",
    help="Last day of the history (YYYY-MM-DD).",
)
@click.option("--group-id", default="synthetic", show_default=True, help="Name of the group file written.")
@click.option(
    "--data-subdir",
    default="data",
    show_default=True,
    help="Folder under OUT_DIR for the dealers' data (the sample uses sample_data).",
)
@click.option(
    "--ground-truth-dir",
    default="ground_truth",
    show_default=True,
    help="Folder under OUT_DIR for <dealer_id>.csv files of (message_id, rule).",
)
@click.option(
    "--shared-share",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of each later store's customers who are also customers of an earlier store "
    "(SPEC §9); writes group.csv and group_persons.csv into the ground truth folder.",
)
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.option("--force", is_flag=True, help="Overwrite dealers, data and ground truth already in OUT_DIR.")
def synth(
    out_dir,
    dealers,
    customers,
    seed,
    inject_rate,
    no_inject,
    fmt,
    as_of,
    group_id,
    data_subdir,
    ground_truth_dir,
    shared_share,
    quiet,
    force,
) -> None:
    """Write DEALERS synthetic stores into OUT_DIR, with dealer files, a group file and ground truth.

    OUT_DIR gets <data-subdir>/<dealer_id>/<table>.csv|.parquet, params/dealers/<dealer_id>.yaml,
    params/groups/<group-id>.yaml and <ground-truth-dir>/<dealer_id>.csv. Rule thresholds come
    from params/defaults.yaml. The shipped sample was made, from the kit's root, with:

    \b
      ownercomm synth . --dealers 3 --customers 300 --seed 7 --group-id sample \\
        --data-subdir sample_data --ground-truth-dir sample_data/ground_truth --shared-share 0.2 --force
    """
    from ..synth.output import dealer_specs, write_group

    if not force:  # a folder that already holds dealers (the shipped sample, a consultant's tree)
        root = Path(out_dir)
        taken = [
            p
            for spec in dealer_specs(dealers)
            for p in (
                root / "params" / "dealers" / f"{spec.dealer_id}.yaml",
                root / data_subdir / spec.dealer_id,
                root / ground_truth_dir / f"{spec.dealer_id}.csv",
            )
            if p.exists()
        ]
        taken += [p for p in [root / "params" / "groups" / f"{group_id}.yaml"] if p.exists()]
        if taken:
            shown = ", ".join(str(p) for p in taken[:3]) + (f" and {len(taken) - 3} more" if len(taken) > 3 else "")
            raise click.ClickException(
                f"{out_dir} already holds what synth would write ({shown}); "
                "give another OUT_DIR, or --force to overwrite"
            )
    try:
        as_of_date = dt.date.fromisoformat(as_of)
    except ValueError:
        raise click.BadParameter(f"{as_of!r} is not a date (YYYY-MM-DD)", param_hint="--as-of") from None
    try:
        summary = write_group(
            out_dir,
            dealers=dealers,
            customers=customers,
            seed=seed,
            inject_rate=inject_rate,
            inject=not no_inject,
            fmt=fmt,
            as_of=as_of_date,
            group_id=group_id,
            data_subdir=data_subdir,
            ground_truth_dir=ground_truth_dir,
            progress=None if quiet else click.echo,
            shared_share=shared_share,
        )
    except OSError as e:  # a folder that cannot be written: say which, no traceback
        raise click.ClickException(f"cannot write {e.filename or out_dir}: {e.strerror or e}") from None
    except ValueError as e:  # thresholds in params/defaults.yaml that no message history can meet
        raise click.ClickException(str(e)) from None
    if not quiet:
        click.echo(f"group file: {summary['group_file']}")
