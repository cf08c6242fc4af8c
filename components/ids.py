"""Component ids namespaced per page, so two pages can never collide."""

from __future__ import annotations

from collections.abc import Callable


def id_factory(prefix: str) -> Callable[[str], str]:
    """``pid = id_factory("today"); pid("table") == "today-table"``."""

    def make(name: str) -> str:
        return f"{prefix}-{name}"

    return make
