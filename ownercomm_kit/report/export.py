"""Executed notebook -> one self-contained, code-free HTML page (SPEC §7, issue 6 item 2).

The page is rendered by the kit's own nbconvert template (``templates/ownercomm``): no
inputs, no prompts, no CDN script, font, MathJax or require.js. plotly.js goes in once,
in the head: inline and compressed by default (:func:`plotlyjs_packed`), or as
``<script src="plotly.min.js">`` when a group shares one copy beside its reports
(:func:`write_shared_plotlyjs`).

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


def page_cell(*bundles: tuple[dict, dict | None]):
    """A code cell holding display outputs, for pages built outside a kernel (the group index,
    the group page): each bundle is (mime data, the report's cell metadata or None)."""
    cell = nbformat.v4.new_code_cell("")
    for data, meta in bundles:
        out = nbformat.v4.new_output("display_data", data=data)
        if meta:
            out.metadata = {META_KEY: meta}
        cell.outputs.append(out)
    return cell


def html_bundle(body: str, section: str | None = None) -> tuple[dict, dict | None]:
    """HTML for :func:`page_cell`, opening a section of the page when ``section`` is given."""
    return ({"text/html": body, "text/plain": ""}, {"section": section} if section else None)


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


# The first screen never folds; these detail sections start folded (a click opens them, print
# opens every one); every other section folds but starts open.
FIRST_SCREEN = frozenset({"this-week", "headline", "ranking"})
START_FOLDED = frozenset({"data-quality", "definitions", "state-laws", "fatigue", "tiers", "replay"})
_H2 = re.compile(r"<h2[^>]*>(.*?)</h2>", re.S)


def section_fold(section_id: str | None) -> str:
    """How a section folds (jinja filter ``oc_fold``): "" (never: the first screen), "open"
    (folds, starts open) or "closed" (a detail section that starts folded)."""
    if not section_id or section_id in FIRST_SCREEN:
        return ""
    return "closed" if section_id in START_FOLDED else "open"


def toc(cells: Any) -> list[tuple[str, str]]:
    """(section id, title) of each section of a page, in order (jinja filter ``oc_toc``); the
    title is the section's own ``<h2>`` as text."""
    out = []
    for cell in cells:
        sid = cell_section(cell)
        if not sid:
            continue
        parts = cell_parts(cell)
        m = _H2.search(parts[0]) if parts else None
        if m:
            title = html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()
            if title:
                out.append((sid, title))
    return out


@functools.lru_cache(maxsize=1)
def exporter() -> ReportExporter:
    exp = ReportExporter()
    exp.register_filter("oc_parts", cell_parts)
    exp.register_filter("oc_section", cell_section)
    exp.register_filter("oc_fold", section_fold)
    exp.register_filter("oc_toc", toc)
    return exp


@functools.lru_cache(maxsize=1)
def plotlyjs_code() -> str:
    """plotly.js bundled with the installed plotly (no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


# --- plotly.js packed into the page (issue 12: a page <= 2 MB that opens offline alone) ---
#
# plotly.js is 4.8 MB of text. Inline it goes gzip-compressed (1.5 MB), carried as text of
# 7 bits a character ("base-128": 8/7 of the bytes, where base64 is 4/3), in a data block
# (<script type="application/octet-stream">, which the browser never runs). A small loader
# turns the text back into bytes, gunzips them with the browser's standard
# DecompressionStream and runs the library as an inline script element: no eval, no blob:
# or data: URL, nothing fetched, so the page's CSP (script-src 'unsafe-inline') stays as it
# was. Charts wait in window.ocCharts until the library is there (charts.figure_html).
#
# The text of a data block must not hold NUL or CR (the HTML parser replaces them) nor
# "<" (which could end the element), so those values, and the escape value itself, are
# written as ESCAPE + one digit.
PACK_ESCAPE = 127
PACK_SPECIAL = (0, 13, 60, PACK_ESCAPE)  # NUL, CR, "<", the escape itself
PACK_ID = "oc-plotlyjs-gz"


def pack7(data: bytes) -> str:
    """``data`` as text of 7 bits a character (see above); :data:`PACK_SPECIAL` escaped."""
    import numpy as np

    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    bits = np.concatenate([bits, np.zeros(-len(bits) % 7, dtype=np.uint8)])
    values = bits.reshape(-1, 7) @ (1 << np.arange(6, -1, -1))
    code = np.full(128, -1, dtype=np.int64)
    code[list(PACK_SPECIAL)] = np.arange(len(PACK_SPECIAL))
    escaped = code[values] >= 0
    width = 1 + escaped
    start = np.cumsum(width) - width
    out = np.empty(int(width.sum()), dtype=np.uint8)
    out[start] = np.where(escaped, PACK_ESCAPE, values)
    out[start[escaped] + 1] = ord("0") + code[values[escaped]]
    return out.tobytes().decode("ascii")


def unpack7(text: str, length: int) -> bytes:
    """The inverse of :func:`pack7` (the page's loader does the same in JavaScript)."""
    import numpy as np

    raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64)
    esc = np.flatnonzero(raw == PACK_ESCAPE)
    esc = esc[np.concatenate([[True], np.diff(esc) > 1])] if len(esc) else esc  # an escape never escapes the next one
    keep = np.ones(len(raw), dtype=bool)
    raw[esc] = np.asarray(PACK_SPECIAL)[raw[esc + 1] - ord("0")]
    keep[esc + 1] = False
    values = raw[keep]
    bits = ((values[:, None] >> np.arange(6, -1, -1)) & 1).astype(np.uint8).reshape(-1)
    return np.packbits(bits[: length * 8]).tobytes()


LOADER_JS = """(function(){
var el=document.getElementById("%(id)s"),s=el.textContent,n=s.length,out=new Uint8Array(%(length)d),o=0,acc=0,bits=0,sp=[%(special)s];
for(var i=0;i<n&&o<out.length;i++){var v=s.charCodeAt(i);if(v===%(escape)d){v=sp[s.charCodeAt(++i)-48];}
acc=(acc<<7)|v;bits+=7;if(bits>=8){bits-=8;out[o++]=(acc>>bits)&255;acc&=(1<<bits)-1;}}
var ready=function(){var q=window.ocCharts||[];window.ocCharts={push:function(f){f();}};
document.documentElement.setAttribute("data-oc-plotly","ready");for(var k=0;k<q.length;k++){q[k]();}};
if(window.Plotly){ready();return;}
if(!window.DecompressionStream){document.documentElement.setAttribute("data-oc-plotly","unsupported");return;}
new Response(new Blob([out]).stream().pipeThrough(new DecompressionStream("gzip"))).text().then(function(code){
var sc=document.createElement("script");sc.text=code;document.head.appendChild(sc);el.textContent="";ready();
}).catch(function(e){document.documentElement.setAttribute("data-oc-plotly","failed");console.error(e);});
})();"""


@functools.lru_cache(maxsize=1)
def plotlyjs_packed() -> str:
    """The data block and loader of the packed plotly.js: built once per process, and kept in
    the user's cache folder between processes (compressing 4.8 MB takes a second or two)."""
    import hashlib

    code = plotlyjs_code().encode("utf-8")
    key = hashlib.sha256(code + LOADER_JS.encode("utf-8")).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ownercomm" / f"plotlyjs-{key}.html"
    try:
        text = cache.read_text(encoding="utf-8")
        if text.startswith(f'<script type="application/octet-stream" id="{PACK_ID}">') and text.endswith(
            "})();</script>"
        ):
            return text
    except (OSError, UnicodeDecodeError):
        pass
    text = _pack_plotlyjs(code)
    try:
        outputs.write_text(text, cache)
    except OSError:  # a read-only home: build it again next time
        pass
    return text


def _pack_plotlyjs(code: bytes) -> str:
    import gzip

    packed = gzip.compress(code, compresslevel=9, mtime=0)
    loader = LOADER_JS % {
        "id": PACK_ID,
        "length": len(packed),
        "escape": PACK_ESCAPE,
        "special": ",".join(map(str, PACK_SPECIAL)),
    }
    return (
        f'<script type="application/octet-stream" id="{PACK_ID}">{pack7(packed)}</script>'
        f'<script type="text/javascript">{loader}</script>'
    )


@functools.lru_cache(maxsize=8)
def plotlyjs_tag(plotlyjs: str = "inline") -> str:
    """``inline``: the library packed into the page (above); ``inline-plain``: as plain text in
    a script element (4.8 MB); ``shared``: ``<script src="plotly.min.js">``; any other value:
    a relative path to a shared copy (``../plotly.min.js``)."""
    if plotlyjs == "inline":
        return plotlyjs_packed()
    if plotlyjs == "inline-plain":
        # plotly.js holds no "</script" (checked), so it cannot close its own element early.
        code = plotlyjs_code()
        if "</script" in code.lower():  # pragma: no cover - a future plotly.js
            code = re.sub(r"(?i)</script", r"<\\/script", code)
        return f'<script type="text/javascript">{code}</script>'
    src = SHARED_PLOTLYJS if plotlyjs == "shared" else str(plotlyjs)
    if re.match(r"(?i)^\s*([a-z][a-z0-9+.-]*:|//)", src):
        raise ValueError(f"plotlyjs must be 'inline', 'shared' or a relative path, not a URL: {src!r}")
    return f'<script type="text/javascript" src="{html.escape(src, quote=True)}"></script>'


def notebook_to_html(nb: Any, *, title: str, plotlyjs: str = "inline", page_class: str = "") -> str:
    """The executed notebook ``nb`` (an nbformat node, or a path) as one HTML page
    (``page_class``: a class of the page's main element, e.g. ``oc-wide`` for the group index)."""
    if isinstance(nb, (str, os.PathLike)):
        nb = nbformat.read(nb, as_version=4)
    resources = {
        "ownercomm": {
            "title": title,
            "csp": CSP,
            "version": __version__,
            "page_class": re.sub(r"[^A-Za-z0-9_ -]", "", page_class),
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
