"""The real Vitória 2016 history (110,527 appointments nobody here made), imported whole into
each store (once per run, tests.conftest.VitoriaHistory) and then a second time into a copy:
nothing lost, nothing doubled, the known anomalies reported, and the published no-show
figures reproduced through the dashboard's own statistics.

The file is read from ../shared/data and never copied into the repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from data.db import Database
from data.models import Appointment, Clinic, Organization, Patient, Practitioner
from domain.clock import fixed_clock
from domain.context import AppContext
from domain.history_import import ImportReport, import_history
from domain.stats import AppointmentStats, get_appointment_stats
from settings import Settings
from tests.conftest import BACKENDS, DEMO_ANCHOR, VITORIA_ORGANIZATION, VitoriaHistory

pytestmark = pytest.mark.slow

ORGANIZATION = VITORIA_ORGANIZATION
NOW = DEMO_ANCHOR  # the import's clock (tests.conftest.VitoriaHistory)
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
ROWS = 110_527
# From the data set's README: rows booked after their appointment day, by line and id.
BOOKED_AFTER_VISIT = {
    (27035, "5679978"),
    (55228, "5715660"),
    (64177, "5664962"),
    (71535, "5686628"),
    (72364, "5655637"),
}
SCIENTIFIC_PATIENT_IDS = {
    "9377952927E-5",
    "53761528476E-5",
    "14172416655E-5",
    "3921784439E-5",
    "4374175652E-5",
}


@dataclass
class Imported:
    ctx: AppContext
    organization_id: int
    first: ImportReport
    second: ImportReport


@pytest.fixture(scope="module", params=BACKENDS)
def imported(
    request: pytest.FixtureRequest,
    vitoria_history: VitoriaHistory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Imported]:
    """A copy of the run's one import of the file (its report is ``first``), into which
    the same file is imported a second time."""
    backend = request.param
    first = vitoria_history.report(backend)
    url = vitoria_history.copy(backend, "noshow", tmp_path_factory.mktemp("noshow"))
    db = Database(url)
    ctx = AppContext(settings=Settings(database_url=url), db=db, clock=fixed_clock(NOW))
    try:
        second = import_history(
            ctx, vitoria_history.path, organization=ORGANIZATION, format_name="kaggle-noshow-2016"
        )
        with db.read() as s:
            org_id = s.scalars(
                select(Organization.id).where(Organization.name == ORGANIZATION)
            ).one()
        yield Imported(ctx, org_id, first, second)
    finally:
        db.dispose()


def count(imported: Imported, model: type) -> int:
    with imported.ctx.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_every_row_of_the_file_is_imported_exactly_once(imported: Imported) -> None:
    first = imported.first
    assert first.rows_read == ROWS
    assert first.appointments_imported == ROWS and first.errors == []
    assert first.accounted_for()
    assert count(imported, Appointment) == ROWS
    assert count(imported, Patient) == first.patients_created == 62_299
    assert count(imported, Clinic) == first.clinics_created == 81
    assert count(imported, Practitioner) == first.practitioners_created == 81


def test_the_whole_file_imports_in_under_a_minute(imported: Imported) -> None:
    assert imported.first.seconds < 60


def test_importing_the_same_file_again_adds_nothing(imported: Imported) -> None:
    second = imported.second
    assert second.appointments_imported == 0
    assert second.appointments_already_present == ROWS
    assert second.patients_created == second.clinics_created == second.practitioners_created == 0
    assert second.accounted_for()
    assert count(imported, Appointment) == ROWS
    assert count(imported, Patient) == 62_299


def test_the_warnings_name_the_late_bookings_and_the_impossible_age(imported: Imported) -> None:
    warnings = imported.first.warnings
    late = {(w.line, w.appointment_id) for w in warnings if w.code == "booked-after-visit"}
    assert late == BOOKED_AFTER_VISIT
    ages = [(w.line, w.appointment_id) for w in warnings if w.code == "age-unknown"]
    assert ages == [(99834, "5775010")]
    notation = [w for w in warnings if w.code == "patient-id-notation"]
    assert {w.message.split("'")[1] for w in notation} == SCIENTIFIC_PATIENT_IDS
    assert len(warnings) == 5 + 1 + 5
    assert imported.second.warnings == warnings


def test_patient_ids_are_kept_exactly_as_the_source_wrote_them(imported: Imported) -> None:
    with imported.ctx.db.read() as s:
        stored = set(
            s.scalars(
                select(Patient.external_id).where(
                    Patient.external_id.in_([*SCIENTIFIC_PATIENT_IDS, "29872499824296"])
                )
            )
        )
        unknown_age = s.scalars(
            select(Patient)
            .join(Appointment, Appointment.patient_id == Patient.id)
            .where(Appointment.external_id == "5775010")
        ).one()
        assert unknown_age.birth_date is None and not unknown_age.birth_date_estimated
    assert stored == {*SCIENTIFIC_PATIENT_IDS, "29872499824296"}


def test_a_late_booking_keeps_its_real_local_dates(imported: Imported) -> None:
    # Line 71535: ScheduledDay 2016-05-11T13:49:20Z, AppointmentDay 2016-05-05, No-show Yes.
    with imported.ctx.db.read() as s:
        visit = s.scalars(select(Appointment).where(Appointment.external_id == "5686628")).one()
        assert visit.status == "no-show" and visit.date_only
        assert visit.start_at == datetime(2016, 5, 5, tzinfo=SAO_PAULO)
        assert visit.booked_at == datetime(2016, 5, 11, 13, 49, 20, tzinfo=SAO_PAULO)
        assert visit.created_at == NOW
        assert visit.start_at.astimezone(SAO_PAULO).date() == date(2016, 5, 5)


# ------------------------------------------------------------------ published figures
# The data set's README is the oracle (figures computed from this file and matching
# published notebooks). Lead time = clinic-local date of the visit minus clinic-local date
# of the booking, in calendar days. Every rate below is read off get_appointment_stats.
PERIOD = (date(2016, 1, 1), date(2016, 12, 31))  # all 27 appointment days lie in 2016


@pytest.fixture(scope="module")
def stats(imported: Imported) -> AppointmentStats:
    return get_appointment_stats(imported.ctx, imported.organization_id, *PERIOD)


def test_the_published_no_show_figures_come_out_of_the_dashboard_statistics(
    stats: AppointmentStats,
) -> None:
    assert stats.total == ROWS
    assert (stats.overall.due, stats.overall.no_shows) == (ROWS, 22_319)
    assert round(100 * stats.no_show_rate, 2) == 20.19

    reminder = stats.by_reminder.set_index("reminder_sent")
    assert reminder.loc[False, "due"] == 75_045
    assert round(100 * reminder.loc[False, "no_show_rate"], 2) == 16.70
    assert reminder.loc[True, "due"] == 35_482
    assert round(100 * reminder.loc[True, "no_show_rate"], 2) == 27.57

    lead = stats.by_lead_time.set_index("lead_time")
    assert lead.loc["same day", "due"] == 38_563
    assert round(100 * lead.loc["same day", "no_show_rate"], 2) == 4.65
    assert stats.booked_ahead.due == 71_959
    assert round(100 * stats.booked_ahead.no_show_rate, 2) == 28.52
    # The five late bookings are a bucket of their own, not "same day".
    late = lead.loc["booked after the day"]
    assert (late["due"], late["no_shows"]) == (5, 5)


def test_imported_history_has_ages_but_no_invented_hours(stats: AppointmentStats) -> None:
    ages = stats.by_age_group.set_index("age_group")
    assert ages.loc["unknown", "appointments"] == 1  # the row with age -1
    assert ages["appointments"].sum() == ROWS
    assert stats.date_only_appointments == ROWS
    assert int(stats.busiest_times.to_numpy().sum()) == 0
