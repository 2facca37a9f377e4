"""Parameters (SPEC §3): defaults < group file < dealer file, later layers win.

Every threshold lives in ``params/defaults.yaml``; group and dealer files may only
override keys that exist there (a typo is an error naming the key and the file).
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any, Mapping

import yaml

from . import params_schema, paths, schema, state_laws
from .errors import ParamsError  # noqa: F401  (defined with the kit's other errors)

# Sections of defaults.yaml that a group or dealer file may override (params_schema.Params).
SECTIONS = params_schema.SECTIONS
DEALER_KEYS = ("dealer_id", "dealer_name", "data_dir", "timezone", "files", "mapping", "values")
GROUP_KEYS = ("group_id", "group_name", "dealers")
# The parameters cell of every notebook (the contract between the runner, which injects them,
# and report.notebook, which resolves them); tests/report/test_notebooks_stored.py checks each notebook.
NOTEBOOK_PARAMETERS = (
    "dealer_id",
    "dealer_name",
    "data_dir",
    "timezone",
    "files",
    "mapping",
    "values",
    "as_of",
    "rules",
    "audit",
    "retention",
    "referrals",
    "report",
    "group_file",
    "out_dir",
    "baseline",
    "state_rules",
)


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ParamsError([f"{path}: file not found"])
    text = path.read_text(encoding="utf-8-sig")
    try:
        doc = _load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ParamsError([f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})"]) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ParamsError([f"{path}: expected a mapping of keys to values, got {type(doc).__name__}"])
    return _raw_ids(doc, text)


# libyaml's loader when PyYAML has it (parameter files are read several times per store: ~12x
# faster than the pure-Python one); a file it refuses is read again by the pure-Python loader,
# whose message (and verdict) is the one given.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(text: str):
    try:
        return yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.safe_load(text)


# Keys whose values are names, kept as written: `dealer_id: 007` is "007", not the number 7.
ID_KEYS = ("dealer_id", "group_id", "dealer_name", "group_name", "data_dir")


def _raw_ids(doc: dict, text: str) -> dict:
    """Ids and names (and the entries of ``dealers:``) as the text written in the file."""
    try:
        node = yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:  # pragma: no cover (safe_load read it)
            return doc
    if not isinstance(node, yaml.MappingNode):
        return doc
    for key_node, value_node in node.value:
        key = key_node.value
        if key in ID_KEYS and isinstance(value_node, yaml.ScalarNode) and key in doc and doc[key] is not None:
            doc[key] = value_node.value
        elif key == "dealers" and isinstance(value_node, yaml.SequenceNode) and isinstance(doc.get(key), list):
            doc[key] = [
                n.value if isinstance(n, yaml.ScalarNode) and v is not None else v
                for n, v in zip(value_node.value, doc[key])
            ]
    return doc


def load_defaults(root: Path | None = None) -> dict:
    return read_yaml(paths.defaults_file(root))


def _similar(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio() >= 0.75


def _merge(base: dict, over: Mapping) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict) and k not in ("mapping", "values", "files"):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def check_layer(layer: Mapping, where: str, kind: str, defaults: Mapping) -> list[str]:
    """Problems in one layer (``kind``: dealer or group)."""
    problems: list[str] = []
    own = DEALER_KEYS if kind == "dealer" else GROUP_KEYS
    for key in layer:
        if key in own:
            continue
        if key not in SECTIONS:
            allowed = [*own, *SECTIONS]
            close = [k for k in allowed if _similar(str(key), k)]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{where}: unknown key {key!r}{hint}")
    if kind == "dealer" and "group" in layer:  # SPEC §9: group rules use the group's parameters
        problems.append(f"{where}: 'group' parameters belong in the group file, not in a dealer file")
    if kind == "dealer":
        # Types are checked by the schema (params_schema); here, names against the data model.
        files = layer.get("files") if isinstance(layer.get("files"), dict) else {}
        mapping = layer.get("mapping") if isinstance(layer.get("mapping"), dict) else {}
        values = layer.get("values") if isinstance(layer.get("values"), dict) else {}
        for table in files:
            if table not in schema.TABLES:
                problems.append(f"{where}: files: unknown table {table!r} (tables: {', '.join(schema.TABLES)})")
        for table, cols in mapping.items():
            if table not in schema.TABLES:
                problems.append(f"{where}: mapping: unknown table {table!r} (tables: {', '.join(schema.TABLES)})")
                continue
            for theirs, ours in (cols if isinstance(cols, dict) else {}).items():
                # null: ignore that column on purpose (e.g. a second "E-mail" beside "Email")
                if isinstance(ours, str) and ours not in schema.TABLES[table].column_names:
                    problems.append(
                        f"{where}: mapping.{table}: {theirs!r} maps to {ours!r}, which is not a column of {table}"
                    )
        enum_cols = {c.name for t in schema.TABLES.values() for c in t.columns if c.kind in ("enum", "bool")}
        for col in values:
            if col not in enum_cols:
                problems.append(f"{where}: values: {col!r} is not a column with a fixed set of values")
    if layer.get("as_of") not in (None, ""):
        try:
            parse_as_of(layer["as_of"])
        except ValueError:
            problems.append(f"{where}: as_of {layer['as_of']!r} is not a date (YYYY-MM-DD)")
    if layer.get("baseline") not in (None, ""):
        try:
            parse_as_of(layer["baseline"])
        except ValueError:
            problems.append(
                f"{where}: baseline {layer['baseline']!r} is not a date (YYYY-MM-DD): the date of a "
                "recorded run or of a month-end of the history"
            )
    return problems


def parse_as_of(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip()[:10])


def resolve(
    dealer: Mapping | None = None,
    *,
    dealer_file: str | Path | None = None,
    group: Mapping | None = None,
    group_file: str | Path | None = None,
    root: Path | None = None,
    overrides: Mapping | None = None,
) -> dict:
    """Merged parameters of one dealer.

    ``dealer`` is a dealer file's content (or ``dealer_file`` its path); ``group`` likewise.
    ``overrides`` (e.g. ``as_of`` from the command line) win over everything. ``data_dir``
    comes back absolute: relative paths are taken from the kit root (where params/ lives).
    """
    problems: list[str] = []
    if dealer_file is not None:
        dealer = read_yaml(dealer_file)
        root = root or paths.root_of_params_file(Path(dealer_file))
    if group_file is not None:
        group = read_yaml(group_file)
        root = root or paths.root_of_params_file(Path(group_file))
    root = Path(root) if root else paths.kit_root()
    defaults = load_defaults(paths.kit_root() if not paths.defaults_file(root).is_file() else root)
    merged = copy.deepcopy(defaults)
    if group:
        problems += check_layer(group, str(group_file or "group parameters"), "group", defaults)
        merged = _merge(merged, {k: v for k, v in group.items() if k in SECTIONS})
        merged["group_id"] = group.get("group_id")
        merged["group_name"] = group.get("group_name")
    if dealer:
        problems += check_layer(dealer, str(dealer_file or "dealer parameters"), "dealer", defaults)
        merged = _merge(merged, {k: v for k, v in dealer.items() if v is not None or k not in merged})
    if overrides:
        merged = _merge(merged, {k: v for k, v in overrides.items() if v is not None})
    problems += state_laws.check_table(
        merged.get("state_rules"), "state_rules (defaults, group and dealer files merged)"
    )
    for key in ("dealer_id", "data_dir"):
        if merged.get(key) is None or str(merged.get(key)).strip() == "":
            problems.append(f"{dealer_file or 'dealer parameters'}: {key} is required")
    defaults_name = str(paths.defaults_file(paths.kit_root() if not paths.defaults_file(root).is_file() else root))
    layers = [
        (defaults_name, defaults),
        (str(group_file or "group parameters"), group or {}),
        (str(dealer_file or "dealer parameters"), dealer or {}),
        ("the command line", overrides or {}),
    ]
    typed = {k: v for k, v in merged.items() if k in params_schema.Resolved.model_fields}
    for key in (*params_schema.ID_LIKE, "data_dir"):  # given in code: numbers, paths; files keep their text
        if typed.get(key) is not None:
            typed[key] = str(typed[key]) if str(typed[key]).strip() else None
    problems += [p for p in params_schema.check(typed, layers) if p not in problems]
    if problems:
        raise ParamsError(problems)
    merged["dealer_id"] = str(merged["dealer_id"])
    merged.setdefault("dealer_name", None)
    merged["dealer_name"] = merged.get("dealer_name") or merged["dealer_id"]
    data_dir = Path(str(merged["data_dir"])).expanduser()
    merged["data_dir"] = str(data_dir if data_dir.is_absolute() else (root / data_dir).resolve())
    for key in ("files", "mapping", "values"):
        merged[key] = merged.get(key) or {}
    try:  # overrides (the command line) are not checked by check_layer
        merged["as_of"] = parse_as_of(merged.get("as_of"))
    except ValueError:
        raise ParamsError([f"as_of {merged.get('as_of')!r} is not a date (YYYY-MM-DD)"]) from None
    try:
        merged["baseline"] = parse_as_of(merged.get("baseline"))
    except ValueError:
        raise ParamsError([f"baseline {merged.get('baseline')!r} is not a date (YYYY-MM-DD)"]) from None
    merged["kit_root"] = str(root)
    return merged


def for_notebook(**given: Any) -> dict:
    """Parameters of a notebook's parameters cell (papermill ``-f DEALER_FILE`` fills them).

    With no dealer given, the shipped sample dealer, so every notebook runs top to bottom
    in JupyterLab with no parameters at all.
    """
    group_file = given.pop("group_file", None)
    dealer_file = given.pop("dealer_file", None)
    overrides = {k: given.pop(k) for k in list(given) if k in ("as_of",)}
    dealer = {k: v for k, v in given.items() if v is not None and k in (*DEALER_KEYS, *SECTIONS)}
    if not dealer.get("dealer_id") and dealer_file is None:
        dealer_file = paths.sample_dealer_file()
    if dealer_file is not None:
        on_file = read_yaml(dealer_file)
        dealer = _merge(on_file, dealer)
        root = paths.root_of_params_file(Path(dealer_file))
    else:
        root = None
    return resolve(dealer, group_file=group_file, root=root, overrides=overrides)
