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

    def test_orders_updates_stay_on_their_page_without_new_index_entries(
        self, projected: Store
    ) -> None:
        """``orders`` leaves room on its pages (fillfactor), so the projector's updates, which
        change no indexed column, are HOT updates: no new entries in the table's indexes."""
        (options,) = projected.query(
            "SELECT reloptions FROM pg_class WHERE oid = 'orders'::regclass"
        )
        assert options[0] == ["fillfactor=80"]
        (changed,) = projected.query("SELECT count(*) FROM orders WHERE updated_ts > created_ts")
        assert changed[0] > 0  # the workload does update orders
