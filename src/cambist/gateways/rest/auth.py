"""Request authentication: HMAC signatures, timestamp skew, replay refusal and per-key rate limits.

The signature covers ``timestamp + METHOD + path-with-query + body`` (shared/API.md). A signature
is accepted once: seen signatures are remembered for twice the allowed skew (two rotating
generations), after which their timestamp alone refuses them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable

from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.keystore import ApiKey, KeyStore


def sign(secret: bytes, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The lowercase hex HMAC-SHA256 a client sends as ``CAMBIST-SIGNATURE``."""
    message = timestamp.encode() + method.encode() + path.encode() + body
    return hmac.digest(secret, message, "sha256").hex()


class Mac:
    """HMAC-SHA256 under one key with the key's inner and outer pads hashed once (RFC 2104).

    ``hmac.digest`` redoes the key schedule on every call: 5.3 us here against 1.3 us for two
    copies of the pre-keyed SHA-256 states, per signed request.
    """

    __slots__ = ("inner", "outer")

    def __init__(self, secret: bytes) -> None:
        block = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
        block = block.ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def hexdigest(self, message: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest().encode()


class ReplayGuard:
    """Remembers signatures seen within the skew window."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = max(window_ms, 1)
        self.current: set[bytes] = set()
        self.previous: set[bytes] = set()
        self.rotated_at = 0

    def seen(self, signature: bytes, now_ms: int) -> bool:
        """True if ``signature`` was seen before; otherwise remember it."""
        if now_ms - self.rotated_at >= self.window_ms:
            self.previous, self.current = self.current, set()
            self.rotated_at = now_ms
        if signature in self.current or signature in self.previous:
            return True
        self.current.add(signature)
        return False


class RateLimiter:
    """A token bucket per API key: ``rate`` requests per second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.buckets: dict[str, list[float]] = {}

    def take(self, key: str) -> float:
        """Spend one token; return 0 when allowed, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate


class Authenticator:
    """Turns a request's headers and bytes into the :class:`ApiKey` that signed it, or refuses."""

    def __init__(
        self,
        store: KeyStore,
        *,
        skew_ms: int = 5_000,
        rate: float = 1_000.0,
        burst: float = 2_000.0,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.store = store
        self.skew_ms = skew_ms
        self.clock_ns = clock_ns
        """Nanoseconds; divided here, so the default clock is called straight from compiled
        code (a lambda around it was interpreted, ~1% of the server's CPU)."""
        self.replays = ReplayGuard(2 * skew_ms)
        self.limiter = RateLimiter(rate, burst)
        self._macs: dict[bytes, Mac] = {}

    def authenticate(
        self,
        key: bytes | None,
        timestamp: bytes | None,
        signature: bytes | None,
        method: str,
        path: bytes,
        body: bytes,
    ) -> ApiKey:
        if not key or not timestamp or not signature:
            raise ApiError(
                "missing_credentials",
                "CAMBIST-KEY, CAMBIST-TIMESTAMP and CAMBIST-SIGNATURE headers are required",
            )
        api_key = self.store.keys.get(key.decode("latin-1"))
        if api_key is None:
            raise ApiError("invalid_api_key", "unknown API key")
        try:
            ts = int(timestamp)
        except ValueError:
            raise ApiError(
                "stale_timestamp", "CAMBIST-TIMESTAMP is not Unix milliseconds"
            ) from None
        now = self.clock_ns() // 1_000_000
        if abs(now - ts) > self.skew_ms:
            raise ApiError(
                "stale_timestamp", f"timestamp is more than {self.skew_ms} ms from server time"
            )
        mac = self._macs.get(api_key.secret)
        if mac is None:
            if len(self._macs) >= 100_000:
                self._macs.clear()
            mac = self._macs[api_key.secret] = Mac(api_key.secret)
        expected = mac.hexdigest(timestamp + method.encode() + path + body)
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError("invalid_signature", "signature does not match the request")
        if self.replays.seen(expected, now):
            raise ApiError("replayed_signature", "this signature was already used")
        wait = self.limiter.take(api_key.api_key)
        if wait:
            retry = str(max(1, math.ceil(wait))).encode()
            raise ApiError("rate_limited", "rate limit exceeded", headers=[(b"retry-after", retry)])
        return api_key
