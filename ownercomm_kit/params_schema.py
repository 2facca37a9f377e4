"""The parameters' types and ranges (SPEC §3, §8), as pydantic v2 models.

Values live only in ``params/defaults.yaml``; this module says what each key may hold. The
merged parameters of a dealer (defaults < group < dealer < command line) are checked at once
against :class:`Resolved`, and every error is told against the file that set the value, with
its key path (``rules.cap_total.windows[0].max``), the value and what is allowed
(:func:`check`). Every field is required, so a key deleted from defaults.yaml is an error too.

Adding a section (e.g. ``state_rules``) is one model below plus one field on :class:`Params`;
adding a rule is one model plus one field on :class:`Rules`. Thresholds go in defaults.yaml.

Why pydantic rather than jsonschema: typed models give key paths, strict ints (``true`` is
not a number of days), forbidden extra keys (typos), cross-field checks (``lapsed_min_months``
below ``lapsed_max_months``) and messages we can word, in plain Python next to the code.
"""

from __future__ import annotations

import difflib
import re
import typing
from typing import Annotated, Any, Literal, Mapping, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from . import schema

# --- building blocks -----------------------------------------------------------------------

Severity = Literal["low", "medium", "high"]
Channel = Literal[schema.CHANNELS]  # type: ignore[valid-type]
Category = Literal[schema.CATEGORIES]  # type: ignore[valid-type]
Sender = Literal[schema.SENDERS]  # type: ignore[valid-type]
Table = Literal[tuple(schema.TABLES)]  # type: ignore[valid-type]

# Upper bounds keep date arithmetic far from overflow (pandas spans ~292 years) and catch
# an extra digit; they are sanity limits, not thresholds.
Days = Annotated[int, Field(gt=0, le=36_500)]  # a window or interval: at least one day
DaysOrZero = Annotated[int, Field(ge=0, le=36_500)]  # a horizon or grace: 0 = none
Months = Annotated[int, Field(gt=0, le=1_200)]
Weeks = Annotated[int, Field(gt=0, le=5_200)]
Quarters = Annotated[int, Field(gt=0, le=400)]
Hours = Annotated[int, Field(gt=0, le=876_000)]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]  # a number of messages
AtLeastOne = Annotated[int, Field(ge=1, le=1_000_000)]  # a number of rows or buckets shown
Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]  # "HH:MM", 00:00-23:59

# Folder names a report can safely take on every system.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot name a report folder (dealer_id, group_id), or None."""
    if not value.strip():
        return "must not be empty"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "must not hold control characters"
    if "/" in value or "\\" in value:
        return "must not hold a path separator ('/' or '\\')"
    if ".." in value:
        return "must not hold '..'"
    if _RESERVED.match(value):
        return "must not be a reserved device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9)"
    if not _SAFE_ID.match(value):
        return "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


def _safe_id(value):
    if value is None:
        return value
    problem = id_problem(str(value))
    if problem:
        raise PydanticCustomError("unsafe_id", "{problem} (it names a report folder)", {"problem": problem})
    return value


class Section(BaseModel):
    """Every parameter model: unknown keys are errors, no type coercion (``"5"`` is no number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# --- rules (SPEC §4) -----------------------------------------------------------------------


class Rule(Section):
    enabled: bool
    severity: Severity


class Window(Section):
    days: Days
    max: Count


class CapTotal(Rule):
    windows: Annotated[list[Window], Field(min_length=1)]


class CapChannel(Rule):
    windows: dict[Channel, list[Window]]


class MinGap(Rule):
    gap_days: dict[Category, DaysOrZero]
    default_gap_days: DaysOrZero


class MultiSender(Rule):
    max_senders: AtLeastOne
    window_days: Days


class PromoAfterPurchase(Rule):
    categories: list[Category]
    days: DaysOrZero


class ReminderAfterService(Rule):
    days: DaysOrZero


class PromoDuringOpenLead(Rule):
    categories: list[Category]
    owner_sender: Sender


class AfterOptOut(Rule):
    grace_business_days: DaysOrZero


class QuietHours(Rule):
    channels: list[Channel]
    start: Clock
    end: Clock

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_text(cls, v):
        if isinstance(v, int) and not isinstance(v, bool):
            raise PydanticCustomError(
                "clock_number", 'a time in quotes, "HH:MM" (YAML reads an unquoted 21:00 as the number {n})', {"n": v}
            )
        return v

    @field_validator("end")
    @classmethod
    def _differs(cls, v, info: ValidationInfo):
        if info.data.get("start") == v:
            raise PydanticCustomError(
                "order",
                "a time other than start ({start}): quiet hours need a length",
                {"start": v, "related": "start"},
            )
        return v


class NonPreferredChannel(Rule):
    categories: list[Category]


class Rules(Section):
    cap_total: CapTotal
    cap_channel: CapChannel
    min_gap: MinGap
    multi_sender: MultiSender
    duplicate_campaign: Rule
    promo_after_purchase: PromoAfterPurchase
    better_offer_after_purchase: PromoAfterPurchase
    reminder_after_service: ReminderAfterService
    conquest_to_owner: Rule
    promo_during_open_lead: PromoDuringOpenLead
    no_consent: Rule
    after_opt_out: AfterOptOut
    quiet_hours: QuietHours
    non_preferred_channel: NonPreferredChannel
    state_quiet_hours: Rule  # thresholds in the state_rules table
    state_contact_cap: Rule


# --- report sections (SPEC §4-6) -----------------------------------------------------------


class Audit(Section):
    exempt_categories: list[Category]
    tier_window_months: Months
    booking_attribution_days: Days
    fatigue_max_bucket: AtLeastOne
    top_customers: AtLeastOne


def _greater_than(other: str):
    """A field validator: this field must exceed ``other`` (validated before it)."""

    def check(cls, v, info: ValidationInfo):
        low = info.data.get(other)
        if low is not None and v <= low:
            raise PydanticCustomError(
                "order", "greater than {other} ({low})", {"other": other, "low": low, "related": other}
            )
        return v

    return classmethod(check)


ServiceType = Literal[schema.SERVICE_TYPES]  # type: ignore[valid-type]
Miles = Annotated[int, Field(gt=0, le=1_000_000)]


class ServiceInterval(Section):
    """A service type's own intervals; null = the retention section's defaults."""

    days: Optional[Days] = None
    miles: Optional[Miles] = None


class Retention(Section):
    service_interval_days: Days
    due_horizon_days: DaysOrZero
    warranty_horizon_days: DaysOrZero
    milestone_horizon_days: DaysOrZero
    lapsed_min_months: Months
    lapsed_max_months: Months
    show_rate_days: Days
    reminder_lookback_days: Days
    reminder_booking_days: Days
    response_days: Days
    repurchase_months: Months
    retention_window_months: Months
    weekly_weeks: Weeks
    cohort_quarters: Quarters
    cohort_max_quarters: Quarters
    cohort_min_vehicles: AtLeastOne
    contact_fallback: Annotated[list[Channel], Field(min_length=1)]
    # service intelligence (SPEC §5)
    segment_active_months: Months
    segment_lost_months: Months
    service_interval_miles: Miles
    default_daily_miles: Annotated[Union[int, float], Field(gt=0, le=2_000)]
    intervals_by_service_type: dict[ServiceType, ServiceInterval]
    reminder_timing_months: Months
    reminder_on_time_days: DaysOrZero
    reminder_after_visit_days: DaysOrZero
    declined_days: Days
    vehicle_age_bands: Annotated[list[Annotated[int, Field(gt=0, le=200)]], Field(min_length=1)]

    _lapsed = field_validator("lapsed_max_months")(_greater_than("lapsed_min_months"))
    _segments = field_validator("segment_lost_months")(_greater_than("segment_active_months"))

    @field_validator("vehicle_age_bands")
    @classmethod
    def _rising_bands(cls, v):
        if any(b <= a for a, b in zip(v, v[1:])):
            raise PydanticCustomError("order", "ages in rising order (e.g. [3, 6])", {})
        return v

    @field_validator("reminder_booking_days")
    @classmethod
    def _booking_within_lookback(cls, v, info: ValidationInfo):
        lookback = info.data.get("reminder_lookback_days")
        if lookback is not None and v >= lookback:
            raise PydanticCustomError(
                "order",
                "less than reminder_lookback_days ({lookback})",
                {"lookback": lookback, "related": "reminder_lookback_days"},
            )
        return v


class Referrals(Section):
    window_months: Months
    first_contact_hours: Hours
    top_advocates: AtLeastOne
    monthly_months: Months


class Report(Section):
    mask_pii: bool
    plotlyjs: Literal["inline", "inline-plain", "shared"]


class GroupMatch(Section):
    default_region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]  # ISO 3166 alpha-2, as phonenumbers takes it
    ignore_plus_tags: bool


class GroupRule(Section):
    enabled: bool


class GroupCapTotal(GroupRule):
    windows: Optional[Annotated[list[Window], Field(min_length=1)]] = None  # None: rules.cap_total.windows


class SisterPromo(GroupRule):
    categories: list[Category]
    days: DaysOrZero


class SisterReminder(GroupRule):
    days: DaysOrZero


class SisterOptOut(GroupRule):
    grace_business_days: DaysOrZero


class GroupRules(Section):
    group_cap_total: GroupCapTotal
    sister_promo_after_purchase: SisterPromo
    sister_reminder_after_service: SisterReminder
    sister_conquest_to_owner: GroupRule
    sister_after_opt_out: SisterOptOut


class Group(Section):
    """SPEC §9: the group step's parameters (a group file may override them, a dealer file not)."""

    match: GroupMatch
    rules: GroupRules
    examples: AtLeastOne
    partition_messages: Annotated[int, Field(ge=1_000, le=1_000_000_000)]


class Params(Section):
    """The sections of defaults.yaml; a group or dealer file may override any of their keys."""

    as_of: Any = None  # a date or empty; read by params.parse_as_of (its messages)
    rules: Rules
    audit: Audit
    retention: Retention
    referrals: Referrals
    report: Report
    baseline: Any = None  # SPEC §10: a date or empty; read by params.parse_as_of like as_of
    group: Group
    # per state code, merged across layers by code; its problems come from state_laws.check_table
    state_rules: Any = None


# --- a dealer's own keys -------------------------------------------------------------------


class FileSpec(Section):
    file: str
    sheet: Union[str, int, None] = None  # a sheet named 2024 is read by YAML as a number


class Resolved(Params):
    """The merged parameters of one dealer: the sections plus the dealer's and group's keys."""

    dealer_id: Optional[str] = None
    dealer_name: Optional[str] = None
    data_dir: Optional[str] = None
    timezone: Optional[str] = None
    files: Optional[dict[str, Union[str, FileSpec]]] = None
    mapping: Optional[dict[str, Optional[dict[Union[str, int, float, bool], Optional[str]]]]] = None
    values: Optional[dict[str, Optional[dict[Union[str, int, float, bool], Union[str, bool, int, None]]]]] = None
    group_id: Optional[str] = None
    group_name: Optional[str] = None

    @field_validator("dealer_id", "group_id")
    @classmethod
    def _ids_name_folders(cls, v):
        return _safe_id(v)


SECTIONS: tuple[str, ...] = tuple(Params.model_fields)
ID_LIKE = ("dealer_id", "group_id", "dealer_name", "group_name")

# --- checking and wording ------------------------------------------------------------------

Layer = tuple[str, Mapping]  # (file name as shown, its content)


def check(merged: Mapping, layers: list[Layer]) -> list[str]:
    """Every problem of ``merged``, each told against the layer (file) that set the value."""
    try:
        Resolved.model_validate(dict(merged))
    except ValidationError as e:
        errors = e.errors(include_url=False)
    else:
        return []
    out: list[str] = []
    unions: dict[tuple, list[tuple[tuple, dict]]] = {}
    for err in errors:
        point, rest = _split(err["loc"])
        if rest is None:
            out.append(_message(err, point, layers))
        else:  # one branch of a union (text, or a {file:, sheet:} mapping): said once below
            unions.setdefault(point, []).append((rest, err))
    for point, branches in unions.items():
        deeper = [(rest, err) for rest, err in branches if rest]
        if deeper:  # the value had the shape of one branch: its own problems
            out += [_message(err, point + rest, layers) for rest, err in deeper]
        else:
            err = dict(branches[0][1], type="union")
            out.append(_message(err, point, layers))
    return list(dict.fromkeys(out))


_TAG = re.compile(r"^(str|int|float|bool|none|(function|constrained)-.*|[a-z-]+\[.*\])$")


def _is_tag(part) -> bool:
    """A union branch's name in an error's loc (not a key of the data)."""
    return isinstance(part, str) and (bool(_TAG.match(part)) or part in _MODEL_NAMES)


def _split(raw: tuple) -> tuple[tuple, tuple | None]:
    """(loc up to a union branch, loc inside the branch or None when there is no union)."""
    for i, part in enumerate(raw):
        if _is_tag(part):
            return tuple(raw[:i]), tuple(p for p in raw[i + 1 :] if not _is_tag(p))
    return tuple(raw), None


def key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _has(doc: Any, loc: tuple) -> int:
    """How many leading parts of ``loc`` exist in ``doc``."""
    n = 0
    for part in loc:
        if isinstance(doc, Mapping) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and isinstance(part, int) and 0 <= part < len(doc):
            doc = doc[part]
        else:
            break
        n += 1
    return n


def _source(locs: list[tuple], layers: list[Layer]) -> str:
    """The latest layer that set any of ``locs`` (deepest match wins; later layers on ties)."""
    best, best_n = layers[0][0] if layers else "parameters", -1
    for name, doc in layers:
        for loc in locs:
            n = _has(doc, loc)
            if n and n >= best_n:
                best, best_n = name, n
    return best


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _message(err: dict, loc: tuple, layers: list[Layer]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if loc and loc[-1] == "[key]":  # a key of a map with a fixed set of keys (channels, categories)
        loc = loc[:-1]
        key = loc[-1]
        allowed = [str(a) for a in _literal_values(_type_at(loc[:-1], value=True))]
        return f"{_source([loc], layers)}: unknown key {key_path(loc)!r}{_hint(str(key), allowed)}" + (
            f" (allowed: {', '.join(allowed)})" if allowed else ""
        )
    where = _source([loc] + ([loc[:-1] + (ctx["related"],)] if "related" in ctx else []), layers)
    path = key_path(loc)
    if kind == "extra_forbidden":
        allowed = list(_fields(_type_at(loc[:-1])))
        return f"{where}: unknown key {path!r}{_hint(str(loc[-1]), allowed)}"
    if kind == "missing":
        why = " (every key of defaults.yaml is required)" if where == layers[0][0] else ""
        return f"{where}: {path!r} is missing{why}"
    value = err.get("input")
    if kind == "unsafe_id":
        return f"{where}: {path!r} {err['msg']}, got {_short(value)}"
    return f"{where}: {path!r} must be {_allowed(err, loc)}, got {_short(value)}"


def _hint(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _allowed(err: dict, loc: tuple) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("order", "clock_number"):
        return err["msg"]
    if kind == "string_pattern_mismatch":
        return 'a time "HH:MM" between "00:00" and "23:59"'
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind in ("too_short",):
        n = ctx.get("min_length")
        return f"a list of at least {n} item{'' if n == 1 else 's'}"
    return _describe(_type_at(loc), err)


def _describe(tp: Any, err: dict) -> str:
    """'a whole number > 0 and <= 36500', 'true or false', 'a mapping', ..."""
    base, metadata = _unwrap(tp)
    bounds = []
    for m in metadata:
        for attr, word in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{word} {getattr(m, attr)}")
    origin = typing.get_origin(base)
    if base is int:
        what = "a whole number"
    elif base is bool:
        what = "true or false"
    elif base is str:
        what = "text"
    elif origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(base))
    elif origin is list:
        what = "a list"
    elif origin is dict or (isinstance(base, type) and issubclass(base, BaseModel)):
        what = "a mapping (key: value lines)"
    elif origin is Union:
        parts = [_describe(a, {}) for a in typing.get_args(base) if a is not type(None)]
        what = " or ".join(dict.fromkeys(parts))
    elif isinstance(base, type) and issubclass(base, float):
        what = "a number"
    else:
        what = "a valid value"
    return what + (" " + " and ".join(bounds) if bounds else "")


def _unwrap(tp: Any) -> tuple[Any, list]:
    metadata: list = []
    while True:
        if typing.get_origin(tp) is Annotated:
            args = typing.get_args(tp)
            tp, metadata = args[0], metadata + [m for m in args[1:]]
            continue
        if typing.get_origin(tp) is Union:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        break
    # FieldInfo inside Annotated carries its constraints in .metadata
    flat = []
    for m in metadata:
        flat += list(getattr(m, "metadata", []) or []) + [m]
    return tp, flat


def _type_at(loc: tuple, value: bool = False) -> Any:
    """The annotation at ``loc`` in :class:`Resolved` (``value``: of a map's values' keys)."""
    tp: Any = Resolved
    for part in loc:
        tp, _ = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        elif typing.get_origin(tp) is Union:  # the branch that has this key
            models = [
                a
                for a in typing.get_args(tp)
                if isinstance(a, type) and issubclass(a, BaseModel) and part in a.model_fields
            ]
            if not models:
                return None
            field = models[0].model_fields[part]
            tp = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    if value:
        base, _ = _unwrap(tp)
        return typing.get_args(base)[0] if typing.get_origin(base) is dict else None
    return tp


def _fields(tp: Any) -> tuple[str, ...]:
    base, _ = _unwrap(tp)
    return tuple(base.model_fields) if isinstance(base, type) and issubclass(base, BaseModel) else ()


def _literal_values(tp: Any) -> tuple:
    base, _ = _unwrap(tp)
    return typing.get_args(base) if typing.get_origin(base) is Literal else ()


_MODEL_NAMES = frozenset(
    c.__name__ for c in list(globals().values()) if isinstance(c, type) and issubclass(c, BaseModel)
)
