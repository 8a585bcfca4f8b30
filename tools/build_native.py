"""Compile a copy of ``cambist`` whose hot modules are built with mypyc, for ``make native``.

    python tools/build_native.py DIR

The Python source stays the only source: the whole package is copied into ``DIR`` and the
modules of ``NATIVE_GROUPS`` there (the domain core first) are compiled in place, so
``PYTHONPATH=DIR`` runs the same code natively (the engine about 4-7x the interpreted one;
docs/benchmarks.md, Trading core). Nothing is written into ``src/``,
so an edited source is never shadowed by a stale binary; the Makefile rebuilds ``DIR`` when any
source changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

NATIVE_GROUPS: dict[str, tuple[str, ...]] = {
    # group name: glob patterns under src/ of the modules compiled for it. One mypyc run
    # compiles every group's modules together, so calls between groups stay native.
    "domain": ("cambist/domain/*.py",),
    # The REST gateway's per-request path: HTTP framing, routing, signature check, the
    # sequencer, the live view and the decimal text in and out (docs/benchmarks.md, Server).
    "gateway": tuple(
        f"cambist/gateways/rest/{name}.py"
        for name in ("app", "auth", "convert", "http", "sequencer", "trading", "view")
    ),
    "log": ("cambist/log/hotcodec.py",),  # the PlaceOrder/CancelOrder codec (journal, replay)
    "readmodels": tuple(f"cambist/readmodels/{m}.py" for m in ("projectors", "ledger", "runner")),
    "feeds": tuple(  # the market-data hot path; msgspec Structs stay in uncompiled _*_wire.py
        f"cambist/feeds/{m}.py"
        for m in (
            "scaled",
            "book",
            "merge",
            "core",
            "venue",
            "timefmt",
            "wirescan",
            "venues/binance",
            "venues/bybit",
            "venues/coinbase",
            "venues/kraken",
            "venues/_kraken_crc",
            "venues/okx",
        )
    ),
}
"""What ``make native`` compiles. A module joins only once the tests pass on its compiled
form (tests/domain/test_native_build.py builds every group)."""

NEVER_COMPILED = frozenset({"cambist/domain/errors.py"})
"""mypyc cannot subclass builtin exceptions."""


def native_modules(root: Path, groups: tuple[str, ...] | None = None) -> list[str]:
    """The module paths (relative to ``root``) the named groups (default: all) compile."""
    names = groups if groups is not None else tuple(NATIVE_GROUPS)
    found = {
        str(p.relative_to(root))
        for name in names
        for pattern in NATIVE_GROUPS[name]
        for p in root.glob(pattern)
    }
    return sorted(found - NEVER_COMPILED)


def build_native(
    into: Path, *, quiet: bool = True, groups: tuple[str, ...] | None = None
) -> list[str]:
    """Copy ``src/cambist`` into ``into`` and compile the groups' modules; return them."""
    if (into / "cambist").exists():
        shutil.rmtree(into / "cambist")
    into.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SRC / "cambist", into / "cambist", ignore=shutil.ignore_patterns("__pycache__"))
    modules = native_modules(into, groups)
    output = subprocess.DEVNULL if quiet else None
    subprocess.run(
        [sys.executable, "-m", "mypyc", *modules],
        cwd=into,
        env=dict(os.environ, MYPYPATH=str(into)),
        check=True,
        stdout=output,
        stderr=output,
    )
    for module in modules:  # the compiled extension must be what `import` finds
        (into / module).unlink()
    return modules


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    into = Path(sys.argv[1]).resolve()
    modules = build_native(into, quiet=False)
    (into / ".built").write_text("\n".join(modules) + "\n")
    print(f"compiled {len(modules)} modules into {into}; run with PYTHONPATH={into}")


if __name__ == "__main__":
    main()
