"""outputs: atomic writes, formula-safe CSV, kpis.json merging."""

from __future__ import annotations

import json
import multiprocessing as mp
import os

import numpy as np
import pandas as pd
import pytest

from ownercomm_kit import outputs


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_write_csv_neutralizes_each_formula_prefix(tmp_path, prefix):
    df = pd.DataFrame({"name": pd.array([f"{prefix}cmd|' /C calc'!A0", "Ana"], dtype="string")})
    outputs.write_csv(df, tmp_path / "x.csv")
    back = pd.read_csv(tmp_path / "x.csv", dtype=str, keep_default_na=False)
    assert back["name"].tolist() == [f"'{prefix}cmd|' /C calc'!A0", "Ana"]


def test_write_csv_keeps_numbers_and_readable_text(tmp_path):
    df = pd.DataFrame(
        {
            "price": [-12.5, 31000.0],
            "count": pd.array([-3, 4], dtype="Int64"),
            "name": pd.array(['=HYPERLINK("http://x","go")', "Eve =1+1"], dtype="string"),
            "obj": ["-dash", None],
            "when": pd.to_datetime(["2026-06-18", "2026-06-19"]),
        }
    )
    outputs.write_csv(df, tmp_path / "x.csv")
    text = (tmp_path / "x.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "price,count,name,obj,when"
    assert lines[1] == '-12.5,-3,"\'=HYPERLINK(""http://x"",""go"")",\'-dash,2026-06-18'
    # Only a leading formula character matters; the rest of the text is left as typed.
    assert lines[2] == "31000.0,4,Eve =1+1,,2026-06-19"
    # The frame itself is not modified.
    assert df["name"].iloc[0].startswith("=")


def test_neutralize_leaves_missing_values_missing():
    df = pd.DataFrame({"s": pd.array([None, "@x"], dtype="string")})
    out = outputs.neutralize_formulas(df)
    assert out["s"].isna().tolist() == [True, False]
    assert out["s"].iloc[1] == "'@x"


def test_failure_mid_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "flags.csv"
    outputs.write_csv(pd.DataFrame({"a": [1]}), path)
    before = path.read_bytes()

    def half_then_fail(df, f, **kw):
        f.write(b"a\r\n2\r\n3")  # part of the new content reaches the temporary file
        raise OSError("disk full")

    from ownercomm_kit import csv_arrow

    monkeypatch.setattr(csv_arrow, "write_frame", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        outputs.write_csv(pd.DataFrame({"a": [2, 3]}), path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_interrupt_before_first_write_creates_nothing(tmp_path):
    path = tmp_path / "new.json"
    with pytest.raises(KeyboardInterrupt):
        with outputs.atomic_open(path) as f:
            f.write("{")
            raise KeyboardInterrupt
    assert not path.exists()
    assert _leftovers(tmp_path) == []


def test_atomic_write_replaces_and_is_readable_by_others(tmp_path):
    path = tmp_path / "sub" / "r.txt"
    outputs.write_text("one", path)
    outputs.write_text("two", path)
    assert path.read_text() == "two"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert _leftovers(path.parent) == []


def test_write_json_numpy_nan_and_dates(tmp_path):
    import datetime as dt

    outputs.write_json(
        {
            "a": np.int64(3),
            "b": np.float64("nan"),
            "c": None,
            "d": dt.date(2026, 6, 18),
            "e": pd.NA,
            "f": np.bool_(True),
            "g": [np.float32(0.5)],
        },
        tmp_path / "k.json",
    )
    doc = json.loads((tmp_path / "k.json").read_text())
    assert doc == {"a": 3, "b": None, "c": None, "d": "2026-06-18", "e": None, "f": True, "g": [0.5]}


def test_update_kpis_merges_and_keeps_none(tmp_path):
    outputs.update_kpis(tmp_path, {"messages": 10, "flags_total": 3})
    merged = outputs.update_kpis(tmp_path, {"repurchase_rate": None, "flags_total": 4})
    assert merged == {"messages": 10, "flags_total": 4, "repurchase_rate": None}
    assert json.loads((tmp_path / "kpis.json").read_text()) == merged
    assert _leftovers(tmp_path) == []


def _writer(folder: str, prefix: str, n: int) -> None:
    for i in range(n):
        outputs.update_kpis(folder, {f"{prefix}{i}": i})


def test_update_kpis_from_parallel_notebooks_loses_nothing(tmp_path):
    """The three notebooks of a dealer may write kpis.json at the same time."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), p, 25)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    doc = json.loads((tmp_path / "kpis.json").read_text())
    assert set(doc) == {f"{p}{i}" for p in "ab" for i in range(25)}
    assert _leftovers(tmp_path) == []
    assert not any(name.startswith(".") for name in os.listdir(tmp_path))


def test_object_columns_keep_non_text_values(tmp_path):
    df = pd.DataFrame({"mixed": pd.Series([-5, "-5 days", 2.5, None], dtype=object)})
    out = outputs.neutralize_formulas(df)
    assert out["mixed"].tolist()[:3] == [-5, "'-5 days", 2.5]


def test_a_broken_kpis_json_is_rebuilt(tmp_path):
    (tmp_path / "kpis.json").write_text("{not json", encoding="utf-8")
    assert outputs.update_kpis(tmp_path, {"messages": 1}) == {"messages": 1}
