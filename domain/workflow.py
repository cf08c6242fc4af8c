"""The appointment status workflow: which status may follow which, and when.

Pure: no database. ``plan_transition`` decides; the service applies the result.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, datetime

from data.vocabulary import APPOINTMENT_STATUSES, CANCELLATION_CATEGORIES, MAX_REASON_LENGTH
from domain.errors import BookingError, clean_field

# The normal workflow. completed, cancelled and no-show are final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending":     ("booked", "cancelled"),
    "booked":      ("confirmed", "arrived", "cancelled", "no-show"),
    "confirmed":   ("arrived", "cancelled", "no-show"),
    "arrived":     ("in-progress", "cancelled"),
    "in-progress": ("completed",),
    "completed":   (),
    "cancelled":   (),
    "no-show":     (),
}  # fmt: skip

# The only ways out of a final status: audited corrections (the event is flagged
# "correction" and has high priority), each with its own condition.
CORRECTIONS: dict[tuple[str, str], str] = {
    ("no-show", "arrived"): "the patient turned up late: only on the appointment's own day",
    ("cancelled", "booked"): (
        "undo a cancellation made by mistake: an administrator, with a reason, while the "
        "appointment is still ahead and its time still free"
    ),
}
REINSTATE_ROLES = frozenset({"admin", "system"})

FINAL_STATUSES = tuple(s for s, nxt in TRANSITIONS.items() if not nxt)
# Statuses in which the patient is (or will be) somewhere: one patient cannot be in two
# rooms. no-show and completed do not block a new overlapping booking (the patient is not
# there, or has left); cancelled holds nothing.
PATIENT_BUSY_STATUSES = ("pending", "booked", "confirmed", "arrived", "in-progress")
# Statuses that start the visit record.
ENCOUNTER_STATUSES = ("arrived", "in-progress")
# Before these, the appointment may still be moved, re-typed or given another duration.
RESCHEDULABLE_STATUSES = ("pending", "booked", "confirmed")

assert set(TRANSITIONS) == set(APPOINTMENT_STATUSES)

_LABEL = {
    "pending": "pending",
    "booked": "booked",
    "confirmed": "confirmed",
    "arrived": "arrived (checked in)",
    "in-progress": "in progress",
    "completed": "completed",
    "cancelled": "cancelled",
    "no-show": "no-show",
}


def status_label(status: str) -> str:
    return _LABEL.get(status, status)


def allowed_next(status: str) -> tuple[str, ...]:
    """The statuses the normal workflow allows after ``status``."""
    return TRANSITIONS.get(status, ())


def _or_list(items: tuple[str, ...]) -> str:
    words = [status_label(i) for i in items]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


@dataclass(frozen=True)
class Transition:
    old: str
    new: str
    correction: bool
    reason: str | None
    cancellation_category: str | None

    @property
    def frees_time(self) -> bool:
        """The seat goes back to availability."""
        return self.new == "cancelled"

    @property
    def takes_time_again(self) -> bool:
        """A cancelled appointment comes back: it must pass the booking checks again."""
        return self.old == "cancelled"

    @property
    def opens_encounter(self) -> bool:
        return self.new in ENCOUNTER_STATUSES

    @property
    def priority(self) -> str:
        return "high" if self.new == "cancelled" or self.correction else "normal"


def plan_transition(
    old: str,
    new: str,
    *,
    start_at: datetime,
    local_start_date: date,
    now: datetime,
    local_today: date,
    actor_role: str | None,
    reason: str | None = None,
    cancellation_category: str | None = None,
) -> Transition:
    """Check that ``old -> new`` may happen now; raise BookingError saying why not."""
    if new not in TRANSITIONS:
        raise BookingError(
            "UNKNOWN_STATUS",
            f"'{new}' is not an appointment status. Statuses: {', '.join(TRANSITIONS)}.",
            "status",
        )
    reason = clean_field(reason, "reason", MAX_REASON_LENGTH)
    if new == old:
        raise BookingError(
            "ALREADY_IN_STATUS", f"The appointment is already {status_label(old)}.", "status"
        )
    correction = (old, new) in CORRECTIONS
    if new not in TRANSITIONS[old] and not correction:
        nxt = TRANSITIONS[old]
        allowed = (
            f"Allowed next: {_or_list(nxt)}."
            if nxt
            else f"{status_label(old).capitalize()} is final."
        )
        raise BookingError(
            "ILLEGAL_TRANSITION",
            f"A {status_label(old)} appointment cannot become {status_label(new)}. {allowed}",
            "status",
            allowed_statuses=nxt,
        )

    category = None
    if new == "cancelled":
        if not cancellation_category:
            raise BookingError(
                "CANCELLATION_CATEGORY_REQUIRED",
                f"Choose why the appointment is cancelled: {', '.join(CANCELLATION_CATEGORIES)}.",
                "cancellation_category",
            )
        if cancellation_category not in CANCELLATION_CATEGORIES:
            raise BookingError(
                "UNKNOWN_CANCELLATION_CATEGORY",
                f"'{cancellation_category}' is not a cancellation category. Choose one of: "
                f"{', '.join(CANCELLATION_CATEGORIES)}.",
                "cancellation_category",
            )
        category = cancellation_category
    elif cancellation_category:
        raise BookingError(
            "UNEXPECTED_CANCELLATION_CATEGORY",
            "A cancellation category only goes with a cancellation.",
            "cancellation_category",
        )

    day = local_start_date.strftime("%a %d %b %Y")
    if new == "no-show" and now < start_at:
        raise BookingError(
            "TOO_EARLY",
            "The appointment has not started yet; it can be marked as a no-show from its "
            "start time on.",
            "status",
        )
    if new in ("arrived", "in-progress", "completed") and local_today < local_start_date:
        raise BookingError(
            "TOO_EARLY",
            f"This appointment is on {day}; the patient can be checked in from that day on.",
            "status",
        )
    if (old, new) == ("no-show", "arrived") and local_today != local_start_date:
        raise BookingError(
            "CORRECTION_NOT_ALLOWED",
            f"A no-show can only be turned into a late arrival on the appointment's day ({day}).",
            "status",
        )
    if (old, new) == ("cancelled", "booked"):
        if actor_role not in REINSTATE_ROLES:
            raise BookingError(
                "NOT_PERMITTED",
                "Only an administrator can undo a cancellation; book a new appointment instead.",
                "status",
            )
        if reason is None:
            raise BookingError(
                "REASON_REQUIRED", "Say why the cancellation is being undone.", "reason"
            )
        if start_at <= now:
            raise BookingError(
                "CORRECTION_NOT_ALLOWED",
                "Only an appointment that is still ahead can be reinstated.",
                "status",
            )
    return Transition(old, new, correction, reason, category)


def path_to(old: str, target: str) -> list[str] | None:
    """The shortest chain of normal transitions from ``old`` to ``target`` (excluding
    ``old``), [] when already there, None when the workflow has no way."""
    if old == target:
        return []
    seen = {old}
    queue: deque[tuple[str, list[str]]] = deque([(old, [])])
    while queue:
        status, path = queue.popleft()
        for nxt in TRANSITIONS.get(status, ()):
            if nxt in seen:
                continue
            if nxt == target:
                return [*path, nxt]
            seen.add(nxt)
            queue.append((nxt, [*path, nxt]))
    return None


def possible_next(
    old: str,
    *,
    start_at: datetime,
    local_start_date: date,
    now: datetime,
    local_today: date,
    actor_role: str | None,
) -> tuple[str, ...]:
    """The statuses ``plan_transition`` would accept now (normal steps, then corrections),
    assuming a cancellation category and a reason are given where one is required: the
    actions a form offers. Role permissions are the caller's (``domain.permissions``)."""
    out = []
    candidates = (*TRANSITIONS.get(old, ()), *(new for (o, new) in CORRECTIONS if o == old))
    for new in candidates:
        try:
            plan_transition(
                old,
                new,
                start_at=start_at,
                local_start_date=local_start_date,
                now=now,
                local_today=local_today,
                actor_role=actor_role,
                reason="(any reason)",
                cancellation_category=CANCELLATION_CATEGORIES[0] if new == "cancelled" else None,
            )
        except BookingError:
            continue
        out.append(new)
    return tuple(out)
