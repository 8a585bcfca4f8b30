from __future__ import annotations

from pathlib import Path

import pytest

from cambist.readmodels.store import SqliteStore, Store
from tests.readmodels.conformance import ReadModelConformance


class TestSqliteReadModels(ReadModelConformance):
    @pytest.fixture(autouse=True)
    def _dir(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.n = 0

    def open_store(self) -> Store:
        self.n += 1
        return SqliteStore(self.dir / f"rm{self.n}.sqlite")
