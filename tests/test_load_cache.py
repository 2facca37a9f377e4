"""The per-process cache of loaded dealer data (ownercomm_kit/load_cache.py)."""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pytest

from ownercomm_kit import load_cache, loader
from ownercomm_kit.data import DataError
from ownercomm_kit.report import data_quality, html, notebook

from helpers.data import COMMUNICATIONS, CUSTOMERS, broken_folder, clean_folder, write_folder


@pytest.fixture(autouse=True)
def counted_loads(monkeypatch):
    """Every real load, as (data_dir, dealer_id); the cache starts empty in each test."""
    monkeypatch.delenv("OWNERCOMM_LOAD_CACHE", raising=False)
    load_cache.clear()
    calls: list[tuple[str, str]] = []
    real = loader.load_with_info

    def counting(params, *, strict=False):
        calls.append((str(params.get("data_dir")), str(params.get("dealer_id"))))
        return real(params, strict=strict)

    monkeypatch.setattr(loader, "load_with_info", counting)
    yield calls
    load_cache.clear()


def params_of(folder, dealer_id="D1", **extra):
    return {
        "dealer_id": dealer_id,
        "dealer_name": None,
        "data_dir": str(folder),
        "timezone": "America/Chicago",
        "files": {},
        "mapping": {},
        "values": {},
        "as_of": None,
        **extra,
    }


def bump(path, content: str) -> None:
    """Rewrite a file and move its mtime on, so that even a coarse clock sees the change."""
    before = path.stat().st_mtime_ns
    path.write_text(content, encoding="utf-8")
    os.utime(path, ns=(before + 5_000_000_000, before + 5_000_000_000))


def test_second_load_of_the_same_params_is_served_from_memory_and_equal(tmp_path, counted_loads):
    params = params_of(clean_folder(tmp_path / "d"))
    first, _ = load_cache.load_cached(params, strict=False)
    second, _ = load_cache.load_cached(dict(params), strict=True)
    assert len(counted_loads) == 1
    direct = loader.load_dealer(params)
    for name, df in direct.tables.items():
        pd.testing.assert_frame_equal(second.tables[name], df)
        assert second.tables[name] is not first.tables[name]
    assert (second.as_of, second.missing_tables, second.missing_columns, second.sources) == (
        direct.as_of,
        direct.missing_tables,
        direct.missing_columns,
        direct.sources,
    )


def test_two_dealers_in_one_process_never_serve_each_other(tmp_path, counted_loads):
    a = params_of(clean_folder(tmp_path / "a"), dealer_id="A")
    b = params_of(
        write_folder(
            tmp_path / "b", {"customers.csv": CUSTOMERS.replace("Ann", "Zoe"), "communications.csv": COMMUNICATIONS}
        ),
        dealer_id="B",
    )
    for _ in range(2):  # alternating: both stay cached, each answers for its own dealer
        da, _ = load_cache.load_cached(a, strict=True)
        db, _ = load_cache.load_cached(b, strict=True)
        assert (da.dealer_id, db.dealer_id) == ("A", "B")
        assert da["customers"]["first_name"].iloc[0] == "Ann" and db["customers"]["first_name"].iloc[0] == "Zoe"
    assert len(counted_loads) == 2


def test_same_folder_under_another_dealer_id_or_name_is_another_load(tmp_path, counted_loads):
    folder = clean_folder(tmp_path / "d")
    one, _ = load_cache.load_cached(params_of(folder, dealer_id="D1"), strict=True)
    two, _ = load_cache.load_cached(params_of(folder, dealer_id="D2"), strict=True)
    named, _ = load_cache.load_cached(params_of(folder, dealer_id="D2", dealer_name="North"), strict=True)
    assert (one.dealer_id, two.dealer_id, named.dealer_name) == ("D1", "D2", "North")
    assert len(counted_loads) == 3


@pytest.mark.parametrize(
    "change",
    [
        {"timezone": "Europe/Paris"},
        {"as_of": dt.date(2026, 6, 30)},
        {"mapping": {"customers": {"first_name": "email"}}},
        {"values": {"channel": {"e-mail": "email"}}},
        {"files": {"customers": "customers.csv"}},
    ],
)
def test_any_params_the_loader_reads_makes_a_new_load(tmp_path, counted_loads, change):
    params = params_of(clean_folder(tmp_path / "d"))
    load_cache.load_cached(params, strict=False)
    load_cache.load_cached({**params, **change}, strict=False)
    assert len(counted_loads) == 2


def test_params_the_loader_ignores_do_not(tmp_path, counted_loads):
    params = params_of(clean_folder(tmp_path / "d"))
    load_cache.load_cached({**params, "audit": {"x": 1}, "report": {"mask_pii": False}}, strict=False)
    load_cache.load_cached({**params, "audit": {"x": 2}}, strict=False)
    assert len(counted_loads) == 1


def test_a_touched_file_is_read_again(tmp_path, counted_loads):
    folder = clean_folder(tmp_path / "d")
    params = params_of(folder)
    before, _ = load_cache.load_cached(params, strict=True)
    bump(folder / "customers.csv", CUSTOMERS.replace("Ann", "Ana"))  # same size: only the mtime tells
    after, _ = load_cache.load_cached(params, strict=True)
    assert len(counted_loads) == 2
    assert before["customers"]["first_name"].iloc[0] == "Ann" and after["customers"]["first_name"].iloc[0] == "Ana"


def test_an_added_or_removed_file_is_read_again(tmp_path, counted_loads):
    folder = clean_folder(tmp_path / "d")
    params = params_of(folder)
    first, _ = load_cache.load_cached(params, strict=False)
    assert "sales" in first.missing_tables
    (folder / "sales.csv").write_text("sale_id,customer_id,sale_date\nS1,C1,2026-06-01\n", encoding="utf-8")
    added, _ = load_cache.load_cached(params, strict=False)
    assert "sales" not in added.missing_tables and len(added["sales"]) == 1
    (folder / "sales.csv").unlink()
    removed, _ = load_cache.load_cached(params, strict=False)
    assert "sales" in removed.missing_tables
    assert len(counted_loads) == 2  # the folder is as first loaded again: that load still answers


def test_a_file_named_in_a_subfolder_is_watched_too(tmp_path, counted_loads):
    folder = clean_folder(tmp_path / "d")
    sub = write_folder(folder / "exports", {"clients.csv": CUSTOMERS})
    (folder / "customers.csv").unlink()
    params = params_of(folder, files={"customers": "exports/clients.csv"})
    load_cache.load_cached(params, strict=True)
    bump(sub / "clients.csv", CUSTOMERS.replace("Bob", "Rob"))  # the folder's own listing does not change
    data, _ = load_cache.load_cached(params, strict=True)
    assert len(counted_loads) == 2 and data["customers"]["first_name"].iloc[1] == "Rob"


def test_a_missing_folder_is_cached_until_it_appears(tmp_path, counted_loads):
    params = params_of(tmp_path / "later")
    with pytest.raises(DataError, match="data folder not found"):
        load_cache.load_cached(params, strict=True)
    clean_folder(tmp_path / "later")
    data, _ = load_cache.load_cached(params, strict=True)
    assert len(data["customers"]) == 3 and len(counted_loads) == 2


def test_a_strict_request_raises_the_same_problems_from_a_non_strict_load(tmp_path, counted_loads):
    params = params_of(broken_folder(tmp_path / "d"))
    data, _ = load_cache.load_cached(params, strict=False)
    assert data.errors
    with pytest.raises(DataError) as cached:
        load_cache.load_cached(params, strict=True)
    with pytest.raises(DataError) as direct:
        loader.load_dealer(params, strict=True)
    assert str(cached.value) == str(direct.value)
    assert cached.value.problems == direct.value.problems
    assert len(counted_loads) == 2  # the cached one + the direct one


def test_callers_cannot_corrupt_each_others_data(tmp_path, counted_loads):
    params = params_of(clean_folder(tmp_path / "d"))
    mine, infos = load_cache.load_cached(params, strict=True)
    customers = mine["customers"]
    customers["score"] = 1  # a new column
    customers.loc[0, "first_name"] = "Mallory"  # a value, in place
    mine.tables["communications"] = mine["communications"].iloc[:0]  # a table replaced
    mine.missing_tables.append("customers")
    mine.missing_columns["customers"].append("email")
    mine.problems.append("noise")
    mine.sources["customers"] = "elsewhere.csv"
    infos[0].columns["x"] = "y"
    infos[0].ignored_columns.append("z")
    theirs, their_infos = load_cache.load_cached(params, strict=True)
    assert len(counted_loads) == 1
    assert "score" not in theirs["customers"] and theirs["customers"]["first_name"].iloc[0] == "Ann"
    assert len(theirs["communications"]) == 3
    assert "customers" not in theirs.missing_tables and "email" not in theirs.missing_columns["customers"]
    assert theirs.problems == [] and theirs.sources["customers"] == "customers.csv"
    assert "x" not in their_infos[0].columns and "z" not in their_infos[0].ignored_columns


def test_at_most_two_loads_are_kept(tmp_path, counted_loads):
    folders = [params_of(clean_folder(tmp_path / f"d{i}"), dealer_id=f"D{i}") for i in range(3)]
    for p in folders:
        load_cache.load_cached(p, strict=True)
    load_cache.load_cached(folders[2], strict=True)  # newest: kept
    load_cache.load_cached(folders[1], strict=True)  # kept
    assert len(counted_loads) == 3
    load_cache.load_cached(folders[0], strict=True)  # the oldest was dropped
    assert len(counted_loads) == 4


def test_the_environment_can_turn_it_off(tmp_path, counted_loads, monkeypatch):
    monkeypatch.setenv("OWNERCOMM_LOAD_CACHE", "0")
    params = params_of(clean_folder(tmp_path / "d"))
    load_cache.load_cached(params, strict=True)
    load_cache.load_cached(params, strict=True)
    assert len(counted_loads) == 2


def test_the_set_up_cells_share_one_load(tmp_path, counted_loads):
    """Data quality (non-strict) then a report (strict), as the runner runs them in one kernel."""
    given = {
        "dealer_id": "D7",
        "data_dir": str(clean_folder(tmp_path / "d")),
        "timezone": "America/Denver",
        "out_dir": str(tmp_path / "out"),
    }
    with html.capture():
        q = data_quality.start(None, **given)
        r = notebook.start(None, report="audit", **given)
        r2 = notebook.start(None, report="retention", **given)
    assert len(counted_loads) == 1
    assert q.data.dealer_id == r.data.dealer_id == "D7" and r.data is not r2.data
    pd.testing.assert_frame_equal(q.data["customers"], r.data["customers"])


# --------------------------------------------------------------------------- shared frames


def test_copies_of_one_load_share_one_memo_of_frames(tmp_path, counted_loads):
    from ownercomm_kit.kpis import common

    params = params_of(clean_folder(tmp_path / "d"))
    first, _ = load_cache.load_cached(params, strict=False)
    second, _ = load_cache.load_cached(dict(params), strict=True)
    made = []

    def make():
        made.append(1)
        return common.local_date(first["communications"]["sent_at"], first.timezone)

    a = common.shared(first, ("days",), make)
    b = common.shared(second, ("days",), make)
    assert len(made) == 1  # the second notebook's copy reuses the first one's frame
    pd.testing.assert_series_equal(a, b)
    b.iloc[:] = pd.NaT  # a caller changing its copy changes neither the memo nor the other copy
    pd.testing.assert_series_equal(common.shared(first, ("days",), make), a)
    assert common.shared(second, ("days",), make).notna().all()


def test_another_dealer_or_a_changed_file_gets_its_own_frames(tmp_path, counted_loads):
    from ownercomm_kit.kpis import common

    a_params = params_of(clean_folder(tmp_path / "a"), dealer_id="A")
    b_params = params_of(clean_folder(tmp_path / "b"), dealer_id="B")
    a, _ = load_cache.load_cached(a_params, strict=False)
    b, _ = load_cache.load_cached(b_params, strict=False)
    common.shared(a, ("k",), lambda: "of A")
    assert common.shared(b, ("k",), lambda: "of B") == "of B"
    bump(tmp_path / "a" / "communications.csv", (tmp_path / "a" / "communications.csv").read_text())
    a2, _ = load_cache.load_cached(a_params, strict=False)
    assert common.shared(a2, ("k",), lambda: "new load") == "new load"
    assert common.shared(a, ("k",), lambda: "never") == "of A"


def test_data_not_from_the_cache_has_a_memo_of_its_own(tmp_path, counted_loads):
    import dataclasses

    from ownercomm_kit.kpis import common

    data = loader.load_dealer(params_of(clean_folder(tmp_path / "d")))
    assert common.shared(data, ("k",), lambda: 1) == 1
    assert common.shared(data, ("k",), lambda: 2) == 1
    other = dataclasses.replace(data, as_of=data.as_of - dt.timedelta(days=30))  # e.g. a history month-end
    assert common.shared(other, ("k",), lambda: 3) == 3
    ids = {id(data), id(other)}
    assert ids <= set(load_cache._memos)
    del data, other
    import gc

    gc.collect()
    assert not ids & set(load_cache._memos)  # a memo goes with its data


def test_contacts_of_a_subset_equal_the_contacts_computed_on_the_subset(tmp_path, counted_loads):
    from ownercomm_kit.kpis import common

    data = loader.load_dealer(params_of(clean_folder(tmp_path / "d")))
    customers = data["customers"]
    ids = customers["customer_id"].iloc[::2]
    p = {"contact_fallback": ["sms", "email", "phone", "mail"]}
    direct = common.customer_contacts(customers[common.isin(customers["customer_id"], ids)], p["contact_fallback"])
    pd.testing.assert_frame_equal(common.contacts_of(data, ids, p), direct)


def test_a_table_replaced_in_place_is_not_served_a_frame_of_the_old_one(tmp_path, counted_loads):
    from ownercomm_kit.kpis import common

    data, _ = load_cache.load_cached(params_of(clean_folder(tmp_path / "d")), strict=False)
    before = common.local_dates(data, "communications", "sent_at")
    data.tables["communications"] = data.tables["communications"].iloc[1:]
    after = common.local_dates(data, "communications", "sent_at")
    assert len(after) == len(before) - 1 and after.index.equals(data["communications"].index)
