"""Components in the form Dash sends them, for parts of a page worth rendering once.

Dash turns every component object into JSON property by property on every response; for
a list of hundreds of rows that, and building the objects, costs more than the query
behind it. ``wire`` gives a component tree as the plain data Dash would send (the same
bytes reach the browser), which a page can keep in a memo keyed by everything the part
is made from and put back into later responses as it is.
"""

from __future__ import annotations

from typing import Any

from dash.development.base_component import Component


def wire(value: Any) -> Any:
    """``value`` with every component in it, nested ones included, in Dash's JSON form
    ({props, type, namespace}: what ``Component.to_plotly_json`` gives, which Dash's
    encoder calls for each component of a response)."""
    if isinstance(value, Component):
        form = value.to_plotly_json()
        form["props"] = {k: wire(v) for k, v in form["props"].items()}
        return form
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    return value
