"""Which reminders are due, and how settings are read: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.channels import InAppChannel, Outbox, ReminderMessage, reminder_email
from domain.reminders import (
    ReminderSettings,
    ReminderSettingsError,
    format_offset,
    parse_offset,
    plan_due,
    retry_delay,
)

START = datetime(2030, 1, 9, 15, 0, tzinfo=UTC)  # Wed 10:00 in New York
BOOKED = START - timedelta(days=7)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("48h", 2880), ("2 h", 120), ("90m", 90), ("90 min", 90), ("1d12h", 2160), ("30", 30)],
)
def test_offsets_are_read_as_people_write_them(text: str, minutes: int) -> None:
    assert parse_offset(text) == minutes


@pytest.mark.parametrize("text", ["", "soon", "2x", "h", "-2h"])
def test_unreadable_offsets_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ReminderSettingsError):
        parse_offset(text)


def test_settings_are_sorted_validated_and_round_trip_through_json() -> None:
    s = ReminderSettings.validated(["2h", 2880], ["in-app", "email"])
    assert s.offsets_minutes == (2880, 120) and s.channels == ("in-app", "email")
    assert ReminderSettings.from_json(s.to_json()) == s
    assert ReminderSettings.from_json({}) == ReminderSettings()
    assert s.describe() == "48 h before and 2 h before, by in-app then email"
    assert format_offset(10080) == "7 days" and format_offset(45) == "45 min"
    for bad in ([5], [True], ["2h", "120m"], [60] * 6, [None]):
        with pytest.raises(ReminderSettingsError):
            ReminderSettings.validated(bad)
    with pytest.raises(ReminderSettingsError):
        ReminderSettings.validated(["2h"], [])
    with pytest.raises(ReminderSettingsError):
        ReminderSettings.from_json({"reminder_offsets_minutes": "48h"})


def test_a_reminder_is_due_from_its_offset_before_the_start_until_the_start() -> None:
    offsets = (2880, 120)
    assert plan_due(START, BOOKED, offsets, START - timedelta(hours=49)) == []
    (first,) = plan_due(START, BOOKED, offsets, START - timedelta(hours=47))
    assert first.offset_minutes == 2880 and first.send
    assert first.due_at == START - timedelta(hours=48)
    assert plan_due(START, BOOKED, offsets, START) == []


def test_when_several_are_due_only_the_closest_goes_out() -> None:
    plans = plan_due(START, BOOKED, (2880, 120), START - timedelta(minutes=30))
    assert [(p.offset_minutes, p.send) for p in plans] == [(120, True), (2880, False)]
    assert plans[1].detail is not None and plans[1].detail.startswith("superseded")


def test_a_reminder_due_before_the_appointment_got_its_time_is_skipped() -> None:
    moved_at = START - timedelta(hours=10)
    (plan,) = plan_due(START, moved_at, (2880, 120), START - timedelta(hours=9))
    assert not plan.send and plan.detail is not None and plan.detail.startswith("scheduled-late")
    (later,) = [
        p for p in plan_due(START, moved_at, (2880, 120), START - timedelta(hours=1)) if p.send
    ]
    assert later.offset_minutes == 120


@given(
    offsets=st.sets(st.integers(min_value=10, max_value=30 * 24 * 60), min_size=1, max_size=5),
    before=st.integers(min_value=-600, max_value=40 * 24 * 60),
    booked_before=st.integers(min_value=0, max_value=60 * 24 * 60),
)
def test_at_most_one_reminder_goes_out_at_a_time_and_only_a_due_one(
    offsets: set[int], before: int, booked_before: int
) -> None:
    now = START - timedelta(minutes=before)
    plans = plan_due(START, START - timedelta(minutes=booked_before), offsets, now)
    sent = [p for p in plans if p.send]
    assert len(sent) <= 1
    assert all(p.due_at <= now < START for p in plans)
    assert {p.offset_minutes for p in plans} == {
        o for o in offsets if now < START and START - timedelta(minutes=o) <= now
    }
    if sent:
        assert sent[0].offset_minutes == min(p.offset_minutes for p in plans)


def test_retries_back_off() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4, 9)] == [
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(hours=3),
    ]


MESSAGE = ReminderMessage(
    reminder_id=1,
    organization_id=1,
    organization_name="Harbor Health",
    appointment_id=7,
    offset_minutes=2880,
    patient_name="Pat Doe",
    patient_email="pat@example.org",
    patient_phone="555-0100",
    practitioner_name="Dr. Ada Lovelace",
    clinic_name="Main clinic",
    clinic_address="1 Harbor St",
    clinic_timezone="America/New_York",
    appointment_type="Follow-up",
    start_at=START,
    end_at=START + timedelta(minutes=30),
)


def test_the_email_names_the_visit_in_the_clinics_time_and_comes_from_the_clinic() -> None:
    email = reminder_email(MESSAGE, "reminders@harbor.example")
    assert email["From"] == "Harbor Health <reminders@harbor.example>"
    assert email["To"] == "Pat Doe <pat@example.org>"
    assert email["Subject"] == "Reminder: Follow-up on Wed 09 Jan at 10:00"
    body = email.get_content()
    assert "Wed 09 Jan 2030, 10:00–10:30 (America/New_York)" in body
    assert "Main clinic, 1 Harbor St" in body


def test_the_in_app_channel_asks_the_front_desk_to_phone() -> None:
    outbox = Outbox()
    InAppChannel().send(MESSAGE, outbox)
    (note,) = outbox.notifications
    assert note.recipient_role == "front-desk" and "Phone 555-0100" in note.body
