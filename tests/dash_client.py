"""Call a running app's pages and Dash callbacks over HTTP, the way the browser does.

Works with a Flask test client (in-process) and with ``requests`` against a real server
(gunicorn): ``DashClient.for_flask(app.server)`` / ``DashClient.for_url(url)``. Payloads
are built from the server's own ``/_dash-dependencies``, so a test names a callback by one
of its outputs and gives the values it cares about::

    client = DashClient.for_flask(app.server)
    client.sign_in("manager@harbor.example", "harbor-manager-demo")
    answer = client.call("settings-staff.children", {"settings-show-inactive.value": True})
    assert answer.status == 200
    answer.output("settings-staff.children")  # the rendered component tree (JSON)

Values for pattern-matching dependencies are given as ``(id_dict, value)`` (MATCH) or a
list of them (ALL).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

LOGIN_OUTPUT = "login-feedback.children"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def output(self, output: str) -> Any:
        """The value a callback answer set for ``component-id.property`` (None when the
        callback left it unchanged)."""
        ident, prop = output.rsplit(".", 1)
        return self.json()["response"].get(ident, {}).get(prop)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _FlaskTransport:
    def __init__(self, server: Any, remote_addr: str) -> None:
        self.client = server.test_client()
        self.remote_addr = remote_addr

    def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        kwargs.setdefault("environ_base", {"REMOTE_ADDR": self.remote_addr})
        r = self.client.open(path, method=method, **kwargs)
        return Answer(r.status_code, dict(r.headers), r.get_data())


class _HttpTransport:
    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        if "data" in kwargs and isinstance(kwargs["data"], str):
            kwargs["data"] = kwargs["data"].encode()
        r = self.session.request(
            method, self.base_url + path, allow_redirects=False, timeout=30, **kwargs
        )
        return Answer(r.status_code, dict(r.headers), r.content)


def _split_output(output_key: str) -> list[str]:
    """Dash's callback key: 'a.b' or '..a.b...c.d..' for several outputs."""
    if output_key.startswith("..") and output_key.endswith(".."):
        return output_key[2:-2].split("...")
    return [output_key]


def _dep(spec: str) -> dict[str, Any]:
    # An output declared with allow_duplicate is keyed "id.prop@hash"; the browser sends
    # "prop@hash" as its property, and so does this.
    ident, prop = spec.rsplit(".", 1)
    return {
        "id": _concrete(json.loads(ident)) if ident.startswith("{") else ident,
        "property": prop,
    }


# What a MATCH key stands for when a test gives no component of its own: the browser
# always sends one concrete id per MATCH dependency.
MATCH_PLACEHOLDER = 1


def _concrete(ident: dict[str, Any]) -> dict[str, Any]:
    return {k: MATCH_PLACEHOLDER if v == ["MATCH"] else v for k, v in ident.items()}


class DashClient:
    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self._dependencies: list[dict[str, Any]] | None = None

    @classmethod
    def for_flask(cls, server: Any, remote_addr: str = "127.0.0.1") -> DashClient:
        return cls(_FlaskTransport(server, remote_addr))

    @classmethod
    def for_url(cls, base_url: str) -> DashClient:
        return cls(_HttpTransport(base_url))

    # ------------------------------------------------------------------ plain requests

    def get(self, path: str) -> Answer:
        return self.transport.request("GET", path)

    def post(self, path: str, **kwargs: Any) -> Answer:
        return self.transport.request("POST", path, **kwargs)

    def post_callback(self, payload: Any) -> Answer:
        """Post anything (a dict is sent as JSON, bytes/str as they are)."""
        if isinstance(payload, bytes | str):
            return self.post(
                "/_dash-update-component",
                data=payload,
                headers={"Content-Type": "application/json"},
            )
        return self.post("/_dash-update-component", json=payload)

    # ------------------------------------------------------------------ callbacks

    def dependencies(self) -> list[dict[str, Any]]:
        if self._dependencies is None:
            answer = self.get("/_dash-dependencies")
            assert answer.status == 200, answer.status
            self._dependencies = answer.json()
        return self._dependencies

    def callback_key(self, output: str) -> str:
        """The callback (Dash's key) that has ``output`` among its outputs."""
        for dep in self.dependencies():
            if output in _split_output(dep["output"]):
                return str(dep["output"])
        raise KeyError(f"no callback outputs {output}")

    def payload(
        self,
        output: str,
        inputs: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        key = self.callback_key(output)
        dep = next(d for d in self.dependencies() if d["output"] == key)
        inputs, state = dict(inputs or {}), dict(state or {})
        changed = list(inputs) or [f"{d['id']}.{d['property']}" for d in dep["inputs"][:1]]

        def entries(declared: list[dict[str, Any]], values: dict[str, Any]) -> list[Any]:
            out: list[Any] = []
            for d in declared:
                ident = d["id"]
                name = f"{ident}.{d['property']}"
                value = values.pop(name, None)
                if isinstance(ident, str) and ident.startswith("{"):
                    # Pattern-matching: (id, value) for MATCH, a list of them for ALL.
                    pairs = value if isinstance(value, list) else [value] if value else []
                    items = [{"id": i, "property": d["property"], "value": v} for i, v in pairs]
                    # ALL is always a list (empty when no such component is on the page).
                    every = '["ALL"]' in ident or '["ALLSMALLER"]' in ident
                    if every or isinstance(value, list):
                        out.append(items)
                    else:
                        one = {"id": _concrete(json.loads(ident)), "property": d["property"]}
                        out.append(items[0] if items else {**one, "value": None})
                else:
                    out.append({"id": ident, "property": d["property"], "value": value})
            return out

        body = {
            "output": key,
            "outputs": [_dep(o) for o in _split_output(key)] if key.startswith("..") else _dep(key),
            "inputs": entries(dep["inputs"], inputs),
            "state": entries(dep["state"], state),
            "changedPropIds": changed,
        }
        unknown = set(inputs) | set(state)
        if unknown:
            raise KeyError(f"{key} has no input or state {sorted(unknown)}")
        return body

    def call(
        self,
        output: str,
        inputs: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> Answer:
        return self.post_callback(self.payload(output, inputs, state))

    def open_page(self, path: str) -> Answer:
        """What the page router renders for ``path`` (in-app navigation)."""
        search = ""
        if "?" in path:
            path, query = path.split("?", 1)
            search = "?" + query
        return self.call(
            "_pages_content.children",
            {"_pages_location.pathname": path, "_pages_location.search": search},
        )

    # ------------------------------------------------------------------ session

    def sign_in(self, email: str, password: str, next_path: str = "/") -> Answer:
        return self.call(
            LOGIN_OUTPUT,
            {"login-form.n_submit": 1},
            {
                "login-email.value": email,
                "login-password.value": password,
                "login-next.data": next_path,
            },
        )

    def signed_in(self, email: str, password: str) -> DashClient:
        answer = self.sign_in(email, password)
        assert answer.status == 200, answer.text
        assert answer.output("login-redirect.href"), f"not signed in: {answer.text[:300]}"
        return self

    def sign_out(self) -> Answer:
        return self.post("/logout")
