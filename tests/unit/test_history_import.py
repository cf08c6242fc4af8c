"""Reading another system's history: mapping, time, patients (pure, no database)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.history_formats import KAGGLE_NOSHOW_2016, HistoryFormat, get_format
from domain.history_import import (
    RawHistory,
    estimate_patients,
    parse_history,
    place_in_time,
)

FMT = KAGGLE_NOSHOW_2016
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
HEADER = (
    "PatientId,AppointmentID,Gender,ScheduledDay,AppointmentDay,Age,Neighbourhood,"
    "Scholarship,Hipertension,Diabetes,Alcoholism,Handcap,SMS_received,No-show"
)


def row(
    appointment: int = 5642903,
    patient: str = "29872499824296",
    gender: str = "F",
    booked: str = "2016-04-29T18:38:08Z",
    day: str = "2016-04-29T00:00:00Z",
    age: str = "62",
    clinic: str = "JARDIM DA PENHA",
    sms: str = "0",
    no_show: str = "No",
) -> str:
    return (
        f"{patient},{appointment},{gender},{booked},{day},{age},{clinic},0,1,0,0,0,{sms},{no_show}"
    )


def raw(*rows: str, header: str = HEADER) -> RawHistory:
    records = list(csv.reader(io.StringIO("\n".join(rows))))
    return RawHistory(header.split(","), records, [i + 2 for i in range(len(records))])


def parsed_and_placed(*rows: str) -> tuple[pd.DataFrame, list, list]:
    parsed = parse_history(raw(*rows), FMT)
    zones = {name: FMT.timezone for name in parsed.frame["clinic"].unique()}
    placed, warnings = place_in_time(parsed.frame, zones, FMT)
    return placed, parsed.errors, parsed.warnings + warnings


def test_a_kaggle_row_becomes_an_appointment_with_its_outcome_and_reminder() -> None:
    placed, errors, warnings = parsed_and_placed(
        row(appointment=1, no_show="Yes", sms="1", gender="M"),
        row(appointment=2, no_show="No", sms="0", gender="F"),
    )
    assert errors == [] and warnings == []
    assert placed["appointment_id"].tolist() == ["1", "2"]
    assert placed["status"].tolist() == ["no-show", "completed"]
    assert placed["reminder_sent"].tolist() == [True, False]
    assert placed["gender"].tolist() == ["M", "F"]
    assert placed["line"].tolist() == [2, 3]


def test_booking_time_is_the_clinics_wall_clock_and_the_visit_starts_at_local_midnight() -> None:
    placed, _, _ = parsed_and_placed(
        row(appointment=1, booked="2016-04-29T18:38:08Z", day="2016-05-02T00:00:00Z"),
        # January 2016: Brazilian summer time, UTC-2.
        row(appointment=2, booked="2016-01-15T07:05:00Z", day="2016-05-02T00:00:00Z"),
    )
    first, second = placed.iloc[0], placed.iloc[1]
    assert first["booked_at"].to_pydatetime() == datetime(2016, 4, 29, 18, 38, 8, tzinfo=SAO_PAULO)
    assert first["booked_at"].to_pydatetime() == datetime(2016, 4, 29, 21, 38, 8, tzinfo=UTC)
    assert second["booked_at"].to_pydatetime() == datetime(2016, 1, 15, 9, 5, tzinfo=UTC)
    start = first["start_at"].to_pydatetime()
    assert start == datetime(2016, 5, 2, 3, 0, tzinfo=UTC)
    assert start.astimezone(SAO_PAULO).date() == date(2016, 5, 2)
    assert first["end_at"] - first["start_at"] == pd.Timedelta(minutes=FMT.visit_minutes)


def test_lead_time_counts_calendar_days_between_local_dates() -> None:
    placed, _, _ = parsed_and_placed(
        # 23:30 in Vitória is 02:30 UTC the next day: still booked the day before.
        row(appointment=1, booked="2016-04-28T23:30:00Z", day="2016-04-29T00:00:00Z"),
        row(appointment=2, booked="2016-04-29T06:00:00Z", day="2016-04-29T00:00:00Z"),
        row(appointment=3, booked="2016-04-01T21:59:59Z", day="2016-04-29T00:00:00Z"),
    )
    assert placed["lead_days"].tolist() == [1, 0, 28]


def test_a_booking_after_the_appointment_day_is_imported_with_a_warning() -> None:
    placed, errors, warnings = parsed_and_placed(
        row(appointment=5679978, booked="2016-05-10T10:51:53Z", day="2016-05-09T00:00:00Z")
    )
    assert errors == []
    assert len(placed) == 1 and placed["lead_days"].tolist() == [-1]
    [warning] = warnings
    assert (warning.line, warning.appointment_id, warning.code) == (
        2,
        "5679978",
        "booked-after-visit",
    )
    assert "2016-05-10" in warning.message and "2016-05-09" in warning.message


def test_rows_that_cannot_be_represented_are_rejected_with_line_and_reason() -> None:
    parsed = parse_history(
        raw(
            row(appointment=1),
            row(appointment=2, day="2016-04-29T10:00:00Z"),  # a time on a date-only column
            row(appointment=3, booked="29/04/2016 18:38"),
            row(appointment=4, no_show="Maybe"),
            row(appointment=5, sms="yes"),
            row(appointment=6, clinic=""),
            row(appointment=1),  # the id of line 2 again
            "123,7,F,2016-04-29T18:38:08Z",
            row(appointment=8),
        ),
        FMT,
    )
    assert parsed.rows_read == 9
    assert parsed.frame["appointment_id"].tolist() == ["1", "8"]
    by_line = {e.line: e for e in parsed.errors}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9]
    assert by_line[3].code == "bad-date" and "AppointmentDay" in by_line[3].message
    assert by_line[4].code == "bad-date" and "'29/04/2016 18:38'" in by_line[4].message
    assert by_line[5].code == "bad-value" and "'Maybe'" in by_line[5].message
    assert by_line[6].code == "bad-value" and "SMS_received" in by_line[6].message
    assert by_line[7].code == "missing-value" and "Neighbourhood" in by_line[7].message
    assert by_line[8].code == "duplicate-id" and "line 2" in by_line[8].message
    assert by_line[9].code == "field-count" and "found 4" in by_line[9].message


def test_age_minus_one_leaves_the_birth_date_unknown_and_warns() -> None:
    parsed = parse_history(raw(row(appointment=5775010, patient="465943158731293", age="-1")), FMT)
    assert len(parsed.frame) == 1
    [warning] = parsed.warnings
    assert (warning.line, warning.appointment_id, warning.code) == (2, "5775010", "age-unknown")
    patients, _ = estimate_patients(parsed.frame)
    assert patients.loc["465943158731293", "birth_date"] is None
    assert not patients.loc["465943158731293", "birth_date_estimated"]


def test_patient_ids_in_scientific_notation_are_kept_exactly_as_written() -> None:
    parsed = parse_history(raw(row(patient="9377952927E-5"), row(appointment=2)), FMT)
    assert parsed.frame["patient_id"].tolist() == ["9377952927E-5", "29872499824296"]
    [warning] = parsed.warnings
    assert warning.code == "patient-id-notation" and warning.line == 2


@settings(max_examples=60, deadline=None)
@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2016, 6, 1)),
    offsets=st.lists(st.integers(min_value=0, max_value=3 * 365), min_size=1, max_size=6),
)
def test_the_estimated_birth_date_gives_back_every_recorded_age(
    birth: date, offsets: list[int]
) -> None:
    days = sorted({max(birth, date(2016, 6, 8) - timedelta(days=o)) for o in offsets})

    def age_on(born: date, day: date) -> int:
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    frame = pd.DataFrame(
        {
            "line": range(2, 2 + len(days)),
            "patient_id": "p",
            "day": pd.to_datetime(days).astype("datetime64[us]"),
            "gender": "F",
            "age": [float(age_on(birth, d)) for d in days],
        }
    )
    patients, warnings = estimate_patients(frame)
    estimate = patients.loc["p", "birth_date"]
    assert warnings == []
    assert patients.loc["p", "birth_date_estimated"]
    assert [age_on(estimate, d) for d in days] == frame["age"].astype(int).tolist()


def test_ages_that_contradict_each_other_are_reported() -> None:
    parsed = parse_history(
        raw(
            row(appointment=1, age="40", day="2016-05-02T00:00:00Z"),
            row(appointment=2, age="45", day="2016-05-03T00:00:00Z"),
        ),
        FMT,
    )
    patients, warnings = estimate_patients(parsed.frame)
    [warning] = warnings
    assert warning.code == "patient-details-differ" and warning.line == 3
    born = patients.loc["29872499824296", "birth_date"]
    assert date(2016, 5, 3).year - born.year in (45, 46)


def test_clock_changes_neither_lose_a_day_nor_invent_one() -> None:
    # Brazil's summer time began at midnight on 2016-10-16: that local midnight never
    # happened, so the day starts at 01:00; 00:30 on 2015-10-18 did not exist either.
    placed, errors, warnings = parsed_and_placed(
        row(appointment=1, booked="2015-10-18T00:30:00Z", day="2016-10-16T00:00:00Z")
    )
    assert errors == []
    start = placed["start_at"].iloc[0].to_pydatetime()
    assert start.astimezone(SAO_PAULO).date() == date(2016, 10, 16)
    assert start == datetime(2016, 10, 16, 3, 0, tzinfo=UTC)
    assert [w.code for w in warnings] == ["clock-change"]


def test_an_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="kaggle-noshow-2016"):
        get_format("excel-export")


def test_a_format_must_map_outcomes_to_real_statuses() -> None:
    with pytest.raises(ValueError, match="statuses"):
        HistoryFormat(
            name="bad",
            title="bad",
            patient_id="p",
            appointment_id="a",
            clinic="c",
            appointment_date="d",
            booked_at="b",
            outcome="o",
            outcome_values={"N": "did-not-attend"},
        )
