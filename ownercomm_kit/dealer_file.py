"""The dealer file as text (SPEC §3): written the same way every time, with the consultant's
comments carried over from the previous version.

PyYAML drops comments and ruamel is not a dependency, so ``render_dealer_file`` writes the
block style itself (one entry per line, every key and value quoted by YAML's own rules) and
``read_comments`` reads back the comments of that style: the one at the end of an entry's
line and whole-line comments above it.
"""

from __future__ import annotations

import yaml

HEADER = (
    "# Dealer file written by `ownercomm onboard` (SPEC §3). Check every entry marked\n"
    "# 'fuzzy' or 'content'. Re-running onboard keeps your own entries in files, mapping\n"
    "# and values (they win over its guesses) and the comments you put on them.\n"
)
OWN_COMMENT = "# onboard:"  # comments onboard writes itself, rewritten on each run
BLOCKS = ("files", "mapping", "values")


def _scalar(value) -> str:
    """One YAML scalar on one line, quoted where YAML would misread it ("Y", "RO #", "06/18");
    line breaks and control characters escaped in double quotes."""
    one_line = not (isinstance(value, str) and not value.isprintable())
    text = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, width=10_000, default_style=None if one_line else '"'
    ).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text.removesuffix("...").strip()


def _line(indent: int, key, value, comment: str | None) -> str:
    body = " " * indent + f"{_scalar(key)}:" + (f" {_scalar(value)}" if value is not None else "")
    if comment:
        body = body.ljust(48) + "  " + comment
    return body + "\n"


ABOVE = "above"  # comments key prefix: ("above", *path) holds the comment lines above an entry


def render_dealer_file(doc: dict, comments: dict[tuple, str] | None = None) -> str:
    """The dealer file's text, the same bytes for the same content.

    ``comments`` maps an entry's path (``("mapping", "customers", "Cust No")``) to the
    trailing comment of its line, and ``("above", *path)`` to the comment lines above it.
    """
    comments = comments or {}

    def entry(indent: int, path: tuple, value) -> str:
        above = comments.get((ABOVE, *path))
        lead = "".join(" " * indent + line + "\n" for line in above.splitlines()) if above else ""
        return lead + _line(indent, path[-1], value, comments.get(path))

    out = [HEADER]
    for key, value in doc.items():
        if key in BLOCKS:
            if not value:
                continue
            out.append(entry(0, (key,), None))
            for k1, v1 in value.items():
                if isinstance(v1, dict):
                    out.append(entry(2, (key, k1), None))
                    out += [entry(4, (key, k1, k2), v2) for k2, v2 in v1.items()]
                else:
                    out.append(entry(2, (key, k1), v1))
        elif isinstance(value, (dict, list)):
            above = comments.get((ABOVE, key))
            out.append("".join(line + "\n" for line in above.splitlines()) if above else "")
            out.append(yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, default_flow_style=False))
        else:
            out.append(entry(0, (key,), value))
    return "".join(out)


def read_comments(text: str) -> dict[tuple, str]:
    """A dealer file's comments by the path of the entry they belong to, except onboard's own:
    the comment at the end of an entry's line, and whole-line comments above it.

    Enough of YAML for the block style :func:`render_dealer_file` writes, so a consultant's
    notes survive a re-run; comments inside flow-style maps or deep inside other sections
    (rules: ...) are not tracked (the values themselves always are, through YAML).
    """
    found: dict[tuple, str] = {}
    stack: list[tuple[int, str]] = []
    header = set(HEADER.splitlines())
    pending: list[str] = []
    for raw in text.splitlines():
        body, comment = _split_comment(raw)
        if not body.strip():
            if comment and comment not in header:
                pending.append(comment)
            continue
        indent = len(body) - len(body.lstrip())
        try:
            parsed = yaml.safe_load(body.strip())
        except yaml.YAMLError:
            continue
        if not isinstance(parsed, dict) or len(parsed) != 1:
            continue
        key = next(iter(parsed))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        path = tuple(k for _, k in stack)
        if comment and not comment.startswith(OWN_COMMENT):
            found[path] = comment
        if pending:
            found[(ABOVE, *path)] = "\n".join(pending)
            pending = []
    return found


def _split_comment(line: str) -> tuple[str, str | None]:
    """(content, comment) of one YAML line; a '#' inside quotes is content."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i:].strip()
    return line, None


def merge_block(guess: dict, mine: dict, nested: bool) -> dict:
    """Entries of ``mine`` win, sorted for stable output. ``nested`` blocks (mapping, values)
    merge one level down: the consultant's entries for a table join the guesses for it.

    (Guesses aimed at a column the consultant mapped elsewhere were already dropped by
    ``onboard.recognise_columns``.)"""
    out: dict = {}
    for key in sorted({*guess, *mine}, key=str):
        g, m = guess.get(key), mine.get(key)
        if nested and (m is None or isinstance(m, dict)):
            merged = {**(g or {}), **(m or {})}
            out[key] = dict(sorted(merged.items(), key=lambda kv: str(kv[0])))
        else:  # a scalar (or a {file:, sheet:} entry of files:) is replaced whole
            out[key] = m if key in mine else g
    return out
