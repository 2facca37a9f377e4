"""``ownercomm init DIR``: a consultant's workspace for a pip-installed kit.

    DIR/
      params/dealers/EXAMPLE.yaml   a documented example dealer file (copy it per dealer)
      params/groups/example.yaml    a group listing it
      params/README.md              where the thresholds come from and how to change them
      data/                         one folder of exports per dealer (data/<dealer_id>/)
      reports/                      what `ownercomm run` and `ownercomm batch` write
      notebooks/                    the kit's notebooks, for JupyterLab

The thresholds are the installed kit's own ``params/defaults.yaml`` (not copied: an upgrade
of the kit brings its fixes); a group or dealer file overrides any of them, and a
``params/defaults.yaml`` put in the workspace replaces them all. Existing files are never
overwritten: running it again only adds what is missing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import paths

EXAMPLE_DEALER = """\
# A dealer file: one per store (SPEC §3). Copy this file to params/dealers/<dealer_id>.yaml,
# or let `ownercomm onboard data/<dealer_id> --dealer-id <dealer_id>` write it from the exports.
# Then: ownercomm validate --params params/dealers/<dealer_id>.yaml
#       ownercomm run params/dealers/<dealer_id>.yaml

dealer_id: EXAMPLE              # letters, digits, '.', '_' or '-': it names the report folder
dealer_name: Example Motors     # shown on the reports
data_dir: data/EXAMPLE          # the folder of this store's exports, relative to this workspace
timezone: America/Chicago       # the store's IANA time zone (business hours, quiet hours, dates)

# files:                        # a table whose file name is not recognised: table -> file name
#   communications: Message Log 2026.xlsx
# mapping:                      # a column whose header is not recognised: table -> {their header: our column}
#   communications: {Msg Sent: sent_at}
# values:                       # a value the kit does not know: column -> {their value: ours}
#   channel: {Text: sms}
# as_of: 2026-10-31             # the reports' "today"; empty = the last date in the data

# Any section of the kit's params/defaults.yaml can be overridden here, key by key, e.g.:
# rules:
#   cap_total:
#     severity: high
"""

EXAMPLE_GROUP = """\
# A group file: the stores of one dealer group, run together by
#   ownercomm batch params/groups/example.yaml
# Each entry is a dealer id (params/dealers/<id>.yaml) or a path to a dealer file.
# Sections of the kit's defaults set here apply to every store below their own dealer file.
group_id: example
group_name: Example group
dealers:
- EXAMPLE
"""

PARAMS_README = """\
# Parameters of this workspace

- `dealers/<dealer_id>.yaml`: one per store (see `dealers/EXAMPLE.yaml`).
- `groups/<group_id>.yaml`: the stores of a dealer group (see `groups/example.yaml`).

Every threshold comes from the installed kit's defaults:

    {defaults}

A group or dealer file overrides any key of it (a key that is not there is an error). To
own every threshold instead, copy that file to `params/defaults.yaml` here: it then
replaces the kit's for this workspace.
"""


@dataclass
class InitResult:
    root: Path
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def init(folder: str | Path) -> InitResult:
    """Lay out a workspace in ``folder`` (made if missing); never overwrite a file."""
    root = Path(folder).expanduser().resolve()
    result = InitResult(root)
    for sub in ("params/dealers", "params/groups", "data", "reports", "notebooks"):
        path = root / sub
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            result.created.append(sub + "/")
    files = {
        "params/dealers/EXAMPLE.yaml": EXAMPLE_DEALER,
        "params/groups/example.yaml": EXAMPLE_GROUP,
        "params/README.md": PARAMS_README.format(defaults=paths.kit_defaults_file()),
    }
    for rel, text in files.items():
        _write_new(root, rel, text.encode("utf-8"), result)
    source = paths.kit_notebooks_dir()
    for nb in sorted(source.glob("*.ipynb")):
        _write_new(root, f"notebooks/{nb.name}", nb.read_bytes(), result)
    return result


def _write_new(root: Path, rel: str, data: bytes, result: InitResult) -> None:
    path = root / rel
    if path.exists():
        result.kept.append(rel)
        return
    tmp = path.with_name(f".{path.name}.init-tmp")
    tmp.write_bytes(data)
    shutil.move(str(tmp), str(path))
    result.created.append(rel)
