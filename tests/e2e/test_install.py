"""Installs and trees anywhere (issue 10 items 7 and 8): the kit built as a wheel and
installed non-editable, a workspace from `ownercomm init`, a tree without its own
defaults, and the resume fingerprint over the kit's own code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ownercomm_kit import params, paths, workspace
from ownercomm_kit.run import resume as run_resume
from ownercomm_kit.cli import main

from helpers.batch import make_kit, make_store  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- a built install


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # as `pip install .` builds it: in an isolated build environment (setuptools from the index)
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = out.glob("ownercomm_kit-*.whl")
    return whl


def test_wheel_ships_defaults_notebooks_and_templates_from_their_one_home(wheel):
    """The build copies the repository's params/defaults.yaml and notebooks/ into the
    package (no second copy is kept in the repository): same bytes, nothing else of params/."""
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert z.read("ownercomm_kit/shipped/params/defaults.yaml") == (REPO / "params" / "defaults.yaml").read_bytes()
        for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
            assert z.read(f"ownercomm_kit/shipped/notebooks/{nb.name}") == nb.read_bytes()
    assert "ownercomm_kit/templates/ownercomm/index.html.j2" in names
    assert "ownercomm_kit/assets/synonyms.yaml" in names
    assert not [n for n in names if "/shipped/params/dealers" in n or "sample_data" in n]
    assert not (REPO / "ownercomm_kit" / "shipped").exists(), "the build must not write into the checkout"


@pytest.mark.slow
def test_non_editable_install_runs_a_workspace_from_anywhere(wheel, tmp_path):
    """The wheel installed (not editable) into a fresh virtual environment, whose other
    packages come from this one: `ownercomm init`, `ownercomm synth` into the workspace (no
    params/defaults.yaml there) and `ownercomm run`, from a folder outside the repository.
    The kit's code, notebooks and defaults all come from the installed package."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the dependencies: this environment's site-packages, after the new one (its .pth files,
    # such as this checkout's editable finder, are not read from there)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("OWNERCOMM_ROOT", "PYTHONPATH")}
    where = subprocess.run(
        [
            str(py),
            "-c",
            "import ownercomm_kit.paths as p; print(p.PACKAGE_DIR); "
            "print(p.kit_defaults_file()); print(p.kit_notebooks_dir())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    ).stdout.split()
    assert all(w.startswith(str(site)) for w in where), where
    ws = tmp_path / "ws"
    ownercomm = str(venv / "bin" / "ownercomm")
    for cmd in (["init", str(ws)], ["synth", str(ws), "--dealers", "1", "--customers", "40", "--quiet"]):
        r = subprocess.run([ownercomm, *cmd], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
    assert not (ws / "params" / "defaults.yaml").exists()
    r = subprocess.run(
        [ownercomm, "run", "params/dealers/D001.yaml"], capture_output=True, text=True, cwd=ws, env=env, timeout=900
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    store = ws / "reports" / "D001"
    assert {"audit.html", "retention.html", "referrals.html", "kpis.json", "flags.csv"} <= {
        p.name for p in store.iterdir()
    }


# --------------------------------------------------------------------------- trees without defaults


def test_tree_without_defaults_runs_with_the_kits_in_cli_and_kernel(tmp_path, monkeypatch):
    """A synth-like tree (params/dealers, no params/defaults.yaml): the CLI's resolution (from
    the dealer file) and the kernel's (OWNERCOMM_ROOT set to the tree, the dealer file's
    content as parameters) give the same parameters, with the kit's own defaults."""
    tree = tmp_path / "tree"
    (tree / "params" / "dealers").mkdir(parents=True)
    (tree / "data" / "D9").mkdir(parents=True)
    dealer = tree / "params" / "dealers" / "D9.yaml"
    dealer.write_text(
        yaml.safe_dump(
            {
                "dealer_id": "D9",
                "data_dir": "data/D9",
                "timezone": "America/Denver",
                "rules": {"cap_total": {"severity": "high"}},
            }
        )
    )
    assert paths.defaults_file(tree) == paths.kit_defaults_file()
    monkeypatch.chdir(tmp_path)  # a folder that is no kit root
    cli = params.resolve(dealer_file=dealer)
    monkeypatch.setenv("OWNERCOMM_ROOT", str(tree))
    monkeypatch.chdir(tree / "data")
    given = {**yaml.safe_load(dealer.read_text()), "data_dir": cli["data_dir"]}  # as the runner injects them
    kernel = params.for_notebook(**given)
    assert kernel == cli
    kit = yaml.safe_load(paths.kit_defaults_file().read_text())
    assert cli["rules"]["cap_channel"] == kit["rules"]["cap_channel"]
    assert cli["rules"]["cap_total"]["severity"] == "high"
    assert cli["kit_root"] == str(tree)


def test_kit_root_of_a_workspace_and_its_own_defaults_win(tmp_path, monkeypatch):
    ws = workspace.init(tmp_path / "ws").root
    monkeypatch.delenv("OWNERCOMM_ROOT", raising=False)
    assert paths.kit_root(ws / "notebooks") == ws
    assert paths.defaults_file(ws) == paths.kit_defaults_file()
    own = ws / "params" / "defaults.yaml"
    shutil.copy(paths.kit_defaults_file(), own)
    assert paths.defaults_file(ws) == own


# --------------------------------------------------------------------------- ownercomm init


def test_init_lays_out_a_workspace_and_keeps_what_exists(tmp_path):
    ws = tmp_path / "client"
    r = CliRunner().invoke(main, ["init", str(ws)])
    assert r.exit_code == 0, r.output
    for folder in ("params/dealers", "params/groups", "data", "reports", "notebooks"):
        assert (ws / folder).is_dir(), folder
    for nb in paths.kit_notebooks_dir().glob("*.ipynb"):
        assert (ws / "notebooks" / nb.name).read_bytes() == nb.read_bytes()
    example = ws / "params" / "dealers" / "EXAMPLE.yaml"
    doc = yaml.safe_load(example.read_text())
    assert doc["dealer_id"] == "EXAMPLE" and doc["data_dir"] == "data/EXAMPLE"
    assert params.check_layer(doc, str(example), "dealer", params.load_defaults(ws)) == []
    (ws / "data" / "EXAMPLE").mkdir()
    resolved = params.resolve(dealer_file=example)
    assert resolved["data_dir"] == str(ws / "data" / "EXAMPLE") and resolved["kit_root"] == str(ws)
    from ownercomm_kit.batch import read_group

    group = read_group(ws / "params" / "groups" / "example.yaml")
    assert group.dealer_files == [example] and group.root == ws
    assert str(paths.kit_defaults_file()) in (ws / "params" / "README.md").read_text()
    example.write_text("dealer_id: MINE\n")
    again = CliRunner().invoke(main, ["init", str(ws)])
    assert again.exit_code == 0 and "kept" in again.output
    assert example.read_text() == "dealer_id: MINE\n"


# --------------------------------------------------------------------------- resume notices code


def test_fingerprint_covers_the_kits_own_code(tmp_path, monkeypatch):
    """A changed module, template or asset of the kit changes every store's fingerprint
    (the version string alone would not); bytecode does not; it is hashed once a process."""
    kit = make_kit(tmp_path / "kit")
    dealer = make_store(kit, "D001")
    package = tmp_path / "pkg" / "ownercomm_kit"
    shutil.copytree(paths.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("shipped"))
    monkeypatch.setattr(paths, "PACKAGE_DIR", package)

    def fp():
        run_resume._KIT_CODE.clear()
        return run_resume.fingerprint(
            dealer_file=dealer,
            group_file=None,
            data_dir=kit / "data" / "D001",
            root=kit,
            notebooks=sorted((kit / "notebooks").glob("*.ipynb")),
            as_of=None,
        )

    first = fp()
    for rel in ("audit/rules.py", "templates/ownercomm/static/report.css", "assets/synonyms.yaml"):
        path = package / rel
        path.write_bytes(path.read_bytes() + b"\n")
        assert fp() != first, rel
        first = fp()
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"bytecode")
    assert fp() == first
    cached = run_resume.kit_code_hash()
    (package / "report" / "html.py").write_bytes(b"# changed\n")
    assert run_resume.kit_code_hash() == cached  # once per process
    run_resume._KIT_CODE.clear()
