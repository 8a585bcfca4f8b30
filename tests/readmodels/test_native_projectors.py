"""The mypyc build of the projectors (``make native``: the ``readmodels`` group of
tools/build_native.py, compiled with the domain) must write the same read models: the same rows
in every table as the interpreted projectors on a random workload, and the SQLite conformance
suite passing against it. The build is the shared ``native_dir`` of tests/conftest.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.native_support import run_python

ROOT = Path(__file__).resolve().parents[2]

PROJECT = """
import hashlib, sys, tempfile
from pathlib import Path
from cambist.readmodels import projectors
from cambist.readmodels.runner import ProjectorGroup
from cambist.readmodels.store import SqliteStore
from tests.readmodels.conformance import TABLES
from tests.readmodels.workload import dump, workload
applied, _ = workload(6000, seed=5)
digest = hashlib.sha256()
with tempfile.TemporaryDirectory() as tmp:
    store = SqliteStore(Path(tmp) / "rm.sqlite")
    ProjectorGroup(store).open().run(applied[:2500], batch=333)
    store.close()
    store = SqliteStore(Path(tmp) / "rm.sqlite")  # resumed from the marks, caches reloaded
    ProjectorGroup(store).open().run(applied, batch=1000)
    for table in TABLES:
        rows = dump(store, table)
        assert rows, table
        digest.update(f"{table} {rows!r}".encode())
    store.close()
print(projectors.__file__.rsplit(".", 1)[-1], digest.hexdigest())
"""

CONFORMANCE = """
import sys
import pytest
import cambist.readmodels.projectors as p, cambist.readmodels.ledger as l
assert p.__file__.endswith(".so") and l.__file__.endswith(".so"), (p.__file__, l.__file__)
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                      "tests/readmodels/test_sqlite_conformance.py"]))
"""

pytestmark = [
    pytest.mark.skipif(shutil.which("cc") is None, reason="mypyc needs a C compiler"),
    pytest.mark.xdist_group("native"),  # one worker builds (tests/conftest.py) and runs them
]


def test_native_projectors_write_the_same_rows_as_interpreted(native_dir: Path) -> None:
    interpreted = run_python(["-c", PROJECT], None)
    native = run_python(["-c", PROJECT], native_dir)
    assert interpreted.returncode == 0, interpreted.stderr[-3000:]
    assert native.returncode == 0, native.stderr[-3000:]
    kind_i, digest_i = interpreted.stdout.split()
    kind_n, digest_n = native.stdout.split()
    assert (kind_i, kind_n) == ("py", "so")
    assert digest_n == digest_i


def test_native_projectors_pass_the_sqlite_conformance_suite(native_dir: Path) -> None:
    run = run_python(["-c", CONFORMANCE], native_dir)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout
