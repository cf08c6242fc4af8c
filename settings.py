"""The one settings object, read from the environment once per process.

Everything configurable lives here; nothing else reads ``os.environ`` for app settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT_SQLITE_PATH = ROOT / "var" / "clinic.sqlite3"
DEFAULT_SECRET_KEY = "dev-only-change-me"


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str:
    """One of ``allowed`` (the first when unset); anything else stops the process with a
    message naming the variable, instead of misbehaving later."""
    if value is None or value.strip() == "":
        return allowed[0]
    clean = value.strip().lower()
    if clean not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return clean


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    host: str = "127.0.0.1"
    port: int = 8050
    secret_key: str = DEFAULT_SECRET_KEY
    redis_url: str | None = None
    # Namespace of this deployment's Redis keys, so several deployments (or test runs)
    # can share one Redis.
    redis_key_prefix: str = "clinic"
    cookie_secure: bool = False
    # A signed-in session ends after this long without a request.
    session_hours: float = 12.0
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust (0: none);
    # sign-in throttling needs the real client address.
    proxy_count: int = 0
    debug: bool = False
    # Availability cache lifetime; invalidation is explicit, this only bounds staleness
    # from writers that bypass the services (e.g. manual SQL).
    cache_ttl_seconds: int = 300
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "clinic@localhost"
    # auto (TLS on port 465, else STARTTLS when offered), ssl, starttls or none.
    smtp_security: str = "auto"
    extra: dict[str, str] = field(default_factory=dict)

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def uses_default_secret(self) -> bool:
        return self.secret_key == DEFAULT_SECRET_KEY

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    defaults = Settings()
    return Settings(
        database_url=env.get("DATABASE_URL") or defaults.database_url,
        host=env.get("HOST") or defaults.host,
        port=int(env.get("PORT") or defaults.port),
        secret_key=env.get("SECRET_KEY") or defaults.secret_key,
        redis_url=env.get("REDIS_URL") or None,
        redis_key_prefix=env.get("REDIS_KEY_PREFIX") or defaults.redis_key_prefix,
        cookie_secure=_bool(env.get("COOKIE_SECURE")),
        session_hours=float(env.get("SESSION_HOURS") or defaults.session_hours),
        proxy_count=int(env.get("PROXY_COUNT") or defaults.proxy_count),
        debug=_bool(env.get("DEBUG")),
        cache_ttl_seconds=int(env.get("CACHE_TTL_SECONDS") or defaults.cache_ttl_seconds),
        smtp_host=env.get("SMTP_HOST") or None,
        smtp_port=int(env.get("SMTP_PORT") or defaults.smtp_port),
        smtp_user=env.get("SMTP_USER") or None,
        smtp_password=env.get("SMTP_PASSWORD") or None,
        smtp_sender=env.get("SMTP_SENDER") or defaults.smtp_sender,
        smtp_security=_choice(
            "SMTP_SECURITY", env.get("SMTP_SECURITY"), ("auto", "ssl", "starttls", "none")
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read from the environment on first use."""
    return from_env()
