"""setuptools entry point; the metadata lives in setup.cfg.

The build copies two top-level parts of the checkout into the package, so that a regular
(non-editable) install has them too while the checkout keeps one source of each:
`model_card_template.md` (the Luxical model card) and `configs/*.yaml` (`luxical-train --config NAME`).
An editable install reads them where they are (`luxical_st.card.template_path`, `luxical_st.cli`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PACKAGE = "luxical_st"


class BuildPyWithSharedFiles(build_py):
    """`build_py` that also copies the card template and the configs into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / PACKAGE
        shutil.copyfile(ROOT / "model_card_template.md", target / "model_card_template.md")
        configs = target / "configs"
        configs.mkdir(parents=True, exist_ok=True)
        for config in sorted((ROOT / "configs").glob("*.yaml")):
            shutil.copyfile(config, configs / config.name)


setup(cmdclass={"build_py": BuildPyWithSharedFiles})
