"""The mypyc build of the domain (``make native``, and the benchmark's compiled figures) must be
the same engine: the same events, state hash and snapshot on a long random workload, and every
scenario table passing against it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.native_support import run_python

ROOT = Path(__file__).resolve().parents[2]

FOLD = """
import hashlib, sys
from cambist.domain import engine as engine_module
from cambist.domain.engine import Engine
from cambist.workloads import STANDARD_MARKETS, RandomTrader, sequence, setup_commands
setup = setup_commands(accounts=25)
trader = RandomTrader(11, STANDARD_MARKETS, 25, first_seq=len(setup) + 1)
engine = Engine()
digest = hashlib.sha256()
for cmd in sequence([*setup, *trader.commands(30_000)], step=10**9):
    for event in engine.apply(cmd):
        digest.update(repr(event).encode())
engine.validate_invariants()
restored = Engine.restore(engine.snapshot())
assert restored.state_hash() == engine.state_hash()
print(engine_module.__file__.rsplit(".", 1)[-1], digest.hexdigest(), engine.state_hash())
"""

pytestmark = [
    pytest.mark.skipif(shutil.which("cc") is None, reason="mypyc needs a C compiler"),
    pytest.mark.xdist_group("native"),  # one worker builds (tests/conftest.py) and runs them
]


def test_native_build_random_workload_same_events_and_hash_as_interpreted(
    native_dir: Path,
) -> None:
    interpreted = run_python(["-c", FOLD], None)
    native = run_python(["-c", FOLD], native_dir)
    assert interpreted.returncode == 0, interpreted.stderr
    assert native.returncode == 0, native.stderr
    kind_i, *result_i = interpreted.stdout.split()
    kind_n, *result_n = native.stdout.split()
    assert (kind_i, kind_n) == ("py", "so")
    assert result_n == result_i


SCENARIOS = """
import sys
import pytest
import cambist.domain.engine
assert cambist.domain.engine.__file__.endswith(".so"), cambist.domain.engine.__file__
code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:xdist", "tests/test_scenarios.py"])
assert cambist.domain.engine.__file__.endswith(".so")
sys.exit(code)
"""


def test_native_build_passes_every_scenario_table(native_dir: Path) -> None:
    run = run_python(["-c", SCENARIOS], native_dir)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout


GATEWAY = """
import sys
import pytest
from cambist.gateways.rest import app, http, view
compiled = [m.__name__ for m in (app, http, view) if m.__file__.endswith(".so")]
assert len(compiled) == 3, compiled
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:xdist", *sys.argv[1:]]))
"""


def test_native_build_serves_the_rest_api_like_the_interpreted_one(native_dir: Path) -> None:
    """The compiled gateway (``NATIVE_GROUPS["gateway"]``) behind a real server: HTTP framing,
    every trading endpoint and error code, and answers replayed for idempotent retries."""
    tests = [
        "tests/gateways/test_http.py",
        "tests/gateways/test_rest_trading.py",
        "tests/gateways/test_rest_idempotency.py",
        "tests/gateways/test_rest_input.py",
    ]
    run = run_python(["-c", GATEWAY, *tests], native_dir)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and " failed" not in run.stdout


LOG_CODEC = """
import sys
import pytest
from cambist.log import codec, hotcodec
assert hotcodec.__file__.endswith(".so"), hotcodec.__file__
assert codec._MAKERS[hotcodec.PLACE_TAG] is hotcodec.make_place
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:xdist", *sys.argv[1:]]))
"""


def test_native_build_log_codec_round_trips_like_the_interpreted_one(native_dir: Path) -> None:
    """The compiled PlaceOrder/CancelOrder codec (``NATIVE_GROUPS["log"]``) is installed and
    gives the generated codec's bytes and commands; the journal's codec tests pass on it."""
    tests = ["tests/log/test_hotcodec.py", "tests/log/test_codec.py"]
    # that one test defines a Command subclass, which a compiled domain does not allow
    deselect = ["-k", "not unknown_command_type"]
    run = run_python(["-c", LOG_CODEC, *tests, *deselect], native_dir)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and " failed" not in run.stdout
