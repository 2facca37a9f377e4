"""A DATA_DIR that does not exist is a clear message and exit 1, before any time-zone question."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ownercomm_kit.cli import main


@pytest.mark.parametrize("command", [["validate"], ["audit", "--out", "{out}"]])
@pytest.mark.parametrize("timezone", [[], ["--timezone", "America/Los_Angeles"]])
def test_missing_data_dir_is_named_with_exit_1(tmp_path, command, timezone):
    missing = tmp_path / "no_such_folder"
    args = [a.format(out=tmp_path / "flags.csv") for a in command[1:]]
    result = CliRunner().invoke(main, [command[0], str(missing), *args, *timezone])
    assert result.exit_code == 1, result.output
    assert "data folder not found" in result.output
    assert str(missing) in result.output
    assert "time zone" not in result.output
    assert not (tmp_path / "flags.csv").exists()


def test_existing_folder_without_timezone_still_asks_for_it(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "--timezone" in result.output
