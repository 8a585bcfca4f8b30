from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cambist.client import Client
from tests.gateways.harness import RunningServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = RunningServer(Path(tmp_path_factory.mktemp("srv"))).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(server: RunningServer) -> Client:
    return server.admin()
