"""Hypothesis keeps its caches (character tables, the constants it found in the code) under K2_CACHE, not in a
.hypothesis directory of the checkout; the fuzz test keeps no example database (test_fuzz.py)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(os.environ.get("K2_CACHE", Path.home() / ".cache" / "k2")) / "hypothesis")
