"""Build step: the repository's params/defaults.yaml and notebooks/ ship inside the package.

They have one home, the repository's top level, where users see and edit them. A built
install (``pip install ownercomm-kit``, ``pip install .``) gets a copy made by the build as
package data under ``ownercomm_kit/shipped/`` (read through ``ownercomm_kit.paths``); an
editable install reads them in place. Everything else is configured in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# (file or folder of the repository, glob of what ships) -> under ownercomm_kit/shipped/
KIT_FILES = (("params", "defaults.yaml"), ("notebooks", "*.ipynb"))


class BuildWithKitFiles(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them from the checkout
        for src in self._kit_files():
            dest = Path(self.build_lib) / "ownercomm_kit" / "shipped" / src.relative_to(HERE)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)

    def _kit_files(self) -> list[Path]:
        files = [p for folder, pattern in KIT_FILES for p in sorted((HERE / folder).glob(pattern))]
        if not any(p.name == "defaults.yaml" for p in files):
            raise SystemExit("params/defaults.yaml not found: build from the repository or its sdist")
        return files

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        shipped = Path(self.build_lib) / "ownercomm_kit" / "shipped"
        return [
            *super().get_outputs(include_bytecode),
            *(str(shipped / p.relative_to(HERE)) for p in self._kit_files()),
        ]


setup(cmdclass={"build_py": BuildWithKitFiles})
