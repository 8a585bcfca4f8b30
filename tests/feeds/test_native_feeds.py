"""The mypyc build of the feed hot path (``make native``, group ``feeds`` of
tools/build_native.py) must be the same gate: byte-identical output on a seeded run with
faults, and every feed test passing against it.

The build is the one shared ``native_dir`` of tests/conftest.py (every group, built once per
source tree).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.native_support import run_python

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

pytestmark = [
    pytest.mark.skipif(shutil.which("cc") is None, reason="mypyc needs a C compiler"),
    pytest.mark.xdist_group("native"),  # one worker builds (tests/conftest.py) and runs them
]


def _result(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert run.returncode == 0, run.stderr[-3000:]
    out: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return out


def test_native_gate_same_output_as_interpreted_with_faults(
    native_dir: Path, tmp_path: Path
) -> None:
    script = str(HERE / "native_run.py")
    recording = tmp_path / "recording.msgpack"
    rec = run_python([script, "record", str(recording)], None)
    assert rec.returncode == 0, rec.stderr[-3000:]
    interpreted = _result(run_python([script, "run", str(recording)], None))
    native = _result(run_python([script, "run", str(recording)], native_dir))
    assert (interpreted["build"], native["build"]) == (".py", ".so")
    assert native["venues"] == interpreted["venues"]
    assert native["digest"] == interpreted["digest"]
    assert native["samples"] == interpreted["samples"] > 0
    for venue, c in native["venues"].items():
        # the run exercised the faults, and the healthy connection kept the trades whole
        assert c["malformed"] > 0 and c["resyncs"] > 0 and c["duplicates"] > 0, venue
        assert c["trades_merged"] == c["trades_unique"] == c["trades_true"], venue


NATIVE_PYTEST = """
import sys
import pytest
import cambist.feeds.core, cambist.feeds.venues.kraken
for m in (cambist.feeds.core, cambist.feeds.venues.kraken):
    assert m.__file__.endswith(".so"), m.__file__
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:xdist", *sys.argv[1:]]))
"""


def test_native_gate_passes_the_feed_tests(native_dir: Path) -> None:
    """Samples, fast paths, the emulator with every fault, worker processes: compiled."""
    tests = sorted(str(p.relative_to(ROOT)) for p in HERE.glob("test_*.py"))
    tests.remove(str(Path(__file__).relative_to(ROOT)))
    run = run_python(["-c", NATIVE_PYTEST, *tests], native_dir)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout
