"""CSV import of weekly schedule blocks: one row per block, all or nothing.

Columns (header row required; names in any case, in any order; README "Administration"):

| column | required | value |
| --- | --- | --- |
| practitioner | yes | the practitioner's id or exact name |
| clinic | yes | the clinic's id or exact name |
| weekday | yes | Monday ... Sunday, Mon ... Sun, or 0 (Monday) ... 6 (Sunday) |
| start, end | yes | clinic-local time, HH:MM (24-hour) |
| slot_minutes | yes | slot length in minutes |
| capacity | no | patients per slot (default 1) |
| valid_from | no | first date, YYYY-MM-DD (default: the clinic's today) |
| valid_to | no | last date, YYYY-MM-DD (default: open-ended) |
| appointment_type | no | only this type may be booked in the block: its code, name or id |

Every row is checked by the same rules as a block entered in the form (see
``domain.admin.schedules``), against the blocks already stored and against the file's
earlier rows. A dry run reports every bad row by its line number with the reason and
writes nothing; the real run writes every block in one transaction, and only when no row
is bad. Slot lengths that leave minutes over are accepted and stated in the report.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import AppointmentType, Clinic, Practitioner
from domain.actor import Actor
from domain.admin._common import authorize, get_organization_row, local_today, lock_practitioners
from domain.admin._common import record as record_event
from domain.admin.errors import INVALID_FILE, AdminError
from domain.admin.rules import BlockShape, day_text, first_clash
from domain.admin.schedules import (
    ExistingBlock,
    assignment_periods,
    check_block,
    existing_blocks,
    insert_block,
    parse_shape,
)
from domain.availability import invalidate_organization
from domain.context import AppContext

COLUMNS = (
    "practitioner",
    "clinic",
    "weekday",
    "start",
    "end",
    "slot_minutes",
    "capacity",
    "valid_from",
    "valid_to",
    "appointment_type",
)
REQUIRED = ("practitioner", "clinic", "weekday", "start", "end", "slot_minutes")
MAX_IMPORT_BYTES = 1024 * 1024
MAX_IMPORT_ROWS = 5_000


@dataclass(frozen=True)
class RowProblem:
    line: int  # in the file, the header being line 1
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ImportedBlock:
    line: int
    practitioner: str
    clinic: str
    hours: str  # 'Saturday 09:00–12:00'
    slot_minutes: int
    capacity: int
    validity: str
    appointment_type: str | None


@dataclass
class ImportReport:
    """What a dry run found, or what the real run wrote (``imported``)."""

    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[RowProblem] = field(default_factory=list)
    blocks: list[ImportedBlock] = field(default_factory=list)
    dry_run: bool = True
    imported: int = 0
    schedule_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.rows > 0

    def summary(self) -> str:
        if self.problems:
            bad = len({p.line for p in self.problems})
            return (
                f"{bad} of {self.rows} row{'s' if self.rows != 1 else ''} "
                f"{'have' if bad != 1 else 'has'} problems; nothing was imported. "
                "Correct the file and try again."
            )
        if self.dry_run:
            return (
                f"All {self.rows} row{'s' if self.rows != 1 else ''} are valid. "
                "Nothing was imported yet (dry run)."
            )
        return f"Imported {self.imported} weekly block{'s' if self.imported != 1 else ''}."


# --------------------------------------------------------------------------- reading


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        return content
    if len(content) > MAX_IMPORT_BYTES:
        raise AdminError(
            INVALID_FILE,
            f"The file is {len(content) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_IMPORT_BYTES // 1024 // 1024} MB ({MAX_IMPORT_ROWS:,} rows).",
            "file",
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AdminError(
            INVALID_FILE,
            "The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.",
            "file",
        ) from exc


def _rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header (normalized column names) and the data rows with their line numbers."""
    if "\x00" in text:
        raise AdminError(INVALID_FILE, "This is not a CSV text file.", "file")
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header_row = next(reader, None)
        if header_row is None or not any(c.strip() for c in header_row):
            raise AdminError(
                INVALID_FILE,
                "The file is empty; its first line must name the columns: " + ", ".join(COLUMNS),
                "file",
            )
        header = [c.strip().lower().replace(" ", "_") for c in header_row]
        rows: list[tuple[int, list[str]]] = []
        line = reader.line_num
        for values in reader:
            start_line, line = line + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue  # blank lines are not rows
            rows.append((start_line, values))
            if len(rows) > MAX_IMPORT_ROWS:
                raise AdminError(
                    INVALID_FILE,
                    f"The file has more than {MAX_IMPORT_ROWS:,} rows; split it.",
                    "file",
                )
    except csv.Error as exc:
        raise AdminError(
            INVALID_FILE, f"Line {reader.line_num} is not valid CSV: {exc}.", "file"
        ) from exc
    unknown = [c for c in header if c and c not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    doubled = sorted({c for c in header if c and header.count(c) > 1})
    if unknown or missing or doubled:
        parts = []
        if missing:
            parts.append(
                "missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing)
            )
        if unknown:
            parts.append(
                "unknown column" + ("s " if len(unknown) > 1 else " ") + ", ".join(unknown)
            )
        if doubled:
            parts.append(
                "repeated column" + ("s " if len(doubled) > 1 else " ") + ", ".join(doubled)
            )
        raise AdminError(
            INVALID_FILE,
            "Line 1 (the header): "
            + "; ".join(parts)
            + ". The columns are: "
            + ", ".join(COLUMNS)
            + ".",
            "file",
        )
    return header, rows


# --------------------------------------------------------------------------- resolving


class _Directory:
    """Names and ids of the organization's practitioners, clinics and types."""

    def __init__(self, s: Session, organization_id: int) -> None:
        self.practitioners = {
            p.id: p
            for p in s.scalars(
                select(Practitioner).where(
                    Practitioner.organization_id == organization_id,
                    Practitioner.is_placeholder.is_(False),
                )
            )
        }
        self.clinics = {
            c.id: c
            for c in s.scalars(select(Clinic).where(Clinic.organization_id == organization_id))
        }
        self.types = {
            t.id: t
            for t in s.scalars(
                select(AppointmentType).where(AppointmentType.organization_id == organization_id)
            )
        }

    @staticmethod
    def _find(items: dict[int, object], value: str, names: list[str], what: str) -> object:
        text = " ".join(value.split())
        if not text:
            raise ValueError(f"{what} is required.")
        key = text.lstrip("#")
        if key.isdigit() and int(key) in items:
            return items[int(key)]
        matches = [
            item
            for item in items.values()
            if any(
                " ".join(str(getattr(item, n) or "").split()).lower() == text.lower() for n in names
            )
        ]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ValueError(f"{len(matches)} {what}s are named {text!r}; use the id instead.")
        raise ValueError(f"No {what} named {text!r} in this organization.")

    def practitioner(self, value: str) -> Practitioner:
        return self._find(self.practitioners, value, ["name"], "practitioner")  # type: ignore[arg-type, return-value]

    def clinic(self, value: str) -> Clinic:
        return self._find(self.clinics, value, ["name"], "clinic")  # type: ignore[arg-type, return-value]

    def appointment_type(self, value: str) -> AppointmentType | None:
        if not value.strip():
            return None
        return self._find(self.types, value, ["code", "name"], "appointment type")  # type: ignore[arg-type, return-value]


# --------------------------------------------------------------------------- checking


def _check_rows(
    s: Session,
    organization_id: int,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    now: datetime,
) -> tuple[ImportReport, list[BlockShape]]:
    report = ImportReport(rows=len(rows))
    directory = _Directory(s, organization_id)
    stored: dict[int, list[ExistingBlock]] = {}
    # Rows accepted so far, per practitioner: (line, shape, zone).
    earlier: dict[int, list[tuple[int, BlockShape, str]]] = defaultdict(list)
    shapes: list[BlockShape] = []
    for line, values in rows:
        if len(values) > len(header):
            report.problems.append(
                RowProblem(line, None, f"{len(values)} values but {len(header)} columns.")
            )
            continue
        cell = dict(zip(header, [v.strip() for v in values] + [""] * len(header), strict=False))
        try:
            try:
                prac = directory.practitioner(cell.get("practitioner", ""))
            except ValueError as exc:
                raise AdminError("NOT_FOUND", str(exc), "practitioner") from exc
            try:
                clinic = directory.clinic(cell.get("clinic", ""))
            except ValueError as exc:
                raise AdminError("NOT_FOUND", str(exc), "clinic") from exc
            try:
                atype = directory.appointment_type(cell.get("appointment_type", ""))
            except ValueError as exc:
                raise AdminError("NOT_FOUND", str(exc), "appointment_type") from exc
            today = local_today(clinic.timezone, now)
            shape = parse_shape(
                practitioner_id=prac.id,
                clinic_id=clinic.id,
                weekday=cell.get("weekday", ""),
                start=cell.get("start", ""),
                end=cell.get("end", ""),
                slot_minutes=cell.get("slot_minutes", ""),
                capacity=cell.get("capacity") or None,
                valid_from=cell.get("valid_from") or None,
                valid_to=cell.get("valid_to") or None,
                appointment_type_id=atype.id if atype else None,
                default_from=today,
            )
            if prac.id not in stored:
                stored[prac.id] = existing_blocks(s, prac.id)
            statement = check_block(
                shape,
                today=today,
                accept_remainder=True,
                practitioner=prac,
                clinic=clinic,
                appointment_type=atype,
                periods=assignment_periods(s, prac.id, clinic.id),
                others=stored[prac.id],
            )
            for other_line, other, zone in earlier[prac.id]:
                if other == shape:
                    raise AdminError("OVERLAPPING_BLOCK", f"Repeats line {other_line}.", "start")
                clash = first_clash(shape, clinic.timezone, other, zone)
                if clash is not None:
                    raise AdminError(
                        "OVERLAPPING_BLOCK",
                        f"Overlaps line {other_line} ({other.hours_text()}), first on "
                        f"{day_text(clash)}.",
                        "start",
                    )
        except AdminError as exc:
            report.problems.append(
                RowProblem(line, exc.field if exc.field in COLUMNS else None, exc.message)
            )
            continue
        earlier[prac.id].append((line, shape, clinic.timezone))
        shapes.append(shape)
        if statement:
            report.notes.append(RowProblem(line, "slot_minutes", statement))
        report.blocks.append(
            ImportedBlock(
                line,
                prac.name,
                clinic.name,
                f"{shape.hours_text()}",
                shape.slot_minutes,
                shape.capacity,
                shape.validity_text(),
                atype.name if atype else None,
            )
        )
    return report, shapes


def import_schedules(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    content: bytes | str,
    *,
    dry_run: bool = True,
    file_name: str | None = None,
) -> ImportReport:
    """Check (``dry_run``) or import a schedule CSV. File-level problems (not CSV, no or
    wrong header, too large) raise ``AdminError`` (code INVALID_FILE); row problems are
    in the report, and then nothing is written."""
    authorize(actor, organization_id)
    header, rows = _rows(_decode(content))
    if not rows:
        raise AdminError(INVALID_FILE, "The file has a header but no rows.", "file")
    now = ctx.clock()
    if dry_run:
        with ctx.db.read() as s:
            get_organization_row(s, organization_id)
            report, _ = _check_rows(s, organization_id, header, rows, now)
        return report
    with ctx.db.transaction(write_lock=True) as s:
        get_organization_row(s, organization_id)
        # Locked before reading, so the check and the writes see the same schedules.
        names = _Directory(s, organization_id)
        lock_practitioners(s, organization_id, names.practitioners)
        report, shapes = _check_rows(s, organization_id, header, rows, now)
        report.dry_run = False
        if report.problems:
            return report
        ids = [insert_block(s, shape).id for shape in shapes]
        report.imported, report.schedule_ids = len(ids), ids
        record_event(
            s,
            actor,
            organization_id,
            "SCHEDULES_IMPORTED",
            {
                "file": file_name,
                "schedule_ids": ids,
                "blocks": [
                    {
                        "line": b.line,
                        "practitioner": b.practitioner,
                        "clinic": b.clinic,
                        "hours": b.hours,
                        "slot_minutes": b.slot_minutes,
                        "capacity": b.capacity,
                        "validity": b.validity,
                    }
                    for b in report.blocks
                ],
                "notes": [str(n) for n in report.notes],
            },
            now,
        )
    invalidate_organization(ctx, organization_id)
    return report


def template_csv(ctx: AppContext, organization_id: int) -> str:
    """An example file with the columns, naming this organization's own practitioners
    and clinics (so a first try passes the name checks)."""
    with ctx.db.read() as s:
        names = _Directory(s, organization_id)
        pracs = sorted(p.name for p in names.practitioners.values() if p.active)
        clinics = sorted(c.name for c in names.clinics.values() if c.active)
        group = next((t.name for t in names.types.values() if t.is_group and t.active), "")
    prac = pracs[0] if pracs else "Dr. Example"
    clinic = clinics[0] if clinics else "Main Clinic"
    rows = [
        ",".join(COLUMNS),
        f"{_csv(prac)},{_csv(clinic)},Saturday,09:00,12:00,30,1,,,",
        f"{_csv(prac)},{_csv(clinic)},Thu,17:30,19:00,90,8,,,{_csv(group)}"
        if group
        else f"{_csv(prac)},{_csv(clinic)},Sunday,10:00,12:00,20,,,,",
    ]
    return "\n".join(rows) + "\n"


def _csv(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value
