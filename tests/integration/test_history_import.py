"""Importing history files into both stores: what is created, gzip, dry run, re-runs,
bad rows and bad files, and the console command."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from cli import COMMANDS, build_parser
from data.db import Database
from data.models import (
    ActivityEvent,
    Appointment,
    AppointmentType,
    Clinic,
    ClinicAssignment,
    Organization,
    Patient,
    Practitioner,
    StatsSummaryPart,
)
from domain.actor import Actor
from domain.clock import fixed_clock
from domain.context import AppContext
from domain.history_formats import FORMATS, KAGGLE_NOSHOW_2016, register_format
from domain.history_import import HistoryFileError, import_history
from domain.permissions import PermissionDenied
from domain.stats import get_appointment_stats
from settings import Settings
from tests.factories import make_org, make_user
from tests.unit.test_history_import import HEADER, row

NOW = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
KAGGLE = KAGGLE_NOSHOW_2016.name

ROWS = (
    row(appointment=5642903, patient="29872499824296", age="62", no_show="No", sms="0"),
    row(
        appointment=5642503,
        patient="558997776694438",
        gender="M",
        age="56",
        booked="2016-04-20T16:08:27Z",
        day="2016-05-02T00:00:00Z",
        sms="1",
        no_show="Yes",
    ),
    row(appointment=5642549, patient="9377952927E-5", clinic="MATA DA PRAIA", age="-1"),
    row(
        appointment=5642828,
        patient="29872499824296",
        age="62",
        clinic="MATA DA PRAIA",
        booked="2016-05-10T10:51:53Z",
        day="2016-05-09T00:00:00Z",
        no_show="Yes",
    ),
)


@pytest.fixture
def ctx(db: Database) -> AppContext:
    return AppContext(settings=Settings(database_url=db.url), db=db, clock=fixed_clock(NOW))


def write_csv(path: Path, *rows: str, header: str = HEADER, gzipped: bool = False) -> Path:
    content = (header + "\n" + "".join(r + "\n" for r in rows)).encode()
    path.write_bytes(gzip.compress(content) if gzipped else content)
    return path


def count(db: Database, model: type) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_import_builds_the_organization_clinics_placeholders_patients_and_visits(
    ctx: AppContext, tmp_path: Path
) -> None:
    report = import_history(
        ctx, write_csv(tmp_path / "h.csv", *ROWS), organization="Vitória", format_name=KAGGLE
    )
    assert report.appointments_imported == 4 and report.accounted_for()
    assert (report.clinics_created, report.practitioners_created, report.patients_created) == (
        2,
        2,
        3,
    )
    with ctx.db.read() as s:
        org = s.scalars(select(Organization)).one()
        assert (org.name, org.timezone) == ("Vitória", "America/Sao_Paulo")
        clinics = {c.name: c for c in s.scalars(select(Clinic))}
        assert set(clinics) == {"JARDIM DA PENHA", "MATA DA PRAIA"}
        assert {c.timezone for c in clinics.values()} == {"America/Sao_Paulo"}
        placeholders = s.scalars(select(Practitioner)).all()
        assert all(p.is_placeholder and not p.active for p in placeholders)
        assert sorted(p.name for p in placeholders) == [
            "Unknown practitioner (JARDIM DA PENHA)",
            "Unknown practitioner (MATA DA PRAIA)",
        ]
        assignments = {
            (a.practitioner_id, a.clinic_id) for a in s.scalars(select(ClinicAssignment))
        }
        visit_type = s.scalars(select(AppointmentType)).one()
        assert visit_type.code == "imported-visit"

        by_id = {a.external_id: a for a in s.scalars(select(Appointment))}
        first = by_id["5642903"]
        assert first.status == "completed" and not first.reminder_sent and first.date_only
        assert first.start_at == datetime(2016, 4, 29, 0, 0, tzinfo=SAO_PAULO)
        assert first.duration_minutes == KAGGLE_NOSHOW_2016.visit_minutes
        assert (first.end_at - first.start_at).total_seconds() == first.duration_minutes * 60
        assert first.booked_at == datetime(2016, 4, 29, 18, 38, 8, tzinfo=SAO_PAULO)
        assert first.created_at == NOW and first.updated_at == NOW
        assert first.appointment_type_id == visit_type.id
        assert (first.practitioner_id, first.clinic_id) in assignments
        second = by_id["5642503"]
        assert second.status == "no-show" and second.reminder_sent
        assert second.start_at.astimezone(SAO_PAULO).date() == date(2016, 5, 2)

        patients = {p.external_id: p for p in s.scalars(select(Patient))}
        assert set(patients) == {"29872499824296", "558997776694438", "9377952927E-5"}
        regular = patients["29872499824296"]
        assert regular.gender == "F" and regular.birth_date_estimated
        assert regular.full_name == "Patient 29872499824296"
        # 62 on both of this patient's visit days
        born = regular.birth_date
        for day in (date(2016, 4, 29), date(2016, 5, 9)):
            assert day.year - born.year - ((day.month, day.day) < (born.month, born.day)) == 62
        unknown_age = patients["9377952927E-5"]
        assert unknown_age.birth_date is None and not unknown_age.birth_date_estimated
        assert patients["558997776694438"].gender == "M"

        event = s.scalars(select(ActivityEvent)).one()
        assert event.event_type == "HISTORY_IMPORTED"
        assert event.payload["appointments_imported"] == 4

    assert [(w.line, w.code) for w in report.warnings] == [
        (4, "age-unknown"),
        (4, "patient-id-notation"),
        (5, "booked-after-visit"),
    ]


def test_gzip_and_plain_copies_of_a_file_import_the_same_rows(
    ctx: AppContext, tmp_path: Path
) -> None:
    plain = write_csv(tmp_path / "history.csv", *ROWS)
    zipped = write_csv(tmp_path / "history.data", *ROWS, gzipped=True)  # named without .gz
    a = import_history(ctx, plain, organization="Plain", format_name=KAGGLE)
    b = import_history(ctx, zipped, organization="Zipped", format_name=KAGGLE)
    assert a.appointments_imported == b.appointments_imported == 4

    def rows_of(org_name: str) -> list[tuple]:
        with ctx.db.read() as s:
            org_id = s.scalars(select(Organization.id).where(Organization.name == org_name)).one()
            return sorted(
                (a.external_id, a.start_at, a.booked_at, a.status, a.reminder_sent)
                for a in s.scalars(select(Appointment).where(Appointment.organization_id == org_id))
            )

    assert rows_of("Plain") == rows_of("Zipped")


def test_a_dry_run_counts_and_warns_but_writes_nothing(ctx: AppContext, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", *ROWS, row(appointment=9, no_show="Maybe"))
    report = import_history(ctx, path, organization="Vitória", format_name=KAGGLE, dry_run=True)
    assert report.dry_run and report.organization_created
    assert (report.appointments_imported, report.rows_rejected) == (4, 1)
    assert (report.patients_created, report.clinics_created, report.practitioners_created) == (
        3,
        2,
        2,
    )
    assert {w.code for w in report.warnings} == {
        "patient-id-notation",
        "age-unknown",
        "booked-after-visit",
    }
    assert [(e.line, e.code) for e in report.errors] == [(6, "bad-value")]
    for model in (Organization, Clinic, Practitioner, Patient, Appointment, ActivityEvent):
        assert count(ctx.db, model) == 0

    import_history(ctx, path, organization="Vitória", format_name=KAGGLE)
    again = import_history(ctx, path, organization="Vitória", format_name=KAGGLE, dry_run=True)
    assert (again.appointments_imported, again.appointments_already_present) == (0, 4)
    assert again.patients_created == again.clinics_created == again.practitioners_created == 0


def test_rerunning_adds_nothing_and_a_fixed_row_is_picked_up(
    ctx: AppContext, tmp_path: Path
) -> None:
    broken = row(appointment=77, booked="2016-04-31T08:00:00Z", clinic="BENTO FERREIRA")
    first = import_history(
        ctx, write_csv(tmp_path / "a.csv", *ROWS, broken), organization="V", format_name=KAGGLE
    )
    assert (first.appointments_imported, first.rows_rejected) == (4, 1)
    [error] = first.errors
    assert (error.line, error.appointment_id, error.code) == (6, "77", "bad-date")
    assert "'2016-04-31T08:00:00Z'" in error.message
    assert first.accounted_for()

    again = import_history(
        ctx, write_csv(tmp_path / "a.csv", *ROWS, broken), organization="V", format_name=KAGGLE
    )
    assert (again.appointments_imported, again.appointments_already_present) == (0, 4)
    assert count(ctx.db, Appointment) == 4 and count(ctx.db, Patient) == 3
    assert count(ctx.db, Clinic) == 2 and count(ctx.db, Practitioner) == 2

    # Organization-wide statistics of April-May 2016 come from stored months; a later
    # import into those months (a bulk insert, not the ORM) must reach them.
    def total() -> int:
        with ctx.db.read() as s:
            org_id = s.scalars(select(Organization.id).where(Organization.name == "V")).one()
        return get_appointment_stats(ctx, org_id, date(2016, 4, 1), date(2016, 5, 31)).total

    assert total() == 4 and count(ctx.db, StatsSummaryPart) == 2
    fixed = broken.replace("2016-04-31", "2016-04-30")
    third = import_history(
        ctx, write_csv(tmp_path / "a.csv", *ROWS, fixed), organization="V", format_name=KAGGLE
    )
    assert (third.appointments_imported, third.appointments_already_present) == (1, 4)
    assert (third.clinics_created, third.practitioners_created) == (1, 1)
    assert count(ctx.db, Appointment) == 5 and count(ctx.db, Clinic) == 3
    assert count(ctx.db, Patient) == 3  # the fixed row's patient was already known
    assert total() == 5


def test_a_file_missing_a_column_is_refused_with_nothing_written(
    ctx: AppContext, tmp_path: Path
) -> None:
    header = HEADER.replace(",No-show", "")
    path = write_csv(tmp_path / "h.csv", *(r.rsplit(",", 1)[0] for r in ROWS), header=header)
    with pytest.raises(HistoryFileError, match=r"line 1: missing column.*No-show") as info:
        import_history(ctx, path, organization="V", format_name=KAGGLE)
    assert info.value.line == 1
    assert count(ctx.db, Organization) == 0


def test_a_file_whose_rows_are_all_rejected_creates_nothing(
    ctx: AppContext, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "h.csv", row(no_show="Maybe"), row(appointment=2, day=""))
    report = import_history(ctx, path, organization="V", format_name=KAGGLE)
    assert (report.rows_read, report.rows_rejected, report.appointments_imported) == (2, 2, 0)
    assert not report.organization_created
    assert [(e.line, e.code) for e in report.errors] == [(2, "bad-value"), (3, "missing-value")]
    assert count(ctx.db, Organization) == 0 and count(ctx.db, Appointment) == 0


def test_a_file_that_is_not_text_is_refused(ctx: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(HEADER.encode() + b"\n" + b"\xff\xfe\x00binary\n")
    with pytest.raises(
        HistoryFileError,
        match=r"line 2: not utf-8-sig text \(invalid start byte at byte 1 of the line\)",
    ):
        import_history(ctx, path, organization="V", format_name=KAGGLE)
    assert count(ctx.db, Organization) == 0


def test_an_existing_clinic_keeps_its_zone_and_reads_its_rows_in_it(
    ctx: AppContext, tmp_path: Path
) -> None:
    with ctx.db.transaction() as s:
        org = Organization(name="Network", timezone="America/Manaus")
        s.add(org)
        s.flush()
        s.add(Clinic(organization_id=org.id, name="JARDIM DA PENHA", timezone="America/Manaus"))
    import_history(
        ctx, write_csv(tmp_path / "h.csv", *ROWS[:1]), organization="Network", format_name=KAGGLE
    )
    manaus = ZoneInfo("America/Manaus")
    with ctx.db.read() as s:
        visit = s.scalars(select(Appointment)).one()
        assert visit.start_at == datetime(2016, 4, 29, tzinfo=manaus)
        assert visit.booked_at == datetime(2016, 4, 29, 18, 38, 8, tzinfo=manaus)
        assert s.scalar(select(func.count()).select_from(Clinic)) == 1


def test_a_format_with_times_of_day_stores_real_start_times(
    ctx: AppContext, tmp_path: Path
) -> None:
    timed = replace(
        KAGGLE_NOSHOW_2016,
        name="test-timed-visits",
        appointment_date_format="%Y-%m-%dT%H:%M:%SZ",
        date_only=False,
        visit_minutes=20,
    )
    register_format(timed)
    try:
        path = write_csv(tmp_path / "h.csv", row(day="2016-05-02T09:40:00Z"))
        import_history(ctx, path, organization="V", format_name=timed.name)
    finally:
        FORMATS.pop(timed.name)
    with ctx.db.read() as s:
        visit = s.scalars(select(Appointment)).one()
        assert not visit.date_only
        assert visit.start_at == datetime(2016, 5, 2, 9, 40, tzinfo=SAO_PAULO)
        assert visit.end_at == datetime(2016, 5, 2, 10, 0, tzinfo=SAO_PAULO)


def test_only_an_administrator_of_the_organization_may_import(
    ctx: AppContext, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "h.csv", *ROWS)
    with ctx.db.transaction() as s:
        mine = make_org(s, name="Mine")
        make_org(s, name="Other")
        admin = make_user(s, mine, role="admin", name="Ana Admin")
        manager = make_user(s, mine, role="manager")
        mine_id, admin_id, manager_id = mine.id, admin.id, manager.id
    as_admin = Actor(admin_id, "Ana Admin", "admin", mine_id)
    as_manager = Actor(manager_id, "Max Manager", "manager", mine_id)
    with pytest.raises(PermissionDenied):
        import_history(ctx, path, organization="Mine", format_name=KAGGLE, actor=as_manager)
    for name in ("Other", "Brand new"):
        with pytest.raises(PermissionDenied, match="your own organization"):
            import_history(ctx, path, organization=name, format_name=KAGGLE, actor=as_admin)
    assert count(ctx.db, Appointment) == 0

    report = import_history(ctx, path, organization="Mine", format_name=KAGGLE, actor=as_admin)
    assert report.appointments_imported == 4
    with ctx.db.read() as s:
        event = s.scalars(select(ActivityEvent)).one()
        assert (event.actor_user_id, event.actor_name) == (admin_id, "Ana Admin")
        assert event.organization_id == mine_id


def run_cli(db: Database, *argv: str) -> int:
    args = build_parser().parse_args(["import-history", *argv])
    return COMMANDS["import-history"][0](args, Settings(database_url=db.url))


def test_the_console_command_reports_counts_warnings_and_rejected_lines(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "h.csv.gz", *ROWS, row(appointment=9, sms="2"), gzipped=True)
    issues = tmp_path / "issues.csv"
    args = (str(path), "--organization", "Vitória", "--format", KAGGLE)
    assert run_cli(db, *args, "--dry-run") == 1
    out = capsys.readouterr().out
    assert "would import 4 appointments" in out and "1 rows rejected" in out
    assert "dry run: nothing was written" in out
    assert count(db, Appointment) == 0

    assert run_cli(db, *args, "--issues-file", str(issues)) == 1
    out = capsys.readouterr().out
    assert "imported 4 appointments" in out
    assert "line 5 (appointment 5642828): booked on 2016-05-10" in out
    assert "line 6 (appointment 9): SMS_received '2' is not one of" in out
    lines = issues.read_text().splitlines()
    assert lines[0] == "line,appointment_id,severity,code,message"
    assert len(lines) == 1 + 1 + 3

    assert run_cli(db, *args) == 1
    assert "imported 0 appointments" in capsys.readouterr().out
    assert count(db, Appointment) == 4


def test_the_console_command_explains_an_unreadable_file(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "h.csv", *ROWS, header=HEADER.replace("PatientId", "Patient"))
    assert run_cli(db, str(path), "--organization", "V", "--format", KAGGLE) == 2
    err = capsys.readouterr().err
    assert "line 1: missing column(s) PatientId" in err and "nothing was imported" in err


def test_imported_rows_store_local_facts_and_a_date_only_row_has_no_hour(
    ctx: AppContext, tmp_path: Path
) -> None:
    import_history(
        ctx, write_csv(tmp_path / "h.csv", *ROWS), organization="Vitória", format_name=KAGGLE
    )
    with ctx.db.read() as s:
        by_id = {
            a.external_id: (a.local_date, a.local_hour, a.lead_days, a.booked_at)
            for a in s.scalars(select(Appointment))
        }
    # Visit on 2016-04-29 (local midnight, 03:00 UTC), booked that afternoon.
    assert by_id["5642903"][:3] == (date(2016, 4, 29), None, 0)
    local_date, hour, lead, booked = by_id["5642503"]
    assert (local_date, hour) == (date(2016, 5, 2), None)
    assert lead == (date(2016, 5, 2) - booked.astimezone(SAO_PAULO).date()).days
    assert all(facts[1] is None for facts in by_id.values())
