"""Compile a copy of ``cambist`` whose domain core is built with mypyc, for ``make native``.

    python tools/build_native.py DIR

The Python source stays the only source: the whole package is copied into ``DIR`` and the
domain modules there are compiled in place, so ``PYTHONPATH=DIR`` runs the same code with a
native engine (about 4-7x the interpreted one; docs/benchmarks.md, Trading core). ``errors.py``
stays interpreted: mypyc cannot subclass builtin exceptions. Nothing is written into ``src/``,
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


def build_native(into: Path, *, quiet: bool = True) -> list[str]:
    """Copy ``src/cambist`` into ``into`` and compile its domain package; return the modules."""
    if (into / "cambist").exists():
        shutil.rmtree(into / "cambist")
    into.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SRC / "cambist", into / "cambist", ignore=shutil.ignore_patterns("__pycache__"))
    modules = sorted(
        str(p.relative_to(into))
        for p in (into / "cambist" / "domain").glob("*.py")
        if p.name != "errors.py"
    )
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
    print(f"compiled {len(modules)} domain modules into {into}; run with PYTHONPATH={into}")


if __name__ == "__main__":
    main()
