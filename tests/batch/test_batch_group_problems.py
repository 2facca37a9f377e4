"""A group file's problems are listed all at once: structure and unknown keys together."""

from __future__ import annotations


import pytest

from ownercomm_kit import batch, params

from helpers.batch import make_group, make_kit, make_store  # noqa: E402


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
    """The index renders a failure from its fields (kind, where, problems), never from the
    error text, which for an unexpected error may quote a value with both kinds of quote."""
    from ownercomm_kit.batch.index import failure_text
    from ownercomm_kit.run.failure import Failure, Problem

    data = Failure(
        "data",
        "2 blocking data problems",
        notebook="audit.ipynb",
        cell=3,
        error="DataError",
        problems=[Problem("duplicate customer_id", file="customers.csv", row=4, column="customer_id")],
    )
    shown = failure_text({"error": "audit.ipynb: ana@example.com", "failure": data.to_dict()})
    assert "ana@example.com" not in shown
    assert shown.startswith(
        "Blocking data problems: audit.ipynb, cell 3: DataError: 2 blocking data problems: "
        "ERROR customers.csv, row 4, column 'customer_id': duplicate customer_id"
    )
    other = Failure(
        "other",
        notebook="retention.ipynb",
        cell=2,
        error="ValueError",
        detail="""could not convert 'o'neil" <a@x.com>' to float""",
    )
    shown = failure_text({"error": other.line(), "failure": other.to_dict()})
    assert "neil" not in shown and "a@x.com" not in shown and "ValueError" in shown
    assert failure_text({"error": "KeyError: 'ana@example.com'"}) == "It failed; the reason is in manifest.json."
