"""Appointment statistics on a small hand-built week, with every expected number worked out
by hand below (not by the code under test).

The week: Monday 2 to Sunday 8 February 2026, "now" is Friday 6 February 12:00 in New York.
Dr A works at Main (New York) Mon-Fri 09:00-17:00; Dr B at West (Los Angeles) Mon and Tue
09:00-13:00. Exceptions: Dr A's leave on Wednesday and an organization-wide holiday the
same day (overlapping: counted once), a closure of Main on Tuesday 12:00-14:00 (Dr A loses
2 h) and Dr B's appointment at West on Tuesday 12:00-13:30 (Dr B loses 1 h).
Capacity: Dr A 5 x 480 - 480 - 120 = 1800 min, Dr B 2 x 240 - 60 = 420 min, 2220 in all.

 #  local start (clinic)     who type min status     booked (clinic-local) lead patient
 1  Mon 09:00 NY             A   FU   30  completed  Mon 02-02 08:00         0  adult
 2  Mon 09:30 NY             A   FU   30  no-show    Tue 01-20 10:00        13  senior  SMS
 3  Mon 10:00 LA             B   NP   60  completed  Sun 02-01 23:30         1  child   SMS
 4  Tue 09:00 NY             A   FU   30  cancelled  Thu 01-01 09:00        33  teen  (patient)
 5  Tue 11:00 LA             B   FU   30  no-show    Mon 02-02 12:00         1  unknown age
 6  Thu 16:00 NY             A   NP   60  booked     Thu 02-05 07:00         0  adult (past)
 7  Fri 14:00 NY             A   FU   30  confirmed  Wed 02-04 09:00         2  senior (future)
 8  Fri 09:00 NY             A   FU   30  completed  Sat 02-07 10:00        -1  child
 9  Fri 11:30 NY             A   FU   30  cancelled  Thu 02-05 09:00         1  teen (practice)
10  Thu 19:30 NY (Fri UTC)   A   NP   60  completed  Thu 02-05 10:00         0  mid (64/65)
11  Sun 23:30 LA (Mon UTC)   B   FU   30  pending    Fri 02-06 12:00         2  adult (future)
14  Wed, date only, LA       B   FU   30  completed  Wed 01-28 15:00         7  senior
Outside the period: Sun 02-01 23:30 NY (Mon in UTC) and Mon 02-09 00:30 NY; and an
appointment of another organization.

Patients: child 2018-05-01 (7), teen 2008-02-04 (17 on Tuesday, 18 from Wednesday), adult
1990-01-01, mid 1961-02-06 (64 on Thursday local, 65 on Friday, the UTC date of #10),
senior 1950-06-01 (75), unknown (no birth date).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pytest

from data.db import Database
from data.stats_queries import dense_patient_ids
from domain.actor import Actor
from domain.clock import fixed_clock
from domain.context import AppContext
from domain.permissions import PermissionDenied
from domain.stats import (
    AGE_GROUPS,
    LEAD_TIME_BUCKETS,
    AppointmentStats,
    get_appointment_stats,
)
from settings import Settings
from tests.factories import (
    local,
    make_appointment,
    make_clinic,
    make_exception,
    make_org,
    make_patient,
    make_practitioner,
    make_schedule,
    make_type,
)

NY, LA = "America/New_York", "America/Los_Angeles"
MON = date(2026, 2, 2)
SUN = date(2026, 2, 8)
NOW = local(date(2026, 2, 6), time(12), NY)


def day(offset: int) -> date:
    return MON + timedelta(days=offset)


@dataclass
class Week:
    org: int
    other_org: int
    main: int
    west: int
    dr_a: int
    dr_b: int
    follow_up: int
    new_patient: int
    other_practitioner: int


def build_week(database: Database) -> Week:
    with database.transaction() as s:
        org = make_org(s, name="Harbor", timezone=NY)
        main = make_clinic(s, org, name="Main", timezone=NY)
        # Far-apart clinic ids: the zone lookup cannot be a small array.
        west = make_clinic(s, org, name="West", timezone=LA, id=main.id + 5000)
        fu = make_type(s, org, "follow-up", 30)
        np_ = make_type(s, org, "new-patient", 60)
        dr_a = make_practitioner(s, org, [main], name="Dr A")
        dr_b = make_practitioner(s, org, [west], name="Dr B")
        make_schedule(s, dr_a, main, weekdays=(0, 1, 2, 3, 4), start=time(9), end=time(17))
        make_schedule(s, dr_b, west, weekdays=(0, 1), start=time(9), end=time(13))
        wed_ny = (local(day(2), time(0), NY), local(day(3), time(0), NY))
        make_exception(s, org, *wed_ny, practitioner=dr_a, reason="leave")
        make_exception(s, org, *wed_ny, reason="holiday")
        make_exception(
            s, org, local(day(1), time(12), NY), local(day(1), time(14), NY), clinic=main
        )
        make_exception(
            s,
            org,
            local(day(1), time(12), LA),
            local(day(1), time(13, 30), LA),
            practitioner=dr_b,
            clinic=west,
            reason="other",
        )
        other = make_org(s, name="Elsewhere", timezone=NY)
        child = make_patient(s, org, birth_date=date(2018, 5, 1))
        # A patient of another organization between ours: our patient ids are not one
        # unbroken run, so birth dates come by a join (the demo data covers the other way).
        o_pat = make_patient(s, other)
        teen = make_patient(s, org, birth_date=date(2008, 2, 4))
        adult = make_patient(s, org, birth_date=date(1990, 1, 1))
        mid = make_patient(s, org, birth_date=date(1961, 2, 6))
        senior = make_patient(s, org, birth_date=date(1950, 6, 1))
        unknown = make_patient(s, org, birth_date=None)

        def appt(patient, who, clinic, kind, when, status, booked, minutes=None, **kw) -> None:  # type: ignore[no-untyped-def]
            make_appointment(
                s,
                patient,
                who,
                clinic,
                kind,
                when,
                minutes=minutes or kind.default_duration_minutes,
                status=status,
                booked_at=booked,
                **kw,
            )

        appt(adult, dr_a, main, fu, local(day(0), time(9), NY), "completed",
             local(day(0), time(8), NY))  # fmt: skip
        appt(senior, dr_a, main, fu, local(day(0), time(9, 30), NY), "no-show",
             local(date(2026, 1, 20), time(10), NY), reminder_sent=True)  # fmt: skip
        appt(child, dr_b, west, np_, local(day(0), time(10), LA), "completed",
             local(date(2026, 2, 1), time(23, 30), LA), reminder_sent=True)  # fmt: skip
        appt(teen, dr_a, main, fu, local(day(1), time(9), NY), "cancelled",
             local(date(2026, 1, 1), time(9), NY),
             cancellation_category="patient-initiated")  # fmt: skip
        appt(unknown, dr_b, west, fu, local(day(1), time(11), LA), "no-show",
             local(day(0), time(12), LA))  # fmt: skip
        appt(adult, dr_a, main, np_, local(day(3), time(16), NY), "booked",
             local(day(3), time(7), NY))  # fmt: skip
        appt(senior, dr_a, main, fu, local(day(4), time(14), NY), "confirmed",
             local(day(2), time(9), NY))  # fmt: skip
        appt(child, dr_a, main, fu, local(day(4), time(9), NY), "completed",
             local(day(5), time(10), NY))  # fmt: skip
        appt(teen, dr_a, main, fu, local(day(4), time(11, 30), NY), "cancelled",
             local(day(3), time(9), NY),
             cancellation_category="practice-initiated")  # fmt: skip
        appt(mid, dr_a, main, np_, local(day(3), time(19, 30), NY), "completed",
             local(day(3), time(10), NY))  # fmt: skip
        appt(adult, dr_b, west, fu, local(day(6), time(23, 30), LA), "pending",
             local(day(4), time(12), LA))  # fmt: skip
        appt(senior, dr_b, west, fu, local(day(2), time(0), LA), "completed",
             local(date(2026, 1, 28), time(15), LA), date_only=True)  # fmt: skip
        # Just outside the week in New York, though inside it in UTC (or in LA).
        appt(adult, dr_a, main, fu, local(day(-1), time(23, 30), NY), "completed",
             local(day(-3), time(9), NY))  # fmt: skip
        appt(adult, dr_a, main, fu, local(day(7), time(0, 30), NY), "completed",
             local(day(-3), time(9), NY))  # fmt: skip

        o_clinic = make_clinic(s, other, timezone=NY)
        o_type = make_type(s, other, "follow-up", 30)
        o_dr = make_practitioner(s, other, [o_clinic])
        make_schedule(s, o_dr, o_clinic)
        appt(o_pat, o_dr, o_clinic, o_type, local(day(0), time(9), NY), "no-show",
             local(day(-5), time(9), NY))  # fmt: skip
        return Week(
            org.id,
            other.id,
            main.id,
            west.id,
            dr_a.id,
            dr_b.id,
            fu.id,
            np_.id,
            o_dr.id,
        )


def stats_of(database: Database, org: int, **kw: object) -> AppointmentStats:
    ctx = AppContext(Settings(database_url=database.url), database, fixed_clock(NOW))
    start = kw.pop("start", MON)
    end = kw.pop("end", SUN)
    return get_appointment_stats(ctx, org, start, end, **kw)  # type: ignore[arg-type]


def row(table: pd.DataFrame, column: str, value: object) -> dict[str, object]:
    found = table[table[column] == value]
    assert len(found) == 1, f"{column}={value!r}: {len(found)} rows"
    return found.iloc[0].to_dict()


def counts(record: dict[str, object]) -> tuple[object, ...]:
    return tuple(record[c] for c in ("appointments", "cancelled", "due", "completed", "no_shows"))


def test_totals_and_every_rate_of_the_week(db: Database) -> None:
    w = build_week(db)
    st = stats_of(db, w.org)
    assert st.total == 12
    assert st.by_status == {
        "pending": 1,
        "booked": 1,
        "confirmed": 1,
        "arrived": 0,
        "in-progress": 0,
        "completed": 5,
        "cancelled": 2,
        "no-show": 2,
    }
    # Due: 5 completed + 2 no-shows + #6 still "booked" though its time has passed.
    assert (st.overall.due, st.unresolved_past) == (8, 1)
    assert st.no_show_rate == 2 / 8
    assert st.completion_rate == 5 / 8
    assert st.cancellation_rate == 2 / 12
    assert st.days == 7
    assert st.average_per_day == 12 / 7
    assert st.date_only_appointments == 1
    # Booked minutes: Dr A 30+30+60+30+30+60, Dr B 60+30+30+30; cancelled ones hold nothing.
    assert (st.booked_minutes, st.capacity_minutes) == (390, 2220)
    assert st.utilization == 390 / 2220


def test_types_and_cancellation_categories(db: Database) -> None:
    w = build_week(db)
    st = stats_of(db, w.org)
    fu = row(st.by_type, "appointment_type_id", w.follow_up)
    assert counts(fu) == (9, 2, 5, 3, 2)
    assert fu["no_show_rate"] == 2 / 5
    assert fu["booked_minutes"] == 7 * 30
    assert fu["share"] == 9 / 12
    new = row(st.by_type, "appointment_type_id", w.new_patient)
    assert counts(new) == (3, 0, 3, 2, 0)
    assert new["no_show_rate"] == 0.0
    assert dict(zip(st.cancellations["category"], st.cancellations["cancelled"], strict=True)) == {
        "patient-initiated": 1,
        "practice-initiated": 1,
        "emergency": 0,
        "other": 0,
        "not recorded": 0,
    }
    assert st.cancellations["share"].tolist() == [0.5, 0.5, 0.0, 0.0, 0.0]


def test_busiest_times_are_clinic_local_and_leave_out_date_only_and_cancelled(
    db: Database,
) -> None:
    w = build_week(db)
    table = stats_of(db, w.org).busiest_times
    expected = np.zeros((7, 24), dtype=np.int64)
    expected[0, 9] = 2  # #1 and #2, Monday 09:00 and 09:30 New York
    expected[0, 10] = 1  # #3, Monday 10:00 Los Angeles (18:00 UTC)
    expected[1, 11] = 1  # #5, Tuesday 11:00 Los Angeles
    expected[3, 16] = 1  # #6
    expected[3, 19] = 1  # #10: Thursday 19:30 in New York, Friday 00:30 in UTC
    expected[4, 9] = 1  # #8
    expected[4, 14] = 1  # #7
    expected[6, 23] = 1  # #11: Sunday 23:30 in Los Angeles, Monday in UTC
    assert table.shape == (7, 24)
    assert (table.to_numpy() == expected).all()
    weekdays = stats_of(db, w.org).by_weekday
    assert weekdays["appointments"].tolist() == [3, 2, 1, 2, 3, 0, 1]  # #14 on Wednesday
    assert weekdays["weekday_name"].tolist()[0] == "Monday"


def test_no_shows_by_weekday_and_hour_are_clinic_local_and_leave_out_date_only(
    db: Database,
) -> None:
    w = build_week(db)
    st = stats_of(db, w.org)
    no_shows = np.zeros((7, 24), dtype=np.int64)
    no_shows[0, 9] = 1  # #2, Monday 09:30 New York
    no_shows[1, 11] = 1  # #5, Tuesday 11:00 Los Angeles
    assert (st.no_show_times.to_numpy() == no_shows).all()
    due = st.due_times.to_numpy()
    assert due[0, 9] == 2  # #1 completed and #2 no-show
    assert due[1, 9] == 0  # #4 was cancelled: never due
    assert due[2].sum() == 0  # #14 (Wednesday) is date-only: no hour to put it at
    assert due.sum() + st.date_only_appointments == st.overall.due
    rates = st.no_show_rate_times()
    assert rates.shape == (7, 24)
    assert rates.loc[0, 9] == 0.5 and rates.loc[1, 11] == 1.0 and rates.loc[3, 16] == 0.0
    assert not rates.isna().to_numpy().any()


def test_lead_time_buckets_use_clinic_local_dates(db: Database) -> None:
    w = build_week(db)
    st = stats_of(db, w.org)
    lead = st.by_lead_time
    assert lead["lead_time"].tolist() == list(LEAD_TIME_BUCKETS)
    # same day: #1 #6 #10 (#10 was booked the UTC day before its start, same local day)
    assert counts(row(lead, "lead_time", "same day")) == (3, 0, 3, 2, 0)
    # 1-7: #3 (booked 23:30 the evening before: same day in UTC), #5 #7 #9 #11 #14
    assert counts(row(lead, "lead_time", "1-7 days")) == (6, 1, 3, 2, 1)
    assert counts(row(lead, "lead_time", "8-30 days")) == (1, 0, 1, 0, 1)
    assert counts(row(lead, "lead_time", "31+ days")) == (1, 1, 0, 0, 0)
    assert counts(row(lead, "lead_time", "booked after the day")) == (1, 0, 1, 1, 0)
    ahead = st.booked_ahead
    assert (ahead.appointments, ahead.due, ahead.no_shows) == (8, 4, 2)
    assert ahead.no_show_rate == 0.5


def test_reminders_and_age_groups(db: Database) -> None:
    w = build_week(db)
    st = stats_of(db, w.org)
    sms = st.by_reminder
    assert sms["reminder_sent"].tolist() == [False, True]
    assert counts(row(sms, "reminder_sent", True)) == (2, 0, 2, 1, 1)
    assert counts(row(sms, "reminder_sent", False)) == (10, 2, 6, 4, 1)
    assert row(sms, "reminder_sent", False)["no_show_rate"] == 1 / 6
    ages = st.by_age_group
    assert ages["age_group"].tolist() == list(AGE_GROUPS)
    assert counts(row(ages, "age_group", "0-12")) == (2, 0, 2, 2, 0)
    assert counts(row(ages, "age_group", "13-17")) == (1, 1, 0, 0, 0)  # #4, the day before 18
    assert counts(row(ages, "age_group", "18-39")) == (4, 1, 2, 1, 0)  # #1 #6 #9 #11
    assert counts(row(ages, "age_group", "40-64")) == (1, 0, 1, 1, 0)  # #10, local date
    assert counts(row(ages, "age_group", "65+")) == (3, 0, 2, 1, 1)
    assert counts(row(ages, "age_group", "unknown")) == (1, 0, 1, 0, 1)


def test_practitioners_clinics_and_weeks_with_utilization(db: Database) -> None:
    w = build_week(db)
    st = stats_of(db, w.org)
    a = row(st.by_practitioner, "practitioner_id", w.dr_a)
    assert (a["name"], *counts(a)) == ("Dr A", 8, 2, 5, 3, 1)
    assert (a["booked_minutes"], a["capacity_minutes"]) == (240, 1800)
    assert a["utilization"] == 240 / 1800
    b = row(st.by_practitioner, "practitioner_id", w.dr_b)
    assert counts(b) == (4, 0, 3, 2, 1)
    assert (b["booked_minutes"], b["capacity_minutes"]) == (150, 420)
    assert row(st.by_clinic, "clinic_id", w.main)["capacity_minutes"] == 1800
    west = row(st.by_clinic, "clinic_id", w.west)
    assert (west["timezone"], west["appointments"], west["utilization"]) == (LA, 4, 150 / 420)
    assert st.weekly["week_start"].tolist() == [MON]
    week = st.weekly.iloc[0].to_dict()
    assert counts(week) == (12, 2, 8, 5, 2)
    assert (week["no_show_rate"], week["capacity_minutes"]) == (0.25, 2220)


def test_a_practitioner_filter_scopes_everything_including_capacity(db: Database) -> None:
    w = build_week(db)
    st = stats_of(db, w.org, practitioner_id=w.dr_b)
    assert (st.total, st.overall.due, st.overall.no_shows) == (4, 3, 1)
    assert (st.booked_minutes, st.capacity_minutes) == (150, 420)
    assert st.by_practitioner["practitioner_id"].tolist() == [w.dr_b]
    assert st.by_clinic["clinic_id"].tolist() == [w.west]
    assert st.busiest_times.to_numpy().sum() == 3  # #3 #5 #11; #14 has no time
    assert st.weekly["capacity_minutes"].tolist() == [420]
    same = stats_of(db, w.org, clinic_id=w.west)
    assert (same.total, same.capacity_minutes, same.booked_minutes) == (4, 420, 150)


def test_a_type_filter_narrows_the_appointments_but_not_the_capacity(db: Database) -> None:
    w = build_week(db)
    st = stats_of(db, w.org, appointment_type_id=w.new_patient)
    assert (st.total, st.booked_minutes, st.capacity_minutes) == (3, 180, 2220)
    assert st.by_type["appointment_type_id"].tolist() == [w.new_patient]


def test_another_organization_is_never_counted(db: Database) -> None:
    w = build_week(db)
    other = stats_of(db, w.other_org)
    assert (other.total, other.overall.no_shows) == (1, 1)
    assert other.capacity_minutes == 5 * 480
    with pytest.raises(ValueError, match="not in organization"):
        stats_of(db, w.org, practitioner_id=w.other_practitioner)
    with pytest.raises(ValueError, match="not in organization"):
        stats_of(db, w.other_org, clinic_id=w.main)


def test_patient_ids_in_one_run_are_recognised(db: Database) -> None:
    w = build_week(db)
    with db.transaction() as s:
        alone = make_org(s, name="Alone", timezone=NY)
        first = make_patient(s, alone).id
        make_patient(s, alone)
    with db.read() as s:
        assert dense_patient_ids(s, alone.id) == first
        assert dense_patient_ids(s, w.org) is None  # interleaved with another organization


def _assert_no_nan(st: AppointmentStats) -> None:
    for name in (
        "by_type",
        "cancellations",
        "busiest_times",
        "no_show_times",
        "due_times",
        "by_weekday",
        "by_practitioner",
        "by_clinic",
        "weekly",
        "by_lead_time",
        "by_reminder",
        "by_age_group",
    ):
        table = getattr(st, name)
        assert not table.isna().to_numpy().any(), name
    for value in (st.no_show_rate, st.completion_rate, st.cancellation_rate, st.utilization):
        assert value == 0.0 or not math.isnan(value)


def test_an_empty_period_gives_zeros_not_errors_or_nan(db: Database) -> None:
    w = build_week(db)
    st = stats_of(db, w.org, start=date(2025, 6, 2), end=date(2025, 6, 8))
    assert st.total == 0 and st.no_show_rate == 0.0 and st.completion_rate == 0.0
    assert st.cancellation_rate == 0.0 and st.average_per_day == 0.0
    assert set(st.by_status.values()) == {0}
    assert st.by_lead_time["appointments"].sum() == 0
    assert len(st.by_lead_time) == 5 and len(st.by_age_group) == 6
    # The schedules still offered time that week: capacity without bookings.
    assert (st.booked_minutes, st.capacity_minutes, st.utilization) == (0, 5 * 480 + 480, 0.0)
    _assert_no_nan(st)
    _assert_no_nan(stats_of(db, w.org))


def test_an_organization_without_clinics_gets_empty_tables(db: Database) -> None:
    with db.transaction() as s:
        org = make_org(s, name="Empty", timezone=NY).id
    st = stats_of(db, org)
    assert st.total == 0 and st.by_practitioner.empty and st.by_type.empty
    assert st.busiest_times.shape == (7, 24)
    _assert_no_nan(st)


def test_only_analytics_roles_of_the_organization_see_its_statistics(db: Database) -> None:
    w = build_week(db)
    ctx = AppContext(Settings(database_url=db.url), db, fixed_clock(NOW))
    manager = Actor(user_id=1, name="M", role="manager", organization_id=w.org)
    assert get_appointment_stats(ctx, w.org, MON, SUN, actor=manager).total == 12
    for refused in (
        Actor(user_id=2, name="F", role="front-desk", organization_id=w.org),
        Actor(user_id=3, name="M2", role="manager", organization_id=w.other_org),
    ):
        with pytest.raises(PermissionDenied):
            get_appointment_stats(ctx, w.org, MON, SUN, actor=refused)


def test_bad_periods_and_unknown_organizations_are_refused(db: Database) -> None:
    w = build_week(db)
    with pytest.raises(ValueError, match="ends"):
        stats_of(db, w.org, start=SUN, end=MON)
    with pytest.raises(TypeError):
        stats_of(db, w.org, start=datetime(2026, 2, 2, tzinfo=UTC))
    with pytest.raises(LookupError):
        stats_of(db, w.org + 1000)
