"""The cache behind availability: one small interface, two implementations.

- ``InProcessCache`` (default): a dict in this process. Right for one app process.
- ``RedisCache`` (``REDIS_URL`` set): shared by every app process, so a booking made
  through one gunicorn worker is seen by all others at once.

Values are JSON-shaped (lists, numbers, strings, None). Invalidation is done with version
counters (``bump``) rather than by deleting entries: a reader tags what it stores with the
versions it read *before* querying the database, and an entry whose tag no longer matches
is a miss. That also closes the classic race in which a slow reader writes back data that
was read before a concurrent booking committed and invalidated it.

A cache that cannot be reached degrades to "always miss": availability is then computed
from the database, slower but correct.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Version counters outlive every value they tag, so an expired counter (restarting at 0)
# can never make an old value look current again.
VERSION_TTL_SECONDS = 7 * 24 * 3600
# RedisCache keeps up to this many decoded values of at least this size (an entry of
# availability is a few hundred bytes of JSON, about 2 kB kept; two weeks of a
# 300-practitioner organization are 4,200 entries).
DECODED_MAX_VALUES = 10_000
DECODED_MIN_BYTES = 64


class Cache(Protocol):
    """What the availability service needs from a cache."""

    ttl_seconds: int
    # True when other processes read and write the same entries.
    shared: bool
    # Process-local memo for large, rarely changing values that callers validate against
    # a version read from the shared cache (so it never serves stale data).
    memo: dict[str, Any]

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        """Values (or None when missing/expired), in the order of ``keys``."""
        ...

    def set_many(self, values: Mapping[str, Any], ttl_seconds: int | None = None) -> None: ...

    def bump(self, keys: Sequence[str]) -> None:
        """Increment version counters (a missing counter counts as 0)."""
        ...

    def clear(self) -> None:
        """Drop everything this cache holds (its key prefix only, for Redis)."""
        ...


class InProcessCache:
    """A bounded, thread-safe dict with expiry."""

    shared = False

    def __init__(self, ttl_seconds: int = 300, max_entries: int = 200_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.memo: dict[str, Any] = {}
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        now = time.monotonic()
        out: list[Any] = []
        data = self._data
        with self._lock:
            for key in keys:
                item = data.get(key)
                if item is None:
                    out.append(None)
                elif item[0] < now:
                    del data[key]
                    out.append(None)
                else:
                    out.append(item[1])
        return out

    def set_many(self, values: Mapping[str, Any], ttl_seconds: int | None = None) -> None:
        expires = time.monotonic() + (ttl_seconds or self.ttl_seconds)
        with self._lock:
            for key, value in values.items():
                self._data.pop(key, None)  # re-insert at the end: oldest go first
                self._data[key] = (expires, value)
            self._evict()

    def bump(self, keys: Sequence[str]) -> None:
        expires = time.monotonic() + VERSION_TTL_SECONDS
        with self._lock:
            for key in keys:
                item = self._data.pop(key, None)
                current = item[1] if item is not None and item[0] >= time.monotonic() else 0
                self._data[key] = (expires, int(current) + 1)
            self._evict()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.memo.clear()

    def _evict(self) -> None:
        excess = len(self._data) - self.max_entries
        if excess <= 0:
            return
        now = time.monotonic()
        for key in [k for k, (exp, _) in self._data.items() if exp < now]:
            del self._data[key]
        excess = len(self._data) - self.max_entries
        if excess > 0:
            for key in list(self._data)[:excess]:
                del self._data[key]


class RedisCache:
    """The shared cache: every key under ``prefix``; values as JSON."""

    shared = True

    def __init__(
        self, url: str, ttl_seconds: int = 300, prefix: str = "clinic:availability:"
    ) -> None:
        import redis  # imported here so that the in-process default needs no server

        self._redis_error = redis.RedisError
        self.client = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30
        )
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self.memo: dict[str, Any] = {}
        # Decoded values by their JSON text. An organization-wide availability read
        # fetches thousands of entries, most unchanged since the last read, and decoding
        # them was most of its time. The same text is the same value, so a hit is never
        # stale; values are shared, as the in-process cache shares them (callers only
        # read them). Versions and other short values are not worth keeping.
        self._decoded: dict[bytes | str, Any] = {}

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        if not keys:
            return []
        try:
            raw = self.client.mget([self.prefix + k for k in keys])
        except self._redis_error as exc:
            log.warning("cache read failed, computing from the database: %s", exc)
            return [None] * len(keys)
        return [self._decode(v) for v in raw]

    def _decode(self, text: bytes | str | None) -> Any:
        if text is None:
            return None
        if len(text) < DECODED_MIN_BYTES:
            return json.loads(text)
        decoded = self._decoded
        value = decoded.get(text)
        if value is None:
            value = json.loads(text)
            if len(decoded) >= DECODED_MAX_VALUES:
                decoded.clear()  # bounded: start over rather than track recency
            decoded[text] = value
        return value

    def set_many(self, values: Mapping[str, Any], ttl_seconds: int | None = None) -> None:
        if not values:
            return
        ttl = ttl_seconds or self.ttl_seconds
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, value in values.items():
                pipe.set(self.prefix + key, json.dumps(value, separators=(",", ":")), ex=ttl)
            pipe.execute()
        except self._redis_error as exc:
            log.warning("cache write failed: %s", exc)

    def bump(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.incr(self.prefix + key)
                pipe.expire(self.prefix + key, VERSION_TTL_SECONDS)
            pipe.execute()
        except self._redis_error as exc:
            # Readers may see data older than this change until the entries expire
            # (cache_ttl_seconds); say so loudly.
            log.error("cache invalidation failed for %s: %s", list(keys), exc)

    def clear(self) -> None:
        self.memo.clear()
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=self.prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self.client.delete(*batch)
                batch.clear()
        if batch:
            self.client.delete(*batch)


def make_cache(
    redis_url: str | None, ttl_seconds: int, prefix: str = "clinic:availability:"
) -> Cache:
    """Redis when a URL is configured, else the in-process dict."""
    if redis_url:
        return RedisCache(redis_url, ttl_seconds=ttl_seconds, prefix=prefix)
    return InProcessCache(ttl_seconds=ttl_seconds)
