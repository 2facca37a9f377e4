"""docs/ is generated from the code (`ownercomm docs`) and must say what the code says now."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ownercomm_kit import reference, schema
from ownercomm_kit.audit import RULES
from ownercomm_kit.cli import main
from ownercomm_kit.kpis.registry import KPIS

ROOT = Path(__file__).resolve().parents[1]


def test_committed_reference_is_current():
    stale = reference.stale(ROOT / "docs")
    assert not stale, f"docs/ is out of date ({', '.join(stale)}): run `ownercomm docs` and commit docs/"


def test_every_rule_figure_and_table_is_explained():
    pages = reference.pages()
    for rule in RULES:
        assert f"`{rule}`" in pages["rules.md"], rule
    for key in KPIS:
        assert f"`{key}`" in pages["kpis.md"], key
    for table in schema.TABLES:
        assert f"## {table}" in pages["data.md"], table
    assert "`rules.cap_total.windows`" in pages["parameters.md"]
    assert "`state_rules.states.FL.cap`" in pages["parameters.md"]


def test_the_command_writes_and_checks(tmp_path):
    out = tmp_path / "docs"
    assert CliRunner().invoke(main, ["docs", "--out", str(out), "--check"]).exit_code == 1
    res = CliRunner().invoke(main, ["docs", "--out", str(out)])
    assert res.exit_code == 0 and (out / "rules.md").is_file()
    assert CliRunner().invoke(main, ["docs", "--out", str(out), "--check"]).exit_code == 0
    (out / "kpis.md").write_text("edited by hand\n")
    res = CliRunner().invoke(main, ["docs", "--out", str(out), "--check"])
    assert res.exit_code == 1 and "kpis.md" in res.output
