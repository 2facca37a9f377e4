"""Building the command line imports none of the heavy libraries its commands use."""

from __future__ import annotations

import subprocess
import sys

import click
import click.testing

from ownercomm_kit.commands._common import LazyChoice

HEAVY = ("pandas", "pyarrow", "numpy", "pydantic", "papermill", "nbformat")


def test_cli_import_is_light():
    code = (
        "import sys, ownercomm_kit.cli as c; c.main(['--help'], standalone_mode=False); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == ""


def test_lazy_choice_loads_once_and_checks_like_choice():
    calls = []

    def load():
        calls.append(1)
        return ["a", "b"]

    lazy = LazyChoice(load)
    assert calls == []

    @click.command()
    @click.option("--x", type=lazy, multiple=True)
    def cmd(x):
        click.echo(",".join(x))

    runner = click.testing.CliRunner()
    assert runner.invoke(cmd, ["--x", "a", "--x", "b"]).output == "a,b\n"
    bad = runner.invoke(cmd, ["--x", "c"])
    assert bad.exit_code == 2 and "'a', 'b'" in bad.output
    assert calls == [1]
    assert lazy.choices == ("a", "b")
