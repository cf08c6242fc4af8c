"""Dash callbacks over HTTP on the large organization: every callback of the pages
/availability, /book, /calendar, /analytics, /today and /activity, posted to
``/_dash-update-component`` with the payload the browser sends (built from the app's own
``/_dash-dependencies`` by ``tests.dash_client``), signed in as the large organization's
account of the role that uses the page. Target: p95 <= 300 ms per callback.

The app runs in this process on a werkzeug server thread (as the browser tests serve
it), so a timing is the whole request: routing, session and permission check, the
callback, JSON encoding and the HTTP round trip on localhost. No floor: the callbacks'
own SQL is benchmarked beside its floor in bench_availability, bench_booking and
bench_stats.

Callbacks that write (booking, status change) act on bookings this run makes, marked
like bench_booking's and deleted at the end of the run; notifications marked read are
made unread again. A callback of these pages without a case here is printed as "not
benchmarked", so a new one is not silently missed.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from app import create_app
from bench.bench_booking import MARK, _book, _take
from bench.bench_booking import _setup as booking_setup
from bench.harness import BenchEnv, Case, benchmark
from components.ids import dom_id
from data.models import Appointment, AppointmentType, Clinic, Organization, Patient, Practitioner
from settings import Settings
from tests.dash_client import DashClient

TARGET_MS = 300.0
PAGES = {
    "av-": "/availability",
    "book-": "/book",
    "cal-": "/calendar",
    "an-": "/analytics",
    "today-": "/today",
    "activity-": "/activity",
}
ORGANIZATION = "Metro Health System"
DOMAIN, LABEL = "metro.example", "metro"  # data.seed.demo_users of the large organization
COVERED: set[str] = set()


class _Server:
    """The app on a free port, in a daemon thread, for the whole run."""

    def __init__(self, env: BenchEnv) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        settings = Settings(database_url=env.db.url, secret_key="bench-callbacks-secret")
        app = create_app(settings, context=env.ctx)
        self._server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.clients: dict[str, DashClient] = {}

    def client(self, role: str) -> DashClient:
        if role not in self.clients:
            email = f"{role.replace('-', '')}@{DOMAIN}"
            password = f"{LABEL}-{role.replace('-', '')}-demo"
            self.clients[role] = DashClient.for_url(self.url).signed_in(email, password)
        return self.clients[role]


def _facts(env: BenchEnv) -> dict[str, Any]:
    """Once per run: the server, and the ids a user would pick on each page."""
    if "callbacks" in env.facts:
        return env.facts["callbacks"]
    with env.db.read() as s:
        org = s.scalars(select(Organization).where(Organization.name == ORGANIZATION)).one()
        busiest = s.execute(
            select(Appointment.practitioner_id, Appointment.clinic_id)
            .where(Appointment.organization_id == org.id)
            .group_by(Appointment.practitioner_id, Appointment.clinic_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        practitioner = s.get(Practitioner, busiest[0])
        clinic = s.get(Clinic, busiest[1])
        type_id, minutes = s.execute(
            select(AppointmentType.id, AppointmentType.default_duration_minutes).where(
                AppointmentType.organization_id == org.id, AppointmentType.code == "follow-up"
            )
        ).one()
        family = s.scalars(
            select(Patient.family_name).where(Patient.organization_id == org.id).limit(1)
        ).one()
        assert practitioner is not None and clinic is not None
        today = datetime.now(ZoneInfo(org.timezone)).date()
        org_id, practitioner_id, specialty = org.id, practitioner.id, practitioner.specialty
        clinic_id = clinic.id
    facts = {
        "server": _Server(env),
        "org_id": org_id,
        "today": today,
        "practitioner_id": practitioner_id,
        "specialty": specialty,
        "clinic_id": clinic_id,
        "type_id": type_id,
        "minutes": minutes,
        "patient_query": family[:4],
    }
    env.facts["callbacks"] = facts
    return facts


def _case(
    env: BenchEnv,
    role: str,
    output: str,
    inputs: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    *,
    repeat: int = 20,
    expect: Callable[[Any], bool] | None = None,
    payload: Callable[[DashClient], dict[str, Any]] | None = None,
    before_each: Callable[[], None] | None = None,
    note: str = "",
) -> Case:
    """A case posting one callback's payload; it must answer 200 (and ``expect``)."""
    client = _facts(env)["server"].client(role)
    COVERED.add(client.callback_key(output))
    body = payload(client) if payload else client.payload(output, inputs, state)

    def operation() -> Any:
        answer = client.post_callback(payload(client) if payload else body)
        if answer.status not in (200, 204):
            raise AssertionError(f"{output}: HTTP {answer.status} {answer.text[:300]}")
        if expect is not None and not expect(answer):
            raise AssertionError(f"{output}: unexpected answer {answer.text[:300]}")
        return answer

    operation()  # fails the case at once if the payload is wrong
    return Case(
        operation=operation,
        repeat=repeat,
        warmup=1,
        before_each=before_each,
        target_p95_ms=TARGET_MS,
        note=note or f"as {role}",
    )


def _clicked(
    client: DashClient,
    output: str,
    button: dict[str, Any],
    inputs: dict[str, Any],
    state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload of a click on a pattern-matching button: the browser names the
    concrete button that changed, and the callbacks act only on such a click."""
    body = client.payload(output, inputs, state)
    body["changedPropIds"] = [f"{dom_id(button)}.n_clicks"]
    return body


def _has(text: str) -> Callable[[Any], bool]:
    return lambda answer: text in answer.text


# ------------------------------------------------------------------ /availability


@benchmark("callback /availability: organization-wide, 14 days")
def availability_overview(env: BenchEnv) -> Case:
    f = _facts(env)
    inputs = {
        "av-clinic.value": None,
        "av-start.value": f["today"].isoformat(),
        "av-end.value": (f["today"] + timedelta(days=13)).isoformat(),
        "av-specialty.value": None,
        "av-type.value": None,
    }
    return _case(env, "coordinator", "av-overview.children", inputs)


@benchmark("callback /availability: one clinic's slot grid, 14 days")
def availability_clinic(env: BenchEnv) -> Case:
    f = _facts(env)
    inputs = {
        "av-clinic.value": f["clinic_id"],
        "av-start.value": f["today"].isoformat(),
        "av-end.value": (f["today"] + timedelta(days=13)).isoformat(),
        "av-specialty.value": None,
        "av-type.value": f["type_id"],
    }
    return _case(env, "coordinator", "av-clinic-view.children", inputs)


@benchmark("callback /availability: clinics with room on one day")
def availability_day(env: BenchEnv) -> Case:
    f = _facts(env)
    inputs = {
        "av-day.value": (f["today"] + timedelta(days=1)).isoformat(),
        "av-specialty.value": None,
        "av-type.value": None,
        "av-clinic.value": None,
    }
    return _case(env, "coordinator", "av-day-list.children", inputs)


@benchmark("callback /availability: pick a clinic")
def availability_pick(env: BenchEnv) -> Case:
    f = _facts(env)
    button = {"type": "av-pick", "clinic": f["clinic_id"], "where": "overview"}
    inputs = {'{"clinic":["ALL"],"type":"av-pick","where":["ALL"]}.n_clicks': [(button, 1)]}
    return _case(
        env,
        "coordinator",
        "av-clinic.value",
        payload=lambda c: _clicked(c, "av-clinic.value", button, inputs, {"av-clinic.value": None}),
        expect=_has(f'"value":{f["clinic_id"]}'),
    )


# ------------------------------------------------------------------ /book


@benchmark("callback /book: patient type-ahead")
def book_patients(env: BenchEnv) -> Case:
    query = _facts(env)["patient_query"]
    inputs = {"book-patient-search.value": query}
    return _case(env, "front-desk", "book-patient.options", inputs, {"book-patient.value": None})


@benchmark("callback /book: practitioners of a specialty")
def book_practitioners(env: BenchEnv) -> Case:
    f = _facts(env)
    return _case(
        env,
        "front-desk",
        "book-practitioner.options",
        {"book-specialty.value": f["specialty"]},
        {"book-practitioner.value": None},
    )


@benchmark("callback /book: clinics of a practitioner")
def book_clinics(env: BenchEnv) -> Case:
    f = _facts(env)
    return _case(
        env,
        "front-desk",
        "book-clinic.options",
        {"book-practitioner.value": f["practitioner_id"]},
        {"book-clinic.value": None},
    )


@benchmark("callback /book: duration of a type")
def book_duration(env: BenchEnv) -> Case:
    return _case(
        env,
        "front-desk",
        "book-duration.value",
        {"book-appointment_type.value": _facts(env)["type_id"]},
    )


@benchmark("callback /book: open times of a practitioner-day")
def book_open_times(env: BenchEnv) -> Case:
    f = _facts(env)
    inputs = {
        "book-practitioner.value": f["practitioner_id"],
        "book-clinic.value": f["clinic_id"],
        "book-date.value": (f["today"] + timedelta(days=2)).isoformat(),
        "book-appointment_type.value": f["type_id"],
        "book-duration.value": f["minutes"],
        "book-booked.data": None,
    }
    return _case(env, "front-desk", "book-start.options", inputs, {"book-start.value": None})


@benchmark("callback /book: submit a booking (real, deleted after the run)")
def book_submit(env: BenchEnv) -> Case:
    f = _facts(env)
    booking = booking_setup(env)

    def payload(client: DashClient) -> dict[str, Any]:
        # One fresh slot per post, however many repeats --repeat asks for.
        (c,) = _take(booking)
        state = {
            "book-patient.value": c.patient_id,
            "book-practitioner.value": c.practitioner_id,
            "book-clinic.value": c.clinic_id,
            "book-appointment_type.value": booking["type_id"],
            # The type's own length: the candidates are open slots of that length.
            "book-duration.value": f["minutes"],
            "book-start.value": c.start.isoformat(),
            "book-notes.value": MARK,
        }
        return client.payload("book-result.children", {"book-submit.n_clicks": 1}, state)

    assert f["org_id"] == booking["org_id"]
    return _case(
        env,
        "front-desk",
        "book-result.children",
        payload=payload,
        repeat=15,
        expect=_has("Appointment booked"),
    )


def _form_state(f: dict[str, Any], booking: dict[str, Any], c: Any) -> dict[str, Any]:
    """What the booking form holds once a clerk has chosen candidate ``c``."""
    return {
        "book-patient.value": c.patient_id,
        "book-practitioner.value": c.practitioner_id,
        "book-clinic.value": c.clinic_id,
        "book-appointment_type.value": booking["type_id"],
        "book-duration.value": f["minutes"],
        "book-start.value": c.start.isoformat(),
    }


@benchmark("callback /book: hold the chosen time")
def book_hold(env: BenchEnv) -> Case:
    f = _facts(env)
    booking = booking_setup(env)
    (c,) = _take(booking)  # held again and again: each hold lets the user's last one go
    state = {k: v for k, v in _form_state(f, booking, c).items() if k != "book-start.value"}
    state.pop("book-patient.value")
    return _case(
        env,
        "front-desk",
        "book-hold-note.children",
        {"book-start.value": c.start.isoformat()},
        state,
        expect=_has("Held for you"),
    )


@benchmark("callback /book: repeat switch")
def book_repeat(env: BenchEnv) -> Case:
    inputs = {"book-repeat.value": True, "book-repeat-end.value": "count"}
    return _case(env, "front-desk", "book-repeat-box.is_open", inputs)


def _series_body(
    client: DashClient, state: dict[str, Any], button: str, ticked: list[str]
) -> dict[str, Any]:
    """A click on "Preview" or "Book selected" of the repeat box, with the occurrences
    ``ticked`` (their start instants, as the preview named them)."""
    output = "book-preview-table.children"
    pattern = next(
        f"{d['id']}.{d['property']}"
        for d in client.dependencies()
        if d["output"] == client.callback_key(output)
        for d in d["state"]
        if "book-occurrence" in str(d["id"])
    )
    boxes = [({"type": "book-occurrence", "start": at}, True) for at in ticked]
    inputs = {"book-preview.n_clicks": 1, "book-book-series.n_clicks": 1}
    body = client.payload(output, inputs, {**state, pattern: boxes})
    body["changedPropIds"] = [f"{button}.n_clicks"]
    return body


def _series_state(f: dict[str, Any], booking: dict[str, Any], c: Any) -> dict[str, Any]:
    return {
        **_form_state(f, booking, c),
        "book-repeat-weeks.value": 1,
        "book-repeat-end.value": "count",
        "book-repeat-count.value": 6,
        "book-repeat-until.value": None,
        "book-notes.value": MARK,
    }


def _bookable(answer: Any) -> list[str]:
    """The start instants of the occurrences a preview answer offers (ticked boxes)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("props")
            ident = props.get("id") if isinstance(props, dict) else None
            occurrence = isinstance(ident, dict) and ident.get("type") == "book-occurrence"
            if occurrence and props.get("value"):
                found.append(ident["start"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(answer.json())
    return found


@benchmark("callback /book: preview a weekly series of 6")
def book_series_preview(env: BenchEnv) -> Case:
    f = _facts(env)
    booking = booking_setup(env)
    (c,) = _take(booking)
    state = _series_state(f, booking, c)
    return _case(
        env,
        "front-desk",
        "book-preview-table.children",
        payload=lambda client: _series_body(client, state, "book-preview", []),
        expect=_has("can be booked"),
    )


@benchmark("callback /book: book a weekly series (real, deleted after the run)")
def book_series(env: BenchEnv) -> Case:
    f = _facts(env)
    booking = booking_setup(env)
    client = f["server"].client("front-desk")
    ready: dict[str, Any] = {}

    def prepare() -> None:
        # Untimed: a fresh first slot and its preview, whose bookable weeks are ticked.
        (c,) = _take(booking)
        state = _series_state(f, booking, c)
        preview = client.post_callback(_series_body(client, state, "book-preview", []))
        ready["body"] = _series_body(client, state, "book-book-series", _bookable(preview))

    prepare()
    return _case(
        env,
        "front-desk",
        "book-preview-table.children",
        payload=lambda _client: ready["body"],
        before_each=prepare,
        repeat=10,
        expect=lambda answer: re.search(r"\d appointments? booked", answer.text) is not None,
    )


# ------------------------------------------------------------------ /calendar


def _calendar_inputs(f: dict[str, Any], who: str, view: str) -> dict[str, Any]:
    return {
        "cal-who.value": who,
        "cal-view.value": view,
        "cal-date.value": f["today"].isoformat(),
        "cal-cancelled.value": False,
        "cal-refresh.data": 0,
    }


@benchmark("callback /calendar: a practitioner's week")
def calendar_week(env: BenchEnv) -> Case:
    f = _facts(env)
    inputs = _calendar_inputs(f, f"p-{f['practitioner_id']}", "week")
    return _case(env, "coordinator", "cal-grid.children", inputs, expect=_has("cal-table"))


@benchmark("callback /calendar: a clinic's day")
def calendar_clinic_day(env: BenchEnv) -> Case:
    f = _facts(env)
    inputs = _calendar_inputs(f, f"c-{f['clinic_id']}", "day")
    return _case(env, "coordinator", "cal-grid.children", inputs, expect=_has("cal-table"))


@benchmark("callback /calendar: previous / next week")
def calendar_step(env: BenchEnv) -> Case:
    f = _facts(env)
    inputs = {"cal-next.n_clicks": 1, "cal-prev.n_clicks": None, "cal-today.n_clicks": None}
    state = {"cal-date.value": f["today"].isoformat(), "cal-view.value": "week"}
    return _case(env, "coordinator", "cal-date.value", inputs, state)


def _first_appointment(env: BenchEnv, where: Any, since: timedelta) -> int:
    """The earliest appointment matching ``where`` that starts after now - ``since``."""
    with env.db.read() as s:
        return int(
            s.scalars(
                select(Appointment.id)
                .where(where, Appointment.start_at >= datetime.now(UTC) - since)
                .order_by(Appointment.start_at)
                .limit(1)
            ).one()
        )


def _appointment_of_the_week(env: BenchEnv) -> int:
    f = _facts(env)
    return _first_appointment(
        env, Appointment.practitioner_id == f["practitioner_id"], timedelta(days=3)
    )


@benchmark("callback /calendar: click an appointment")
def calendar_open_panel(env: BenchEnv) -> Case:
    chip = {"type": "cal-appt", "id": _appointment_of_the_week(env)}
    inputs = {'{"id":["ALL"],"type":"cal-appt"}.n_clicks': [(chip, 1)]}
    return _case(
        env,
        "coordinator",
        "cal-selected.data",
        payload=lambda c: _clicked(c, "cal-selected.data", chip, inputs),
        expect=_has('"is_open":true'),
    )


@benchmark("callback /calendar: an appointment's panel (details, history)")
def calendar_panel(env: BenchEnv) -> Case:
    selected = {"id": _appointment_of_the_week(env), "opened": 1}
    inputs = {"cal-selected.data": selected, "cal-result.data": None}
    return _case(env, "coordinator", "cal-panel-body.children", inputs)


@benchmark("callback /calendar: open times to move to")
def calendar_move_times(env: BenchEnv) -> Case:
    f = _facts(env)
    ident = {"type": "cal-move-date", "appointment": _appointment_of_the_week(env)}
    key = '{"appointment":["MATCH"],"type":"cal-move-date"}.value'
    inputs = {key: (ident, (f["today"] + timedelta(days=3)).isoformat())}
    client = f["server"].client("coordinator")
    output = client.callback_key('{"appointment":["MATCH"],"type":"cal-move-start"}.options')

    def payload(client: DashClient) -> dict[str, Any]:
        body = client.payload(output, inputs)
        # The browser names the concrete component whose options change.
        body["outputs"]["id"] = {"type": "cal-move-start", "appointment": ident["appointment"]}
        return body

    return _case(env, "coordinator", output, payload=payload)


class _FreshBookings:
    """Bookings made untimed (``before_each``), one per post, for the cases that change
    an appointment's status; deleted at the end of the run with bench_booking's."""

    def __init__(self, env: BenchEnv) -> None:
        self.env = env
        self.booking = booking_setup(env)
        assert _facts(env)["org_id"] == self.booking["org_id"]
        self.pending: list[tuple[int, int]] = []

    def book_one(self) -> None:
        while not _book(self.env, self.booking, _take(self.booking)[0]):
            pass
        self.pending.append(
            self.env.sql(
                "SELECT id, version FROM appointments WHERE notes = %s AND status = 'booked' "
                "ORDER BY id DESC LIMIT 1",
                (MARK,),
            )[0]
        )

    def next(self) -> tuple[int, int]:
        """(id, version) of the booking made for this post."""
        if not self.pending:  # the first, untimed post that checks the payload
            self.book_one()
        return self.pending.pop()


@benchmark("callback /calendar: confirm an appointment (status change)")
def calendar_act(env: BenchEnv) -> Case:
    fresh = _FreshBookings(env)
    act = {"type": "cal-act", "action": "confirmed"}

    def payload(client: DashClient) -> dict[str, Any]:
        appointment_id, version = fresh.next()
        return _clicked(
            client,
            "cal-result.data",
            act,
            {'{"action":["ALL"],"type":"cal-act"}.n_clicks': [(act, 1)]},
            {
                "cal-selected.data": {"id": appointment_id, "opened": 1},
                "cal-version.data": version,
                "cal-refresh.data": 0,
                '{"name":["ALL"],"type":"cal-field"}.value': [],
                '{"appointment":["ALL"],"type":"cal-move-start"}.value': [],
            },
        )

    return _case(
        env,
        "admin",
        "cal-result.data",
        payload=payload,
        repeat=15,
        before_each=fresh.book_one,
        expect=_has("done"),
    )


# ------------------------------------------------------------------ /analytics


def _analytics(f: dict[str, Any], clinic_id: int | None = None) -> dict[str, Any]:
    from pages.analytics import default_period

    first, last = default_period(f["today"])
    return {
        "an-start.value": first.isoformat(),
        "an-end.value": last.isoformat(),
        "an-clinic.value": clinic_id,
        "an-practitioner.value": None,
        "an-type.value": None,
    }


@benchmark("callback /analytics: whole organization, 12 weeks")
def analytics_organization(env: BenchEnv) -> Case:
    inputs = _analytics(_facts(env))
    return _case(env, "manager", "an-kpis.children", inputs, repeat=15, expect=_has("an-kpi"))


@benchmark("callback /analytics: one clinic, 12 weeks")
def analytics_clinic(env: BenchEnv) -> Case:
    f = _facts(env)
    inputs = _analytics(f, f["clinic_id"])
    return _case(env, "manager", "an-kpis.children", inputs, repeat=15, expect=_has("an-kpi"))


@benchmark("callback /analytics: practitioner table as CSV")
def analytics_csv(env: BenchEnv) -> Case:
    state = _analytics(_facts(env))
    return _case(
        env,
        "manager",
        "an-download.data",
        {"an-download-button.n_clicks": 1},
        state,
        repeat=15,
        expect=_has(".csv"),
    )


# ------------------------------------------------------------------ /today


def _today_inputs(who: str) -> dict[str, Any]:
    return {
        "today-who.value": who,
        "today-cancelled.value": False,
        "today-refresh.data": 0,
        "today-tick.n_intervals": None,
        "today-reload.n_clicks": None,
    }


@benchmark("callback /today: everyone, all clinics")
def today_everyone(env: BenchEnv) -> Case:
    # The front desk's default: every appointment of the day in the organization.
    return _case(env, "front-desk", "today-list.children", _today_inputs("all"))


@benchmark("callback /today: one clinic's day")
def today_clinic(env: BenchEnv) -> Case:
    who = f"c-{_facts(env)['clinic_id']}"
    return _case(env, "front-desk", "today-list.children", _today_inputs(who))


def _appointment_of_today(env: BenchEnv) -> int:
    f = _facts(env)
    return _first_appointment(env, Appointment.clinic_id == f["clinic_id"], timedelta(hours=8))


@benchmark("callback /today: click More…")
def today_open_panel(env: BenchEnv) -> Case:
    more = {"type": "today-more", "id": _appointment_of_today(env)}
    inputs = {'{"id":["ALL"],"type":"today-more"}.n_clicks': [(more, 1)]}
    return _case(
        env,
        "front-desk",
        "today-selected.data",
        payload=lambda c: _clicked(c, "today-selected.data", more, inputs),
        expect=_has('"is_open":true'),
    )


@benchmark("callback /today: an appointment's panel")
def today_panel(env: BenchEnv) -> Case:
    selected = {"id": _appointment_of_today(env), "opened": 1}
    inputs = {"today-selected.data": selected, "today-panel-result.data": None}
    return _case(env, "front-desk", "today-panel-body.children", inputs)


@benchmark("callback /today: one-click step (status change)")
def today_step(env: BenchEnv) -> Case:
    # The list's buttons check in, start and complete on the day; on the bench's own
    # bookings (weeks ahead) the same click confirms, through the same service call.
    fresh = _FreshBookings(env)
    key = '{"id":["ALL"],"status":["ALL"],"type":"today-step","version":["ALL"]}.n_clicks'

    def payload(client: DashClient) -> dict[str, Any]:
        appointment_id, version = fresh.next()
        button = {"type": "today-step", "id": appointment_id, "status": "confirmed"}
        button["version"] = version
        return _clicked(
            client,
            "today-feedback.children",
            button,
            {key: [(button, 1)]},
            {"today-refresh.data": 0},
        )

    return _case(
        env,
        "front-desk",
        "today-feedback.children",
        payload=payload,
        repeat=15,
        before_each=fresh.book_one,
        expect=_has("today-outcome-done"),
    )


@benchmark("callback /today: confirm from the panel (status change)")
def today_act(env: BenchEnv) -> Case:
    fresh = _FreshBookings(env)
    act = {"type": "today-act", "action": "confirmed"}

    def payload(client: DashClient) -> dict[str, Any]:
        appointment_id, version = fresh.next()
        return _clicked(
            client,
            "today-panel-result.data",
            act,
            {'{"action":["ALL"],"type":"today-act"}.n_clicks': [(act, 1)]},
            {
                "today-selected.data": {"id": appointment_id, "opened": 1},
                "today-version.data": version,
                "today-refresh.data": 0,
                '{"name":["ALL"],"type":"today-field"}.value': [],
            },
        )

    return _case(
        env,
        "front-desk",
        "today-panel-result.data",
        payload=payload,
        repeat=15,
        before_each=fresh.book_one,
        expect=_has("done"),
    )


# ------------------------------------------------------------------ /activity


@benchmark("callback /activity: unread notifications")
def activity_notes(env: BenchEnv) -> Case:
    # The practitioner's login: notifications are addressed to practitioners.
    inputs = {"activity-notes-refresh.data": 1}
    return _case(env, "practitioner", "activity-notes.children", inputs)


def _unread_of_the_practitioner_login(env: BenchEnv) -> list[int]:
    rows = env.sql(
        "SELECT n.id FROM notifications n JOIN users u ON u.practitioner_id = n.recipient_id "
        "WHERE u.email = %s AND n.recipient_kind = 'practitioner' AND n.read_at IS NULL",
        (f"practitioner@{DOMAIN}",),
    )
    return [r[0] for r in rows]


def _mark_unread(url: str, ids: list[int]) -> None:
    with psycopg.connect(url, autocommit=True) as raw:
        raw.execute("UPDATE notifications SET read_at = NULL WHERE id = ANY(%s)", (ids,))


@benchmark("callback /activity: mark all read (restored after each)")
def activity_read_all(env: BenchEnv) -> Case:
    unread = _unread_of_the_practitioner_login(env)
    url = make_url(env.db.url).set(drivername="postgresql").render_as_string(hide_password=False)
    # The notifications it marks read are unread again after every post and at exit.
    atexit.register(_mark_unread, url, unread)
    return _case(
        env,
        "practitioner",
        "activity-notes-feedback.children",
        {"activity-read-all.n_clicks": 1},
        {"activity-notes-refresh.data": 0},
        before_each=lambda: _mark_unread(url, unread),
        expect=_has("read."),
    )


def _feed_inputs(
    cursor: list[Any], important: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"activity-cursor.data": cursor}, {"activity-important.value": important}


@benchmark("callback /activity: the feed, newest page")
def activity_feed(env: BenchEnv) -> Case:
    inputs, state = _feed_inputs([])
    return _case(env, "manager", "activity-feed.children", inputs, state)


@benchmark("callback /activity: the feed, a page far back")
def activity_feed_older(env: BenchEnv) -> Case:
    f = _facts(env)
    (position,) = env.sql(
        "SELECT id FROM activity_events WHERE organization_id = %s "
        "ORDER BY id DESC OFFSET 5000 LIMIT 1",
        (f["org_id"],),
    )[0]
    inputs, state = _feed_inputs([{"id": position}])
    return _case(env, "manager", "activity-feed.children", inputs, state)


@benchmark("callback /activity: the feed, important only")
def activity_feed_important(env: BenchEnv) -> Case:
    inputs, state = _feed_inputs([], important=True)
    return _case(env, "manager", "activity-feed.children", inputs, state)


@benchmark("callback /activity: older / newest")
def activity_page(env: BenchEnv) -> Case:
    return _case(
        env,
        "manager",
        "activity-cursor.data",
        {"activity-older.n_clicks": 1},
        {"activity-cursor.data": [], "activity-last.data": {"id": 1000}},
        expect=_has('"id":1000'),
    )


@benchmark("callback pages: every callback covered")
def coverage(env: BenchEnv) -> Case:
    """Not a timing: names the callbacks of the benchmarked pages that no case posts."""
    client = _facts(env)["server"].client("manager")
    missing = []
    for dep in client.dependencies():
        key = str(dep["output"])
        ids = [o.rsplit(".", 1)[0] for o in key.strip(".").split("...")]
        on_page = any(i.lstrip('{"').startswith(p) or f'"{p}' in i for i in ids for p in PAGES)
        if on_page and key not in COVERED:
            missing.append(key)
    note = "all covered" if not missing else "not benchmarked: " + "; ".join(missing)
    print(f"    {note}", flush=True)
    return Case(operation=lambda: time.sleep(0), repeat=1, warmup=0, note=note)
