"""The schedule CSV import: a dry run reports every bad row by line number and imports
nothing; the real run writes all rows or none; the console command does the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from data.models import Schedule
from domain.admin import AdminError, import_schedules
from domain.permissions import PermissionDenied
from tests.integration.admin.conftest import SATURDAY, AdminWorld

GOOD = """\
practitioner,clinic,weekday,start,end,slot_minutes,capacity,valid_from,valid_to,appointment_type
Dr. Ana Lee,Harbor Main,Saturday,09:00,12:00,30,1,,,
dr. ana lee,Desert View,Sun,08:00,10:10,30,,2026-04-01,2026-12-31,
Dr. Ana Lee,Harbor Main,4,17:30,19:00,90,8,,,group-therapy
"""

# Line 2 is fine; every other row has one problem.
BAD = """practitioner;clinic;weekday;start;end;slot_minutes;capacity;valid_from
Dr. Ana Lee;Harbor Main;Saturday;09:00;12:00;30;1;
Dr. Nobody;Harbor Main;Saturday;13:00;14:00;30;1;

Dr. Ana Lee;Harbor Main;Funday;09:00;12:00;30;1;
Dr. Ana Lee;Harbor Main;Sunday;12:00;09:00;30;1;
Dr. Ana Lee;Harbor Main;Sunday;09:00;12:00;30;0;
Dr. Ana Lee;Harbor Main;Monday;11:00;13:00;30;1;
Dr. Ana Lee;Harbor Main;Saturday;11:30;12:30;30;1;
Dr. Ana Lee;Harbor Main;Sunday;09:00;12:00;30;1;2026-02-30
"""


def count_blocks(w: AdminWorld) -> int:
    with w.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Schedule)) or 0)


def test_a_dry_run_reports_each_bad_row_by_line_and_imports_nothing(world: AdminWorld) -> None:
    w = world
    before = count_blocks(w)
    report = import_schedules(w.ctx, w.admin, w.org_id, BAD.encode(), dry_run=True)
    assert report.rows == 8
    found = [(p.line, p.column) for p in report.problems]
    assert found == [
        (3, "practitioner"),
        (5, "weekday"),
        (6, "end"),
        (7, "capacity"),
        (8, "start"),
        (9, "start"),
        (10, "valid_from"),
    ]
    messages = {p.line: p.message for p in report.problems}
    assert messages[3] == "No practitioner named 'Dr. Nobody' in this organization."
    assert "Monday 09:00–12:00 block at Harbor Main" in messages[8]
    assert messages[9].startswith("Overlaps line 2 (Saturday 09:00–12:00)")
    assert str(report.problems[0]) == (
        "line 3, practitioner: No practitioner named 'Dr. Nobody' in this organization."
    )
    assert report.summary() == "7 of 8 rows have problems; nothing was imported. " + (
        "Correct the file and try again."
    )
    # The real run refuses the same file as a whole.
    real = import_schedules(w.ctx, w.admin, w.org_id, BAD.encode(), dry_run=False)
    assert real.imported == 0 and len(real.problems) == 7
    assert count_blocks(w) == before
    assert w.events() == []


def test_a_valid_file_is_checked_then_imported_in_one_go(world: AdminWorld) -> None:
    w = world
    dry = import_schedules(w.ctx, w.admin, w.org_id, GOOD, dry_run=True)
    assert dry.ok and dry.problems == [] and dry.imported == 0
    assert dry.summary() == "All 3 rows are valid. Nothing was imported yet (dry run)."
    assert [n.line for n in dry.notes] == [3]  # 08:00-10:10 leaves 10 minutes over
    assert w.slot_times(SATURDAY) == []

    done = import_schedules(w.ctx, w.admin, w.org_id, GOOD, dry_run=False, file_name="spring.csv")
    assert done.imported == 3 and done.summary() == "Imported 3 weekly blocks."
    assert w.slot_times(SATURDAY)[:2] == ["09:00", "09:30"]  # the cache was invalidated
    (event,) = w.events("SCHEDULES_IMPORTED")
    assert event.payload["file"] == "spring.csv"
    assert event.payload["schedule_ids"] == done.schedule_ids
    # Importing the same file again overlaps every row with what is now stored.
    again = import_schedules(w.ctx, w.admin, w.org_id, GOOD, dry_run=True)
    assert [p.line for p in again.problems] == [2, 3, 4]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "The file is empty"),
        (b"practitioner,clinic\n", "missing columns weekday, start, end, slot_minutes"),
        (
            b"practitioner,clinic,weekday,start,end,slot_minutes,room\nx,y,1,09:00,10:00,30,3\n",
            "unknown column room",
        ),
        (b"\xff\xfe\x00p\x00r", "not UTF-8"),
        (
            b"practitioner,clinic,weekday,start,end,slot_minutes\n",
            "has a header but no rows",
        ),
    ],
)
def test_files_that_are_not_schedule_csvs_are_refused_as_a_whole(
    world: AdminWorld, content: bytes, expected: str
) -> None:
    with pytest.raises(AdminError) as caught:
        import_schedules(world.ctx, world.admin, world.org_id, content, dry_run=True)
    assert caught.value.code == "INVALID_FILE" and caught.value.field == "file"
    assert expected in caught.value.message


def test_only_administrators_import(world: AdminWorld) -> None:
    with pytest.raises(PermissionDenied):
        import_schedules(world.ctx, world.manager, world.org_id, GOOD, dry_run=True)


def test_the_console_command_dry_runs_then_imports(
    world: AdminWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import cli
    from settings import Settings

    w = world
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text(BAD)
    good.write_text(GOOD)
    # In-process (the command's own code path; test_cli covers the installed entry point).
    monkeypatch.setattr(cli, "get_settings", lambda: Settings(database_url=w.db.url))

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(["import-schedules", *args, "--organization", "Harbor Test"])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, _, err = run(str(bad), "--dry-run")
    assert code == 1
    assert "line 3, practitioner: No practitioner named 'Dr. Nobody'" in err
    assert "7 of 8 rows have problems; nothing was imported." in err
    code, out, err = run(str(good))
    assert code == 0, err
    assert "Harbor Test: Imported 3 weekly blocks." in out
    assert "note: line 3, slot_minutes: 08:00–10:10 in 30-minute slots" in out
    assert count_blocks(w) == 8
    code, _, err = run(str(tmp_path / "missing.csv"))
    assert code == 2 and "no file" in err
