"""Components in the form Dash sends them, for parts of a page worth rendering once.

Dash turns every component object into JSON property by property on every response; for
a list of hundreds of rows that, and building the objects, costs more than the query
behind it. ``wire`` gives a component tree as the plain data Dash would send (the same
bytes reach the browser), which a page can keep in a memo keyed by everything the part
is made from and put back into later responses as it is.
"""

from __future__ import annotations

import json
from typing import Any

from dash.development.base_component import Component
from plotly.io.json import to_json_plotly


def wire(component: Component) -> dict[str, Any]:
    """``component`` and all it holds as Dash's JSON form ({type, namespace, props})."""
    return json.loads(to_json_plotly(component))
