"""The command line's layering: ``cli`` adds the commands of ``commands/``, which know nothing
of ``cli`` (no import circle), and every command module's command is registered."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import click

import ownercomm_kit.commands as commands
from ownercomm_kit.cli import main

PACKAGE = Path(commands.__file__).parent


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_no_command_module_imports_the_cli():
    for path in sorted(PACKAGE.glob("*.py")):
        imported = _imports(path)
        assert not {"..cli", "ownercomm_kit.cli"} & imported, f"{path.name} imports the cli (an import circle)"


def test_every_command_module_is_registered_once():
    modules = [m.name for m in pkgutil.iter_modules([str(PACKAGE)]) if not m.name.startswith("_")]
    defined = []
    for name in modules:
        module = importlib.import_module(f"ownercomm_kit.commands.{name}")
        defined += [v for v in vars(module).values() if isinstance(v, click.Command)]
    assert sorted(c.name for c in defined) == sorted(main.commands)
    assert all(main.commands[c.name] is c for c in defined)
