"""One rule for which files of a data folder are data (datafolder.data_files), and every
reader that lists a folder keeps to it: the loader, onboarding, the load cache and the run
fingerprint."""

from __future__ import annotations

import os
import sys

import pytest
from helpers.data import clean_folder

from ownercomm_kit import load_cache, loader
from ownercomm_kit.run import resume as run_resume
from ownercomm_kit import onboard as ob
from ownercomm_kit.datafolder import data_files, is_data_name

# What an open workbook, a Mac copy, LibreOffice and Windows leave beside the exports.
JUNK = {
    "~$customers.xlsx": b"lock",  # Excel's owner file while customers.xlsx is open
    "~WRL0005.tmp": b"temp",  # Office temporary file
    ".~lock.customers.xlsx#": b"lock",  # LibreOffice lock file
    ".DS_Store": b"\0\0\0\1Bud1",
    "._customers.csv": b"\0\5\26\7",  # AppleDouble resource fork
}


@pytest.mark.parametrize(
    "name, data",
    [
        ("customers.csv", True),
        ("Customers Export 2026.xlsx", True),
        ("notes.txt", True),
        ("~$customers.xlsx", False),
        ("~WRL0005.tmp", False),
        (".hidden.csv", False),
        (".~lock.customers.xlsx#", False),
        ("._customers.csv", False),
    ],
)
def test_is_data_name(name, data):
    assert is_data_name(name) is data


def test_data_files_lists_regular_files_sorted_without_junk(tmp_path):
    folder = clean_folder(tmp_path / "d")
    for name, content in JUNK.items():
        (folder / name).write_bytes(content)
    (folder / "sub").mkdir()
    (folder / "sub" / "sales.csv").write_text("sale_id\n1\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("x")
    (folder / "~old").mkdir()
    (folder / "~old" / "sales.csv").write_text("sale_id\n1\n")
    assert [p.name for p in data_files(folder)] == ["communications.csv", "customers.csv"]
    assert [p.relative_to(folder).as_posix() for p in data_files(folder, subfolders=True)] == [
        "communications.csv",
        "customers.csv",
        "sub/sales.csv",
    ]
    assert data_files(tmp_path / "missing") == []
    assert data_files(folder / "customers.csv") == []


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_links_are_listed_so_each_reader_can_refuse_them(tmp_path):
    folder = clean_folder(tmp_path / "d")
    outside = tmp_path / "other.csv"
    outside.write_text("sale_id\n1\n")
    os.symlink(outside, folder / "sales.csv")
    os.symlink(tmp_path / "nowhere.csv", folder / "broken.csv")  # a dangling link is no file
    assert [p.name for p in data_files(folder)] == ["communications.csv", "customers.csv", "sales.csv"]
    _, _, problems = loader.find_sources(folder, {})
    assert any("outside the dealer's data folder" in p.message for p in problems)


def test_every_reader_ignores_lock_and_hidden_files(tmp_path):
    folder = clean_folder(tmp_path / "d")
    params = {
        "dealer_id": "D1",
        "dealer_name": None,
        "data_dir": str(folder),
        "timezone": "America/Chicago",
        "files": {},
        "mapping": {},
        "values": {},
        "as_of": None,
    }
    before_key = load_cache.cache_key(params)
    before_fp = run_resume.fingerprint(
        dealer_file=None, group_file=None, data_dir=folder, root=tmp_path, notebooks=[], as_of=None
    )
    before_sources = ob.read_sources(folder)
    for name, content in JUNK.items():
        (folder / name).write_bytes(content)
    # The loader: no note about unknown files, the same tables.
    sources, names, problems = loader.find_sources(folder, {})
    assert names == ["communications.csv", "customers.csv"] and problems == []
    assert set(sources) == {"customers", "communications"}
    # Onboarding: the same sources and no unreadable file.
    after_sources = ob.read_sources(folder)
    assert [s.ref for s in after_sources[0]] == [s.ref for s in before_sources[0]]
    assert after_sources[1] == before_sources[1] == []
    # The load cache and the fingerprint: a workbook opened in Excel is no change of data.
    assert load_cache.cache_key(params) == before_key
    assert (
        run_resume.fingerprint(
            dealer_file=None, group_file=None, data_dir=folder, root=tmp_path, notebooks=[], as_of=None
        )
        == before_fp
    )
    # ... while a real new export is one, for all four.
    (folder / "sales.csv").write_text("sale_id,customer_id,sale_date\nS1,C1,2026-06-01\n")
    assert load_cache.cache_key(params) != before_key
    assert (
        run_resume.fingerprint(
            dealer_file=None, group_file=None, data_dir=folder, root=tmp_path, notebooks=[], as_of=None
        )
        != before_fp
    )
    assert "sales" in loader.find_sources(folder, {})[0]
    assert len(ob.read_sources(folder)[0]) == 3
