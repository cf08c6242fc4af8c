"""Declared column mappings for importing appointment history from other systems.

A format says which source column holds what, how its values and timestamps are to be
read, and what the import assumes where the source is silent (time zone, visit length).
Adding another system's export is adding one ``HistoryFormat`` to ``FORMATS``; the
importer (``domain/history_import.py``) reads nothing that is not declared here.

Pure: no database, no Dash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

from data.vocabulary import APPOINTMENT_STATUSES, GENDERS

# How a source timestamp column is to be read.
#   "clinic-local": wall-clock time in the clinic's time zone, whatever suffix it carries;
#   "utc": a true instant in UTC.
TimestampKind = Literal["clinic-local", "utc"]


@dataclass(frozen=True)
class HistoryFormat:
    name: str
    title: str
    # Source column names, by what they hold.
    patient_id: str
    appointment_id: str
    clinic: str
    appointment_date: str
    booked_at: str
    outcome: str
    gender: str | None = None
    age: str | None = None
    reminder_sent: str | None = None
    # strptime patterns (pandas ``to_datetime(format=...)``). For a date-only source the
    # pattern spells the time part literally, so a row with a time of day is refused
    # instead of being silently truncated.
    appointment_date_format: str = "%Y-%m-%d"
    booked_at_format: str = "%Y-%m-%d %H:%M:%S"
    booked_at_kind: TimestampKind = "clinic-local"
    # True: the source records the day of the visit only. start_at becomes local midnight
    # of that day in the clinic's zone and the rows are flagged ``date_only``.
    date_only: bool = True
    # Source value -> stored value.
    outcome_values: Mapping[str, str] = field(default_factory=dict)
    gender_values: Mapping[str, str] = field(default_factory=dict)
    reminder_values: Mapping[str, bool] = field(default_factory=dict)
    # Columns present in the source that are deliberately not imported.
    ignored_columns: tuple[str, ...] = ()
    # Zone of a newly created organization and of new clinics; local times are read in it.
    timezone: str = "UTC"
    # The source has no visit length: every imported visit gets this many minutes.
    visit_minutes: int = 15
    appointment_type_code: str = "imported-visit"
    appointment_type_name: str = "Imported visit"
    encounter_type: str = "consultation"
    delimiter: str = ","
    # utf-8-sig also accepts a byte-order mark, which spreadsheet exports often add.
    encoding: str = "utf-8-sig"
    notes: str = ""

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # an unknown zone fails here, not halfway through an import
        if self.visit_minutes <= 0:
            raise ValueError(f"{self.name}: visit_minutes must be positive")
        unknown = set(self.outcome_values.values()) - set(APPOINTMENT_STATUSES)
        if unknown or not self.outcome_values:
            raise ValueError(f"{self.name}: outcome values must map to statuses, not {unknown}")
        if set(self.gender_values.values()) - set(GENDERS):
            raise ValueError(f"{self.name}: gender values must map to {GENDERS}")
        object.__setattr__(self, "outcome_values", MappingProxyType(dict(self.outcome_values)))
        object.__setattr__(self, "gender_values", MappingProxyType(dict(self.gender_values)))
        object.__setattr__(self, "reminder_values", MappingProxyType(dict(self.reminder_values)))

    @property
    def required_columns(self) -> tuple[str, ...]:
        optional = (self.gender, self.age, self.reminder_sent)
        return (
            self.patient_id,
            self.appointment_id,
            self.clinic,
            self.appointment_date,
            self.booked_at,
            self.outcome,
            *(c for c in optional if c is not None),
        )


KAGGLE_NOSHOW_2016 = HistoryFormat(
    name="kaggle-noshow-2016",
    title="Medical Appointment No Shows (Kaggle, Hoppen 2016), public clinics of Vitória, Brazil",
    patient_id="PatientId",
    appointment_id="AppointmentID",
    clinic="Neighbourhood",
    appointment_date="AppointmentDay",
    booked_at="ScheduledDay",
    outcome="No-show",
    gender="Gender",
    age="Age",
    reminder_sent="SMS_received",
    # AppointmentDay is a calendar date: its time is 00:00:00 on all 110,527 rows.
    appointment_date_format="%Y-%m-%dT00:00:00Z",
    booked_at_format="%Y-%m-%dT%H:%M:%SZ",
    # ScheduledDay carries a "Z" but is the clinic's local wall-clock time. As written, the
    # booking hours run 06:xx-21:xx with the first rush at 07:00-08:00 and a lunch dip at
    # 12:00-13:00 followed by a second peak at 13:30-14:30: a Brazilian clinic's day. Read
    # as real UTC they would be 03:00-18:59 in Vitória (UTC-3; UTC-2 under the 2015/16
    # summer time), with the busiest half hour at 04:00 in the morning. The local booking
    # date is therefore the date as written, and lead time (appointment date minus booking
    # date, in calendar days) reproduces the published figures exactly: 38,563 same-day
    # rows at 4.65% no-show, 71,959 rows of lead >= 1 day at 28.52%, 5 rows below zero.
    # (No booking is written before 06:00, so reading the "Z" as UTC would give the same
    # local dates here; the wall-clock reading is the one that also gets the hour right.)
    booked_at_kind="clinic-local",
    date_only=True,
    # "No-show: Yes" means the patient did not come.
    outcome_values={"Yes": "no-show", "No": "completed"},
    gender_values={"F": "F", "M": "M"},
    reminder_values={"1": True, "0": False},
    # Welfare enrolment and health conditions: not part of a scheduling record, and
    # sensitive; Handcap is a 0-4 count, not a flag. Left in the source file.
    ignored_columns=(
        "Scholarship",
        "Hipertension",
        "Diabetes",
        "Alcoholism",
        "Handcap",
    ),
    # Vitória, Espírito Santo, keeps Brasília time: America/Sao_Paulo.
    timezone="America/Sao_Paulo",
    # No visit length in the source; 15 minutes is the usual primary-care consultation
    # slot in Brazil's public clinics (about four an hour). It only matters to
    # utilization figures, which should treat date-only rows with that in mind.
    visit_minutes=15,
    notes=(
        "Age is the patient's age on AppointmentDay: over the 1,168 patients whose age "
        "changes between visits, ages never decrease in AppointmentDay order, while in "
        "ScheduledDay order they do for 193 patients. PatientId is kept exactly as "
        "written, including 5 values in scientific notation. Neighbourhood names the "
        "clinic's neighbourhood; there is no practitioner and no time of day."
    ),
)

FORMATS: dict[str, HistoryFormat] = {}


def register_format(fmt: HistoryFormat) -> HistoryFormat:
    if fmt.name in FORMATS and FORMATS[fmt.name] is not fmt:
        raise ValueError(f"a history format named {fmt.name!r} is already registered")
    FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> HistoryFormat:
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(FORMATS)) or "none"
        raise KeyError(f"unknown history format {name!r}; known formats: {known}") from None


register_format(KAGGLE_NOSHOW_2016)
