"""Where failed sign-ins are counted: Redis when configured, else the database.

Both stores are shared by every app process (gunicorn workers, several hosts), which an
in-process counter is not: with four workers it would allow four times the attempts, and
a restart would forget them. The database store needs no extra service and works on both
SQLite and PostgreSQL; Redis keeps the write load of an attack off the database.

A store only records and counts timestamps per key; the policy (window, limits, messages)
is ``domain.auth``'s.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select

from data.db import Database
from data.models import LoginFailure


class ThrottleStore(Protocol):
    def record_failure(self, keys: list[str], now: datetime, window: timedelta) -> None:
        """Count one failure under each key; forget failures older than ``window``."""

    def failures_since(self, key: str, since: datetime) -> list[datetime]:
        """The key's failures after ``since``, oldest first."""

    def clear(self, key: str) -> None:
        """Forget the key's failures (after a successful sign-in)."""


class DatabaseThrottleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record_failure(self, keys: list[str], now: datetime, window: timedelta) -> None:
        with self.db.transaction() as s:
            s.execute(delete(LoginFailure).where(LoginFailure.created_at < now - window))
            s.add_all(LoginFailure(key=k, created_at=now) for k in keys)

    def failures_since(self, key: str, since: datetime) -> list[datetime]:
        with self.db.read() as s:
            return list(
                s.scalars(
                    select(LoginFailure.created_at)
                    .where(LoginFailure.key == key, LoginFailure.created_at > since)
                    .order_by(LoginFailure.created_at)
                )
            )

    def clear(self, key: str) -> None:
        with self.db.transaction() as s:
            s.execute(delete(LoginFailure).where(LoginFailure.key == key))


class RedisThrottleStore:
    """One sorted set per key, scored by the failure's timestamp (the app's clock, so tests
    can move time), expiring with the window."""

    def __init__(self, client: object, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}:login-failures:{key}"

    def record_failure(self, keys: list[str], now: datetime, window: timedelta) -> None:
        score = now.timestamp()
        pipe = self.client.pipeline(transaction=True)  # type: ignore[attr-defined]
        for key in keys:
            name = self._key(key)
            pipe.zadd(name, {uuid.uuid4().hex: score})
            pipe.zremrangebyscore(name, "-inf", score - window.total_seconds())
            pipe.expire(name, int(window.total_seconds()) + 1)
        pipe.execute()

    def failures_since(self, key: str, since: datetime) -> list[datetime]:
        scores = self.client.zrangebyscore(  # type: ignore[attr-defined]
            self._key(key), f"({since.timestamp()}", "+inf", withscores=True
        )
        return [datetime.fromtimestamp(score, UTC) for _member, score in scores]

    def clear(self, key: str) -> None:
        self.client.delete(self._key(key))  # type: ignore[attr-defined]


def redis_client(url: str) -> object:
    """A Redis client with short timeouts: a stalled Redis must fail a request quickly
    with "try again", not hang a worker."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
