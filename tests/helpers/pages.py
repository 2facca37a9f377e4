"""Checks of rendered report pages shared by the property and end-to-end tests."""

from __future__ import annotations

import base64
import math
import re

import numpy as np

PLOTLY = "application/vnd.plotly.v1+json"
# A missing value printed where a figure belongs: a table cell or tile that reads "nan", "None"...
NOT_A_FIGURE = re.compile(r">\s*(?:nan|NaN|None|NaT|&lt;NA&gt;|<NA>|inf|-inf)\s*%?\s*<")


def _numbers(values) -> list[float]:
    """The numbers of a plotly data array (a list, or plotly 6's typed {"dtype", "bdata"})."""
    if isinstance(values, dict) and "bdata" in values:
        arr = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
        return [float(v) for v in arr.ravel()]
    out = []
    for v in values if isinstance(values, (list, tuple)) else []:
        if isinstance(v, (list, tuple, dict)):
            out += _numbers(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
    return out


def chart_shows_something(spec: dict) -> bool:
    """At least one trace carries a finite, non-zero number: a chart of nothing but zeros or
    blanks says nothing, and the page must say so in words instead."""
    for trace in spec.get("data", []):
        for key in ("x", "y", "z", "values"):
            if any(math.isfinite(v) and v != 0 for v in _numbers(trace.get(key))):
                return True
    return False


def page_problems(html_text: str) -> list[str]:
    """Missing values printed as figures in a page (scripts and styles left out)."""
    html_text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html_text, flags=re.S)
    return NOT_A_FIGURE.findall(html_text)
