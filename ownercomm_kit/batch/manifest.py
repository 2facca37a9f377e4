"""A group batch's ``manifest.json`` (SPEC §7): per store its status (ok, failed, skipped),
seconds and one-line error, and why it failed as data (``failure``: kind, problems; see
``run.failure``), which the group index and the CLI render."""

from __future__ import annotations

from pathlib import Path

MANIFEST = "manifest.json"
INDEX = "index.html"
STATUSES = ("ok", "skipped", "failed")


def store_entry(result: dict, group_dir: Path) -> dict:
    """A store's line in manifest.json (from ``run.store.RunResult.to_dict()``); paths relative
    to the group folder."""

    def rel(p):
        if not p:
            return None
        try:
            return str(Path(p).relative_to(group_dir))
        except ValueError:
            return str(p)

    folder = rel(result.get("out_dir"))
    return {
        "dealer_id": result["dealer_id"],
        "dealer_name": result.get("dealer_name"),
        "status": result["status"],
        "seconds": result.get("seconds"),
        "error": result.get("error"),
        "out_dir": folder,
        "outputs": [f"{folder}/{o}" for o in result.get("outputs", [])] if folder else [],
        "failed_notebook": rel(result.get("failed_notebook")),
        "timings": result.get("timings") or {},
        "failure": result.get("failure"),
    }


def counts(stores: list[dict]) -> dict[str, int]:
    return {s: sum(1 for r in stores if r["status"] == s) for s in STATUSES}
