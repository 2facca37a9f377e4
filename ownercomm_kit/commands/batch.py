"""`ownercomm batch GROUP_FILE`: every store of a group (``batch.run_batch``)."""

from __future__ import annotations

import sys

import click

from ..words import plural


@click.command("batch")
@click.argument("group_file", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder that receives <group_id>/ (default: reports/ in the kit's root).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Stores run at once on this machine (default: the number of cores, one more when a small "
    "group does not divide evenly among them and the stores' estimated memory fits, so no core "
    "idles at the end).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786. Workers need the kit "
    "installed and the data and output folders at the same paths.",
)
@click.option("--force", is_flag=True, help="Run every store, even those unchanged since their last good run.")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="The reports' 'today' for every store.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Give up on a store after this many seconds of wall time in all (kernel start, notebooks, export).",
)
@click.option(
    "--history",
    "history_months",
    type=click.IntRange(min=1, max=600),
    default=None,
    metavar="N",
    help="Also rebuild each store's history.csv over its last N month-ends (as `ownercomm history`); "
    "the reports chart it in their progress sections.",
)
def batch(
    group_file: str,
    out: str | None,
    workers: int | None,
    scheduler: str | None,
    force: bool,
    as_of: str | None,
    timeout: float | None,
    history_months: int | None,
) -> None:
    """Run every store of a dealer group and write the group index.

    Writes <out>/<group_id>/<dealer_id>/ per store, index.html and manifest.json. A store
    that fails is reported and the others still run; the exit code is 1 if any failed.
    """
    if scheduler is None:  # the local pool's fork server imports the workers' modules from now on,
        from ..batch.executors import LocalPool  # while this process reads the group (light import)

        LocalPool.start_server()
    from tqdm import tqdm

    from .. import lean, procs

    lean.skip_iri_grammar()  # the group step's nbformat, without an unused 1-2 s import
    from ..batch import BatchInterrupted, run_batch
    from ..errors import StoreFailure

    bars = []  # the progress bar, once run_batch has read and checked the group (read once)

    def on_group(group) -> None:
        bars.append(
            tqdm(total=len(group.dealer_files), unit="store", desc=group.group_id, disable=None, file=sys.stderr)
        )

    def close_bar() -> None:
        for b in bars:
            b.close()

    def on_result(r: dict) -> None:
        bar = bars[0]
        bar.update(1)
        if not bar.disable:  # per-store lines only on a terminal; logs get the summary
            line = f"{r['dealer_id']}: {r['status']} ({r.get('seconds') or 0:.1f} s)"
            bar.write(line + (f": {r['error']}" if r.get("error") else ""), file=sys.stderr)

    try:
        with procs.sigterm_interrupts():
            result = run_batch(
                group_file,
                out=out,
                workers=workers,
                scheduler=scheduler,
                force=force,
                as_of=as_of,
                timeout=timeout,
                on_result=on_result,
                history_months=history_months,
                on_group=on_group,  # parameter problems stop there, before any store runs
            )
    except (ConnectionError, StoreFailure) as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt as e:  # SIGTERM or Ctrl-C: running stores stopped, nothing half-written
        close_bar()
        what, code = procs.stop_reason(e)
        procs.after_stop()
        if isinstance(e, BatchInterrupted):
            done = len(e.result.stores)
            click.echo(
                f"stopped by {what}: {plural(done, 'store')} finished, recorded in {e.result.manifest}; "
                "run the same command again to do the rest",
                err=True,
            )
        else:
            click.echo(f"stopped by {what} before any store finished", err=True)
        sys.exit(code)
    finally:
        close_bar()
    counts = {s: sum(1 for r in result.stores if r["status"] == s) for s in ("ok", "skipped", "failed")}
    click.echo(
        f"{result.group.group_id}: {counts['ok']} ran, {counts['skipped']} unchanged (skipped), "
        f"{counts['failed']} failed in {result.seconds:.1f} s"
    )
    click.echo(f"  index:    {result.index}")
    click.echo(f"  manifest: {result.manifest}")
    g = result.group_step or {}
    if g.get("status") in ("ok", "skipped"):
        click.echo(
            f"  group:    {result.out_dir / 'group' / 'group_audit.html'} ({g['status']}; "
            f"{g['kpis']['shared_customers']} shared customers, {g['kpis']['group_flags_total']} group flags)"
        )
    elif g.get("status") == "failed":
        click.echo(f"Group step failed: {g.get('error')}", err=True)
    if result.failed or g.get("status") == "failed":
        click.echo("Failed stores:", err=True)
        for s in result.failed:
            click.echo(f"  {s['dealer_id']}: {s['error']}", err=True)
            if s.get("failed_notebook"):
                click.echo(f"    executed notebook: {result.out_dir / s['failed_notebook']}", err=True)
        sys.exit(1)
