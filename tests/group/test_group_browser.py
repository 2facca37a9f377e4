"""group_audit.html in a real browser: charts draw offline, hostile names stay text, contacts masked."""

from __future__ import annotations

import pytest

from ownercomm_kit.group import step
from helpers.browser import open_page as _open
from helpers.group import HOSTILE, build


@pytest.fixture(scope="module")
def group_page(tmp_path_factory):
    g, manifest, prm = build(tmp_path_factory.mktemp("gb"))
    # a contact hidden in free text from the data: the detail quotes the offer's model
    import pyarrow.parquet as pq

    path = g / "B" / "group_extract" / "messages.parquet"
    m = pq.read_table(path).to_pandas()
    m.loc[m["message_id"] == "MB1", "model"] = "Camry ann.secret@x.com <b>bold</b>"
    import pyarrow as pa

    pq.write_table(pa.Table.from_pandas(m.astype({"model": "string"}), preserve_index=False), path)
    step.run_group_step(g, manifest, prm)
    return g / "group" / "group_audit.html"


def test_group_page_draws_offline_and_inert(browser, group_page):
    seen = _open(browser, group_page)
    page = seen["page"]
    try:
        assert not [u for u in seen["requests"] if not u.startswith(("file:", "data:", "blob:", "about:"))]
        assert not seen["errors"], seen["errors"]
        assert not seen["dialogs"]
        assert page.locator(".js-plotly-plot .main-svg").count() >= 2  # flags by rule, pairs heat map
        text = page.inner_text("body")
        assert HOSTILE in text  # shown as text
        assert page.locator("img[src=x]").count() == 0
        assert "Shared customers" in text and "Failed Motors" in text  # the failed store is named missing
        assert "ann.secret@x.com" not in page.content()
        assert "<b>bold</b>" in text
    finally:
        page.close()
