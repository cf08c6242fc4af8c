"""What a running app hands to the domain services: the store, the clock, the settings.

Built once by the app factory (or a test) and passed down; nothing here is global.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from data.cache import Cache, InProcessCache, make_cache
from data.db import Database
from domain.clock import Clock, system_clock
from settings import Settings


@dataclass
class AppContext:
    settings: Settings
    db: Database
    clock: Clock = system_clock
    # Availability and organization settings cache (Redis when settings.redis_url is set,
    # so several app processes stay consistent); see domain/availability.py.
    cache: Cache = field(default_factory=InProcessCache)
    # Filled by later layers (notifier, ...); keyed by name so the
    # context does not have to know every service.
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> AppContext:
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            clock=clock or system_clock,
            cache=make_cache(
                settings.redis_url,
                settings.cache_ttl_seconds,
                prefix=f"{settings.redis_key_prefix}:availability:",
            ),
        )
