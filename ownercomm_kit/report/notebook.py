"""The set-up cell of every report notebook: ``ctx = start(globals(), report="audit")``.

It reads the parameters cell (papermill fills it from a dealer file; empty means the
shipped sample dealer), resolves them through ``params.for_notebook``, loads the dealer's
data with the loader, prepares the output folder, applies the chart theme and shows the
report's header. Every later cell is one call ``<report>_report.<section>(ctx, ...)``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


from ..words import noun
from .. import params as params_mod
from .. import paths
from ..data import DataError, DealerData
from ..run import resume
from . import html, theme


REPORTS = {
    "audit": "Communication audit",
    "retention": "Retention report",
    "referrals": "Referral report",
}


@dataclass
class ReportContext:
    """What every section needs: parameters, data, where outputs go, how to show PII."""

    report: str
    params: dict
    data: DealerData
    out_dir: Path
    mask_pii: bool = True
    results: dict[str, Any] = field(default_factory=dict)  # computed results, by name

    @property
    def dealer_name(self) -> str:
        return str(self.params.get("dealer_name") or self.data.dealer_name or self.data.dealer_id)

    @property
    def as_of(self) -> dt.date:
        return self.data.as_of

    def path(self, name: str) -> Path:
        return self.out_dir / name


def parameters_from(namespace: Mapping[str, Any] | None, given: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters cell's values from ``namespace`` (a notebook's ``globals()``),
    overridden by explicit keyword arguments."""
    chosen = {k: (namespace or {}).get(k) for k in params_mod.NOTEBOOK_PARAMETERS}
    unknown = set(given) - set(params_mod.NOTEBOOK_PARAMETERS)
    if unknown:
        raise TypeError(
            f"unknown {noun(len(unknown), 'parameter')}: {', '.join(sorted(unknown))} (allowed: {', '.join(params_mod.NOTEBOOK_PARAMETERS)})"
        )
    chosen.update(given)
    return chosen


def resolve(chosen: Mapping[str, Any]) -> tuple[dict, Path]:
    """(merged parameters, output folder) of a parameters cell; nothing is touched."""
    given = {k: v for k, v in chosen.items() if v is not None and k != "out_dir"}
    resolved = params_mod.for_notebook(**given)
    root = Path(resolved.get("kit_root") or paths.kit_root())
    out = chosen.get("out_dir")
    if out:
        out_dir = Path(str(out)).expanduser()
        out_dir = out_dir if out_dir.is_absolute() else Path.cwd() / out_dir
    else:
        out_dir = root / "reports" / str(resolved["dealer_id"])
    return resolved, out_dir


def forget_published_run(chosen: Mapping[str, Any], out_dir: Path) -> None:
    """A notebook run by hand (no ``out_dir``) writes into the folder `ownercomm run` publishes
    to: forget that run's record, so the next `ownercomm run` redoes the whole report instead
    of skipping it as unchanged beside these new outputs."""
    if not chosen.get("out_dir"):
        resume.forget(out_dir)


def context(report: str, resolved: dict, data: DealerData, out_dir: str | Path) -> ReportContext:
    """A context from already resolved parameters and loaded data (tests, scripts)."""
    if report not in REPORTS:
        raise ValueError(f"unknown report {report!r} (one of {', '.join(REPORTS)})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mask = (resolved.get("report") or {}).get("mask_pii", True)
    from ..kpis import runs

    runs.mark_as_of(out_dir, data.as_of)  # the runner records this run under runs/<as_of>.json
    theme.apply()
    return ReportContext(report=report, params=resolved, data=data, out_dir=out_dir, mask_pii=bool(mask is not False))


def start(namespace: Mapping[str, Any] | None = None, /, *, report: str, **given: Any) -> ReportContext:
    """Resolve the parameters, load the data, prepare ``out_dir``, show the header.

    ``namespace`` is the notebook's ``globals()`` (the parameters cell's variables);
    keyword arguments override them. A blocking data problem raises ``DataError``, whose
    message lists every problem (file, row, column, value).
    """
    from ..load_cache import load_cached  # the kernel's earlier notebooks loaded it already

    try:
        chosen = parameters_from(namespace, given)
        resolved, out_dir = resolve(chosen)
        forget_published_run(chosen, out_dir)
        data, _ = load_cached(resolved, strict=True)
    except (DataError, params_mod.ParamsError) as e:
        _plain_failure(e)
        raise
    ctx = context(report, resolved, data, out_dir)
    show_style()
    html.publish(header_html(ctx))
    return ctx


CSS_FILE = Path(__file__).resolve().parents[1] / "templates" / "ownercomm" / "static" / "report.css"


def lab_css() -> str:
    """The report's stylesheet without its page-wide rules (``*``, ``body``, print), so that
    showing it in JupyterLab styles the report's outputs and not JupyterLab itself."""
    css = CSS_FILE.read_text(encoding="utf-8")
    css = css.split("@media print", 1)[0]
    return re.sub(r"(?m)^(\*|body)\s*\{[^}]*\}\s*", "", css)


def _plain_failure(error: Exception) -> None:
    """A data or parameter problem shows as its message (every problem listed), not as a
    Python traceback: IPython prints ``_render_traceback_()`` instead of the stack."""
    lines = str(error).splitlines()
    html.publish(
        html.note(
            "The report cannot be made from this data. Fix the problems below "
            "(ownercomm validate lists them too) and run again.",
            "warn",
        )
        + html.bullets(lines)
    )
    error._render_traceback_ = lambda: [
        f"{type(error).__name__}: {line}" if i == 0 else line  # type: ignore[attr-defined]
        for i, line in enumerate(lines)
    ]


def show_style() -> None:
    """The report's stylesheet, for JupyterLab (the HTML export has the full one in its head)."""
    html.publish(f"<style>{lab_css()}</style>", role="style")


def period_text(ctx: ReportContext) -> str:
    """What the report covers, in words."""
    data = ctx.data
    if ctx.report == "audit":
        # The messages the audit covers: those dated up to the report date.
        from ..audit import up_to_as_of

        sent = up_to_as_of(data)["communications"]["sent_at"].dropna()
        if len(sent):
            first, last = sent.min(), sent.max()
            return f"Messages sent from {html.long_date(first.date())} to {html.long_date(last.date())}"
        return "No messages in the data"
    months = (ctx.params.get(ctx.report) or {}).get("window_months") or (ctx.params.get("retention") or {}).get(
        "retention_window_months", 12
    )
    return f"Headline figures over the {int(months)} months to the report date, with longer trends"


def header_html(ctx: ReportContext) -> str:
    return html.header(
        report=REPORTS[ctx.report],
        dealer_name=ctx.dealer_name,
        period=period_text(ctx),
        as_of=ctx.as_of,
        subtitle=f"Dealer {ctx.data.dealer_id} · times in {ctx.data.timezone}",
    )
