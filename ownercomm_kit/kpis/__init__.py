"""Key figures (SPEC §4-7, §10): the registry of every kpis.json key, and their history."""

from .registry import KPIS, KPI, by_report, change, get, label  # noqa: F401
