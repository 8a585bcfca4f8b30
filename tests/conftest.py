"""Fixtures shared across test packages.

``native_dir``: the package with every ``NATIVE_GROUPS`` module compiled by mypyc (what ``make
native`` builds), built once per source tree and shared by the tests that compare a compiled
build with the interpreted one (tests/domain, tests/feeds, tests/readmodels). A build takes a few
minutes on two cores, so it is cached under ``build/native-test/<hash of the sources>`` and
serialised with a file lock: pytest-xdist workers and repeated runs reuse it, and an edited
source gets a fresh build, never a stale binary. Those tests share the ``native`` xdist group,
so one worker builds while the other runs everything else.

Hypothesis runs without its per-example deadline (200 ms by default): the suite runs on shared,
loaded machines, where a slow example is noise, not a failure; speed is measured by the scripts
in ``bench/``, never by timed assertions.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("cambist", deadline=None)
settings.load_profile("cambist")

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "native-test"


def _source_digest() -> str:
    import mypy.version

    digest = hashlib.sha256(mypy.version.__version__.encode())
    files = [*sorted((ROOT / "src" / "cambist").rglob("*.py")), ROOT / "tools" / "build_native.py"]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def native_dir() -> Iterator[Path]:
    if shutil.which("cc") is None:
        pytest.skip("mypyc needs a C compiler")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from build_native import build_native
    finally:
        sys.path.pop(0)
    CACHE.mkdir(parents=True, exist_ok=True)
    into = CACHE / _source_digest()
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (into / ".built").exists():
            for stale in CACHE.iterdir():
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
            modules = build_native(into)
            (into / ".built").write_text("\n".join(modules) + "\n")
        fcntl.flock(lock, fcntl.LOCK_UN)
    yield into
