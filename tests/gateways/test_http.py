"""The native HTTP/1.1 server at the byte level: framing that httpx never exercises."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

from cambist.client import Client, signed_headers
from tests.gateways.harness import RunningServer


def _connect(server: RunningServer) -> socket.socket:
    parts = urlsplit(server.url)
    return socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10)


def _read_answers(sock: socket.socket, count: int) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """Read ``count`` answers framed by content-length: (status line, headers, body)."""
    buf = b""
    out = []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} answers"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        status, *lines = head.split(b"\r\n")
        headers = {k.lower(): v.strip() for k, v in (line.split(b":", 1) for line in lines)}
        size = int(headers[b"content-length"])
        while len(buf) < size:
            chunk = sock.recv(65536)
            assert chunk
            buf += chunk
        out.append((status, headers, buf[:size]))
        buf = buf[size:]
    return out


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_pipelined_requests_are_answered_in_order(server: RunningServer) -> None:
    with _connect(server) as sock:
        paths = ["/api/v1/time", "/api/v1/markets", "/nope", "/api/v1/health"] * 5
        sock.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths))
        answers = _read_answers(sock, len(paths))
        for path, (status, _, body) in zip(paths, answers, strict=True):
            if path == "/nope":
                assert status.startswith(b"HTTP/1.1 404") and b"not_found" in body
            else:
                assert status.startswith(b"HTTP/1.1 200"), (path, status)
        assert b"epoch_ms" in answers[0][2] and b"BTC-USD" in answers[1][2]


def test_http10_closes_after_the_answer(server: RunningServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /api/v1/time HTTP/1.0\r\n\r\n")
        [(status, headers, _)] = _read_answers(sock, 1)
        assert status.startswith(b"HTTP/1.1 200") and headers[b"connection"] == b"close"
        assert _closed(sock)


def test_connection_close_is_honoured(server: RunningServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /api/v1/time HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        [(status, _, _)] = _read_answers(sock, 1)
        assert status.startswith(b"HTTP/1.1 200") and _closed(sock)


def test_malformed_request_is_400_and_closed(server: RunningServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GARBAGE\x00\x01 not http\r\n\r\n")
        [(status, _, _)] = _read_answers(sock, 1)
        assert status.startswith(b"HTTP/1.1 400") and _closed(sock)


def test_absolute_form_urls_with_and_without_a_path_are_routed(server: RunningServer) -> None:
    # httptools gives None for absent URL parts; the compiled gateway must not trip on it.
    with _connect(server) as sock:
        sock.sendall(
            b"GET http://x HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET http://x/api/v1/time?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        [(first, _, _), (second, _, _)] = _read_answers(sock, 2)
        assert first.startswith(b"HTTP/1.1 404") and second.startswith(b"HTTP/1.1 200")


def test_head_answers_without_a_body(server: RunningServer) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"HEAD /api/v1/time HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/time HTTP/1.1\r\n\r\n"
        )
        buf = b""
        while buf.count(b"\r\n\r\n") < 2:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {buf!r}"
            buf += chunk
        first, rest = buf.split(b"\r\n\r\n", 1)
        assert first.startswith(b"HTTP/1.1 405")  # HEAD is no route's method; still no body
        assert rest.startswith(b"HTTP/1.1 200")


def test_chunked_and_expect_continue_bodies(server: RunningServer, admin: Client) -> None:
    made = admin.create_account("http-chunked")
    key, secret = made["api_key"], made["api_secret"]
    body = json.dumps({"market": "BTC-USD", "side": "buy", "quantity": "1", "price": "1"})
    raw = body.encode()
    now = time.time_ns() // 1_000_000
    headers = signed_headers(key, secret, now, "POST", "/api/v1/orders", raw)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with _connect(server) as sock:
        half = len(raw) // 2
        chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (
            half,
            raw[:half],
            len(raw) - half,
            raw[half:],
        )
        sock.sendall(
            f"POST /api/v1/orders HTTP/1.1\r\nHost: x\r\n{head}Transfer-Encoding: chunked\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(chunked)
        [(status, _, answer)] = _read_answers(sock, 1)
        # the account has no funds: the engine's refusal proves the body arrived whole and signed
        assert status.startswith(b"HTTP/1.1 422"), answer
        assert json.loads(answer)["error"]["code"] == "insufficient_funds"


def test_oversized_chunked_body_is_413_and_the_connection_stays(server: RunningServer) -> None:
    with _connect(server) as sock:
        chunk = b"x" * 40_000
        sock.sendall(
            b"POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 2
            + b"0\r\n\r\nGET /api/v1/time HTTP/1.1\r\n\r\n"
        )
        (status, _, body), (status2, _, _) = _read_answers(sock, 2)
        assert status.startswith(b"HTTP/1.1 413") and b"body_too_large" in body
        assert status2.startswith(b"HTTP/1.1 200")


def test_thousands_of_pipelined_requests_in_one_write_are_answered_in_order(
    server: RunningServer,
) -> None:
    """Requests answered without waiting run inside the parser's callback, one after another:
    a client pipelining thousands in one write must get every answer, in order (no recursion
    per request, no reordering)."""
    import threading

    paths = ["/api/v1/time", "/nope", "/api/v1/health"] * 1000
    payload = b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths)
    with _connect(server) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        answers = _read_answers(sock, len(paths))
        sender.join()
    statuses = [status.split(b" ")[1] for status, _, _ in answers]
    assert statuses == [b"404" if p == "/nope" else b"200" for p in paths]


def test_order_pipelined_after_a_connection_close_is_never_placed(
    server: RunningServer, admin: Client
) -> None:
    """A request behind one that asked to close the connection is dropped unread, even when
    both arrive in one write and the first is answered at once."""
    made = admin.create_account("http-after-close")
    admin.deposit(made["account_id"], "USD", "1000", "http-after-close-usd")
    raw = json.dumps({"market": "BTC-USD", "side": "buy", "quantity": "1", "price": "1"}).encode()
    headers = signed_headers(made["api_key"], made["api_secret"], time.time_ns() // 1_000_000,
                             "POST", "/api/v1/orders", raw)  # fmt: skip
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with _connect(server) as sock:
        sock.sendall(
            b"GET /api/v1/time HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            + f"POST /api/v1/orders HTTP/1.1\r\nHost: x\r\n{head}".encode()
            + b"Content-Length: %d\r\n\r\n%s" % (len(raw), raw)
        )
        [(status, _, _)] = _read_answers(sock, 1)
        assert status.startswith(b"HTTP/1.1 200") and _closed(sock)
    with Client(server.url, made["api_key"], made["api_secret"]) as trader:
        assert trader.request("GET", "/orders", params={"status": "all"})["orders"] == []


def test_requests_of_many_connections_waiting_on_the_sequencer_all_get_their_answers(
    server: RunningServer, admin: Client
) -> None:
    """Orders from many connections at once wait on group commits (their coroutines suspended
    and resumed by the sequencer's futures); each gets its own 201 answer, pipelined ones in
    order."""
    import concurrent.futures

    made = admin.create_account("http-many")
    admin.deposit(made["account_id"], "USD", "100000", "http-many-usd")
    key, secret = made["api_key"], made["api_secret"]

    def one_connection(conn: int) -> list[int]:
        payload = b""
        for i in range(5):
            raw = json.dumps({"market": "BTC-USD", "side": "buy", "quantity": "0.001",
                              "price": "1", "client_order_id": f"m{conn}-{i}"}).encode()  # fmt: skip
            ts = time.time_ns() // 1_000_000 + conn * 10 + i
            headers = signed_headers(key, secret, ts, "POST", "/api/v1/orders", raw)
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            payload += f"POST /api/v1/orders HTTP/1.1\r\nHost: x\r\n{head}".encode()
            payload += b"Content-Length: %d\r\n\r\n%s" % (len(raw), raw)
        with _connect(server) as sock:
            sock.sendall(payload)
            answers = _read_answers(sock, 5)
        ids = []
        for i, (status, _, body) in enumerate(answers):
            assert status.startswith(b"HTTP/1.1 201"), body
            order = json.loads(body)["order"]
            assert order["client_order_id"] == f"m{conn}-{i}"
            ids.append(order["order_id"])
        return ids

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one_connection, range(16)))
    assert all(ids == sorted(ids) for ids in results)
    assert len({i for ids in results for i in ids}) == 80
