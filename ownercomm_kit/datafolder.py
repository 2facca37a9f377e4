"""Which files of a dealer's data folder are data: one rule for every reader (the loader,
onboarding, the load cache and the run fingerprint).

A data file is a regular file (or a link to one) whose name, and every folder name between it
and the data folder, starts neither with "." (hidden files: .DS_Store, LibreOffice's
``.~lock.*#``) nor with "~" (Office's ``~$Book.xlsx`` owner files and ``~WRL0001.tmp`` temporary
files, which come and go while a consultant has a workbook open). Links are listed, not
followed out: each reader refuses a link out of the folder itself, with its own message.
"""

from __future__ import annotations

from pathlib import Path

SKIPPED_STARTS = (".", "~")


def is_data_name(name: str) -> bool:
    """False for hidden files and Office lock and temporary files."""
    return not name.startswith(SKIPPED_STARTS)


def data_files(data_dir: str | Path, *, subfolders: bool = False) -> list[Path]:
    """The folder's data files, sorted by name (relative path with ``subfolders``).

    ``subfolders``: also the files of its subfolders (a dealer file's ``files:`` may name
    one), skipping hidden and "~" folders like files. A missing folder has no files.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return []
    found = data_dir.rglob("*") if subfolders else data_dir.iterdir()
    out = []
    for p in found:
        if all(is_data_name(part) for part in p.relative_to(data_dir).parts) and p.is_file():
            out.append(p)
    return sorted(out, key=lambda p: p.relative_to(data_dir).as_posix())
