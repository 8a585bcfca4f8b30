"""The layer table of docs/architecture.md, enforced on the source (an AST walk, no imports run).

The domain core may import only a whitelist of pure stdlib modules: no I/O, clock, randomness or
uuid can reach it, even indirectly through a third-party library.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cambist"

DOMAIN_STDLIB = {
    "__future__", "abc", "bisect", "collections", "dataclasses", "enum", "functools", "hashlib",
    "heapq", "itertools", "json", "math", "operator", "re", "typing",
    "mypy_extensions",  # only under TYPE_CHECKING: i64 annotations that mypyc compiles natively
}  # fmt: skip

ENGINE_INTERNALS = {
    "cambist.domain.engine", "cambist.domain.matching", "cambist.domain.book",
    "cambist.domain.wallets", "cambist.domain.orders", "cambist.domain.state",
    "cambist.domain.validation", "cambist.domain.status",
}  # fmt: skip

# layer -> cambist packages it must never import (prefix match)
FORBIDDEN: dict[str, set[str]] = {
    "log": {"cambist.gateways", "cambist.readmodels", "cambist.node", "cambist.feeds", "cambist.web",
            "cambist.server", "cambist.client"},
    "node": {"cambist.gateways", "cambist.readmodels", "cambist.feeds", "cambist.web",
             "cambist.server", "cambist.client"},
    "readmodels": {"cambist.gateways", "cambist.node", "cambist.feeds", "cambist.web",
                   "cambist.server", *ENGINE_INTERNALS},
    "gateways": {"cambist.feeds", *ENGINE_INTERNALS},
    "web": {"cambist.feeds", *ENGINE_INTERNALS},
    "feeds": {"cambist.domain", "cambist.gateways", "cambist.readmodels", "cambist.node",
              "cambist.web", "cambist.server"},
    "client": {"cambist.node", "cambist.log", "cambist.readmodels", *ENGINE_INTERNALS},
}  # fmt: skip


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}:{node.lineno}: use absolute imports")
            assert node.module is not None
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
    return found


def test_import_rules_every_layer_has_modules_checked() -> None:
    layers = {_layer(p) for p in _modules()}
    assert {"domain", "log", "feeds"} <= layers


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_import_rules_module_respects_its_layer(path: Path) -> None:
    layer = _layer(path)
    problems = []
    for lineno, name in _imports(path):
        top = name.split(".")[0]
        if layer == "domain":
            if top == "cambist":
                if not name.startswith("cambist.domain"):
                    problems.append(f"{lineno}: domain imports {name}")
            elif top not in DOMAIN_STDLIB:
                problems.append(f"{lineno}: domain imports non-whitelisted {name}")
            continue
        for banned in FORBIDDEN.get(layer, set()):
            if name == banned or name.startswith(banned + "."):
                problems.append(f"{lineno}: {layer} imports {name} (forbidden: {banned})")
    assert not problems, f"{path.relative_to(SRC)}:\n" + "\n".join(problems)


def test_import_rules_domain_whitelist_rejects_clock_and_io() -> None:
    sample = "import time\nfrom os import path\nimport uuid\nimport random\nimport asyncio\n"
    tree = ast.parse(sample)
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert not any(n.split(".")[0] in DOMAIN_STDLIB for n in names)
