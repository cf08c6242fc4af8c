"""The grids place what the domain returns at the clinic's wall-clock times, and the
actions offered are exactly the workflow's, at this moment."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from components.calendar_grid import GridItem, calendar_grid
from components.ids import dom_id
from components.slot_grid import clinic_slot_grid, relative_level, seat_level
from domain.availability import ClinicSlot
from domain.workflow import possible_next

NY = ZoneInfo("America/New_York")


def _texts(component: object) -> list[str]:
    """Every string in a rendered component tree, in order (parts of it may be in Dash's
    wire form, see components.wire)."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, list | tuple):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            walk(node.get("props", {}).get("children"))
        elif hasattr(node, "children"):
            walk(node.children)

    walk(component)
    return found


def test_room_shades_grow_with_the_room() -> None:
    assert [seat_level(n) for n in (0, 1, 2, 3, 4, 5, 40)] == [0, 0, 1, 2, 2, 3, 3]
    assert [relative_level(n, 100) for n in (0, 1, 25, 26, 50, 75, 76, 100)] == [
        0, 0, 0, 1, 1, 2, 3, 3,
    ]  # fmt: skip
    assert relative_level(5, 0) == 0


def test_slots_sit_in_the_row_of_their_wall_clock_time_across_a_dst_change() -> None:
    before, after = date(2026, 3, 6), date(2026, 3, 9)  # Friday EST, Monday EDT

    def slot(day: date) -> ClinicSlot:
        start = datetime.combine(day, time(9), NY).astimezone(UTC)
        return ClinicSlot(1, start, start.replace(minute=30), 2, 3, (4, 5))

    grid = clinic_slot_grid(
        {before: [slot(before)], after: [slot(after)]}, "America/New_York", lambda s: None
    )
    texts = _texts(grid)
    # One 09:00 row (not 09:00 and 08:00/10:00 as UTC would give), both days in it.
    assert [t for t in texts if ":" in t and len(t) == 5] == ["09:00"]
    assert texts.count("3 open") == 2 and texts.count("2 providers") == 2


def test_calendar_items_go_to_their_column_and_starting_hour() -> None:
    monday, tuesday = date(2026, 3, 16), date(2026, 3, 17)

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), NY)

    items = [
        GridItem(tuesday, at(tuesday, 9, 20), at(tuesday, 9, 40), "Ann Lee", status="booked",
                 appointment_id=7),
        GridItem(monday, at(monday, 19), at(monday, 19, 30), "free", href="/book?x=1"),
    ]  # fmt: skip
    grid = calendar_grid(
        [(monday, "Mon"), (tuesday, "Tue")], items, lambda i: {"type": "c", "id": i}
    )
    rows = grid.children.children[1].children  # table > tbody > rows
    hours = [r.children[0].children for r in rows]
    assert hours[0] == "08:00" and hours[-1] == "19:00"  # widened to the evening slot
    nine = rows[hours.index("09:00")].children
    assert _texts(nine[1]) == [] and "Ann Lee" in _texts(nine[2])
    assert nine[2].children[0].id == {"type": "c", "id": 7}
    seven_pm = rows[hours.index("19:00")].children
    assert _texts(seven_pm[1]) == ["19:00 free"]


def test_pattern_ids_are_the_html_ids_dash_gives_them() -> None:
    ident = {"type": "cal-field", "name": "category"}
    assert dom_id(ident) == '{"name":"category","type":"cal-field"}'
    assert json.loads(dom_id({"b": 1, "a": "x"})) == {"a": "x", "b": 1}


def test_actions_offered_are_the_workflows_steps_possible_now() -> None:
    start = datetime(2026, 3, 18, 14, 0, tzinfo=UTC)
    day = date(2026, 3, 18)

    def offered(status: str, now: datetime, role: str = "front-desk") -> tuple[str, ...]:
        return possible_next(
            status,
            start_at=start,
            local_start_date=day,
            now=now,
            local_today=now.astimezone(NY).date(),
            actor_role=role,
        )

    morning, afternoon = (
        datetime(2026, 3, 18, 12, tzinfo=UTC),
        datetime(2026, 3, 18, 15, tzinfo=UTC),
    )
    day_before = datetime(2026, 3, 17, 15, tzinfo=UTC)
    assert offered("booked", day_before) == ("confirmed", "cancelled")
    assert offered("booked", morning) == ("confirmed", "arrived", "cancelled")
    assert offered("booked", afternoon) == ("confirmed", "arrived", "cancelled", "no-show")
    assert offered("in-progress", afternoon) == ("completed",)
    assert offered("completed", afternoon) == ()
    # Corrections: a late arrival on the day only; undoing a cancellation by an
    # administrator while the appointment is ahead.
    assert offered("no-show", afternoon) == ("arrived",)
    assert offered("no-show", datetime(2026, 3, 19, 15, tzinfo=UTC)) == ()
    assert offered("cancelled", morning) == ()
    assert offered("cancelled", morning, role="admin") == ("booked",)
    assert offered("cancelled", afternoon, role="admin") == ()
