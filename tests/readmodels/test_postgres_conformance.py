from __future__ import annotations

import pytest

from cambist.readmodels.postgres import PostgresStore
from cambist.readmodels.store import Store
from tests.readmodels.conformance import ReadModelConformance
from tests.readmodels.conftest import fresh_schema_url


class TestPostgresReadModels(ReadModelConformance):
    @pytest.fixture(autouse=True)
    def _server(self, postgres_url: str) -> None:
        self.base = postgres_url

    def open_store(self) -> Store:
        return PostgresStore(fresh_schema_url(self.base))
