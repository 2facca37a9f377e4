"""A store that fails on hostile data (both kinds of quote, HTML, formula prefixes, newlines,
in cells and in a header row): its failure is data (kind, file, row, column, message) and no
value from the data reaches the batch's manifest, the group index or the terminal lines of
`ownercomm run` and `ownercomm batch`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ownercomm_kit.cli import main

from helpers.batch import make_group, make_kit, make_store  # noqa: E402

pytestmark = pytest.mark.slow

MARK = "HoStIlEvAl"  # every hostile value carries it: it must show nowhere but the store's own folder
# Each value once as it is written in the CSV file (quoted, quotes doubled).
HOSTILE = {
    "id": f'"=HYPERLINK(""http://x"")\'{MARK}1 {MARK}"',
    "stamp": f'"<script>alert(\'{MARK}2"")</script>{MARK}"',
    "channel": f'"+{MARK}3 o\'ne""il <b>x</b> {MARK}"',
    "sender": f'"@{MARK}4 line one\nline \'two"" -1 {MARK}"',
    "category": f"\"-{MARK}5\tcmd|' /C calc'!A0 {MARK}\"",
}


def hostile_store(kit: Path, dealer_id: str) -> Path:
    dealer = make_store(kit, dealer_id)
    data = kit / "data" / dealer_id
    rows = [
        "message_id,customer_id,sent_at,channel,sender,category",
        f"{HOSTILE['id']},C1,2026-05-01 10:00,email,dealer,offer",
        f"{HOSTILE['id']},C1,2026-05-02 10:00,email,dealer,offer",  # duplicate id
        f"M3,C1,{HOSTILE['stamp']},email,dealer,offer",  # unparseable time stamp
        f"M4,C1,2026-05-03 10:00,{HOSTILE['channel']},dealer,offer",  # not an allowed channel
        f"M5,C1,2026-05-03 10:00,email,{HOSTILE['sender']},offer",  # not an allowed sender
        f"M6,C1,2026-05-03 10:00,email,dealer,{HOSTILE['category']}",  # not an allowed category
    ]
    (data / "communications.csv").write_text("\n".join(rows) + "\n")
    # An export without its header row: the first customer's cells are taken for headers.
    (data / "customers.csv").write_text(f'"<i>{MARK}6 O\'Ne""il</i> {MARK}",=1+{MARK}7\nC1,x\n')
    return dealer


def assert_no_value(text: str, where: str) -> None:
    """Each hostile value starts and ends with MARK: neither a whole value nor a part cut at a
    quote, a tag or a line break shows."""
    assert MARK not in text, f"a value from the data reached {where}"
    assert "HYPERLINK" not in text and "calc" not in text and "alert(" not in text, where


def test_hostile_values_reach_neither_manifest_index_nor_terminal(tmp_path):
    kit = make_kit(tmp_path / "kit", notebooks=None)  # the kit's own notebooks: the loader checks the data
    hostile_store(kit, "D001")
    group = make_group(kit, "g", ["D001"])
    out = kit / "out"

    run = CliRunner().invoke(main, ["run", str(kit / "params" / "dealers" / "D001.yaml"), "--out", str(out / "solo")])
    assert run.exit_code == 1, run.output
    assert_no_value(run.output, "the terminal of `ownercomm run`")
    assert "D001: FAILED: audit.ipynb, cell " in run.output and "blocking data problems" in run.output
    # every problem by file, spreadsheet row and column, one per line
    assert "ERROR communications.csv, row 2, column 'message_id': duplicate message_id" in run.output
    assert "ERROR communications.csv, row 5, column 'channel': not an allowed channel" in run.output
    assert "ERROR customers.csv, row 1, column 'customer_id': required column 'customer_id' not found" in run.output
    assert "every data problem: ownercomm validate --params" in run.output
    assert "Traceback" not in run.output

    batch = CliRunner().invoke(main, ["batch", str(group), "--out", str(out), "--workers", "1"])
    assert batch.exit_code == 1, batch.output
    assert_no_value(batch.output, "the terminal of `ownercomm batch`")
    manifest_text = (out / "g" / "manifest.json").read_text(encoding="utf-8")
    assert_no_value(manifest_text, "manifest.json")
    store = json.loads(manifest_text)["stores"][0]
    assert store["status"] == "failed" and store["error"].startswith("audit.ipynb, cell ")
    f = store["failure"]
    assert f["kind"] == "data" and f["notebook"] == "audit.ipynb" and f["error"] == "DataError"
    where = {(p["file"], p["row"], p["column"]) for p in f["problems"]}
    assert {
        ("communications.csv", 2, "message_id"),
        ("communications.csv", 4, "sent_at"),
        ("communications.csv", 5, "channel"),
        ("communications.csv", 6, "sender"),
        ("communications.csv", 7, "category"),
        ("customers.csv", 1, "customer_id"),
    } <= where
    assert all(set(p) >= {"file", "row", "column", "message"} for p in f["problems"])
    index = (out / "g" / "index.html").read_text(encoding="utf-8")
    assert_no_value(index, "index.html")
    assert "Blocking data problems" in index and "ERROR customers.csv, row 1, column" in index

    # The store's own folder keeps every detail for the analyst (the executed notebooks).
    kept = (out / "g" / "D001" / "_failed" / "audit.ipynb").read_text(encoding="utf-8")
    assert MARK in kept


def test_an_unexpected_error_keeps_its_message_off_the_index(tmp_path):
    """A notebook cell raising an error whose message quotes a value: the manifest's error line
    and the terminal keep the message (for diagnosis), the group index only its kind and name."""
    import nbformat

    kit = make_kit(tmp_path / "kit")
    nb_path = kit / "notebooks" / "retention.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.insert(
        2, nbformat.v4.new_code_cell(f"raise ValueError(\"could not convert 'o'ne\\\"il {MARK}' to float\")")
    )
    nbformat.write(nb, nb_path)
    make_store(kit, "D001")
    out = kit / "out"
    batch = CliRunner().invoke(
        main, ["batch", str(make_group(kit, "g", ["D001"])), "--out", str(out), "--workers", "1"]
    )
    assert batch.exit_code == 1
    store = json.loads((out / "g" / "manifest.json").read_text())["stores"][0]
    assert store["failure"]["kind"] == "other" and store["failure"]["error"] == "ValueError"
    assert MARK in store["error"] and MARK in batch.output  # the analyst's diagnosis
    assert MARK not in json.dumps(store["failure"])  # the failure as data holds no value
    index = (out / "g" / "index.html").read_text(encoding="utf-8")
    assert MARK not in index and "ValueError" in index and "Unexpected error" in index
