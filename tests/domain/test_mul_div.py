"""``mul_div``/``mul_div_up`` must equal unbounded integer arithmetic for every size, both as
plain Python and compiled with mypyc (where the fast path is native 64-bit and would wrap)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cambist.domain.money import mul_div, mul_div_up

BOUNDARIES = [
    0, 1, 2, 3, 2**30, 2**31 - 1, 2**31, 3_037_000_499, 3_037_000_500, 10**12, 6_500_000_000_000,
    2**62 - 1, 2**62, 2**63 - 1, 2**63, 2**64, 10**30,
]  # fmt: skip
DIVISORS = [1, 3, 10_000, 10**8, 10**18]

amounts = st.one_of(
    st.sampled_from(BOUNDARIES),
    st.sampled_from([-v for v in BOUNDARIES]),
    st.integers(-(2**64), 2**64),
    st.integers(0, 2**20),
)


@given(a=amounts, b=amounts, d=st.sampled_from(DIVISORS))
def test_mul_div_any_operands_equals_big_integer_result(a: int, b: int, d: int) -> None:
    assert mul_div(a, b, d) == a * b // d
    assert mul_div_up(a, b, d) == -(-a * b // d)


CHECK = """
import random
from cambist.domain import money
assert money.__file__.endswith(".so"), money.__file__
bounds = {bounds!r}
rng = random.Random(7)
values = bounds + [-v for v in bounds] + [rng.randrange(2**63) for _ in range(500)]
values += [rng.randrange(2**34) for _ in range(500)]
for a in values:
    for b in bounds + [-v for v in bounds] + [rng.randrange(2**40)]:
        for d in {divisors!r}:
            assert money.mul_div(a, b, d) == a * b // d, (a, b, d)
            assert money.mul_div_up(a, b, d) == -(-a * b // d), (a, b, d)
print("ok")
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="mypyc needs a C compiler")
def test_mul_div_compiled_with_mypyc_equals_big_integer_result(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "cambist" / "domain" / "money.py"
    pkg = tmp_path / "cambist" / "domain"
    pkg.mkdir(parents=True)
    (tmp_path / "cambist" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    shutil.copy(src, pkg / "money.py")
    subprocess.run(
        [sys.executable, "-m", "mypyc", "cambist/domain/money.py"],
        cwd=tmp_path,
        env={"MYPYPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    (pkg / "money.py").unlink()  # the compiled module, not the source, must be imported
    script = CHECK.format(bounds=BOUNDARIES, divisors=DIVISORS)
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "ok"
