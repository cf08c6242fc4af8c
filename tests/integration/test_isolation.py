"""Organization isolation over the real callback endpoints: the organization comes from the
session, never from the request.

An administrator of organization A (every permission) forges each page callback that
takes a record id with organization B's patient, practitioner, clinic, appointment,
appointment type, schedule block, leave, assignment, waitlist, notification and
activity event ids. Each answer must be exactly
the answer to the same request naming ids that exist nowhere (so it tells nothing, not
even that the record exists), must name nothing of B's, and no row of either
organization may change.

The forgeries are listed per callback; ``test_every_callback_is_either_forged_or_takes_no_ids``
walks the app's callback map, so a new callback must be added to ``FORGERIES`` (or, if it
really takes no ids, to ``NO_IDS``) before the suite passes.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import dash
import pytest
from sqlalchemy import select

from components.ids import dom_id
from data.models import (
    ActivityEvent,
    Base,
    Clinic,
    ClinicAssignment,
    Notification,
    Organization,
    Patient,
    Practitioner,
    Schedule,
    SlotHold,
    WaitlistEntry,
    WaitlistOffer,
)
from domain.availability import invalidate_organization
from tests.dash_client import Answer, DashClient
from tests.factories import make_appointment, make_exception, make_patient, make_type
from tests.integration.conftest import World

# Organization B's names: none of them may reach an answer given to A.
SECRETS = (
    "Organization B",
    "Clinic B",
    "Dr. B",
    "Brunhilde",
    "Zeppelin",
    "@b.test",
    "Confidential note of B",
    "Notice for B",
    "B-only visit",
)
THURSDAY = date(2026, 3, 19)  # the day after the world's clock; B's visit is that day
KINDS = (
    "patient",
    "practitioner",
    "clinic",
    "appointment",
    "type",
    "schedule",
    "leave",
    "assignment",
    "entry",
    "offer",
    "today",
    "notification",
    "event",
)
# Ids that exist in no organization: what a forged request is answered like.
GHOST = {kind: 987_001 + i for i, kind in enumerate(KINDS)}

Ids = dict[str, int]


@dataclass(frozen=True)
class Forgery:
    """One forged request: ``values(target, own)`` gives the callback's inputs and state
    (``component.prop`` -> value) naming ``target``'s ids (B's or the ghosts) and, where
    a request mixes, A's own (``own``); ``trigger`` is the changed input, a name or a
    pattern-matching id plus property."""

    output: str
    values: Callable[[Ids, Ids], dict[str, Any]]
    trigger: str | tuple[Callable[[Ids], dict[str, Any]], str] | None = None
    # For a MATCH callback: the concrete id of the component it runs for.
    match: Callable[[Ids], dict[str, Any]] | None = None
    label: str = ""
    # The callback only carries the id forward (into a store or a dropdown's value) and
    # reads nothing by it; the forgery of the callback that then reads it covers that.
    echo: bool = False


def _all(pattern: dict[str, Any], prop: str = "n_clicks") -> str:
    """The dependency name DashClient uses for an ALL pattern."""
    keys = {k: (["ALL"] if v is None else v) for k, v in pattern.items()}
    return json.dumps(keys, separators=(",", ":"), sort_keys=True) + "." + prop


def _click(kind_type: str, key: str, id_of: Callable[[Ids], Any]) -> Forgery | Any:
    """Values + trigger for clicking the button ``{"type": kind_type, key: <id>}``."""
    pattern = {key: None, "type": kind_type}

    def values(t: Ids, _o: Ids) -> dict[str, Any]:
        return {_all(pattern): [({"type": kind_type, key: id_of(t)}, 1)]}

    return values, (lambda t: {"type": kind_type, key: id_of(t)}, "n_clicks")


def _merge(*parts: Callable[[Ids, Ids], dict[str, Any]]) -> Callable[[Ids, Ids], dict[str, Any]]:
    return lambda t, o: {k: v for p in parts for k, v in p(t, o).items()}


def _book_form(pick: Callable[[str], bool]) -> Callable[[Ids, Ids], dict[str, Any]]:
    """The booking form with the chosen fields naming the target's ids, the rest A's."""

    def values(t: Ids, o: Ids) -> dict[str, Any]:
        ids = {k: (t if pick(k) else o)[k] for k in ("patient", "practitioner", "clinic", "type")}
        return {
            "book-patient.value": ids["patient"],
            "book-practitioner.value": ids["practitioner"],
            "book-clinic.value": ids["clinic"],
            "book-appointment_type.value": ids["type"],
            "book-duration.value": 30,
            "book-start.value": "2026-03-19T14:00:00+00:00",
            "book-notes.value": "forged",
        }

    return values


def _csv(t: Ids, o: Ids, *, prac: Ids, clinic: Ids) -> dict[str, Any]:
    text = f"practitioner,clinic,weekday,start,end,slot_minutes\n{prac['practitioner']},"
    text += f"{clinic['clinic']},sat,09:00,12:00,30\n"
    contents = "data:text/csv;base64," + base64.b64encode(text.encode()).decode()
    return {"import-upload.contents": contents, "import-upload.filename": "forged.csv"}


def _cal(who: str) -> Callable[[Ids, Ids], dict[str, Any]]:
    return lambda t, o: {
        "cal-who.value": f"{who[0]}-{t[who]}",
        "cal-view.value": "week",
        "cal-date.value": THURSDAY.isoformat(),
        "cal-cancelled.value": True,
        "cal-refresh.data": 0,
    }


def _act(action: str) -> Forgery:
    pattern = {"type": "cal-act", "action": action}
    return Forgery(
        "cal-result.data",
        lambda t, o: {
            _all({"action": None, "type": "cal-act"}): [(pattern, 1)],
            _all({"name": None, "type": "cal-field"}, "value"): [
                ({"type": "cal-field", "name": "reason"}, "forged"),
                ({"type": "cal-field", "name": "category"}, "patient"),
            ],
            _all({"appointment": None, "type": "cal-move-start"}, "value"): [
                (
                    {"type": "cal-move-start", "appointment": t["appointment"]},
                    "2026-03-19T15:00:00+00:00",
                )
            ],
            "cal-selected.data": {"id": t["appointment"], "opened": 0},
            "cal-version.data": 1,
            "cal-refresh.data": 0,
        },
        (lambda t: pattern, "n_clicks"),
        label=action,
    )


def _admin_edit(page: str, kind: str, extra: dict[str, Any] | None = None) -> list[Forgery]:
    """Open, save and (de)activate someone else's record from an admin page's form."""
    edit_values, edit_trigger = _click(f"{page}-edit", "index", lambda t: t[kind])
    return [
        Forgery(f"{page}-modal.is_open", edit_values, edit_trigger, label="edit"),
        Forgery(
            f"{page}-modal.is_open",
            lambda t, o: {
                f"{page}-save.n_clicks": 1,
                f"{page}-editing.data": t[kind],
                **(extra or {}),
            },
            f"{page}-save.n_clicks",
            label="save",
        ),
        Forgery(
            f"{page}-modal.is_open",
            lambda t, o: {
                _all({"index": None, "type": f"{page}-confirm"}): [
                    ({"type": f"{page}-confirm", "index": 0}, 1)
                ],
                f"{page}-editing.data": t[kind],
                f"{page}-pending.data": {
                    "action": f"{page}-{'end-block' if page == 'schedules' else 'toggle'}",
                    "ids": [t["appointment"]],
                },
            },
            (lambda t: {"type": f"{page}-confirm", "index": 0}, "n_clicks"),
            label="confirm",
        ),
    ]


SCHEDULE_FORM = {
    "schedules-weekday.value": "5",
    "schedules-start.value": "09:00",
    "schedules-end.value": "12:00",
    "schedules-slot_minutes.value": 30,
    "schedules-capacity.value": 1,
    "schedules-valid_from.value": "2026-04-01",
    "schedules-last_day.value": "2026-04-30",
}

FORGERIES: list[Forgery] = [
    # Page routing: ids in the address prefill the page.
    *[
        Forgery(
            "_pages_content.children",
            lambda t, o, path=path: {
                "_pages_location.pathname": path.split("?")[0],
                "_pages_location.search": "?" + path.split("?")[1].format(**t),
            },
            label=path.split("?")[0],
        )
        for path in (
            "/book?patient={patient}&practitioner={practitioner}&clinic={clinic}&type={type}",
            "/calendar?practitioner={practitioner}&clinic={clinic}&date=2026-03-19",
            "/availability?clinic={clinic}&type={type}",
            "/admin/schedules?practitioner={practitioner}&clinic={clinic}",
            "/analytics?start=2026-03-01&end=2026-03-31&clinic={clinic}"
            "&practitioner={practitioner}&type={type}",
        )
    ],
    # Analytics: each filter alone names the other organization's record.
    *[
        Forgery(
            output,
            lambda t, o, kind=kind, trigger=trigger: {
                **trigger,
                "an-start.value": "2026-03-01",
                "an-end.value": "2026-03-31",
                **{
                    f"an-{k}.value": t[k] if k == kind else None
                    for k in ("clinic", "practitioner", "type")
                },
            },
            label=kind,
        )
        for output, trigger in (
            ("an-kpis.children", {}),
            ("an-download.data", {"an-download-button.n_clicks": 1}),
        )
        for kind in ("clinic", "practitioner", "type")
    ],
    # Availability.
    Forgery(
        "av-clinic-view.children",
        lambda t, o: {
            "av-clinic.value": t["clinic"],
            "av-start.value": "2026-03-19",
            "av-end.value": "2026-03-25",
            "av-type.value": t["type"],
        },
    ),
    Forgery(
        "av-day-list.children",
        lambda t, o: {
            "av-day.value": "2026-03-19",
            "av-type.value": t["type"],
            "av-clinic.value": None,
        },
    ),
    Forgery(
        "av-clinic.value",
        lambda t, o: {
            _all({"clinic": None, "type": "av-pick", "where": None}): [
                ({"type": "av-pick", "clinic": t["clinic"], "where": "x"}, 1)
            ],
            "av-clinic.value": 0,
        },
        (lambda t: {"type": "av-pick", "clinic": t["clinic"], "where": "x"}, "n_clicks"),
        echo=True,
    ),
    # Booking.
    Forgery(
        "book-patient.options",
        lambda t, o: {"book-patient-search.value": "Zeppelin", "book-patient.value": t["patient"]},
    ),
    Forgery(
        "book-practitioner.options",
        lambda t, o: {"book-specialty.value": None, "book-practitioner.value": t["practitioner"]},
    ),
    Forgery(
        "book-clinic.options",
        lambda t, o: {
            "book-practitioner.value": t["practitioner"],
            "book-clinic.value": t["clinic"],
        },
    ),
    Forgery("book-duration.value", lambda t, o: {"book-appointment_type.value": t["type"]}),
    *[
        Forgery(
            "book-start.options",
            lambda t, o, pick=pick: {
                "book-practitioner.value": (t if "p" in pick else o)["practitioner"],
                "book-clinic.value": (t if "c" in pick else o)["clinic"],
                "book-date.value": THURSDAY.isoformat(),
                "book-appointment_type.value": (t if "t" in pick else o)["type"],
                "book-duration.value": 30,
            },
            label=pick,
        )
        for pick in ("pct", "p", "c", "t")
    ],
    *[
        Forgery(
            "book-result.children",
            _merge(
                _book_form(lambda k, field=field: field in (k, "all")),
                lambda t, o: {"book-submit.n_clicks": 1},
            ),
            "book-submit.n_clicks",
            label=field,
        )
        for field in ("all", "patient", "practitioner", "clinic", "type")
    ],
    # A recurring series: its preview reads every id, and "Book selected" books.
    *[
        Forgery(
            "book-preview-table.children",
            _merge(
                _book_form(lambda k, field=field: field in (k, "all")),
                lambda t, o, trigger=trigger: {
                    f"book-{trigger}.n_clicks": 1,
                    "book-repeat-weeks.value": 1,
                    "book-repeat-end.value": "count",
                    "book-repeat-count.value": 3,
                    "book-repeat-until.value": None,
                    _all({"start": None, "type": "book-occurrence"}, "value"): [
                        ({"type": "book-occurrence", "start": "2026-03-19T14:00:00+00:00"}, True)
                    ],
                },
            ),
            f"book-{trigger}.n_clicks",
            label=f"{trigger}-{field}",
        )
        for trigger in ("preview", "book-series")
        for field in ("all", "patient", "practitioner", "clinic", "type")
    ],
    Forgery(
        "book-hold-note.children",
        lambda t, o: {
            "book-start.value": "2026-03-19T14:00:00+00:00",
            "book-practitioner.value": t["practitioner"],
            "book-clinic.value": t["clinic"],
            "book-appointment_type.value": t["type"],
            "book-duration.value": 30,
        },
        "book-start.value",
    ),
    # Waitlist.
    Forgery(
        "waitlist-patient.options",
        lambda t, o: {
            "waitlist-patient-search.value": "Zeppelin",
            "waitlist-patient.value": t["patient"],
        },
    ),
    Forgery(
        "waitlist-flash.children",
        *_click("waitlist-book", "index", lambda t: t["offer"]),
        label="book",
    ),
    Forgery(
        "waitlist-flash.children",
        *_click("waitlist-decline", "index", lambda t: t["offer"]),
        label="decline",
    ),
    Forgery(
        "waitlist-flash.children",
        *_click("waitlist-remove", "index", lambda t: t["entry"]),
        label="remove",
    ),
    *[
        Forgery(
            "waitlist-form-result.children",
            lambda t, o, field=field: {
                "waitlist-add.n_clicks": 1,
                "waitlist-patient.value": (t if field in ("all", "patient") else o)["patient"],
                "waitlist-practitioner.value": (t if field in ("all", "practitioner") else o)[
                    "practitioner"
                ],
                "waitlist-type.value": (t if field in ("all", "type") else o)["type"],
                "waitlist-clinic.value": (t if field in ("all", "clinic") else o)["clinic"],
                "waitlist-from.value": "2026-03-19",
                "waitlist-until.value": "2026-03-31",
            },
            "waitlist-add.n_clicks",
            label=field,
        )
        for field in ("all", "patient", "practitioner", "clinic", "type")
    ],
    # Calendar and the appointment panel.
    Forgery("cal-grid.children", _cal("practitioner"), label="practitioner"),
    Forgery("cal-grid.children", _cal("clinic"), label="clinic"),
    Forgery(
        "cal-panel-body.children",
        lambda t, o: {"cal-selected.data": {"id": t["appointment"], "opened": 0}},
    ),
    Forgery(
        "cal-panel.is_open",
        *_click("cal-appt", "id", lambda t: t["appointment"]),
        echo=True,
    ),
    *[_act(a) for a in ("checked-in", "cancelled", "no-show", "move")],
    Forgery(
        '{"appointment":["MATCH"],"type":"cal-move-start"}.options',
        lambda t, o: {
            '{"appointment":["MATCH"],"type":"cal-move-date"}.value': (
                {"type": "cal-move-date", "appointment": t["appointment"]},
                "2026-03-20",
            )
        },
        match=lambda t: {"type": "cal-move-start", "appointment": t["appointment"]},
    ),
    # Administration.
    *_admin_edit(
        "clinics",
        "clinic",
        {
            "clinics-name.value": "Renamed",
            "clinics-timezone.value": "UTC",
            "clinics-address.value": "x",
        },
    ),
    *_admin_edit(
        "practitioners",
        "practitioner",
        {"practitioners-name.value": "Renamed", "practitioners-specialty.value": "x"},
    ),
    *_admin_edit(
        "schedules",
        "schedule",
        {
            **SCHEDULE_FORM,
            "schedules-clinic.value": None,
            "schedules-practitioner.value": None,
        },
    ),
    *[
        Forgery(
            "schedules-modal.is_open",
            lambda t, o, pick=pick: {
                "schedules-save.n_clicks": 1,
                **SCHEDULE_FORM,
                "schedules-practitioner.value": str((t if "p" in pick else o)["practitioner"]),
                "schedules-clinic.value": str((t if "c" in pick else o)["clinic"]),
                "schedules-appointment_type.value": str((t if "t" in pick else o)["type"]),
            },
            "schedules-save.n_clicks",
            label=f"new {pick}",
        )
        for pick in ("pct", "p", "c", "t")
    ],
    Forgery(
        "schedules-modal.is_open",
        lambda t, o: {
            "schedules-end-block.n_clicks": 1,
            "schedules-editing.data": t["schedule"],
            "schedules-last_day.value": "2026-04-30",
        },
        "schedules-end-block.n_clicks",
        label="end block",
    ),
    Forgery(
        "schedules-grid.children",
        lambda t, o: {
            "schedules-view.value": "practitioner",
            "schedules-pick-practitioner.value": t["practitioner"],
            "schedules-week.value": THURSDAY.isoformat(),
        },
        label="practitioner",
    ),
    Forgery(
        "schedules-grid.children",
        lambda t, o: {
            "schedules-view.value": "clinic",
            "schedules-pick-clinic.value": t["clinic"],
            "schedules-week.value": THURSDAY.isoformat(),
        },
        label="clinic",
    ),
    *[
        Forgery(
            "exceptions-flash.children",
            lambda t, o, pick=pick, reason=reason: {
                "exceptions-save.n_clicks": 1,
                "exceptions-reason.value": reason,
                "exceptions-practitioner.value": str((t if "p" in pick else o)["practitioner"]),
                "exceptions-clinic.value": str((t if "c" in pick else o)["clinic"]),
                "exceptions-start_date.value": "2026-04-06",
                "exceptions-end_date.value": "2026-04-07",
                "exceptions-part_day.value": False,
                "exceptions-note.value": "forged",
            },
            "exceptions-save.n_clicks",
            label=f"{reason} {pick}",
        )
        for reason, pick in (("leave", "pc"), ("leave", "p"), ("leave", "c"), ("holiday", "c"))
    ],
    # Before the withdrawal: its control run withdraws A's own leave.
    Forgery(
        "exceptions-collisions.children",
        *_click("exceptions-show", "index", lambda t: t["leave"]),
    ),
    Forgery(
        "exceptions-flash.children",
        *_click("exceptions-withdraw", "index", lambda t: t["leave"]),
        label="withdraw",
    ),
    Forgery(
        "exceptions-zone-hint.children",
        lambda t, o: {
            "exceptions-reason.value": "leave",
            "exceptions-practitioner.value": str(t["practitioner"]),
            "exceptions-clinic.value": str(t["clinic"]),
        },
    ),
    Forgery(
        "practitioners-assign-modal.is_open",
        *_click("practitioners-assign", "index", lambda t: t["practitioner"]),
        label="open",
    ),
    *[
        Forgery(
            "practitioners-assign-modal.is_open",
            lambda t, o, state=state, button=button: {
                **_click(f"practitioners-{button}", "index", lambda t: t["assignment"])[0](t, o),
                "practitioners-assigning.data": state(t, o),
            },
            _click(f"practitioners-{button}", "index", lambda t: t["assignment"])[1],
            label=f"{button} {name}",
        )
        for button in ("assign-edit", "assign-remove")
        for name, state in (
            ("theirs", lambda t, o: {"practitioner": t["practitioner"], "assignment": None}),
            ("mine", lambda t, o: {"practitioner": o["practitioner"], "assignment": None}),
        )
    ],
    *[
        Forgery(
            "practitioners-assign-modal.is_open",
            lambda t, o, state=state: {
                "practitioners-assign-save.n_clicks": 1,
                "practitioners-clinic.value": str(state(t, o)[1]),
                "practitioners-active_from.value": "2026-04-01",
                "practitioners-assigning.data": state(t, o)[0],
            },
            "practitioners-assign-save.n_clicks",
            label=f"save {name}",
        )
        for name, state in (
            (
                "their practitioner",
                lambda t, o: ({"practitioner": t["practitioner"], "assignment": None}, o["clinic"]),
            ),
            (
                "their clinic",
                lambda t, o: ({"practitioner": o["practitioner"], "assignment": None}, t["clinic"]),
            ),
            (
                "their assignment",
                lambda t, o: (
                    {"practitioner": o["practitioner"], "assignment": t["assignment"]},
                    o["clinic"],
                ),
            ),
        )
    ],
    Forgery(
        "practitioners-assign-modal.is_open",
        lambda t, o: {
            "practitioners-assign-new.n_clicks": 1,
            "practitioners-assigning.data": {"practitioner": t["practitioner"], "assignment": None},
        },
        "practitioners-assign-new.n_clicks",
        label="new",
    ),
    Forgery(
        "practitioners-assign-modal.is_open",
        lambda t, o: {
            _all({"index": None, "type": "practitioners-assign-confirm"}): [
                ({"type": "practitioners-assign-confirm", "index": 0}, 1)
            ],
            "practitioners-active_from.value": "2026-03-01",
            "practitioners-active_to.value": "2026-03-20",
            "practitioners-assigning.data": {
                "practitioner": t["practitioner"],
                "assignment": t["assignment"],
                "ids": [t["appointment"]],
            },
        },
        (lambda t: {"type": "practitioners-assign-confirm", "index": 0}, "n_clicks"),
        label="confirm",
    ),
    *[
        Forgery(
            "import-report.children",
            lambda t, o, who=who: _csv(
                t, o, prac=t if "p" in who else o, clinic=t if "c" in who else o
            ),
            "import-upload.contents",
            label=who,
        )
        for who in ("pc", "p", "c")
    ],
    # Today: whose day, the one-click steps (at the version shown) and the panel.
    *[
        Forgery(
            "today-counts.children",
            lambda t, o, kind=kind: {
                "today-who.value": f"{kind[0]}-{t[kind]}",
                "today-cancelled.value": True,
                "today-refresh.data": 0,
            },
            label=kind,
        )
        for kind in ("practitioner", "clinic")
    ],
    Forgery(
        "today-feedback.children",
        lambda t, o: {
            _all({"id": None, "status": None, "type": "today-step", "version": None}): [
                ({"type": "today-step", "id": t["today"], "status": "arrived", "version": 1}, 1)
            ],
            "today-refresh.data": 0,
        },
        (
            lambda t: {"type": "today-step", "id": t["today"], "status": "arrived", "version": 1},
            "n_clicks",
        ),
    ),
    Forgery(
        "today-panel.is_open",
        *_click("today-more", "id", lambda t: t["today"]),
        echo=True,
    ),
    Forgery(
        "today-panel-body.children",
        lambda t, o: {"today-selected.data": {"id": t["today"], "opened": 0}},
    ),
    *[
        Forgery(
            "today-panel-result.data",
            lambda t, o, action=action: {
                _all({"action": None, "type": "today-act"}): [
                    ({"type": "today-act", "action": action}, 1)
                ],
                _all({"name": None, "type": "today-field"}, "value"): [
                    ({"type": "today-field", "name": "reason"}, "forged"),
                    ({"type": "today-field", "name": "category"}, "patient-initiated"),
                    ({"type": "today-field", "name": "comment"}, "forged"),
                ],
                "today-selected.data": {"id": t["today"], "opened": 0},
                "today-version.data": 1,
                "today-refresh.data": 0,
            },
            (lambda t, action=action: {"type": "today-act", "action": action}, "n_clicks"),
            label=action,
        )
        for action in ("confirmed", "no-show", "cancelled")
    ],
    # Activity: marking another's notification read, and a feed page after another's event.
    Forgery(
        "activity-notes-refresh.data",
        *_click("activity-read", "id", lambda t: t["notification"]),
    ),
    Forgery(
        "activity-feed.children",
        lambda t, o: {
            "activity-cursor.data": [{"id": t["event"]}],
            "activity-important.value": False,
        },
    ),
    Forgery(
        "activity-cursor.data",
        lambda t, o: {
            "activity-older.n_clicks": 1,
            "activity-cursor.data": [],
            "activity-last.data": {"id": t["event"]},
        },
        "activity-older.n_clicks",
        echo=True,
    ),
]

# Callbacks that take no record ids: the organization and everything else they read come
# from the session (sign-in, own account, own settings, navigation, version counters).
NO_IDS = {
    "login-feedback.children",
    "account-feedback.children",
    "settings-feedback.children",
    "settings-staff.children",
    "cal-date.value",
    "schedules-week.value",
    "import-download.data",
    "practitioners-table.children",
    "exceptions-list.children",
    # The waitlist as the session's organization has it.
    "waitlist-lists.children",
    # Shows or hides the series fields by the "repeat" switch and how the series ends.
    "book-repeat-box.is_open",
    # The session's user's own unread notifications, listed again after a change.
    "activity-notes.children",
    # The bell: the session's user's unread count, at each page change and every minute.
    "shell-unread.children",
}


def _first_output(key: str) -> str:
    return key.strip(".").split("...")[0]


def _callback_of(world: World, output: str) -> str:
    return next(
        k
        for k, cb in world.app.callback_map.items()
        if "callback" in cb and output in key_outputs(k)
    )


def key_outputs(key: str) -> list[str]:
    if key.startswith("..") and key.endswith(".."):
        return key[2:-2].split("...")
    return [key]


# --------------------------------------------------------------------------- world


@dataclass
class Isolation:
    world: World
    theirs: Ids
    mine: Ids
    admin: DashClient = field(init=False)

    def __post_init__(self) -> None:
        self.admin = self.world.signed_in("admin", "a")


@pytest.fixture(scope="module")
def isolation(access_world: World) -> Isolation:
    """B's records of every kind (and A's own type), with names to look for."""
    w = access_world
    ids: dict[str, Ids] = {}
    with w.db.transaction() as s:
        for key in ("a", "b"):
            org = s.get_one(Organization, w.org_ids[key])
            prac = s.get_one(Practitioner, w.practitioner_ids[key])
            clinic = s.get_one(Clinic, w.clinic_ids[key])
            kind = make_type(
                s, org, "follow-up", 30, name=f"{'B-only' if key == 'b' else 'A'} visit"
            )
            patient = (
                make_patient(s, org, given_name="Brunhilde", family_name="Zeppelin")
                if key == "b"
                else s.get_one(Patient, w.patient_ids[key])
            )
            visit = make_appointment(
                s,
                patient,
                prac,
                clinic,
                kind,
                datetime(2026, 3, 19, 18, 0, tzinfo=UTC),
                notes=f"Confidential note of {key.upper()}",
            )
            leave = make_exception(
                s,
                org,
                datetime(2026, 4, 13, 4, tzinfo=UTC),
                datetime(2026, 4, 14, 4, tzinfo=UTC),
                practitioner=prac,
            )
            entry = WaitlistEntry(
                organization_id=org.id,
                patient_id=patient.id,
                practitioner_id=prac.id,
                appointment_type_id=kind.id,
                earliest_date=date(2026, 3, 19),
                latest_date=date(2026, 3, 31),
                status="offered",
                created_by="test",
            )
            s.add(entry)
            s.flush()
            offer_start = datetime(2026, 3, 20, 14, 0, tzinfo=UTC)
            offer = WaitlistOffer(
                organization_id=org.id,
                entry_id=entry.id,
                practitioner_id=prac.id,
                clinic_id=clinic.id,
                start_at=offer_start,
                end_at=datetime(2026, 3, 20, 14, 30, tzinfo=UTC),
                offered_at=datetime(2026, 3, 18, tzinfo=UTC),
                expires_at=datetime(2026, 3, 25, tzinfo=UTC),
                status="open",
            )
            s.add(offer)
            s.flush()
            s.add(
                SlotHold(
                    organization_id=org.id,
                    practitioner_id=prac.id,
                    clinic_id=clinic.id,
                    start_at=offer.start_at,
                    end_at=offer.end_at,
                    expires_at=offer.expires_at,
                    waitlist_offer_id=offer.id,
                )
            )
            # On the clock's day, for Today; A's is the one its own-id controls change.
            today = make_appointment(
                s, patient, prac, clinic, kind, datetime(2026, 3, 18, 17, 0, tzinfo=UTC)
            )
            name = "Brunhilde Zeppelin" if key == "b" else "A patient"
            # Two events before anything the tests do: a feed cursor at the newer one
            # pages on to the older one.
            events = [
                ActivityEvent(
                    organization_id=org.id,
                    event_type="APPOINTMENT_CREATED",
                    appointment_id=visit.id,
                    payload={"patient_name": name, "practitioner_name": prac.name},
                    created_at=datetime(2026, 3, 17, hour, tzinfo=UTC),
                )
                for hour in (10, 11)
            ]
            s.add_all(events)
            s.flush()
            # Addressed to the administrators by role: only the organization tells
            # A's administrator from B's.
            notification = Notification(
                organization_id=org.id,
                event_id=events[-1].id,
                recipient_kind="role",
                recipient_role="admin",
                priority="high",
                channel="in-app",
                title=f"Notice for {key.upper()}",
                body=f"Confidential note of {key.upper()}",
                created_at=datetime(2026, 3, 17, 11, tzinfo=UTC),
            )
            s.add(notification)
            s.flush()
            ids[key] = {
                "today": today.id,
                "notification": notification.id,
                "event": events[-1].id,
                "entry": entry.id,
                "offer": offer.id,
                "patient": patient.id,
                "practitioner": prac.id,
                "clinic": clinic.id,
                "appointment": visit.id,
                "type": kind.id,
                "schedule": s.scalars(
                    select(Schedule.id).where(Schedule.practitioner_id == prac.id)
                ).first(),
                "leave": leave.id,
                "assignment": s.scalars(
                    select(ClinicAssignment.id).where(ClinicAssignment.practitioner_id == prac.id)
                ).first(),
            }
    for org_id in w.org_ids.values():
        invalidate_organization(w.app.server.extensions["clinic"], org_id)
    return Isolation(w, ids["b"], ids["a"])


def _snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the sign-in bookkeeping."""
    skip = {"login_failures", "users"}
    out = {}
    with world.db.read() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in skip:
                continue
            rows = s.execute(select(table)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _send(client: DashClient, f: Forgery, target: Ids, own: Ids) -> Answer:
    values = f.values(target, own)
    key = _callback_of_client(client, f.output)
    dep = next(d for d in client.dependencies() if d["output"] == key)
    names = {f"{d['id']}.{d['property']}" for d in dep["inputs"]}
    inputs = {k: v for k, v in values.items() if k in names}
    state = {k: v for k, v in values.items() if k not in names}
    payload = client.payload(f.output, inputs, state)
    if isinstance(f.trigger, tuple):
        ident, prop = f.trigger
        payload["changedPropIds"] = [f"{dom_id(ident(target))}.{prop}"]
    elif f.trigger:
        payload["changedPropIds"] = [f.trigger]
    if f.match is not None:
        concrete = f.match(target)
        payload["outputs"]["id"] = concrete
        first = payload["inputs"][0]
        payload["changedPropIds"] = [f"{dom_id(first['id'])}.{first['property']}"]
        assert concrete
    return client.post_callback(payload)


def _callback_of_client(client: DashClient, output: str) -> str:
    return client.callback_key(output)


def _normalized(answer: Answer, ghost_to_target: dict[int, int]) -> str:
    text = answer.text
    for ghost, target in ghost_to_target.items():
        text = text.replace(str(ghost), str(target))
    # Answers carry the moment they were made (the panel's outcome, a re-check stamp).
    return re.sub(r"\b\d{9,}\.\d+", "<time>", text)


def _case_id(f: Forgery) -> str:
    name = f.output.rsplit(".", 1)[0]
    name = json.loads(name)["type"] if name.startswith("{") else name
    return f"{name}:{f.label}" if f.label else name


@pytest.mark.parametrize("forgery", FORGERIES, ids=[_case_id(f) for f in FORGERIES])
def test_another_organizations_ids_read_and_change_nothing(
    isolation: Isolation, forgery: Forgery
) -> None:
    before = _snapshot(isolation.world)
    forged = _send(isolation.admin, forgery, isolation.theirs, isolation.mine)
    ghost = _send(isolation.admin, forgery, GHOST, isolation.mine)
    assert forged.status < 500, forged.text
    leaked = [s for s in SECRETS if s in forged.text]
    assert not leaked, (leaked, forged.text[:2000])
    back = {GHOST[k]: isolation.theirs[k] for k in KINDS}
    assert (forged.status, _normalized(forged, {})) == (ghost.status, _normalized(ghost, back))
    assert _snapshot(isolation.world) == before
    # The control: the same request naming A's own records is answered differently, so
    # the forged one did reach the lookup of the ids it carries (and was refused there).
    own = _send(isolation.admin, forgery, isolation.mine, isolation.mine)
    assert own.status == 200, own.text
    if forgery.echo:
        return
    to_mine = {GHOST[k]: isolation.mine[k] for k in KINDS}
    assert _normalized(own, {}) != _normalized(ghost, to_mine), own.text[:1000]


def test_every_callback_is_either_forged_or_takes_no_ids(isolation: Isolation) -> None:
    world = isolation.world
    forged = {_callback_of(world, f.output) for f in FORGERIES}
    quiet = {_callback_of(world, o) for o in NO_IDS}
    every = {k for k, cb in world.app.callback_map.items() if "callback" in cb}
    unlisted = sorted(_first_output(k) for k in every - forged - quiet)
    assert not unlisted, f"add forgeries with another organization's ids for: {unlisted}"
    assert not forged & quiet
    # A callback listed as taking no ids must not read one from its inputs.
    idish = re.compile(
        r"patient|practitioner|clinic|appointment|type\b|selected|editing|"
        # Pages take record ids from the query string only (no path templates): a
        # callback that follows the pathname alone (the bell) reads none.
        r"pending|assigning|who|index|pick|upload|_pages_location\.search|cursor|last\b"
    )
    for key in quiet:
        cb = world.app.callback_map[key]
        # Without the page's prefix ("practitioners-"), which names no record.
        names = [
            f"{str(d['id']).split('-', 1)[-1]}.{d['property']}" for d in cb["inputs"] + cb["state"]
        ]
        assert not [n for n in names if idish.search(n)], (key, names)


def test_pages_opened_with_another_organizations_ids_in_the_address_show_none_of_it(
    isolation: Isolation,
) -> None:
    t = isolation.theirs
    for path in (
        f"/book?patient={t['patient']}&practitioner={t['practitioner']}&clinic={t['clinic']}",
        f"/calendar?practitioner={t['practitioner']}&clinic={t['clinic']}&date=2026-03-19",
        f"/availability?clinic={t['clinic']}&type={t['type']}",
        f"/admin/schedules?practitioner={t['practitioner']}&clinic={t['clinic']}",
    ):
        answer = isolation.admin.get(path)
        assert answer.status == 200, path
        assert not [s for s in SECRETS if s in answer.text], path
    assert dash.page_registry  # the paths above are registered pages
