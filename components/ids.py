"""Component ids namespaced per page, so two pages can never collide."""

from __future__ import annotations

from collections.abc import Callable


def id_factory(prefix: str) -> Callable[[str], str]:
    """``pid = id_factory("today"); pid("table") == "today-table"``."""

    def make(name: str) -> str:
        return f"{prefix}-{name}"

    return make


def dom_id(ident: dict[str, object]) -> str:
    """The HTML id Dash gives a pattern-matching id (for ``html_for`` and selectors):
    keys sorted, values as JSON, no spaces (dash-renderer's ``stringifyId``)."""
    import json

    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(ident[k])}" for k in sorted(ident)) + "}"
