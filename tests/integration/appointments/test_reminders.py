"""Timed reminders reach patients once, at the right time, for the time they will come.

The world's clock starts on Monday 7 January 2030, 08:00 in New York; the organization
reminds 48 h and 2 h before. E-mail goes to a real SMTP server on 127.0.0.1 (aiosmtpd).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data.models import Appointment, AppointmentReminder, Notification, Patient
from domain.activity import get_appointment_history
from domain.appointments import cancel_appointment, update_appointment
from domain.channels import EmailChannel, InAppChannel
from domain.reminders import (
    ReminderSettingsError,
    get_reminder_settings,
    send_due_reminders,
    set_reminder_settings,
)
from settings import Settings
from tests.integration.appointments.conftest import (
    MONDAY,
    THURSDAY,
    TUESDAY,
    WEDNESDAY,
    World,
    at,
    build_world,
)
from tests.smtp import SmtpSink

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def sink() -> SmtpSink:
    with SmtpSink() as running:
        yield running  # type: ignore[misc]


def _mail_settings(world: World, sink: SmtpSink) -> Settings:
    return Settings(
        database_url=world.db.url,
        smtp_host=sink.host,
        smtp_port=sink.port,
        smtp_security="none",
        smtp_sender="reminders@clinic.test",
    )


def _channels(world: World, sink: SmtpSink) -> dict:
    return {"email": EmailChannel(_mail_settings(world, sink)), "in-app": InAppChannel()}


def _remind(world: World, sink: SmtpSink, **kw):  # type: ignore[no-untyped-def]
    return send_due_reminders(world.ctx, channels=_channels(world, sink), **kw)


def _switch_on(world: World, offsets: tuple[str, ...] = ("48h", "2h")) -> None:
    set_reminder_settings(world.ctx, world.admin, world.org_id, offsets)


def _rows(world: World, appointment_id: int) -> list[tuple[int, str, datetime]]:
    with world.db.read() as s:
        return [
            (r.offset_minutes, r.status, r.start_at)
            for r in s.scalars(
                select(AppointmentReminder)
                .where(AppointmentReminder.appointment_id == appointment_id)
                .order_by(AppointmentReminder.start_at, AppointmentReminder.offset_minutes)
            )
        ]


def _notifications(world: World, where: object) -> list:  # type: ignore[type-arg]
    with world.db.read() as s:
        rows = s.execute(
            select(Notification.recipient_role, Notification.title, Notification.body).where(where)
        )
        return list(rows)


def _reminder_sent_flag(world: World, appointment_id: int) -> bool:
    with world.db.read() as s:
        return bool(
            s.scalar(select(Appointment.reminder_sent).where(Appointment.id == appointment_id))
        )


def test_reminder_settings_are_validated_and_audited(world: World) -> None:
    assert get_reminder_settings(world.ctx, world.org_id).offsets_minutes == ()
    saved = set_reminder_settings(world.ctx, world.admin, world.org_id, ["2h", "48h"], ["email"])
    assert saved.offsets_minutes == (2880, 120) and saved.channels == ("email",)
    assert get_reminder_settings(world.ctx, world.org_id) == saved
    for bad in (["5m"], ["2h", "120"], ["soon"], ["31d"]):
        with pytest.raises(ReminderSettingsError):
            set_reminder_settings(world.ctx, world.admin, world.org_id, bad)
    with pytest.raises(ReminderSettingsError, match="channel"):
        set_reminder_settings(world.ctx, world.admin, world.org_id, ["2h"], ["sms"])
    from domain.permissions import PermissionDenied

    with pytest.raises(PermissionDenied):
        set_reminder_settings(world.ctx, world.front_desk, world.org_id, ["2h"])
    from domain.activity import get_activity_feed

    changed = [
        e for e in get_activity_feed(world.ctx, world.org_id) if e.event_type == "SETTINGS_CHANGED"
    ]
    assert len(changed) == 1
    assert changed[0].payload["changes"]["reminder_offsets_minutes"]["after"] == [2880, 120]


def test_a_due_reminder_is_emailed_once_with_the_visit_details(
    world: World, sink: SmtpSink
) -> None:
    _switch_on(world)
    visit = world.book(at(WEDNESDAY, 10))
    assert _remind(world, sink).total_sent == 0  # Monday 08:00: nothing due yet

    world.now = at(MONDAY, 10, 5)  # 47 h 55 before
    report = _remind(world, sink)
    assert report.sent == {"email": 1}
    assert sink.recipients() == ["Pat0 Doe <p0@example.org>"]
    body = sink.bodies()[0]
    assert "Wed 09 Jan 2030, 10:00–10:30" in body
    assert "Dr. Ada Lovelace" in body and "Main clinic" in body
    assert sink.messages[0]["Subject"] == "Reminder: Follow up on Wed 09 Jan at 10:00"
    assert _rows(world, visit.id) == [(2880, "sent", visit.start_at)]
    assert _reminder_sent_flag(world, visit.id)
    history = get_appointment_history(world.ctx, world.org_id, visit.id)
    assert history[-1].summary.startswith("Reminder sent to Pat0 Doe by e-mail (48 h before")

    world.now = at(MONDAY, 11)
    assert _remind(world, sink).total_sent == 0  # once only
    world.now = at(WEDNESDAY, 8, 1)
    assert _remind(world, sink).sent == {"email": 1}
    assert len(sink.messages) == 2


def test_a_cancelled_appointment_is_not_reminded(world: World, sink: SmtpSink) -> None:
    _switch_on(world)
    visit = world.book(at(WEDNESDAY, 10))
    cancel_appointment(world.ctx, world.org_id, visit.id, world.front_desk, "patient-initiated")
    world.now = at(WEDNESDAY, 9)
    assert _remind(world, sink).total_sent == 0
    assert sink.messages == [] and _rows(world, visit.id) == []


def test_a_moved_appointment_is_reminded_of_its_new_time_and_never_its_old_one(
    world: World, sink: SmtpSink
) -> None:
    _switch_on(world)
    visit = world.book(at(WEDNESDAY, 10))
    # The 48 h reminder falls due while the mail server is down: it waits for a retry.
    world.now = at(MONDAY, 10, 5)
    sink.stop()
    down = _remind(world, sink)
    assert down.retrying == 1 and down.total_sent == 0
    with world.db.read() as s:
        failed = s.scalars(select(AppointmentReminder)).one()
        assert failed.status == "failed" and "could not reach the SMTP server" in str(failed.detail)
        assert failed.next_attempt_at == at(MONDAY, 10, 10)

    # Moved to Thursday before the retry: the old time's reminder must never go out.
    world.now = at(MONDAY, 10, 8)
    moved = update_appointment(
        world.ctx, world.org_id, visit.id, world.coordinator, start=at(THURSDAY, 10)
    )
    restarted = SmtpSink().start()
    try:
        world.now = at(MONDAY, 10, 30)
        report = _remind(world, restarted)
        assert report.total_sent == 0 and report.skipped == {"moved": 1}
        world.now = at(TUESDAY, 10, 1)
        assert _remind(world, restarted).sent == {"email": 1}
        assert "Thu 10 Jan 2030, 10:00–10:30" in restarted.bodies()[0]
        world.now = at(WEDNESDAY, 8, 30)  # the old time's 2 h reminder would be due now
        assert _remind(world, restarted).total_sent == 0
        world.now = at(THURSDAY, 8, 30)
        assert _remind(world, restarted).sent == {"email": 1}
        assert all("Thu 10 Jan" in b for b in restarted.bodies())
    finally:
        restarted.stop()
    assert _rows(world, visit.id) == [
        (2880, "skipped", visit.start_at),
        (120, "sent", moved.start_at),
        (2880, "sent", moved.start_at),
    ]


def test_reminders_that_fell_due_before_the_booking_or_together_go_out_once(
    world: World, sink: SmtpSink
) -> None:
    _switch_on(world)
    world.now = at(WEDNESDAY, 0)
    late = world.book(at(WEDNESDAY, 10))  # booked 10 h ahead: the 48 h one was due before
    assert _remind(world, sink).total_sent == 0
    assert _rows(world, late.id) == [(2880, "skipped", late.start_at)]
    # Nobody ran the job for two days: of the two reminders due, the closest goes out.
    world.now = at(MONDAY, 8)
    missed = world.book(at(WEDNESDAY, 11), patient=world.patient_ids[1])
    world.now = at(WEDNESDAY, 9, 30)
    report = _remind(world, sink)
    assert report.sent == {"email": 2} and report.skipped == {"superseded": 1}
    assert _rows(world, missed.id) == [
        (120, "sent", missed.start_at),
        (2880, "skipped", missed.start_at),
    ]


def test_a_patient_without_email_is_phoned_by_the_front_desk(world: World, sink: SmtpSink) -> None:
    _switch_on(world)
    with world.db.transaction() as s:
        patient = s.get_one(Patient, world.patient_ids[2])
        patient.email, patient.phone = None, "555-0102"
    visit = world.book(at(WEDNESDAY, 10), patient=world.patient_ids[2])
    world.now = at(WEDNESDAY, 8, 1)
    assert _remind(world, sink).sent == {"in-app": 1}
    assert sink.messages == []
    (call,) = _notifications(world, Notification.title.like("Reminder call%"))
    assert call.recipient_role == "front-desk" and "555-0102" in call.body
    assert "Wed 09 Jan 2030, 10:00–10:30" in call.body
    assert _reminder_sent_flag(world, visit.id)


def test_a_refused_address_fails_for_good_and_the_front_desk_is_told(world: World) -> None:
    _switch_on(world)
    visit = world.book(at(WEDNESDAY, 10))
    world.now = at(WEDNESDAY, 8, 1)
    with SmtpSink(refuse=("p0@example.org",)) as refusing:
        report = _remind(world, refusing)
    assert report.abandoned == 1 and report.total_sent == 0
    assert _rows(world, visit.id)[0][1] == "abandoned"
    assert not _reminder_sent_flag(world, visit.id)
    (told,) = _notifications(world, Notification.priority == "high")
    assert told.recipient_role == "front-desk" and "550" in told.body
    history = get_appointment_history(world.ctx, world.org_id, visit.id)
    assert "could not be delivered" in history[-1].summary
    # Not retried.
    world.now = at(WEDNESDAY, 9)
    with SmtpSink() as fine:
        assert _remind(world, fine).total_sent == 0


# --------------------------------------------------------------------------- concurrency

APPOINTMENTS = 24


@pytest.fixture
def busy(db) -> World:  # type: ignore[no-untyped-def]
    world = build_world(db, patients=APPOINTMENTS)
    _switch_on(world)
    for i, patient in enumerate(world.patient_ids):
        day = WEDNESDAY if i < 16 else THURSDAY
        world.book(at(day, 9) + timedelta(minutes=30 * (i % 16)), patient=patient)
    return world


def _sent_once_each(world: World, sink: SmtpSink) -> None:
    recipients = sink.recipients()
    assert len(recipients) == APPOINTMENTS
    assert len(set(recipients)) == APPOINTMENTS, "a patient got the same reminder twice"
    with world.db.read() as s:
        sent = s.scalar(select(func.count()).where(AppointmentReminder.status == "sent"))
    assert sent == APPOINTMENTS


def test_two_runners_at_the_same_time_send_each_reminder_once(busy: World) -> None:
    busy.now = at(WEDNESDAY, 7, 0)  # Wednesday's 2 h and Thursday's 48 h reminders are due
    with SmtpSink(delay=0.01) as sink:
        barrier = threading.Barrier(2)
        reports = []

        def runner() -> None:
            barrier.wait()
            reports.append(_remind(busy, sink, batch_size=4))

        threads = [threading.Thread(target=runner) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(reports) == 2
        assert sum(r.total_sent for r in reports) == APPOINTMENTS
        assert not any(r.problems for r in reports)
        _sent_once_each(busy, sink)


def test_two_reminder_processes_at_the_same_time_send_each_reminder_once(db) -> None:  # type: ignore[no-untyped-def]
    # Real processes use the real clock: appointments from an hour from now on, reminded
    # 24 h before (all due now).
    from tests.factories import make_appointment

    world = build_world(db, patients=APPOINTMENTS)
    _switch_on(world, ("24h",))
    now = datetime.now(UTC)
    from data.models import AppointmentType, Clinic, Practitioner

    with db.transaction() as s:
        prac = s.get_one(Practitioner, world.practitioner_id)
        clinic = s.get_one(Clinic, world.clinic_id)
        kind = s.get_one(AppointmentType, world.type_id)
        for i, pid in enumerate(world.patient_ids):
            make_appointment(
                s,
                s.get_one(Patient, pid),
                prac,
                clinic,
                kind,
                now.replace(microsecond=0) + timedelta(minutes=60 + 30 * i),
                booked_at=now - timedelta(days=2),
            )
    with SmtpSink(delay=0.03) as sink:
        env = {
            **os.environ,
            "DATABASE_URL": db.url,
            "SMTP_HOST": sink.host,
            "SMTP_PORT": str(sink.port),
            "SMTP_SECURITY": "none",
        }
        runners = [
            subprocess.Popen(
                [sys.executable, str(ROOT / "cli.py"), "reminders"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [r.communicate(timeout=120) for r in runners]
        assert [r.returncode for r in runners] == [0, 0], outputs
        _sent_once_each(world, sink)


def test_email_only_reminders_wait_for_a_mail_server_instead_of_being_used_up(
    world: World, sink: SmtpSink
) -> None:
    set_reminder_settings(world.ctx, world.admin, world.org_id, ["2h"], ["email"])
    visit = world.book(at(WEDNESDAY, 10))
    world.now = at(WEDNESDAY, 8, 30)
    report = send_due_reminders(world.ctx, channels={"in-app": InAppChannel()})
    assert report.total_sent == 0 and "nothing was sent" in report.problems[0]
    assert _rows(world, visit.id) == []
    assert _remind(world, sink).sent == {"email": 1}
