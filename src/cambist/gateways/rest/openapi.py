"""The OpenAPI 3.1 document, generated from the msgspec wire types and the route table.

Schemas come from ``msgspec.json.schema_components`` over the same Structs that decode requests
and encode answers, so the published contract cannot drift from what the server does. Every
operation documents its success answer and the error body for every other status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from cambist import __version__
from cambist.gateways.rest.wire import WIRE_TYPES, ErrorBody

REF = "#/components/schemas/{name}"


@dataclass(slots=True)
class Doc:
    """What the OpenAPI document says about one route."""

    summary: str
    ok: int = 200
    answer: Any = None
    """The success body's type (a Struct, ``list[Struct]``), or ``str`` for text."""
    body: type | None = None
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: tuple[int, ...] = (400, 404)


INT: dict[str, Any] = {"type": "integer", "minimum": 0}
TIME: dict[str, Any] = {"type": "string", "description": "RFC 3339 time"}
PAGE: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
    "cursor": INT,
    "start": TIME,
    "end": TIME,
}
MIN_SEQ: dict[str, dict[str, Any]] = {
    "min_sequence": {**INT, "description": "answer once the view has this sequence"}
}
PRIVATE_ERRORS = (400, 401, 403, 404, 429)


def build_openapi(routes: list[tuple[str, str, str, Doc]]) -> dict[str, Any]:
    """``routes``: (method, path template, access, doc) for every documented route."""
    types: list[Any] = list(WIRE_TYPES)
    for _, _, _, doc in routes:
        if doc.answer is not None and doc.answer is not str:
            types.append(doc.answer)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    by_type = {id(t): s for t, s in zip(types, schemas, strict=True)}
    error_ref = {"$ref": REF.format(name=ErrorBody.__name__)}
    paths: dict[str, dict[str, Any]] = {}
    for method, template, access, doc in routes:
        op: dict[str, Any] = {"summary": doc.summary, "operationId": _op_id(method, template)}
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_.:-]+$"}}
            for name in re.findall(r"\{([a-z_]+)\}", template)
        ]  # fmt: skip
        query = dict(doc.query)
        if method == "GET" and access != "public":
            query.update(MIN_SEQ)
        params += [{"name": n, "in": "query", "required": False, "schema": s}
                   for n, s in query.items()]  # fmt: skip
        params += [{"name": n, "in": "header", "required": False, "schema": s}
                   for n, s in doc.headers.items()]  # fmt: skip
        if params:
            op["parameters"] = params
        if doc.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": by_type[id(doc.body)]}},
            }
        if doc.answer is str:
            ok_content = {"text/plain": {"schema": {"type": "string"}}}
        elif doc.answer is not None:
            ok_content = {"application/json": {"schema": by_type[id(doc.answer)]}}
        else:
            ok_content = {"text/html": {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {str(doc.ok): {"description": "success", "content": ok_content}}
        if doc.ok == 201 and doc.answer is not None and doc.answer is not str:
            responses["200"] = {"description": "the first answer again (idempotent replay)",
                                "content": ok_content}  # fmt: skip
        errors = set(doc.errors) | (set(PRIVATE_ERRORS) if access != "public" else set())
        errors |= {413} if doc.body is not None else set()
        errors |= {405, 500, 503}
        for status in sorted(errors):
            responses[str(status)] = {
                "description": "error",
                "content": {"application/json": {"schema": error_ref}},
            }
        if 429 in errors:
            responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        op["responses"] = responses
        if access != "public":
            op["security"] = [{"key": [], "timestamp": [], "signature": []}]
        paths.setdefault(template, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cambist exchange API",
            "version": __version__,
            "description": (
                "Sign private requests: CAMBIST-SIGNATURE = hex HMAC-SHA256(secret, "
                "CAMBIST-TIMESTAMP + METHOD + path?query + body). See docs/api.md."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "key": {"type": "apiKey", "in": "header", "name": "CAMBIST-KEY"},
                "timestamp": {"type": "apiKey", "in": "header", "name": "CAMBIST-TIMESTAMP"},
                "signature": {"type": "apiKey", "in": "header", "name": "CAMBIST-SIGNATURE"},
            },
        },
    }


def _op_id(method: str, template: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", template.removeprefix("/api/v1").lower()).strip("_")
    return f"{method.lower()}_{words or 'root'}"


DOCS_HTML = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Cambist API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code,pre{background:#f4f4f4;padding:.1rem .3rem}h2{margin-top:2rem}.m{font-weight:bold;width:5rem;
display:inline-block}</style></head><body>
<h1>Cambist exchange API</h1>
<p>The machine-readable contract is <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>
(OpenAPI 3.1). Money, prices and quantities are decimal strings; errors are
<code>{"error": {"code", "message", "field"}}</code>.</p>
<div id="ops">loading...</div>
<script>
fetch('/api/v1/openapi.json').then(r => r.json()).then(doc => {
  const out = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const auth = op.security ? ' (signed)' : '';
      const esc = s => s.replace(/[&<>]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
      out.push('<div><span class="m">' + method.toUpperCase() + '</span><code>' + esc(path) +
               '</code> ' + esc(op.summary || '') + auth + '</div>');
    }
  }
  document.getElementById('ops').innerHTML = out.join('\\n');
});
</script></body></html>
"""
