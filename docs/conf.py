"""Sphinx configuration of the eq-arena documentation (Sphinx + furo + MyST, as the Farama projects).

Built by the test suite with warnings as errors (tests/test_docs.py), so a broken link, reference or
generated table fails CI: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "eq-arena"
author = "the eq-arena authors"
copyright = "the eq-arena authors, MIT licence"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "sphinxarg.ext",  # the CLI reference, generated from arena.cli.build_parser()
    "arena_reference",  # settings, backend keys and agents tables generated from the code
]

source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = "eq-arena"
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False
