"""Import appointment history from another system's CSV export (plain or gzip).

Every data row ends up imported, already present, or rejected with its line number:

- rejected (``errors``): the appointment cannot be represented, e.g. no id, a date that
  does not parse, an outcome the format does not know, an id repeated in the file;
- imported with a ``warning``: odd but real history, kept as recorded (booked after the
  appointment day, an age of -1, a patient id written in scientific notation, ...);
- already present: an appointment with the same external id exists in the organization.
  Re-running an import therefore changes nothing, and fixing rejected rows then
  re-running imports just those.

The import is one transaction: it is written completely or not at all. What the source
lacks is represented as such: a placeholder "unknown practitioner" per clinic, the
``date_only`` flag when there is no time of day, ``birth_date_estimated`` for birth dates
derived from an age. The column mapping and the reading of timestamps come from a
declared ``HistoryFormat`` (``domain/history_formats.py``).
"""

from __future__ import annotations

import csv
import gzip
import re
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.bulk import insert_skipping_existing, lock_for_import, refresh_statistics
from data.local_facts import local_facts_frame
from data.models import (
    ActivityEvent,
    Appointment,
    AppointmentType,
    Clinic,
    ClinicAssignment,
    Organization,
    Patient,
    Practitioner,
)
from data.stats_summaries import invalidate_organization
from data.vocabulary import MAX_NAME_LENGTH
from domain.actor import Actor
from domain.context import AppContext
from domain.history_formats import HistoryFormat, get_format
from domain.organizations import DEFAULT_SETTINGS
from domain.permissions import Permission, PermissionDenied, require
from domain.text import clean_text

# (stage, rows done so far, rows in the stage or None when not known in advance)
Progress = Callable[[str, int, int | None], None]

PLACEHOLDER_SPECIALTY = "Not recorded"
IMPORT_EVENT = "HISTORY_IMPORTED"
IMPORT_ACTOR = "history import"
# Beyond this an "age" is a data error, and a birth date would leave the calendar range
# the stores and pandas handle.
MAX_AGE_YEARS = 130
_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")
_READ_PROGRESS_EVERY = 10_000


@dataclass(frozen=True, order=True)
class ImportIssue:
    """One problem with one line of the file (line 1 is the header)."""

    line: int
    appointment_id: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.appointment_id:
            where += f" (appointment {self.appointment_id})"
        return f"{where}: {self.message}"


class HistoryFileError(ValueError):
    """The file as a whole cannot be read with the chosen format; nothing was imported."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass
class ImportReport:
    path: str
    format_name: str
    organization: str
    dry_run: bool
    rows_read: int = 0
    # Written by this run (in a dry run: would be written).
    appointments_imported: int = 0
    appointments_already_present: int = 0
    patients_created: int = 0
    clinics_created: int = 0
    practitioners_created: int = 0
    organization_created: bool = False
    errors: list[ImportIssue] = field(default_factory=list)
    warnings: list[ImportIssue] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_rejected(self) -> int:
        return len({e.line for e in self.errors})

    def accounted_for(self) -> bool:
        """Nothing lost, nothing doubled: every row read is in exactly one count."""
        return self.rows_read == (
            self.appointments_imported + self.appointments_already_present + self.rows_rejected
        )


# --------------------------------------------------------------------------- reading


@dataclass
class RawHistory:
    header: list[str]
    records: list[list[str]]
    lines: list[int]  # the line each record starts on


@contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    """Plain or gzip, decided by the content (the gzip magic bytes), not the file name."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rb") if gzipped else open(path, "rb") as fh:
        yield fh  # type: ignore[misc]


def _decoded_lines(binary: IO[bytes], encoding: str) -> Iterator[str]:
    # Decoded line by line (not by the buffer) so that bad bytes get their real line.
    for number, line in enumerate(binary, start=1):
        try:
            yield line.decode(encoding)
        except UnicodeDecodeError as exc:
            raise HistoryFileError(
                f"not {encoding} text ({exc.reason} at byte {exc.start + 1} of the line)",
                line=number,
            ) from exc


def read_history_file(
    path: str | Path, fmt: HistoryFormat, progress: Progress | None = None
) -> RawHistory:
    """Read the header and every record with the line it starts on (quoted fields may
    span lines; blank lines are not records)."""
    path = Path(path)
    if not path.is_file():
        raise HistoryFileError(f"no such file: {path}")
    records: list[list[str]] = []
    lines: list[int] = []
    reader: Any = None
    try:
        with _open_binary(path) as fh:
            reader = csv.reader(
                _decoded_lines(fh, fmt.encoding), delimiter=fmt.delimiter, strict=True
            )
            header = next(reader, None)
            if header is None:
                raise HistoryFileError("the file is empty; expected a header line", line=1)
            previous_end = reader.line_num
            for record in reader:
                start, previous_end = previous_end + 1, reader.line_num
                if not record or record == [""]:
                    continue
                records.append(record)
                lines.append(start)
                if progress and len(records) % _READ_PROGRESS_EVERY == 0:
                    progress("reading", len(records), None)
    except csv.Error as exc:
        line = reader.line_num if reader is not None else None
        raise HistoryFileError(f"not readable as CSV: {exc}", line=line) from exc
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise HistoryFileError(f"the gzip data is damaged or truncated ({exc})") from exc
    if progress:
        progress("reading", len(records), len(records))
    header = [h.strip() for h in header]
    missing = [c for c in fmt.required_columns if c not in header]
    if missing:
        raise HistoryFileError(
            f"missing column(s) {', '.join(missing)} for format {fmt.name}; "
            f"the header has: {', '.join(header)}",
            line=1,
        )
    doubled = sorted({c for c in fmt.required_columns if header.count(c) > 1})
    if doubled:
        raise HistoryFileError(f"column(s) {', '.join(doubled)} appear more than once", line=1)
    return RawHistory(header, records, lines)


# --------------------------------------------------------------------------- parsing


@dataclass
class ParsedHistory:
    """Rows that can be imported (one per appointment), and what was found on the way.

    ``frame`` columns: line, appointment_id, patient_id, clinic, day (naive datetime:
    the local date, or local date and time when the source has times), booked (naive
    datetime as the format reads it), status, reminder_sent, gender, age (float, NaN
    when unknown).
    """

    frame: pd.DataFrame
    rows_read: int
    errors: list[ImportIssue]
    warnings: list[ImportIssue]


class _Issues:
    def __init__(self, lines: np.ndarray, ids: np.ndarray) -> None:
        self.lines, self.ids = lines, ids
        self.items: list[ImportIssue] = []

    def add(self, mask: np.ndarray | pd.Series, code: str, message: Callable[[int], str]) -> None:
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            aid = self.ids[i] or None
            self.items.append(ImportIssue(int(self.lines[i]), aid, code, message(int(i))))


def parse_history(raw: RawHistory, fmt: HistoryFormat) -> ParsedHistory:
    """Check and convert every record; pure (no database)."""
    width = len(raw.header)
    ok_width = np.fromiter((len(r) == width for r in raw.records), bool, len(raw.records))
    width_errors = [
        ImportIssue(
            line,
            None,
            "field-count",
            f"expected {width} fields as in the header, found {len(record)}",
        )
        for record, line, ok in zip(raw.records, raw.lines, ok_width, strict=True)
        if not ok
    ]
    records = [r for r, ok in zip(raw.records, ok_width, strict=True) if ok]
    lines = np.asarray(raw.lines, dtype=np.int64)[ok_width]
    index = {name: raw.header.index(name) for name in fmt.required_columns}

    def column(name: str) -> pd.Series:
        i = index[name]
        return pd.Series([r[i].strip() for r in records], dtype="str")

    aid = column(fmt.appointment_id)
    errors = _Issues(lines, aid.to_numpy())
    warnings = _Issues(lines, aid.to_numpy())

    required = (
        fmt.appointment_id,
        fmt.patient_id,
        fmt.clinic,
        fmt.appointment_date,
        fmt.booked_at,
        fmt.outcome,
    )
    values = {name: column(name) for name in required}
    for name in required:
        errors.add(values[name] == "", "missing-value", _about(f"{_braces(name)} is empty"))
    for name, limit in ((fmt.appointment_id, 64), (fmt.patient_id, 64), (fmt.clinic, 200)):
        errors.add(
            values[name].str.len() > limit,
            "too-long",
            _about(f"{_braces(name)} is longer than {limit} characters"),
        )
    repeated = (aid.duplicated(keep="first") & (aid != "")).to_numpy()
    if repeated.any():
        first_line = dict(zip(aid[::-1], lines[::-1], strict=True))
        errors.add(
            repeated,
            "duplicate-id",
            lambda i: (
                f"{fmt.appointment_id} {aid[i]} already appears on line "
                f"{first_line[aid[i]]}; this row is not imported"
            ),
        )

    day = _parse_times(values[fmt.appointment_date], fmt.appointment_date_format)
    booked = _parse_times(values[fmt.booked_at], fmt.booked_at_format)
    for name, parsed, pattern in (
        (fmt.appointment_date, day, fmt.appointment_date_format),
        (fmt.booked_at, booked, fmt.booked_at_format),
    ):
        errors.add(
            parsed.isna() & (values[name] != ""),
            "bad-date",
            _about(
                f"{_braces(name)} {{value!r}} is not a date in the format's pattern "
                f"{_braces(pattern)}",
                values[name],
            ),
        )

    outcome = values[fmt.outcome]
    status = outcome.map(dict(fmt.outcome_values))
    errors.add(
        status.isna() & (outcome != ""),
        "bad-value",
        lambda i: (
            f"{fmt.outcome} {outcome[i]!r} is not one of "
            f"{', '.join(repr(k) for k in fmt.outcome_values)}"
        ),
    )

    if fmt.reminder_sent is not None:
        reminder_raw = column(fmt.reminder_sent)
        reminder = reminder_raw.map(dict(fmt.reminder_values))
        errors.add(
            reminder.isna(),
            "bad-value",
            lambda i: (
                f"{fmt.reminder_sent} {reminder_raw[i]!r} is not one of "
                f"{', '.join(repr(k) for k in fmt.reminder_values)}"
            ),
        )
        reminder_sent = reminder.fillna(False).astype(bool)
    else:
        reminder_sent = pd.Series(False, index=aid.index)

    gender = pd.Series(None, index=aid.index, dtype=object)
    if fmt.gender is not None:
        gender_raw = column(fmt.gender)
        gender = gender_raw.map(dict(fmt.gender_values)).astype(object)
        gender = gender.where(gender.notna(), None)
        warnings.add(
            gender.isna(),
            "gender-unknown",
            lambda i: f"{fmt.gender} {gender_raw[i]!r} is not a known value; gender left unknown",
        )

    age = pd.Series(np.nan, index=aid.index)
    if fmt.age is not None:
        age_raw = column(fmt.age)
        number = pd.to_numeric(age_raw, errors="coerce")
        whole = number.notna() & (number == np.floor(number))
        valid = whole & (number >= 0) & (number <= MAX_AGE_YEARS)
        warnings.add(
            ~valid,
            "age-unknown",
            lambda i: (
                f"{fmt.age} {age_raw[i]!r} is not a valid age; "
                "the patient's birth date is left unknown"
            ),
        )
        age = number.where(valid).astype(float)

    patient = values[fmt.patient_id]
    scientific = patient.str.contains("e", case=False, regex=False).to_numpy(copy=True)
    scientific[scientific] = patient[scientific].str.fullmatch(_SCIENTIFIC).to_numpy()
    warnings.add(
        scientific,
        "patient-id-notation",
        lambda i: (
            f"{fmt.patient_id} {patient[i]!r} is written in scientific notation; "
            "kept exactly as written"
        ),
    )

    rejected_lines = {e.line for e in errors.items}
    keep = ~pd.Series(lines).isin(rejected_lines).to_numpy()
    frame = pd.DataFrame(
        {
            "line": lines,
            "appointment_id": aid,
            "patient_id": patient,
            "clinic": values[fmt.clinic],
            "day": day,
            "booked": booked,
            "status": status.astype(object),
            "reminder_sent": reminder_sent,
            "gender": gender,
            "age": age,
        }
    )[keep].reset_index(drop=True)
    return ParsedHistory(
        frame=frame,
        rows_read=len(raw.records),
        errors=sorted(width_errors + errors.items),
        warnings=sorted(w for w in warnings.items if w.line not in rejected_lines),
    )


def _about(template: str, values: pd.Series | None = None) -> Callable[[int], str]:
    """A message per row: ``template`` with ``{value}`` standing for the row's value."""
    if values is None:
        return lambda _i: template
    return lambda i: template.format(value=values.iloc[i])


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _parse_times(values: pd.Series, pattern: str) -> pd.Series:
    parsed = pd.to_datetime(values, format=pattern, errors="coerce")
    return parsed.astype("datetime64[us]")


# --------------------------------------------------------------------------- time


def place_in_time(
    frame: pd.DataFrame, zones: Mapping[str, str], fmt: HistoryFormat
) -> tuple[pd.DataFrame, list[ImportIssue]]:
    """Turn local dates and times into UTC instants in each row's clinic zone.

    Adds start_at, end_at and booked_at (UTC), and lead_days: the clinic-local
    calendar date of the visit minus that of the booking. A date-only visit starts at
    local midnight, so that its instant falls on the right calendar day in the clinic's
    zone (UTC midnight would be the evening before in Brazil); where a clock change
    skips midnight the day starts at the first instant that exists.
    """
    out = frame.copy()
    warnings: list[ImportIssue] = []
    if out.empty:
        for name in ("start_at", "end_at", "booked_at"):
            out[name] = pd.Series(dtype="datetime64[us, UTC]")
        out["lead_days"] = pd.Series(dtype="int64")
        return out, warnings
    zone_of_row = out["clinic"].map(dict(zones))
    starts: list[pd.Series] = []
    bookeds: list[pd.Series] = []
    booked_dates: list[pd.Series] = []
    for zone, rows in out.groupby(zone_of_row, sort=True):
        earlier = np.ones(len(rows), dtype=bool)  # an hour that occurs twice: the first
        starts.append(
            rows["day"]
            .dt.tz_localize(zone, ambiguous=earlier, nonexistent="shift_forward")
            .dt.tz_convert("UTC")
        )
        if fmt.booked_at_kind == "clinic-local":
            exact = rows["booked"].dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
            local = rows["booked"].dt.tz_localize(
                zone, ambiguous=earlier, nonexistent="shift_forward"
            )
            for i in np.flatnonzero(exact.isna().to_numpy()):
                row = rows.iloc[i]
                warnings.append(
                    ImportIssue(
                        int(row["line"]),
                        row["appointment_id"],
                        "clock-change",
                        f"{fmt.booked_at} {row['booked']:%Y-%m-%d %H:%M:%S} is skipped or "
                        f"repeated by a clock change in {zone}; read as "
                        f"{local.iloc[i].isoformat()}",
                    )
                )
            bookeds.append(local.dt.tz_convert("UTC"))
            booked_dates.append(rows["booked"].dt.normalize())
        else:
            instant = rows["booked"].dt.tz_localize("UTC")
            bookeds.append(instant)
            booked_dates.append(instant.dt.tz_convert(zone).dt.tz_localize(None).dt.normalize())
    out["start_at"] = pd.concat(starts).astype("datetime64[us, UTC]").reindex(out.index)
    out["end_at"] = out["start_at"] + pd.Timedelta(minutes=fmt.visit_minutes)
    out["booked_at"] = pd.concat(bookeds).astype("datetime64[us, UTC]").reindex(out.index)
    booked_date = pd.concat(booked_dates).reindex(out.index)
    out["lead_days"] = (out["day"].dt.normalize() - booked_date).dt.days.astype("int64")
    for i in np.flatnonzero((out["lead_days"] < 0).to_numpy()):
        row = out.iloc[i]
        days = -int(row["lead_days"])
        warnings.append(
            ImportIssue(
                int(row["line"]),
                row["appointment_id"],
                "booked-after-visit",
                f"booked on {booked_date.iloc[i]:%Y-%m-%d}, {days} day{'s' * (days != 1)} "
                f"after the appointment day {row['day']:%Y-%m-%d}; imported as recorded",
            )
        )
    return out, warnings


# --------------------------------------------------------------------------- patients


def _years_before(days: pd.Series, years: pd.Series) -> pd.Series:
    """The same calendar day ``years`` earlier (29 February becomes the 28th)."""
    year = days.dt.year - years.astype("int64")
    month, day = days.dt.month, days.dt.day
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    day = day.where(~((month == 2) & (day == 29) & ~leap), 28)
    return pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}))


def estimate_patients(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[ImportIssue]]:
    """One row per patient id: gender and a birth date estimated from the ages.

    An age ``a`` on day ``d`` puts the birth date in (d - (a+1) years, d - a years].
    Intersecting those intervals over a patient's rows narrows it; the midpoint is
    chosen, so the age recomputed on each row's day equals the age the source recorded.
    When a patient's ages contradict each other the latest row's interval is used and
    the rows are listed in a warning.
    """
    warnings: list[ImportIssue] = []
    ordered = frame.sort_values(["patient_id", "day", "line"], kind="stable")
    patients = ordered.groupby("patient_id", sort=False).agg(
        gender=("gender", "first"),
        genders=("gender", "nunique"),
        first_line=("line", "first"),
    )
    known = ordered[ordered["age"].notna()]
    days = known["day"].dt.normalize()
    intervals = pd.DataFrame(
        {
            "patient_id": known["patient_id"],
            "lo": _years_before(days, known["age"] + 1) + pd.Timedelta(days=1),
            "hi": _years_before(days, known["age"]),
        }
    )
    grouped = intervals.groupby("patient_id", sort=False)
    bounds = grouped.agg(lo=("lo", "max"), hi=("hi", "min"))
    last = grouped.agg(lo=("lo", "last"), hi=("hi", "last"))
    contradictory = bounds["lo"] > bounds["hi"]
    bounds.loc[contradictory, ["lo", "hi"]] = last.loc[contradictory, ["lo", "hi"]]
    midpoint = bounds["lo"] + (bounds["hi"] - bounds["lo"]) / 2
    birth = midpoint.dt.floor("D").dt.date
    patients["birth_date"] = birth.reindex(patients.index).astype(object)
    patients["birth_date"] = patients["birth_date"].where(patients["birth_date"].notna(), None)
    patients["birth_date_estimated"] = patients["birth_date"].notna()

    for pid in contradictory[contradictory].index:
        rows = known[known["patient_id"] == pid]
        ages = ", ".join(
            f"{int(a)} on {d:%Y-%m-%d} (line {ln})"
            for a, d, ln in zip(rows["age"], rows["day"], rows["line"], strict=True)
        )
        warnings.append(
            ImportIssue(
                int(rows["line"].iloc[-1]),
                None,
                "patient-details-differ",
                f"patient {pid}: ages {ages} cannot all be true; birth date estimated from "
                "the latest",
            )
        )
    for pid, row in patients[patients["genders"] > 1].iterrows():
        warnings.append(
            ImportIssue(
                int(row["first_line"]),
                None,
                "patient-details-differ",
                f"patient {pid}: rows disagree on gender; kept {row['gender']} from the "
                "earliest visit",
            )
        )
    return patients[["gender", "birth_date", "birth_date_estimated"]], warnings


# --------------------------------------------------------------------------- service


def import_history(
    ctx: AppContext,
    path: str | Path,
    *,
    organization: str,
    format_name: str,
    dry_run: bool = False,
    timezone: str | None = None,
    progress: Progress | None = None,
    actor: Actor | None = None,
) -> ImportReport:
    """Import (or, with ``dry_run``, only check and count) a history file into the
    organization named ``organization``, creating it if missing.

    ``timezone`` overrides the format's zone for a new organization and new clinics.
    ``actor`` (default: the system) is recorded on the import's activity event; a user
    needs the manage-settings permission and can only import into their organization.
    Raises ``HistoryFileError`` when the file cannot be read at all (nothing is written);
    row problems are in the report.
    """
    actor = actor or Actor.system(IMPORT_ACTOR)
    require(actor, Permission.MANAGE_SETTINGS)
    started = time.perf_counter()
    fmt = get_format(format_name)
    zone = timezone or fmt.timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}") from None
    organization = (
        clean_text(
            organization, field="organization name", max_length=MAX_NAME_LENGTH, required=True
        )
        or ""
    )

    raw = read_history_file(path, fmt, progress)
    if progress:
        progress("checking", 0, len(raw.records))
    parsed = parse_history(raw, fmt)
    report = ImportReport(
        path=str(path),
        format_name=fmt.name,
        organization=organization,
        dry_run=dry_run,
        rows_read=parsed.rows_read,
        errors=parsed.errors,
    )
    warnings = list(parsed.warnings)
    now = ctx.clock()

    scope = ctx.db.read() if dry_run else ctx.db.transaction(write_lock=True)
    with scope as session:
        if not dry_run:
            lock_for_import(session, f"history-import:{organization}")
        org = session.scalars(
            select(Organization).where(Organization.name == organization)
        ).one_or_none()
        report.organization_created = org is None
        if not actor.is_system and (org is None or org.id != actor.organization_id):
            raise PermissionDenied("You can only import history into your own organization.")
        clinics: dict[str, Clinic] = {}
        if org is not None:
            clinics = {
                c.name: c
                for c in session.scalars(select(Clinic).where(Clinic.organization_id == org.id))
            }
        zones = {
            name: (clinics[name].timezone if name in clinics else zone)
            for name in parsed.frame["clinic"].unique()
        }
        placed, time_warnings = place_in_time(parsed.frame, zones, fmt)
        patients, patient_warnings = estimate_patients(parsed.frame)
        report.warnings = sorted(warnings + time_warnings + patient_warnings)
        if progress:
            progress("checking", parsed.rows_read, parsed.rows_read)

        present = _appointment_external_ids(session, org)
        new = placed[~placed["appointment_id"].isin(present)]
        known_patients = _patient_ids(session, org)
        new_patients = patients[
            ~patients.index.isin(list(known_patients)) & patients.index.isin(new["patient_id"])
        ]
        new_clinics = sorted(set(new["clinic"]) - clinics.keys())
        report.appointments_already_present = len(placed) - len(new)
        report.clinics_created = len(new_clinics)
        report.patients_created = len(new_patients)

        if dry_run:
            report.appointments_imported = len(new)
            placeholders = _placeholders(session, [c.id for c in clinics.values()])
            used = set(new["clinic"])
            report.practitioners_created = sum(
                1 for name in used if name not in clinics or clinics[name].id not in placeholders
            )
            report.seconds = time.perf_counter() - started
            return report

        if org is None and new.empty:
            # Nothing to import (every row rejected, or an empty file): do not leave an
            # empty organization behind.
            report.organization_created = False
            report.seconds = time.perf_counter() - started
            return report
        if org is None:
            org = Organization(
                name=organization, timezone=zone, settings=dict(DEFAULT_SETTINGS), created_at=now
            )
            session.add(org)
            session.flush()
        type_id = _appointment_type(session, org, fmt)
        for name in new_clinics:
            clinic = Clinic(organization_id=org.id, name=name, timezone=zone, address=None)
            session.add(clinic)
            clinics[name] = clinic
        session.flush()
        first_day = new.groupby("clinic")["day"].min()
        practitioner_of, report.practitioners_created = _ensure_placeholders(
            session, org, {clinics[name]: first_day[name].date() for name in first_day.index}
        )

        patient_rows = _patient_rows(new_patients, org.id, now)
        report.patients_created = insert_skipping_existing(
            session,
            "patients",
            patient_rows,
            ("organization_id", "external_id"),
            _stage(progress, "patients", len(patient_rows)),
        )
        appointment_rows = _appointment_rows(
            new,
            org_id=org.id,
            patient_id=_patient_ids(session, org),
            clinic_id={name: c.id for name, c in clinics.items()},
            practitioner_of=practitioner_of,
            type_id=type_id,
            fmt=fmt,
            now=now,
            clinic_tz={c.id: c.timezone for c in clinics.values()},
        )
        report.appointments_imported = insert_skipping_existing(
            session,
            "appointments",
            appointment_rows,
            ("organization_id", "external_id"),
            _stage(progress, "appointments", len(appointment_rows)),
        )
        if report.appointments_imported:
            # A bulk insert bypasses the ORM's flush hook: drop stored statistics here.
            invalidate_organization(session.connection(), org.id)
        # Rows another import wrote between our read and our insert are skipped by the
        # database and counted here.
        report.appointments_already_present = len(placed) - report.appointments_imported
        report.seconds = time.perf_counter() - started
        session.add(
            ActivityEvent(
                organization_id=org.id,
                event_type=IMPORT_EVENT,
                payload={
                    "file": Path(path).name,
                    "format": fmt.name,
                    "rows_read": report.rows_read,
                    "appointments_imported": report.appointments_imported,
                    "appointments_already_present": report.appointments_already_present,
                    "rows_rejected": report.rows_rejected,
                    "warnings": len(report.warnings),
                },
                priority="normal",
                actor_user_id=actor.user_id,
                actor_name=actor.name,
                created_at=now,
            )
        )
        session.flush()
        if report.appointments_imported >= 10_000:
            refresh_statistics(session, ("patients", "appointments"))
    report.seconds = time.perf_counter() - started
    return report


def _stage(progress: Progress | None, stage: str, total: int) -> Callable[[int], None]:
    done = 0
    if progress:
        progress(stage, 0, total)

    def step(rows: int) -> None:
        nonlocal done
        done += rows
        if progress:
            progress(stage, done, total)

    return step


def _appointment_external_ids(session: Session, org: Organization | None) -> set[str]:
    if org is None:
        return set()
    return set(
        session.scalars(
            select(Appointment.external_id).where(
                Appointment.organization_id == org.id, Appointment.external_id.is_not(None)
            )
        )
    )


def _patient_ids(session: Session, org: Organization | None) -> dict[str, int]:
    if org is None:
        return {}
    rows = session.execute(
        select(Patient.external_id, Patient.id).where(
            Patient.organization_id == org.id, Patient.external_id.is_not(None)
        )
    )
    return {str(ext): int(pid) for ext, pid in rows}


def _appointment_type(session: Session, org: Organization, fmt: HistoryFormat) -> int:
    existing = session.scalars(
        select(AppointmentType).where(
            AppointmentType.organization_id == org.id,
            AppointmentType.code == fmt.appointment_type_code,
        )
    ).one_or_none()
    if existing is not None:
        return existing.id
    created = AppointmentType(
        organization_id=org.id,
        code=fmt.appointment_type_code,
        name=fmt.appointment_type_name,
        default_duration_minutes=fmt.visit_minutes,
        encounter_type=fmt.encounter_type,
        is_group=False,
        # Imported visits describe the past; nobody books this type.
        active=False,
    )
    session.add(created)
    session.flush()
    return created.id


def _placeholders(session: Session, clinic_ids: list[int]) -> dict[int, int]:
    if not clinic_ids:
        return {}
    rows = session.execute(
        select(ClinicAssignment.clinic_id, Practitioner.id)
        .join(Practitioner, Practitioner.id == ClinicAssignment.practitioner_id)
        .where(ClinicAssignment.clinic_id.in_(clinic_ids), Practitioner.is_placeholder)
        .order_by(Practitioner.id)
    )
    out: dict[int, int] = {}
    for clinic_id, practitioner_id in rows:
        out.setdefault(int(clinic_id), int(practitioner_id))
    return out


def _ensure_placeholders(
    session: Session, org: Organization, first_day: Mapping[Clinic, date]
) -> tuple[dict[int, int], int]:
    """The stand-in practitioner of each clinic: inactive (nobody can book them), with an
    assignment to the clinic from its earliest imported visit."""
    existing = _placeholders(session, [c.id for c in first_day])
    created = 0
    for clinic, day in sorted(first_day.items(), key=lambda kv: kv[0].name):
        if clinic.id in existing:
            assignment = session.scalars(
                select(ClinicAssignment).where(
                    ClinicAssignment.clinic_id == clinic.id,
                    ClinicAssignment.practitioner_id == existing[clinic.id],
                )
            ).first()
            if assignment is not None and assignment.active_from > day:
                assignment.active_from = day
            continue
        practitioner = Practitioner(
            organization_id=org.id,
            name=f"Unknown practitioner ({clinic.name})"[:200],
            specialty=PLACEHOLDER_SPECIALTY,
            active=False,
            is_placeholder=True,
        )
        session.add(practitioner)
        session.flush()
        session.add(
            ClinicAssignment(practitioner_id=practitioner.id, clinic_id=clinic.id, active_from=day)
        )
        existing[clinic.id] = practitioner.id
        created += 1
    session.flush()
    return {c.id: existing[c.id] for c in first_day}, created


def _patient_rows(patients: pd.DataFrame, org_id: int, now: datetime) -> pd.DataFrame:
    # The source has no names: the patient is called by the id the source used.
    return pd.DataFrame(
        {
            "organization_id": org_id,
            "given_name": "Patient",
            "family_name": patients.index.to_numpy(dtype=object),
            "birth_date": patients["birth_date"].to_numpy(dtype=object),
            "birth_date_estimated": patients["birth_date_estimated"].to_numpy(dtype=bool),
            "gender": patients["gender"].to_numpy(dtype=object),
            "external_id": patients.index.to_numpy(dtype=object),
            "created_at": pd.Series(pd.Timestamp(now), index=range(len(patients))),
        }
    )


def _appointment_rows(
    new: pd.DataFrame,
    *,
    org_id: int,
    patient_id: Mapping[str, int],
    clinic_id: Mapping[str, int],
    practitioner_of: Mapping[int, int],
    type_id: int,
    fmt: HistoryFormat,
    now: datetime,
    clinic_tz: Mapping[int, str],
) -> pd.DataFrame:
    clinics = new["clinic"].map(dict(clinic_id)).astype("int64")
    stamp = pd.Series(pd.Timestamp(now), index=new.index).astype("datetime64[us, UTC]")
    facts = local_facts_frame(
        pd.DataFrame(
            {
                "clinic_id": clinics,
                "start_at": new["start_at"],
                "booked_at": new["booked_at"],
                "date_only": fmt.date_only,
            }
        ),
        clinic_tz,
    )
    return pd.DataFrame(
        {
            "organization_id": org_id,
            "patient_id": new["patient_id"].map(dict(patient_id)).astype("int64"),
            "practitioner_id": clinics.map(dict(practitioner_of)).astype("int64"),
            "clinic_id": clinics,
            "appointment_type_id": type_id,
            "start_at": new["start_at"],
            "end_at": new["end_at"],
            "duration_minutes": fmt.visit_minutes,
            "status": new["status"],
            "booked_at": new["booked_at"],
            "reminder_sent": new["reminder_sent"].astype(bool),
            "date_only": fmt.date_only,
            # History is recorded, not booked: it takes no part in the no-overlap rule.
            "exclusive": False,
            "local_date": facts["local_date"],
            "local_hour": facts["local_hour"],
            "lead_days": facts["lead_days"],
            "external_id": new["appointment_id"].astype(object),
            "created_at": stamp,
            "updated_at": stamp,
            "version": 1,
        }
    ).reset_index(drop=True)
