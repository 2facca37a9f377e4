"""Plotly charts for the reports, and :func:`show`, which makes them survive nbconvert.

Since plotly 6 a figure's notebook output carries only ``application/vnd.plotly.v1+json``,
which nbconvert's HTMLExporter does not know and drops: the chart vanishes from the HTML.
:func:`show` displays a bundle with that mimetype (JupyterLab draws it) *and* ``text/html``
(a ``<div class="oc-chart">`` and a script that draws it with the page's one copy of
plotly.js, which the ownercomm template puts in the head).

Labels that come from the data go through :func:`label`: plotly.js reads a small HTML
subset in text (``<b>``, ``<a href>``), so a model called ``<b>X</b>`` would otherwise
render as markup. The figure JSON itself is made script-safe by plotly (``<``, ``>`` and
``/`` become ``\\u003c``...), which the tests pin.
"""

from __future__ import annotations

import html
import itertools
import json
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from . import theme

PLOTLY_MIME = "application/vnd.plotly.v1+json"
# No mode bar in reports (issue 17 item 4): a principal reads the charts, hover still shows the values.
CONFIG = {"displaylogo": False, "displayModeBar": False, "responsive": True}
DEFAULT_HEIGHT = 380

_ids = itertools.count(1)


def label(value: Any) -> str:
    """A data value as plotly text: escaped so it shows literally."""
    if value is None or value is pd.NA:
        return ""
    return html.escape(str(value), quote=False)


def labels(values: Iterable[Any]) -> list[str]:
    return [label(v) for v in values]


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON safe inside ``<script>`` (plotly escapes ``< > /``)."""
    return pio.to_json(fig, validate=False, pretty=False)


def figure_html(fig: go.Figure, div_id: str | None = None) -> str:
    """``<div class="oc-chart">`` + a script drawing it with the page's ``window.Plotly``.

    Without plotly.js on the page (a viewer that shows ``text/html`` only) the script does
    nothing rather than raising, and the div keeps the chart's title as text. While the
    page's packed plotly.js is still being unpacked the chart waits in ``window.ocCharts``.
    """
    div_id = div_id or f"oc-chart-{next(_ids)}"
    height = fig.layout.height or DEFAULT_HEIGHT
    title = fig.layout.title.text or "chart"
    payload = figure_json(fig)
    config = json.dumps(CONFIG)
    return (
        f'<div class="oc-chart" role="img" aria-label="{html.escape(html.unescape(str(title)), quote=True)}">'
        f'<div id="{div_id}" class="oc-plot" style="height:{int(height)}px;width:100%"></div>'
        "<script>(function(){"
        f'var el=document.getElementById("{div_id}");'
        "if(!el){return;}"
        f"var fig={payload};"
        f"var draw=function(){{if(window.Plotly){{window.Plotly.newPlot(el,fig.data,fig.layout,{config});}}}};"
        # the page's plotly.js may still be unpacking (export.plotlyjs_packed): wait for it
        "if(window.Plotly){draw();}else{(window.ocCharts=window.ocCharts||[]).push(draw);}"
        "})();</script></div>"
    )


def mimebundle(fig: go.Figure) -> dict[str, Any]:
    data = json.loads(figure_json(fig))
    data["config"] = dict(CONFIG)
    title = fig.layout.title.text or "chart"
    return {PLOTLY_MIME: data, "text/html": figure_html(fig), "text/plain": f"[chart] {title}"}


def show(fig: go.Figure, empty: str | None = None) -> None:
    """Display ``fig`` so that both JupyterLab and the HTML export draw it.

    A figure with nothing to draw (every value zero, blank or missing: an empty selection of
    a valid dealer) is not drawn as an empty frame: the reader gets a sentence instead,
    ``empty`` or one naming the chart.
    """
    from .html import emit, note, publish

    if not has_values(fig):
        title = html.unescape(fig.layout.title.text or "This chart")
        publish(note(empty or f"{title}: nothing to draw for this dealer (every value is zero or unknown).", "skip"))
        return
    emit(mimebundle(fig), {"role": "chart"})


def has_values(fig: go.Figure) -> bool:
    """True when a trace carries at least one finite, non-zero number (x, y, z or values)."""
    for trace in fig.data:
        for key in ("x", "y", "z", "values"):
            values = getattr(trace, key, None) if key in trace else None
            if values is None:
                continue
            arr = np.asarray(values)
            if arr.dtype.kind in "iuf":
                nums = arr.astype(float).ravel()
            elif arr.dtype == object:  # numbers mixed with None; labels (strings, dates) are not values
                nums = np.array(
                    [
                        float(v)
                        for v in arr.ravel()
                        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                    ],
                    dtype=float,
                )
            else:
                continue
            if (np.isfinite(nums) & (nums != 0)).any():
                return True
    return False


# --- chart builders (the theme's colours; plain-word axis titles) ----------------------


def _layout(fig: go.Figure, title: str, x_title: str = "", y_title: str = "", height: int | None = None) -> go.Figure:
    theme.apply()
    fig.update_layout(
        template=theme.TEMPLATE_NAME,
        title=dict(text=label(title)),
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=height or DEFAULT_HEIGHT,
    )
    return fig


def bar(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    color: str | None = None,
    color_kind: str | None = None,
    title: str,
    x_title: str = "",
    y_title: str = "",
    horizontal: bool = False,
    stacked: bool = True,
    names: Mapping[str, str] | None = None,
    hover_format: str = ",",
    order: Sequence[Any] | None = None,
    height: int | None = None,
) -> go.Figure:
    """Bars of ``y`` by ``x``, one series per value of ``color`` (coloured by ``color_kind``)."""
    fig = go.Figure()
    colors = theme.color_map(color_kind) if color_kind else {}
    names = names or {}
    groups = [(None, df)] if color is None else list(df.groupby(color, sort=False, observed=True))
    if color is not None and order is not None:
        rank = {v: i for i, v in enumerate(order)}
        groups.sort(key=lambda g: rank.get(g[0], len(rank)))
    for key, part in groups:
        if pd.api.types.is_datetime64_any_dtype(part[x]):
            xs = list(part[x])
        elif x == color:  # one bar per coloured value: its plain-word name on the axis too
            xs = [label(names.get(v, v)) for v in part[x]]
        else:
            xs = labels(part[x])
        ys = list(part[y])
        name = label(names.get(key, key) if key is not None else (y_title or y))  # escaped once, shown as text
        kw = dict(x=ys, y=xs, orientation="h") if horizontal else dict(x=xs, y=ys)
        fig.add_trace(
            go.Bar(
                name=name,
                marker_color=colors.get(key) if key is not None else theme.ACCENT,
                hovertemplate=f"%{{{'y' if horizontal else 'x'}}}<br>{name}: %{{{'x' if horizontal else 'y'}:{hover_format}}}<extra></extra>",
                **kw,
            )
        )
    # A legend only when colour adds something the axis does not already say.
    fig.update_layout(
        barmode="stack" if stacked else "group", showlegend=color is not None and color != x, legend_traceorder="normal"
    )
    if "%" in hover_format:  # a rate: the value axis in percent too
        (fig.update_xaxes if horizontal else fig.update_yaxes)(tickformat=".0%", rangemode="tozero")
    if horizontal:
        fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, x_title, y_title, height)


def lines(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    color: str | None = None,
    color_kind: str | None = None,
    title: str,
    x_title: str = "",
    y_title: str = "",
    names: Mapping[str, str] | None = None,
    percent: bool = False,
    height: int | None = None,
) -> go.Figure:
    fig = go.Figure()
    colors = theme.color_map(color_kind) if color_kind else {}
    names = names or {}
    groups = [(None, df)] if color is None else list(df.groupby(color, sort=False, observed=True))
    fmt = ".1%" if percent else ","
    for key, part in groups:
        name = label(names.get(key, key) if key is not None else (y_title or y))  # escaped once, shown as text
        fig.add_trace(
            go.Scatter(
                x=list(part[x]),
                y=list(part[y]),
                mode="lines+markers",
                name=name,
                line=dict(color=colors.get(key) if key is not None else theme.ACCENT),
                hovertemplate=f"%{{x}}<br>{name}: %{{y:{fmt}}}<extra></extra>",
            )
        )
    if percent:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    if not pd.api.types.is_numeric_dtype(df[x]) and not pd.api.types.is_datetime64_any_dtype(df[x]):
        fig.update_xaxes(type="category")  # "1", "2", ... "20+" are buckets, not numbers
    fig.update_layout(showlegend=color is not None)
    return _layout(fig, title, x_title, y_title, height)


def heatmap(
    matrix: pd.DataFrame,
    *,
    title: str,
    x_title: str = "",
    y_title: str = "",
    value_name: str = "value",
    percent: bool = False,
    height: int | None = None,
) -> go.Figure:
    """A heat map of a frame (rows on y, columns on x), values written in the cells."""
    z = matrix.astype("float64").to_numpy()
    fmt = ".0%" if percent else ","
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=labels(matrix.columns),
            y=labels(matrix.index),
            colorscale=theme.SEQUENTIAL,
            colorbar=dict(title=dict(text=label(value_name)), tickformat=".0%" if percent else None),
            hovertemplate=f"%{{y}} · %{{x}}<br>{label(value_name)}: %{{z:{fmt}}}<extra></extra>",
            texttemplate=f"%{{z:{fmt}}}" if z.size <= 400 else None,
            hoverongaps=False,
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return _layout(fig, title, x_title, y_title, height)


def funnel(stages: Sequence[str], counts: Sequence[int], *, title: str, height: int | None = None) -> go.Figure:
    fig = go.Figure(
        go.Funnel(
            y=labels(stages),
            x=list(counts),
            textinfo="value+percent initial",
            marker=dict(color=theme.ACCENT),
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        )
    )
    return _layout(fig, title, height=height)


def sankey(
    flows: pd.DataFrame,
    *,
    source: str,
    target: str,
    value: str,
    order: Sequence[str],
    names: Mapping[str, str],
    colors: Mapping[str, str],
    title: str,
    left: str = "",
    right: str = "",
    height: int | None = None,
) -> go.Figure:
    """Flows between the same categories at two moments: ``order`` once on the left, once on the right."""
    left_nodes = [c for c in order if c in set(flows[source])]
    right_nodes = [c for c in order if c in set(flows[target])]
    index_l = {c: i for i, c in enumerate(left_nodes)}
    index_r = {c: len(left_nodes) + i for i, c in enumerate(right_nodes)}
    node_labels = [f"{names.get(c, c)} {left}".strip() for c in left_nodes] + [
        f"{names.get(c, c)} {right}".strip() for c in right_nodes
    ]
    node_colors = [colors.get(c, "#9E9E9E") for c in [*left_nodes, *right_nodes]]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node=dict(label=labels(node_labels), color=node_colors, pad=18, thickness=16),
            link=dict(
                source=[index_l[s] for s in flows[source]],
                target=[index_r[t] for t in flows[target]],
                value=[int(v) for v in flows[value]],
                color="rgba(31,58,95,0.18)",
                hovertemplate="%{source.label} → %{target.label}: %{value:,}<extra></extra>",
            ),
        )
    )
    return _layout(fig, title, height=height)


# --- charts that answer their text (issue 17 item 4) -----------------------------------


def add_line(
    fig: go.Figure, x: Sequence[Any], y: Sequence[Any], *, name: str, color: str = "#1B7837", hover_format: str = ","
) -> go.Figure:
    """A line (with markers) over a bar chart, e.g. the referrals contacted in time over all referrals."""
    label_ = label(name)
    fig.add_trace(
        go.Scatter(
            x=list(x),
            y=list(y),
            mode="lines+markers",
            name=label_,
            line=dict(color=color, width=2.5),
            marker=dict(size=7),
            hovertemplate=f"%{{x}}<br>{label_}: %{{y:{hover_format}}}<extra></extra>",
        )
    )
    fig.update_layout(showlegend=True)
    return fig


SMALL_COLOR = "#D9D9D9"  # a cell too small to mean anything


def cohort_heatmap(
    cells: pd.DataFrame,
    *,
    row: str,
    col: str,
    share: str,
    count: str,
    min_count: int,
    title: str,
    x_title: str = "",
    y_title: str = "",
    count_word: str = "vehicles",
    value_name: str = "share",
    height: int | None = None,
) -> go.Figure:
    """A share heat map whose cells also show their count ("72% of 43"); a cell counting fewer than
    ``min_count`` is grey, without a colour that would read as a rate."""
    share_m = cells.pivot(index=row, columns=col, values=share).astype("float64")
    count_m = cells.pivot(index=row, columns=col, values=count).reindex_like(share_m).astype("float64")
    small = (count_m < min_count) & count_m.notna()
    big = share_m.where(~small)
    text = np.full(share_m.shape, "", dtype=object)
    for (i, j), n in np.ndenumerate(count_m.to_numpy()):
        if np.isnan(n):
            continue
        v = share_m.iat[i, j]
        text[i, j] = f"{int(n):,}" if small.iat[i, j] else f"{v:.0%}<br>of {int(n):,}"
    xs, ys = labels(share_m.columns), labels(share_m.index)
    counts = count_m.to_numpy()
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=big.to_numpy(),
            x=xs,
            y=ys,
            colorscale=theme.SEQUENTIAL,
            zmin=0,
            zmax=1,
            text=text,
            customdata=counts,
            texttemplate="%{text}",
            colorbar=dict(title=dict(text=label(value_name)), tickformat=".0%"),
            hovertemplate=f"%{{y}} · %{{x}}<br>{label(value_name)}: %{{z:.1%}} of %{{customdata:,}} {count_word}<extra></extra>",
            hoverongaps=False,
            name=label(value_name),
        )
    )
    if small.to_numpy().any():
        fig.add_trace(
            go.Heatmap(
                z=np.where(small.to_numpy(), 1.0, np.nan),
                x=xs,
                y=ys,
                colorscale=[[0, SMALL_COLOR], [1, SMALL_COLOR]],
                showscale=False,
                text=np.where(small.to_numpy(), text, ""),
                texttemplate="%{text}",
                customdata=counts,
                hovertemplate=f"%{{y}} · %{{x}}<br>only %{{customdata:,}} {count_word}: too few to judge<extra></extra>",
                hoverongaps=False,
                name="too few",
            )
        )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return _layout(fig, title, x_title, y_title, height)


def small_multiples(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    facet: str,
    title: str,
    y_title: str = "",
    names: Mapping[str, str] | None = None,
    row_height: int = 110,
) -> go.Figure:
    """One bar chart per value of ``facet``, each on its own scale, sharing the x axis: a month
    with no rows is a gap even in a table with a hundred times fewer rows than the biggest."""
    from plotly.subplots import make_subplots

    names = names or {}
    keys = list(dict.fromkeys(df[facet]))
    theme.apply()
    if not keys:
        return _layout(go.Figure(), title, height=row_height + 120)
    fig = make_subplots(
        rows=len(keys),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.06, 0.4 / len(keys)),
        subplot_titles=[label(names.get(k, k)) for k in keys],
    )
    for i, key in enumerate(keys, start=1):
        part = df[df[facet] == key]
        name = label(names.get(key, key))
        fig.add_trace(
            go.Bar(
                x=list(part[x]),
                y=list(part[y]),
                name=name,
                marker_color=theme.ACCENT,
                showlegend=False,
                hovertemplate=f"{name} · %{{x|%b %Y}}: %{{y:,}}<extra></extra>",
            ),
            row=i,
            col=1,
        )
        fig.update_yaxes(rangemode="tozero", nticks=3, row=i, col=1)
    fig.update_annotations(font_size=12, xanchor="left", x=0)
    fig = _layout(fig, title, height=row_height * len(keys) + 120)
    fig.update_yaxes(title_text="")
    if y_title:
        fig.update_yaxes(title_text=label(y_title), row=(len(keys) + 1) // 2, col=1)
    return fig
