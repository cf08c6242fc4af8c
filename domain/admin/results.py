"""What an administration change reports back."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.admin.affected import AffectedAppointment


@dataclass(frozen=True)
class AdminResult:
    """``message``: one sentence saying what was done (for the page's success alert).
    ``affected``: upcoming bookings the change concerns that staff should look at (an
    exception's collisions, or the bookings a confirmed change left outside the schedule);
    nothing was cancelled. ``notes``: statements the user should read (e.g. minutes a slot
    length leaves unbooked, a change applied from today so the past keeps its hours)."""

    id: int
    message: str
    affected: list[AffectedAppointment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
