"""Executed notebook -> one self-contained, code-free HTML page (SPEC §7, issue 6 item 2).

The page is rendered by the kit's own nbconvert template (``templates/ownercomm``): no
inputs, no prompts, no CDN script, font, MathJax or require.js. plotly.js goes in once,
in the head: inline by default, or as ``<script src="plotly.min.js">`` when a group shares
one copy beside its reports (:func:`write_shared_plotlyjs`).

The exporter and plotly.js are built once per process and reused: a batch exports
thousands of pages.
"""
from __future__ import annotations

import functools
import html
import os
import re
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.exporters import TemplateExporter
from traitlets import List

from .. import __version__, outputs
from . import charts
from .html import META_KEY

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE_NAME = "ownercomm"
PLACEHOLDER = "<!--oc:plotlyjs-->"
SHARED_PLOTLYJS = "plotly.min.js"

# Nothing leaves the machine: no fetch, font or frame; scripts only inline or from the
# report's own folder (the shared plotly.min.js). Plotly adds inline styles and draws
# its modebar icons and downloads as data:/blob: URLs.
CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src 'none'; connect-src 'none'; frame-src 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'"
)


class ReportExporter(TemplateExporter):
    """nbconvert exporter of the ownercomm template (HTML, outputs only)."""

    export_from_notebook = "ownercomm report"
    output_mimetype = "text/html"

    # No preprocessors: the template shows outputs only and picks them itself, and nbconvert
    # re-validates the whole notebook after each preprocessor (most of an export's time).
    default_preprocessors = List([]).tag(config=True)

    def _file_extension_default(self):
        return ".html"

    def _template_name_default(self):
        return TEMPLATE_NAME

    def _extra_template_basedirs_default(self):
        return [str(TEMPLATE_DIR)]


def _output_html(output: Any) -> str | None:
    """The HTML of one output, or None when it is not for the reader.

    Shown: ``text/html``; a plotly figure without ``text/html`` (a figure displayed by
    plotly itself) is drawn from its JSON; PNG/SVG images. Not shown: code's stdout and
    stderr, warnings, tracebacks, bare text reprs, and JupyterLab-only style blocks.
    """
    kind = output.get("output_type")
    if kind not in ("display_data", "execute_result"):
        return None
    meta = (output.get("metadata") or {}).get(META_KEY) or {}
    if meta.get("role") == "style":
        return None
    data = output.get("data") or {}
    if "text/html" in data:
        return _joined(data["text/html"])
    if charts.PLOTLY_MIME in data:
        return _plotly_from_json(data[charts.PLOTLY_MIME])
    if "image/svg+xml" in data:
        return f'<div class="oc-image">{_joined(data["image/svg+xml"])}</div>'
    if "image/png" in data:
        return f'<div class="oc-image"><img alt="chart" src="data:image/png;base64,{_joined(data["image/png"]).strip()}"></div>'
    return None


def _joined(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _plotly_from_json(spec: dict) -> str:
    import plotly.graph_objects as go

    fig = go.Figure(spec.get("data", []), spec.get("layout", {}), skip_invalid=True)
    return charts.figure_html(fig)


def cell_parts(cell: Any) -> list[str]:
    """The HTML parts of one cell, in order (jinja filter ``oc_parts``)."""
    if cell.get("cell_type") == "markdown" and "report" in (cell.get("metadata", {}).get("tags") or []):
        from nbconvert.filters import markdown2html_mistune

        return [markdown2html_mistune(cell.get("source", ""))]
    if cell.get("cell_type") != "code":
        return []
    return [h for h in (_output_html(o) for o in cell.get("outputs", [])) if h]


def cell_section(cell: Any) -> str | None:
    """The section id a cell's outputs declare (jinja filter ``oc_section``)."""
    for o in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
        sid = ((o.get("metadata") or {}).get(META_KEY) or {}).get("section")
        if sid:
            return re.sub(r"[^A-Za-z0-9_-]", "-", str(sid))
    return None


@functools.lru_cache(maxsize=1)
def exporter() -> ReportExporter:
    exp = ReportExporter()
    exp.register_filter("oc_parts", cell_parts)
    exp.register_filter("oc_section", cell_section)
    return exp


@functools.lru_cache(maxsize=1)
def plotlyjs_code() -> str:
    """plotly.js bundled with the installed plotly (no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


@functools.lru_cache(maxsize=8)
def plotlyjs_tag(plotlyjs: str = "inline") -> str:
    """``inline``: the library in a script element; ``shared``: ``<script src="plotly.min.js">``;
    any other value: a relative path to a shared copy (``../plotly.min.js``)."""
    if plotlyjs == "inline":
        # plotly.js holds no "</script" (checked), so it cannot close its own element early.
        code = plotlyjs_code()
        if "</script" in code.lower():  # pragma: no cover - a future plotly.js
            code = re.sub(r"(?i)</script", r"<\\/script", code)
        return f'<script type="text/javascript">{code}</script>'
    src = SHARED_PLOTLYJS if plotlyjs == "shared" else str(plotlyjs)
    if re.match(r"(?i)^\s*([a-z][a-z0-9+.-]*:|//)", src):
        raise ValueError(f"plotlyjs must be 'inline', 'shared' or a relative path, not a URL: {src!r}")
    return f'<script type="text/javascript" src="{html.escape(src, quote=True)}"></script>'


def notebook_to_html(nb: Any, *, title: str, plotlyjs: str = "inline") -> str:
    """The executed notebook ``nb`` (an nbformat node, or a path) as one HTML page."""
    if isinstance(nb, (str, os.PathLike)):
        nb = nbformat.read(nb, as_version=4)
    resources = {
        "ownercomm": {
            "title": title,
            "csp": CSP,
            "version": __version__,
            "footer": f"{title}. Made with ownercomm kit {__version__}. Figures are explained in the Definitions section.",
        }
    }
    body, _ = exporter().from_notebook_node(nb, resources=resources)
    # After rendering, so that the 4.8 MB library never passes through jinja.
    return body.replace(PLACEHOLDER, plotlyjs_tag(plotlyjs), 1)


def write_html(nb: Any, path: str | os.PathLike, *, title: str, plotlyjs: str = "inline") -> Path:
    """:func:`notebook_to_html` written atomically to ``path``."""
    return outputs.write_text(notebook_to_html(nb, title=title, plotlyjs=plotlyjs), path)


def write_shared_plotlyjs(folder: str | os.PathLike) -> Path:
    """One ``plotly.min.js`` in ``folder`` for pages exported with ``plotlyjs="shared"``
    (rewritten only when the installed plotly changed)."""
    path = Path(folder) / SHARED_PLOTLYJS
    code = plotlyjs_code()
    if path.is_file() and path.stat().st_size == len(code.encode("utf-8")) and path.read_text(encoding="utf-8") == code:
        return path
    return outputs.write_text(code, path)
