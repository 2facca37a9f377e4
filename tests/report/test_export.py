"""report.export: code-free, offline HTML with plotly.js once and every chart drawn."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser

import nbformat
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from ownercomm_kit.report import charts, export, html

XSS = "<img src=x onerror=alert(1)>"
PLOTLY_BANNER = "plotly.js v"  # the library's own header comment, once per copy


def _outputs(fn):
    with html.capture() as got:
        fn()
    return [new_output("display_data", data=b, metadata={"ownercomm": m} if m else {}) for b, m in got]


def _fig(i=0):
    return charts.bar(pd.DataFrame({"x": [XSS, "b"], "y": [i, 2]}), x="x", y="y", title=f"Chart {i}")


def sample_notebook(n_charts=3) -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell("# For the consultant only"),
        new_code_cell("dealer_id = None", metadata={"tags": ["parameters"]}),
        new_code_cell(
            "ctx = start()",
            outputs=_outputs(
                lambda: html.publish(
                    html.header(report="Communication audit", dealer_name=f"Tiny {XSS}", period="p", as_of="2026-06-18")
                )
            ),
        ),
        new_code_cell(
            "section()",
            outputs=_outputs(
                lambda: (
                    html.section("problems", "What is wrong"),
                    [charts.show(_fig(i)) for i in range(n_charts)],
                    html.show(html.table(pd.DataFrame({"name": [XSS]}))),
                )
            ),
        ),
        new_code_cell(
            "print('secret')",
            outputs=[
                new_output("stream", name="stdout", text="secret stdout\n"),
                new_output("stream", name="stderr", text="secret warning\n"),
                new_output("execute_result", data={"text/plain": "ReportContext(secret)"}, execution_count=3),
            ],
        ),
        new_code_cell("x = 1", outputs=[]),
    ]
    return new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict]]:
    p = Tags()
    p.feed(_without_library(page))
    return p.tags


def _without_library(page: str) -> str:
    """The page with the packed plotly.js emptied (1.7 MB the tests need not parse)."""
    return re.sub(
        r'(<script type="application/octet-stream" id="oc-plotlyjs-gz">).*?(</script>)',
        r"\1\2",
        page,
        count=1,
        flags=re.S,
    )


def _unpacked_library(page: str) -> str:
    """plotly.js as the page's loader rebuilds it: 7 bits a character, escapes, then gunzip
    (a plain re-implementation of the loader's loop, independent of export.unpack7)."""
    block = re.search(r'<script type="application/octet-stream" id="oc-plotlyjs-gz">(.*?)</script>', page, re.S).group(
        1
    )
    length = int(re.search(r"out=new Uint8Array\((\d+)\)", page).group(1))
    special = [0, 13, 60, 127]
    out, acc, bits, i = bytearray(), 0, 0, 0
    while i < len(block) and len(out) < length:
        v = ord(block[i])
        if v == 127:
            i += 1
            v = special[ord(block[i]) - 48]
        acc, bits = (acc << 7) | v, bits + 7
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 255)
            acc &= (1 << bits) - 1
        i += 1
    return gzip.decompress(bytes(out)).decode("utf-8")


@pytest.fixture(scope="module")
def page() -> str:
    return export.notebook_to_html(sample_notebook(), title=f"Tiny {XSS}: audit")


def test_no_code_prompts_or_stream_output(page):
    assert "<code" not in page
    assert "In&nbsp;[" not in page and "In [" not in page and "jp-InputPrompt" not in page
    assert "dealer_id = None" not in page and "print(" not in page
    assert "secret" not in page
    assert "For the consultant only" not in page


def test_plotlyjs_exactly_once_inline(page):
    assert page.count('id="oc-plotlyjs-gz"') == 1
    head = page.split("</head>")[0]
    assert 'id="oc-plotlyjs-gz"' in head
    assert _unpacked_library(page) == export.plotlyjs_code()  # the whole library, byte for byte
    # the data block holds nothing the HTML parser would change or that could end it early
    block = re.search(r'id="oc-plotlyjs-gz">(.*?)</script>', page, re.S).group(1)
    assert not set(block) & {"\x00", "\r", "<"} and max(map(ord, block)) < 128


def test_page_with_plotlyjs_is_under_two_megabytes(page):
    assert len(page.encode("utf-8")) < 2_000_000


def test_plain_inline_plotlyjs_still_possible():
    out = export.notebook_to_html(sample_notebook(1), title="t", plotlyjs="inline-plain")
    assert out.count(PLOTLY_BANNER) == 1 and "oc-plotlyjs-gz" not in out


def test_a_chart_div_per_figure(page):
    assert len(re.findall(r'<div class="oc-chart"', page)) == 3
    assert page.count("window.Plotly.newPlot(") == 3


def test_print_stylesheet_and_sortable_tables(page):
    assert "@media print" in page and "table.oc-sortable" in page and "beforeprint" in page


def test_sections_and_header(page):
    assert '<section id="problems" class="oc-section">' in page
    assert '<header class="oc-header">' in page
    assert page.index("oc-header") < page.index('id="problems"')


def test_no_network_urls_in_src_or_href(page):
    for tag, attrs in _tags(page):
        for name in ("src", "href", "action", "data"):
            value = attrs.get(name) or ""
            assert not re.match(r"(?i)\s*(https?:)?//", value), (tag, name, value)
    assert "cdn" not in "".join(str(a) for _, a in _tags(page)).lower()
    ours = _without_library(page)  # plotly.js itself only mentions MathJax (uses it when a page has it)
    assert "MathJax" not in ours and "require.js" not in ours and "require.min.js" not in ours


def test_csp_forbids_network(page):
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp


def test_data_and_title_are_escaped(page):
    assert XSS not in page
    assert "<title>Tiny &lt;img src=x onerror=alert(1)&gt;: audit</title>" in page
    scripts = [a for t, a in _tags(page) if t == "script"]
    # plotly.js (data block and loader), one per chart, the sort script: nothing injected by the data.
    assert len(scripts) == 2 + 3 + 1
    assert not [a for t, a in _tags(page) if t == "img"]


def test_shared_plotlyjs_and_writing_it(tmp_path):
    out = export.notebook_to_html(sample_notebook(1), title="t", plotlyjs="shared")
    assert PLOTLY_BANNER not in out
    assert '<script type="text/javascript" src="plotly.min.js"></script>' in out
    nested = export.notebook_to_html(sample_notebook(1), title="t", plotlyjs="../plotly.min.js")
    assert 'src="../plotly.min.js"' in nested
    path = export.write_shared_plotlyjs(tmp_path)
    assert path.name == "plotly.min.js" and PLOTLY_BANNER in path.read_text()[:500]
    mtime = path.stat().st_mtime_ns
    export.write_shared_plotlyjs(tmp_path)
    assert path.stat().st_mtime_ns == mtime  # unchanged plotly: not rewritten


@pytest.mark.parametrize("bad", ["https://cdn.plot.ly/plotly.min.js", "//cdn/x.js", "javascript:alert(1)"])
def test_plotlyjs_url_refused(bad):
    with pytest.raises(ValueError, match="not a URL"):
        export.notebook_to_html(sample_notebook(1), title="t", plotlyjs=bad)


def test_figure_displayed_by_plotly_itself_is_still_drawn():
    """A consultant's own `fig.show()` gives only the plotly mimetype (plotly >= 6)."""
    fig = go.Figure(go.Bar(x=["a"], y=[1]), layout={"title": {"text": "own"}})
    bundle = pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict())
    assert set(bundle) == {charts.PLOTLY_MIME}
    nb = new_notebook(cells=[new_code_cell("fig.show()", outputs=[new_output("display_data", data=bundle)])])
    out = export.notebook_to_html(nb, title="t")
    assert out.count('<div class="oc-chart"') == 1


def test_nbconvert_html_exporter_picks_the_html_of_a_chart():
    """Plain nbconvert (lab template) keeps our charts: it picks text/html over the plotly JSON."""
    from nbconvert import HTMLExporter

    nb = new_notebook(cells=[new_code_cell("show(fig)", outputs=_outputs(lambda: charts.show(_fig())))])
    body, _ = HTMLExporter(exclude_input=True).from_notebook_node(nb)
    assert 'class="oc-chart"' in body and "window.Plotly.newPlot(" in body


def test_export_is_reusable_and_deterministic():
    nb = sample_notebook()
    first = export.notebook_to_html(nb, title="t")
    second = export.notebook_to_html(nb, title="t")
    assert first == second
    assert export.exporter() is export.exporter()


def test_export_accepts_a_path_and_writes_atomically(tmp_path):
    src = tmp_path / "run.ipynb"
    nbformat.write(sample_notebook(1), src)
    path = export.write_html(str(src), tmp_path / "audit.html", title="t")
    assert path.read_text(encoding="utf-8").count('<div class="oc-chart"') == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_style_outputs_are_for_jupyterlab_only():
    nb = new_notebook(
        cells=[new_code_cell("start()", outputs=_outputs(lambda: html.publish("<style>.x{}</style>", role="style")))]
    )
    assert ".x{}" not in export.notebook_to_html(nb, title="t")
