"""The few words every page and message shares: counts with their noun, shares, codes as words.

One helper each, so that no page says "customer(s)" and no page shows "0%" beside "0.3%":

- ``plural(3, "customer")`` -> "3 customers", ``plural(1, "customer")`` -> "1 customer"
  (thousands separated; an irregular plural is given: ``plural(n, "text or call", "texts or calls")``);
- ``share(0.0034)`` -> "0.3%": every share on every page has one decimal (``report.html.fmt_number``
  uses it for its "pct" kind), so a small share never rounds to "0%";
- ``code_words("purchase_anniversary")`` -> "Purchase anniversary".
"""

from __future__ import annotations

import math
from typing import Any


def noun(n: Any, singular: str, plural_form: str | None = None) -> str:
    """The noun alone, singular for exactly one."""
    try:
        one = float(n) == 1
    except (TypeError, ValueError):
        one = False
    return singular if one else (plural_form or singular + "s")


def plural(n: Any, singular: str, plural_form: str | None = None) -> str:
    """'1 customer', '1,234 customers' (whole numbers with thousands separators)."""
    x = float(n)
    number = f"{int(round(x)):,}" if x.is_integer() else f"{x:,.1f}"
    return f"{number} {noun(x, singular, plural_form)}"


def share(value: Any) -> str:
    """A share (0.125) as '12.5%': one decimal always, so no share under 1% reads "0%". Missing: ''."""
    if value is None:
        return ""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return ""
    if math.isnan(x):
        return ""
    return f"{x * 100:.1f}%"


def code_words(code: object) -> str:
    """A code as words: ``purchase_anniversary`` -> "Purchase anniversary"."""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:]
