"""The rule catalog: every audit rule of SPEC §4 (state rules included) and every group rule of
SPEC §9 as ONE registered object, found by its id.

A rule's id is the SPEC name: the key of ``params/defaults.yaml`` (``rules.<id>``, or
``group.rules.<id>``), the ``rule`` column of flags.csv, the name of its function, of its
synth injector and of its tests. Its entry here holds everything else a reader sees:

- ``title``: the plain words every page uses (audit page, group page, data-quality matrix, docs);
- ``severity(params)``: from the parameters (a dealer may override it), never written in code;
- ``needs`` / ``needs_any`` / ``support``: the data it needs; they decide whether it runs and
  make the data-quality "what the data supports" matrix (``quality.support``);
- ``definition(params)``: "a message is flagged when ...", built from the dealer's own
  parameters (windows, thresholds, categories);
- ``example``: what the ``detail`` sentence of flags.csv reads like (the sentence itself is
  built, vectorised, in the rule function with ``audit.text``);
- ``injector``: the synth method that breaks it on purpose (``synth.inject.Injector.<id>``;
  group rules: ``synth.shared._inject``), so the synth ground truth exercises every rule.

Store rules register with ``audit.rules.rule`` (the decorator on their function), group rules
with ``group_rule`` on theirs: the registration sits beside the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pandas as pd

from ..words import code_words

SEVERITIES = ("high", "medium", "low")
# The one set of words for a severity: chart legends, tables, definitions.
SEVERITY_WORDS = {"high": "Serious", "medium": "Medium", "low": "Minor"}
SCOPES = ("store", "state", "group")
GROUP_SEVERITY = "medium"  # SPEC §9: every group rule has severity medium (no parameter)

Needs = tuple[tuple[str, "str | None"], ...]


@dataclass(frozen=True)
class Support:
    """One row of the data-quality matrix beyond "the rule runs at all": a part of the rule
    that works only with some data (e.g. consent on one channel)."""

    what: str  # "Consent on email"
    needs: tuple  # items "table" / "table.column", or a tuple of those (any one is enough)
    without: str  # what happens without it, in plain words


@dataclass(frozen=True)
class Rule:
    """One audit rule: everything about it, by its id."""

    name: str  # the id (SPEC name)
    func: Callable | None  # the rule function (store rules: f(data, params) -> flags)
    needs: Needs = ()  # all of these (table, column or None)
    needs_any: Needs = ()  # at least one of these
    family: str = "other"  # groups rules for the benchmark's timings
    partial: Callable | None = None  # data -> "ran, but ..." note
    title: str = ""  # plain words, everywhere
    define: Callable[[Mapping[str, Any]], str] | None = None  # params -> "a message is flagged when" (no exemption)
    example: str = ""  # what flags.csv's detail reads like
    injector: str = ""  # the synth method that breaks it
    scope: str = "store"  # store | state | group
    support: tuple[Support, ...] = ()  # extra rows of the data-quality matrix
    exempt_applies: bool = True  # exempt categories are never flagged (quiet_hours: False)

    @property
    def id(self) -> str:
        return self.name

    def missing(self, data) -> str | None:
        """Why the rule cannot run on ``data`` (None when it can)."""
        absent = [_name(t, c) for t, c in self.needs if not data.has(t, c)]
        if self.needs_any and not any(data.has(t, c) for t, c in self.needs_any):
            absent.append(" or ".join(_name(t, c) for t, c in self.needs_any))
        if absent:
            return "needs " + ", ".join(absent) + ", which the data does not have"
        return None

    def params(self, params: Mapping[str, Any]) -> dict:
        """This rule's block of the resolved parameters (group rules: the group's layers)."""
        if self.scope == "group":
            from ..group.rules import rule_params

            return dict(rule_params(dict(params)).get(self.name) or {})
        return dict(params["rules"][self.name])

    def severity(self, params: Mapping[str, Any]) -> str:
        if self.scope == "group":
            return str(self.params(params).get("severity") or GROUP_SEVERITY)
        return str(params["rules"][self.name]["severity"])

    def severity_words(self, params: Mapping[str, Any]) -> str:
        return SEVERITY_WORDS.get(self.severity(params), self.severity(params))

    def definition(self, params: Mapping[str, Any]) -> str:
        """When a message breaks this rule, in words, with this dealer's parameters."""
        text = self.define(params) if self.define else self.title + "."
        if self.exempt_applies:
            exempt = [category_words(c) for c in (params.get("audit") or {}).get("exempt_categories") or []]
            if exempt:
                text += f" {upper_first(or_list(exempt))} messages are never flagged."
        return text

    def needs_items(self) -> tuple:
        """``needs`` as data-quality items: "table" / "table.column", a tuple for any-of."""
        items = tuple(_item(t, c) for t, c in self.needs)
        if self.needs_any:
            items += (tuple(_item(t, c) for t, c in self.needs_any),)
        return items

    def needs_words(self) -> str:
        parts = [_name(t, c) for t, c in self.needs]
        if self.needs_any:
            parts.append(" or ".join(_name(t, c) for t, c in self.needs_any))
        return ", ".join(parts)


def _name(table: str, column: str | None) -> str:
    return f"the {table} table" if column is None else f"{table}.{column}"


def _item(table: str, column: str | None) -> str:
    return table if column is None else f"{table}.{column}"


# ---------------------------------------------------------------- the registry

RULES: dict[str, Rule] = {}  # store and state rules, in the order they run (audit.RULES is this dict)
GROUP_RULES: dict[str, Rule] = {}  # SPEC §9 group rules


def register(rule: Rule) -> Rule:
    assert rule.scope in SCOPES, rule
    assert rule.title and rule.define is not None and rule.injector, f"rule {rule.name}: title, define, injector"
    (GROUP_RULES if rule.scope == "group" else RULES)[rule.name] = rule
    return rule


def group_rule(name: str, *, title: str, define, example: str = "", needs=()):
    """Register a group rule function (SPEC §9) under its SPEC name."""

    def deco(func):
        register(
            Rule(
                name,
                func,
                tuple(needs),
                title=title,
                define=define,
                example=example,
                injector="synth.shared._inject",
                scope="group",
            )
        )
        return func

    return deco


def _loaded() -> None:
    """Make sure every module that registers rules has been imported."""
    from .. import audit  # noqa: F401  store and state rules
    from ..group import rules  # noqa: F401  group rules


def every() -> dict[str, Rule]:
    """Every rule (store, state, group), by id."""
    _loaded()
    return {**RULES, **GROUP_RULES}


def get(name: str) -> Rule:
    return every()[name]


def title(name: str) -> str:
    """A rule's plain words; an unknown id (an older kit's rule in a record) as words of itself."""
    r = every().get(name)
    return r.title if r else code_words(name)


def titles() -> dict[str, str]:
    return {n: r.title for n, r in every().items()}


def definitions(params: Mapping[str, Any], scope: str | None = None) -> dict[str, str]:
    """``title (id)`` -> definition, with the dealer's parameters, in registry order."""
    return {
        f"{r.title} ({n})": r.definition(params)
        for n, r in every().items()
        if scope is None or r.scope == scope or (scope == "store" and r.scope == "state")
    }


def severity_definition(params: Mapping[str, Any]) -> str:
    """Which rules are serious, medium and minor for this dealer (severities can be overridden)."""
    _loaded()
    parts = []
    for sev in SEVERITIES:
        names = [r.title.lower() for n, r in RULES.items() if r.severity(params) == sev]
        if names:
            word = SEVERITY_WORDS[sev]
            parts.append(f"{word}{'' if word.lower() == sev else f' ({sev})'}: {'; '.join(names)}.")
    return " ".join(parts)


def high_rules(params: Mapping[str, Any]) -> list[str]:
    _loaded()
    return [n for n, r in RULES.items() if r.severity(params) == "high"]


def support_rows():
    """The audit's rows of the data-quality matrix, in registry order: (what, needs, without)."""
    _loaded()
    rows = []
    for n, r in RULES.items():
        items = r.needs_items()
        if items:
            rows.append((f"{r.title} ({n})", items, "rule skipped"))
        rows += [(f"{r.title} ({n}): {s.what}", s.needs, s.without) for s in r.support]
    return rows


def frame(params: Mapping[str, Any]) -> pd.DataFrame:
    """Every rule as a table (the reference page and tests)."""
    return pd.DataFrame(
        [
            {
                "rule": n,
                "title": r.title,
                "scope": r.scope,
                "severity": r.severity(params),
                "definition": r.definition(params),
                "needs": r.needs_words(),
                "example": r.example,
                "injector": r.injector,
            }
            for n, r in every().items()
        ]
    )


# ---------------------------------------------------------------- words shared by definitions

CHANNEL_WORDS = {"email": "email", "sms": "text", "phone": "phone call", "mail": "mail"}
CHANNEL_PLURAL = {"email": "emails", "sms": "texts", "phone": "phone calls", "mail": "mailings"}
SENDER_WORDS = {"oem": "the OEM", "sales": "sales", "dealer": "dealer marketing", "service": "service", "fi": "F&I"}


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def category_words(code: str) -> str:
    return str(code).replace("_", " ")


def or_list(items) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def and_list(items) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def days(n: Any) -> str:
    n = float(n)
    k = int(n) if n.is_integer() else n
    return f"{k} day" if k == 1 else f"{k} days"


def caps(windows) -> str:
    """'more than 5 in 7 days or more than 12 in 30 days'."""
    return " or ".join(f"more than {w['max']} in {days(w['days'])}" for w in windows or [])


def clock(hhmm: str) -> str:
    """'9 PM' or '8:30 AM' of a parameter like '21:00'."""
    h, m = (int(x) for x in str(hhmm).split(":")[:2])
    return f"{(h + 11) % 12 + 1}{'' if m == 0 else f':{m:02d}'} {'AM' if h < 12 else 'PM'}"
