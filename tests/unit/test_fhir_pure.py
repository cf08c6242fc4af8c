"""FHIR search parameters and resource shapes: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot

from domain.calendar_feeds import initials
from domain.fhir.params import Query, parse_date, parse_reference, parse_tokens, window
from domain.fhir.resources import (
    AppointmentRow,
    FhirError,
    ScheduleRow,
    SlotRow,
    appointment_resource,
    schedule_resource,
    slot_id,
    slot_resource,
    weekly_hours,
)

NY = "America/New_York"


def test_a_date_is_the_whole_day_in_the_organizations_zone() -> None:
    assert parse_date("2026-03-08", NY) == [
        ("ge", datetime(2026, 3, 8, 5, tzinfo=UTC)),
        ("lt", datetime(2026, 3, 9, 4, tzinfo=UTC)),  # spring forward: a 23-hour day
    ]
    lo, hi = window(parse_date("2026-12", NY))
    assert (lo, hi) == (datetime(2026, 12, 1, 5, tzinfo=UTC), datetime(2027, 1, 1, 5, tzinfo=UTC))


@pytest.mark.parametrize(
    ("value", "bounds"),
    [
        ("lt2026-03-18", [("lt", datetime(2026, 3, 18, 4, tzinfo=UTC))]),
        ("le2026-03-18", [("lt", datetime(2026, 3, 19, 4, tzinfo=UTC))]),
        ("gt2026-03-18", [("ge", datetime(2026, 3, 19, 4, tzinfo=UTC))]),
        ("ge2026-03-18T10:00:00Z", [("ge", datetime(2026, 3, 18, 10, tzinfo=UTC))]),
        ("ge2026-03-18T10:00+02:00", [("ge", datetime(2026, 3, 18, 8, tzinfo=UTC))]),
    ],
)
def test_date_prefixes_bound_the_start(value: str, bounds: list) -> None:  # type: ignore[type-arg]
    assert [(op, at.astimezone(UTC)) for op, at in parse_date(value, NY)] == bounds


@pytest.mark.parametrize(
    "value", ["2026-13-01", "2026-02-30", "tomorrow", "ap2026-03-18", "2026-3-1"]
)
def test_bad_dates_are_400(value: str) -> None:
    with pytest.raises(FhirError) as err:
        parse_date(value, NY)
    assert err.value.status == 400


def test_references_tokens_and_unknown_parameters() -> None:
    assert parse_reference("Practitioner/12", ("Practitioner",), "p") == ("Practitioner", 12)
    assert parse_reference("12", ("Practitioner",), "p") == ("Practitioner", 12)
    assert parse_reference("https://x.org/fhir/Location/3", ("Practitioner", "Location"), "a") == (
        "Location",
        3,
    )
    for bad in ("Patient/12", "Practitioner/x", "12"):
        with pytest.raises(FhirError):
            parse_reference(bad, ("Practitioner", "Location"), "actor")
    assert parse_tokens(
        "booked,http://hl7.org/fhir/appointmentstatus|arrived",
        "http://hl7.org/fhir/appointmentstatus",
    ) == ["booked", "arrived"]
    with pytest.raises(FhirError):
        parse_tokens("http://other|booked", "http://hl7.org/fhir/appointmentstatus")
    with pytest.raises(FhirError, match="Unknown search parameter 'colour'"):
        Query.parse([("colour", "blue")], ["date"])
    with pytest.raises(FhirError, match="modifiers"):
        Query.parse([("date:missing", "true")], ["date"])
    assert Query.parse([("_count", "5000")], []).count() == 200


ROW = AppointmentRow(
    id=7,
    version=3,
    updated_at=datetime(2026, 3, 10, tzinfo=UTC),
    booked_at=datetime(2026, 3, 1, 14, tzinfo=UTC),
    status="cancelled",
    start_at=datetime(2026, 3, 19, 14, tzinfo=UTC),
    end_at=datetime(2026, 3, 19, 14, 30, tzinfo=UTC),
    duration_minutes=30,
    date_only=False,
    cancellation_category="patient-initiated",
    cancellation_reason="Feeling better",
    external_id=None,
    patient_id=1,
    patient_name="Pat Doe",
    practitioner_id=2,
    practitioner_name="Dr. Ada",
    clinic_id=3,
    clinic_name="Main",
    clinic_timezone=NY,
    type_code="new-patient",
    type_name="New patient",
)


def test_resources_are_valid_r4_with_local_times_and_coded_cancellation() -> None:
    a = appointment_resource(ROW)
    Appointment.model_validate(a)
    assert a["start"] == "2026-03-19T10:00:00-04:00" and a["meta"]["versionId"] == "3"
    assert a["cancelationReason"]["coding"][0]["code"] == "pat"
    assert a["cancelationReason"]["text"] == "Patient-initiated: Feeling better"
    assert "appointmentType" not in a  # no v2 equivalent for a new-patient visit
    row = ScheduleRow(
        2,
        "Dr. Ada",
        "Cardiology",
        3,
        "Main",
        NY,
        True,
        ((0, time(9), time(12)), (0, time(13), time(17)), (2, time(9), time(17))),
    )
    s = schedule_resource(
        row, (datetime(2026, 3, 18, tzinfo=UTC), datetime(2026, 6, 18, tzinfo=UTC))
    )
    Schedule.model_validate(s)
    assert s["id"] == "2-3" and "Mon 09:00–12:00, 13:00–17:00; Wed 09:00–17:00" in s["comment"]
    slot = SlotRow(2, 3, ROW.start_at, ROW.end_at, "free", 8, 3, NY, ("group", "Group"))
    r = slot_resource(slot)
    Slot.model_validate(r)
    assert r["id"] == slot_id(2, 3, ROW.start_at, ROW.end_at) == "2-3-202603191400-30"
    assert r["comment"] == "3 of 8 seats free"
    assert weekly_hours([]) == ""


def test_initials_hide_the_name() -> None:
    assert initials("pat", "doe") == "P.D."
    assert initials("", "") == "?"
