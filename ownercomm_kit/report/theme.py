"""One look for every chart: colours per channel, sender and severity, and a plotly template.

A channel or a sender has the same colour in every chart of every report, so a reader who
learnt "orange is the OEM" in the audit reads the retention report the same way.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from .. import schema

# Colour-blind-safe (Okabe-Ito based), fixed per value.
CHANNEL_COLORS = {
    "email": "#0072B2",
    "sms": "#E69F00",
    "phone": "#009E73",
    "mail": "#CC79A7",
}
SENDER_COLORS = {
    "oem": "#D55E00",
    "sales": "#0072B2",
    "dealer": "#009E73",
    "service": "#56B4E9",
    "fi": "#CC79A7",
}
SEVERITY_COLORS = {"high": "#B2182B", "medium": "#EF8A62", "low": "#BDBDBD"}
TIER_COLORS = {"loyal": "#1B7837", "self_directed": "#7FBF7B", "responsive": "#AF8DC3", "dormant": "#9E9E9E"}
INCENTIVE_COLORS = {
    "transactional": "#0072B2",
    "experiential": "#E69F00",
    "recognition": "#009E73",
    "altruistic": "#CC79A7",
}
STATUS_COLORS = {"kept": "#1B7837", "no_show": "#B2182B", "cancelled": "#9E9E9E", "scheduled": "#56B4E9"}
ACCENT = "#1F3A5F"
SEQUENTIAL = [[0.0, "#F7FBFF"], [0.5, "#6BAED6"], [1.0, "#08306B"]]

# Plain words for the reader (SPEC §1: no jargon).
CHANNEL_LABELS = {"email": "Email", "sms": "Text (SMS)", "phone": "Phone call", "mail": "Mail"}
SENDER_LABELS = {
    "oem": "Manufacturer (OEM)",
    "sales": "Sales team",
    "dealer": "Dealership marketing",
    "service": "Service department",
    "fi": "Finance & insurance (F&I)",
}

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"  # no web fonts: offline

assert set(CHANNEL_COLORS) == set(schema.CHANNELS) and set(SENDER_COLORS) == set(schema.SENDERS)

TEMPLATE_NAME = "ownercomm"


def color_map(kind: str) -> dict[str, str]:
    """Colours of ``channel``, ``sender``, ``severity``, ``tier``, ``incentive`` or ``status``."""
    return {
        "channel": CHANNEL_COLORS,
        "sender": SENDER_COLORS,
        "severity": SEVERITY_COLORS,
        "tier": TIER_COLORS,
        "incentive": INCENTIVE_COLORS,
        "status": STATUS_COLORS,
        "segment": SEGMENT_COLORS,
        "timing": TIMING_COLORS,
    }[kind]


def _template() -> go.layout.Template:
    # Layout only (no per-trace defaults): every figure carries its template in the page.
    t = go.layout.Template()
    t.layout.paper_bgcolor = "white"
    t.layout.plot_bgcolor = "white"
    axis = dict(
        gridcolor="#E5E9EF", linecolor="#C8D4E3", zerolinecolor="#C8D4E3", automargin=True, title=dict(standoff=8)
    )
    t.layout.xaxis = axis
    t.layout.yaxis = axis
    t.layout.font = dict(family=FONT, size=13, color="#222")
    # Title at the very top, the legend on its own line below it, above the plot.
    t.layout.title = dict(font=dict(size=15), x=0, xanchor="left", y=0.985, yanchor="top")
    t.layout.margin = dict(l=60, r=20, t=84, b=50)
    t.layout.colorway = ["#1F3A5F", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#0072B2", "#F0E442"]
    t.layout.legend = dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0)
    t.layout.hoverlabel = dict(font=dict(family=FONT))
    t.layout.colorscale = dict(sequential=SEQUENTIAL)
    return t


def apply() -> None:
    """Register the template as plotly's default (idempotent)."""
    if TEMPLATE_NAME not in pio.templates:
        pio.templates[TEMPLATE_NAME] = _template()
    pio.templates.default = TEMPLATE_NAME


SEGMENT_COLORS = {
    "new": "#56B4E9",
    "active": "#1B7837",
    "recently_lost": "#EF8A62",
    "defected": "#B2182B",
    "never_serviced": "#9E9E9E",
}
SEGMENT_LABELS = {
    "new": "Not yet a customer",
    "active": "Active",
    "recently_lost": "Recently lost",
    "defected": "Defected",
    "never_serviced": "Never serviced",
}
TIMING_COLORS = {
    "after_visit": "#B2182B",
    "too_early": "#EF8A62",
    "on_time": "#1B7837",
    "late": "#AF8DC3",
    "no_history": "#BDBDBD",
}
TIMING_LABELS = {
    "after_visit": "Right after a visit",
    "too_early": "Too early",
    "on_time": "On time",
    "late": "Late",
    "no_history": "No visit to judge by",
}
