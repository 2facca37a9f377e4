"""`ownercomm run DEALER_FILE`: one dealer's notebooks and reports (``run.store.run_dealer``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("run")
@click.argument("dealer_file", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder that receives <dealer_id>/ (default: reports/ in the kit's root).",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="YYYY-MM-DD",
    help="The report's 'today' (default: the dealer file's, else the last date in the data).",
)
@click.option("--force", is_flag=True, help="Run even when nothing changed since the last good run.")
@click.option(
    "--group",
    "group_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A group file whose parameters apply below the dealer's.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Give up on the dealer after this many seconds of wall time in all (kernel start, notebooks, export).",
)
def run(
    dealer_file: str, out: str | None, as_of: str | None, force: bool, group_file: str | None, timeout: float | None
) -> None:
    """Run a dealer's notebooks and write its reports into <out>/<dealer_id>/.

    The audit, retention, referral and data-quality reports (audit.html, retention.html,
    referrals.html, data_quality.html), flags.csv and flags.parquet, suppression.csv, the CSV
    call lists, kpis.json, runs/<as_of>.json and the executed notebooks. Nothing is replaced
    unless every notebook succeeded; an unchanged dealer is skipped unless --force.
    """
    from .. import lean, params, procs

    lean.skip_iri_grammar()  # papermill's nbformat, without an unused 1-2 s import
    from ..run.failure import Failure
    from ..run.store import run_dealer

    # Parameter problems (types, ranges, ids) stop here, every one listed, before any work
    # (a dealer file that is not there is the run's own one-line failure).
    if Path(dealer_file).is_file():
        params.resolve(dealer_file=dealer_file, group_file=group_file)
    try:
        with procs.sigterm_interrupts():
            result = run_dealer(dealer_file, out=out, as_of=as_of, force=force, group_file=group_file, timeout=timeout)
    except KeyboardInterrupt as e:  # SIGTERM or Ctrl-C: the run unwound (staging removed, kernel stopped)
        what, code = procs.stop_reason(e)
        procs.after_stop()
        click.echo(f"stopped by {what}: nothing was published, the last good reports are unchanged", err=True)
        sys.exit(code)
    if result.status == "ok":
        click.echo(f"{result.dealer_id}: reports written to {result.out_dir} ({result.seconds:.1f} s)")
    elif result.status == "skipped":
        click.echo(
            f"{result.dealer_id}: unchanged since the last run, skipped ({result.out_dir}; --force to run it again)"
        )
    else:
        failure = Failure.from_dict(result.failure) if result.failure else Failure("other", result.error or "")
        if failure.problems and failure.kind in ("data", "params"):  # where each problem is; no value from the data
            click.echo(f"{result.dealer_id}: FAILED: {failure.headline()}", err=True)
            for line in failure.problem_lines():
                click.echo(f"  {line}", err=True)
        else:  # its one line (an unexpected error's own message included)
            click.echo(f"{result.dealer_id}: FAILED: {result.error}", err=True)
        if result.failed_notebook:
            click.echo(f"  executed notebook kept for diagnosis: {result.failed_notebook}", err=True)
        if failure.kind == "data":  # with the values and the fixes (a values: or mapping: line)
            click.echo(f"  every data problem: ownercomm validate --params {dealer_file}", err=True)
        sys.exit(1)
