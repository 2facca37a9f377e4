"""A group file's problems are listed all at once: structure and unknown keys together."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ownercomm_kit import batch, params

sys.path.insert(0, str(Path(__file__).parent))
from helpers_batch import make_group, make_kit, make_store  # noqa: E402


def test_duplicate_dealers_and_a_typo_are_both_reported(tmp_path):
    kit = make_kit(tmp_path / "kit")
    make_store(kit, "D001")
    with pytest.raises(params.ParamsError) as e:
        batch.read_group(make_group(kit, "bad", ["D001", "D001"], rulez={}))
    text = "\n".join(e.value.problems)
    assert "more than once: D001" in text
    assert "rulez" in text


def test_a_good_group_still_reads(tmp_path):
    kit = make_kit(tmp_path / "kit")
    make_store(kit, "D001")
    g = batch.read_group(make_group(kit, "g", ["D001"]))
    assert g.report["plotlyjs"] == "inline" and len(g.dealer_files) == 1


def test_index_failure_reasons_quote_no_data_values():
    from ownercomm_kit.batch.index import public_reason

    error = ("audit.ipynb, cell 3: DataError: ERROR customers.csv, row 4, column 'customer_id': value "
             "'ana@example.com': duplicate id; ERROR x.csv, row 2, column 'email': value \"o'neil@x.com\": bad")
    shown = public_reason(error)
    assert "ana@example.com" not in shown and "o'neil" not in shown
    assert "customers.csv, row 4, column 'customer_id': value …: duplicate id" in shown
