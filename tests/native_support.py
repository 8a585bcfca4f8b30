"""Running Python in a fresh process against the interpreted source or a compiled build.

The compiled-vs-interpreted tests (tests/domain, tests/feeds, tests/readmodels) run the same
script twice: once on the source, once with ``PYTHONPATH`` pointing at the mypyc build from
tests/conftest.py (``native_dir``), and compare what each printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(args: list[str], native: Path | None) -> subprocess.CompletedProcess[str]:
    """``python *args`` from the repository root; on the build in ``native`` when given."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if native is not None:
        env["PYTHONPATH"] = str(native)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
