"""ownercomm_kit.lean: jsonschema's format checkers without the IRI grammar, in a fresh process."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_skips_the_grammar_and_leaves_the_module_importable():
    pytest.importorskip("jsonschema")
    out = _run(
        "import sys\n"
        "from ownercomm_kit import lean\n"
        "print('rfc3987_syntax' in sys.modules)\n"
        "import nbformat, jsonschema\n"
        "print('uri' in jsonschema.FormatChecker.checkers)\n"
        "import importlib.util\n"
        "if importlib.util.find_spec('rfc3987_syntax'):\n"
        "    import rfc3987_syntax\n"  # still importable afterwards
        "print('ok')"
    )
    assert out.splitlines() == ["False", "True", "ok"]


def test_is_a_no_op_once_jsonschema_is_imported():
    pytest.importorskip("jsonschema")
    assert _run("import jsonschema._format\nfrom ownercomm_kit import lean\nprint(lean.skip_iri_grammar())") == "False"


def test_notebooks_validate_the_same():
    nbformat = pytest.importorskip("nbformat")
    from ownercomm_kit import lean

    lean.skip_iri_grammar()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nbformat.validate(nb)
    with pytest.raises(nbformat.ValidationError):
        nbformat.validate({"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "nope"}], "metadata": {}})


def test_kernel_debugger_skipped_and_debugpy_still_importable():
    pytest.importorskip("ipykernel")
    out = _run(
        "import sys, importlib.util\n"
        "from ownercomm_kit import lean\n"
        "print(lean.skip_kernel_debugger())\n"
        "from ipykernel import debugger\n"
        "print(debugger._is_debugpy_available, 'debugpy' in sys.modules)\n"
        "if importlib.util.find_spec('debugpy'):\n"
        "    import debugpy\n"
        "print(lean.skip_kernel_debugger())"  # once only
    )
    lines = out.splitlines()
    assert lines[-1] == "False"
    if lines[0] == "True":  # debugpy installed: skipped here
        assert lines[1] == "False False"
