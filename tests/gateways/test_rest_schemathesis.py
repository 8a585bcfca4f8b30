"""schemathesis against the served OpenAPI document: no 5xx, no answer that breaks the schema.

Every operation gets generated requests, signed with the admin key (which may call every
endpoint), and each answer is checked: not a server error, a documented status, the documented
content type, and a body that validates against the schema.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from cambist.client import Client, signed_headers
from tests.gateways.harness import RunningServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class _Sign(requests.auth.AuthBase):
    def __init__(self, key: str, secret: str) -> None:
        self.key, self.secret, self.last = key, secret, 0

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        now = time.time_ns() // 1_000_000
        self.last = max(now, self.last + 1)
        assert r.method is not None
        r.headers.update(
            signed_headers(self.key, self.secret, self.last, r.method, r.path_url, body)
        )
        return r


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_or_schema_break(
    server: RunningServer, admin: Client
) -> None:
    trader, _ = server.trader(admin)
    trader.place_order("ETH-USD", "buy", "1", "100")
    doc: dict[str, Any] = httpx.get(server.url + "/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(doc)
    session = requests.Session()
    assert admin.api_key and admin.api_secret
    session.auth = _Sign(admin.api_key, admin.api_secret)
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis.settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def run(case: Any) -> None:
            case.call_and_validate(base_url=server.url, session=session, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    session.close()
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
