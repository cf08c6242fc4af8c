"""Stored statistics (data/stats_summaries.py): organization-wide statistics read the
days that are over from stored rows (whole months, else single days), and every kind of
write to a stored day's appointments makes the next statistics count it again, so a
manager never sees a number the appointments no longer say.

The data: an organization with clinics in New York and Los Angeles, appointments from
January to March 2026, "now" is 10 March 2026. The period 15 January - 5 March holds one
whole month, February, stored as a month; 15-31 January and 1-5 March are stored as days.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select, update

from data.db import Database
from data.models import Appointment, Clinic, Patient, StatsSummaryPart
from data.stats_summaries import (
    closed_days,
    closed_months,
    ensure_built,
    invalidate_days,
    uncovered_ranges,
)
from domain.actor import Actor
from domain.admin.clinics import update_clinic
from domain.appointments import update_appointment_status
from domain.clock import fixed_clock
from domain.context import AppContext
from domain.reminders import send_due_reminders, set_reminder_settings
from domain.stats import AppointmentStats, get_appointment_stats, store_statistics
from settings import Settings
from tests.conftest import postgresql_only
from tests.factories import (
    local,
    make_appointment,
    make_clinic,
    make_org,
    make_patient,
    make_practitioner,
    make_schedule,
    make_type,
)
from tests.integration.conftest import CommandLine

NY, LA = "America/New_York", "America/Los_Angeles"
NOW = local(date(2026, 3, 10), time(12), NY)
START, END = date(2026, 1, 15), date(2026, 3, 5)
FEB = date(2026, 2, 1)


@dataclass
class World:
    db: Database
    ctx: AppContext
    org: int
    west: int
    feb_booked: int  # booked, past, unresolved: can still be marked
    feb_last_la: int  # 28 Feb 23:30 in Los Angeles: 1 March in UTC
    patient: int


def _world(database: Database) -> World:
    with database.transaction() as s:
        org = make_org(s, name="Harbor", timezone=NY)
        main = make_clinic(s, org, name="Main", timezone=NY)
        west = make_clinic(s, org, name="West", timezone=LA)
        kind = make_type(s, org, "follow-up", 30)
        dr = make_practitioner(s, org, [main, west], name="Dr A")
        make_schedule(s, dr, main, weekdays=(0, 1, 2, 3, 4), start=time(9), end=time(17))
        patient = make_patient(s, org, birth_date=date(1980, 5, 1))

        def appt(clinic: Clinic, when: datetime, status: str, **kw: object) -> Appointment:
            return make_appointment(s, patient, dr, clinic, kind, when, status=status, **kw)

        appt(main, local(date(2026, 1, 10), time(9), NY), "completed")  # before the period
        appt(main, local(date(2026, 1, 20), time(9), NY), "completed")
        appt(main, local(date(2026, 2, 3), time(10), NY), "no-show")
        appt(main, local(date(2026, 2, 10), time(11), NY), "completed")
        feb_booked = appt(main, local(date(2026, 2, 17), time(14), NY), "booked")
        feb_last_la = appt(
            west, local(date(2026, 2, 28), time(23, 30), LA), "cancelled",
            cancellation_category="patient-initiated",
        )  # fmt: skip
        appt(main, local(date(2026, 3, 2), time(9), NY), "completed")
        appt(main, local(date(2026, 3, 6), time(9), NY), "completed")  # after the period
        ids = (org.id, west.id, feb_booked.id, feb_last_la.id, patient.id)
    ctx = AppContext(Settings(database_url=database.url), database, fixed_clock(NOW))
    return World(database, ctx, *ids)


@pytest.fixture
def world(db: Database) -> World:
    return _world(db)


def stats(w: World) -> AppointmentStats:
    return get_appointment_stats(w.ctx, w.org, START, END)


FEB_PART = (FEB, date(2026, 2, 28))
DAYS = 17 + 5  # 15-31 January, 1-5 March


def stored(w: World) -> set[tuple[date, date]]:
    p = StatsSummaryPart
    with w.db.read() as s:
        found = s.execute(select(p.first_day, p.last_day).where(p.organization_id == w.org))
        return {(first, last) for first, last in found}


def test_months_that_are_whole_and_over_everywhere_are_the_closed_ones() -> None:
    assert closed_months(START, END, [NY, LA], NOW) == [FEB]
    # February ends at 08:00 UTC on 1 March in Los Angeles: not closed an hour earlier.
    at_la_midnight = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert closed_months(START, END, [NY, LA], at_la_midnight) == [FEB]
    assert closed_months(START, END, [NY, LA], datetime(2026, 3, 1, 7, 59, tzinfo=UTC)) == []
    assert closed_months(START, END, [NY], datetime(2026, 3, 1, 5, 0, tzinfo=UTC)) == [FEB]
    assert closed_months(date(2026, 2, 2), END, [NY], NOW) == []
    assert uncovered_ranges(START, END, [FEB_PART]) == [
        (START, date(2026, 1, 31)),
        (date(2026, 3, 1), END),
    ]
    march_2 = (date(2026, 3, 2), date(2026, 3, 2))
    assert uncovered_ranges(START, END, [FEB_PART, march_2]) == [
        (START, date(2026, 1, 31)),
        (date(2026, 3, 1), date(2026, 3, 1)),
        (date(2026, 3, 3), END),
    ]
    assert uncovered_ranges(FEB, date(2026, 2, 28), [FEB_PART]) == []
    assert uncovered_ranges(START, END, []) == [(START, END)]
    # 9 March ends at 07:00 UTC on the 10th in Los Angeles; at 06:59 only the 8th is over.
    assert closed_days(date(2026, 3, 7), END.replace(day=20), [NY, LA], NOW)[-1] == date(2026, 3, 9)
    almost = datetime(2026, 3, 10, 6, 59, tzinfo=UTC)
    assert closed_days(date(2026, 3, 7), date(2026, 3, 20), [NY, LA], almost)[-1] == date(
        2026, 3, 8
    )


def test_a_closed_month_is_stored_once_and_counted_the_same(world: World) -> None:
    first = stats(world)
    assert FEB_PART in stored(world) and len(stored(world)) == 1 + DAYS
    # 20 Jan, 3/10/17/28 Feb (LA), 2 Mar; the 28 Feb one is cancelled, 17 Feb is unresolved.
    assert (first.total, first.overall.cancelled, first.overall.due) == (6, 1, 5)
    assert (first.overall.completed, first.overall.no_shows, first.unresolved_past) == (3, 1, 1)
    assert first.cancellations.set_index("category").loc["patient-initiated", "cancelled"] == 1
    week_of_feb_23 = first.weekly.set_index("week_start").loc[date(2026, 2, 23)]
    assert week_of_feb_23["cancelled"] == 1  # local date 28 Feb, not UTC's 1 March
    again = stats(world)
    assert again.overall == first.overall and again.by_status == first.by_status
    assert (again.busiest_times.to_numpy() == first.busiest_times.to_numpy()).all()
    assert again.weekly.equals(first.weekly) and again.by_practitioner.equals(first.by_practitioner)
    # A narrower filter counts the appointments directly, with the same result.
    narrow = get_appointment_stats(world.ctx, world.org, START, END, clinic_id=world.west)
    assert (narrow.total, narrow.overall.cancelled) == (1, 1)


def test_a_late_status_change_reaches_the_next_statistics(world: World) -> None:
    before = stats(world)
    update_appointment_status(
        world.ctx, world.org, world.feb_booked, "no-show", Actor.system(organization_id=world.org)
    )
    assert FEB_PART not in stored(world) and len(stored(world)) == DAYS
    after = stats(world)
    assert after.overall.no_shows == before.overall.no_shows + 1
    assert after.unresolved_past == before.unresolved_past - 1
    assert FEB_PART in stored(world)  # built again, with the change


def test_an_appointment_moved_out_of_the_month_or_deleted_is_no_longer_counted(
    world: World,
) -> None:
    before = stats(world)
    with world.db.transaction() as s:
        moved = s.get(Appointment, world.feb_last_la)
        assert moved is not None
        # Half an hour later it is 1 March in Los Angeles too: out of February.
        moved.start_at = local(date(2026, 3, 1), time(0), LA)
        moved.end_at = local(date(2026, 3, 1), time(0, 30), LA)
    # Its old month and its new day are dropped; nothing else.
    assert stored(world) == {(d, d) for d, _ in stored(world)} and len(stored(world)) == DAYS - 1
    february = get_appointment_stats(world.ctx, world.org, FEB, date(2026, 2, 28))
    assert (february.total, february.overall.cancelled) == (3, 0)
    assert stats(world).overall.cancelled == 1  # still in the period, on 1 March
    with world.db.transaction() as s:
        s.delete(s.get(Appointment, world.feb_booked))
    assert FEB_PART not in stored(world)
    assert stats(world).total == before.total - 1


def test_birth_dates_and_time_zones_reach_the_next_statistics(world: World) -> None:
    assert get_appointment_stats(world.ctx, world.org, FEB, date(2026, 2, 28)).total == 4
    stats(world)
    with world.db.transaction() as s:
        patient = s.get(Patient, world.patient)
        assert patient is not None
        patient.birth_date = date(2015, 1, 1)
    assert stored(world) == set()
    ages = stats(world).by_age_group.set_index("age_group")["appointments"]
    assert (ages["0-12"], ages["40-64"]) == (6, 0)

    update_clinic(
        world.ctx,
        Actor.system(organization_id=world.org),
        world.org,
        world.west,
        name="West",
        timezone=NY,
        address=None,
    )
    assert stored(world) == set()
    # 28 Feb 23:30 in Los Angeles is 1 March 02:30 in New York: out of February.
    february = get_appointment_stats(world.ctx, world.org, FEB, date(2026, 2, 28))
    assert (february.total, february.overall.cancelled) == (3, 0)


def test_a_reminder_sent_reaches_the_next_statistics(world: World) -> None:
    stats(world)
    admin = Actor.system(organization_id=world.org)
    set_reminder_settings(world.ctx, admin, world.org, ["48h"], ["in-app"])
    # The reminder run of 16 February sends the reminder of the 17th (a Core update).
    at_the_time = AppContext(
        world.ctx.settings, world.db, fixed_clock(NOW.replace(month=2, day=16))
    )
    assert send_due_reminders(at_the_time, organization_id=world.org).total_sent == 1
    assert FEB_PART not in stored(world) and len(stored(world)) == DAYS
    assert stats(world).by_reminder.set_index("reminder_sent").loc[True, "appointments"] == 1


@postgresql_only
def test_a_month_being_written_is_not_stored_until_the_writer_is_done(db: Database) -> None:
    w = _world(db)
    writing, release, done = threading.Event(), threading.Event(), threading.Event()

    def writer() -> None:
        with db.transaction() as s:
            s.execute(
                update(Appointment)
                .where(Appointment.id == w.feb_booked)
                .values(status="no-show")
                .execution_options(synchronize_session=False)
            )
            invalidate_days(s.connection(), w.org, [date(2026, 2, 17)])
            writing.set()
            release.wait(30)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert writing.wait(30)
    try:
        # The writer holds February: a build gives up on it instead of storing counts
        # that miss the change (the days of other months are stored); the statistics
        # count February directly.
        assert ensure_built(db, w.org, START, END, NOW) == DAYS
        assert stats(w).overall.no_shows == 1 and FEB_PART not in stored(w)
    finally:
        release.set()
        thread.join(30)
    assert done.is_set()
    assert stats(w).overall.no_shows == 2 and FEB_PART in stored(w)


def test_another_organizations_writes_leave_stored_months_alone(world: World) -> None:
    stats(world)
    with world.db.transaction() as s:
        other = make_org(s, name="Elsewhere", timezone=NY)
        clinic = make_clinic(s, other, timezone=NY)
        kind = make_type(s, other, "follow-up", 30)
        dr = make_practitioner(s, other, [clinic])
        patient = make_patient(s, other)
        make_appointment(s, patient, dr, clinic, kind, local(date(2026, 2, 5), time(9)))
    assert FEB_PART in stored(world) and len(stored(world)) == 1 + DAYS


def test_a_period_cutting_a_stored_month_reads_days_and_never_counts_twice(
    world: World,
) -> None:
    whole = stats(world)
    # 10 February - 5 March cuts February: its days are stored besides the month.
    cut = get_appointment_stats(world.ctx, world.org, date(2026, 2, 10), END)
    assert (cut.total, cut.overall.cancelled, cut.overall.no_shows) == (4, 1, 0)
    assert FEB_PART in stored(world) and (date(2026, 2, 10),) * 2 in stored(world)
    again = stats(world)  # the month and its days are both stored: read once
    assert again.overall == whole.overall and again.weekly.equals(whole.weekly)


def test_a_clock_set_back_does_not_read_days_it_sees_as_to_come(world: World) -> None:
    now = stats(world)
    back_then = AppContext(world.ctx.settings, world.db, fixed_clock(NOW.replace(month=2, day=16)))
    earlier = get_appointment_stats(back_then, world.org, START, END)
    # On 16 February the booking of the 17th was still to come: not due, not unresolved.
    assert (earlier.unresolved_past, earlier.overall.due) == (0, now.overall.due - 1)
    assert earlier.total == now.total


def test_storing_ahead_covers_whole_months_and_the_days_of_the_running_month(
    world: World,
) -> None:
    assert store_statistics(world.ctx, world.org, months=3) == 2 + 9
    march = {(date(2026, 3, d), date(2026, 3, d)) for d in range(1, 10)}  # 10 March runs
    assert stored(world) == {(date(2026, 1, 1), date(2026, 1, 31)), FEB_PART} | march
    assert store_statistics(world.ctx, world.org, months=3) == 0  # nothing left to store
    with pytest.raises(ValueError):
        store_statistics(world.ctx, world.org, months=0)


def test_the_store_stats_command_stores_every_organization_or_one(
    world: World, appointments_command: Callable[[str], CommandLine]
) -> None:
    run = appointments_command(world.db.url)
    done = run("store-stats", "--months", "2")
    assert done.code == 0, done.err
    assert "Harbor: " in done.out and "parts stored" in done.out
    assert stored(world)  # by the real clock: last month whole, this month's past days
    assert run("store-stats", "--organization", "Harbor", "--months", "2").out.startswith(
        "Harbor: 0 parts stored"
    )
    refused = run("store-stats", "--months", "0")
    assert refused.code == 2 and "months must be from 1 to 120" in refused.err
    assert run("store-stats", "--organization", "Nowhere").code == 1
