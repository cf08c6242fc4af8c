"""The status workflow, pair by pair: every legal transition passes, every other one is
refused naming what is allowed, and the corrections hold their conditions."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from data.vocabulary import APPOINTMENT_STATUSES
from domain.errors import BookingError
from domain.workflow import CORRECTIONS, TRANSITIONS, path_to, plan_transition

START = datetime(2030, 1, 8, 15, 0, tzinfo=UTC)  # 10:00 in New York
DAY = date(2030, 1, 8)
AFTER_START = START + timedelta(minutes=20)

LEGAL = [(old, new) for old, nexts in TRANSITIONS.items() for new in nexts]
ILLEGAL = [
    (old, new)
    for old, new in itertools.product(APPOINTMENT_STATUSES, repeat=2)
    if old != new and new not in TRANSITIONS[old] and (old, new) not in CORRECTIONS
]


def _plan(old: str, new: str, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "start_at": START,
        "local_start_date": DAY,
        "now": AFTER_START,
        "local_today": DAY,
        "actor_role": "front-desk",
    }
    if new == "cancelled":
        args["cancellation_category"] = "patient-initiated"
    args.update(kw)
    return plan_transition(old, new, **args)  # type: ignore[arg-type]


def test_the_table_matches_the_issue() -> None:
    assert TRANSITIONS == {
        "pending": ("booked", "cancelled"),
        "booked": ("confirmed", "arrived", "cancelled", "no-show"),
        "confirmed": ("arrived", "cancelled", "no-show"),
        "arrived": ("in-progress", "cancelled"),
        "in-progress": ("completed",),
        "completed": (),
        "cancelled": (),
        "no-show": (),
    }


@pytest.mark.parametrize(("old", "new"), LEGAL)
def test_every_legal_transition_is_allowed(old: str, new: str) -> None:
    t = _plan(old, new)
    assert (t.old, t.new, t.correction) == (old, new, False)
    assert t.priority == ("high" if new == "cancelled" else "normal")


@pytest.mark.parametrize(("old", "new"), ILLEGAL)
def test_every_other_transition_is_refused_listing_the_allowed_ones(old: str, new: str) -> None:
    with pytest.raises(BookingError) as info:
        _plan(old, new)
    err = info.value
    assert err.code == "ILLEGAL_TRANSITION"
    assert err.field == "status"
    assert err.details["allowed_statuses"] == TRANSITIONS[old]
    if TRANSITIONS[old]:
        assert "Allowed next:" in err.message
    else:
        assert "is final" in err.message


def test_the_refusal_reads_as_a_sentence() -> None:
    with pytest.raises(BookingError) as info:
        _plan("booked", "completed")
    assert info.value.message == (
        "A booked appointment cannot become completed. "
        "Allowed next: confirmed, arrived (checked in), cancelled or no-show."
    )


@pytest.mark.parametrize("status", APPOINTMENT_STATUSES)
def test_a_status_change_to_itself_says_so(status: str) -> None:
    with pytest.raises(BookingError) as info:
        _plan(status, status)
    assert info.value.code == "ALREADY_IN_STATUS"


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(BookingError) as info:
        _plan("booked", "done")
    assert info.value.code == "UNKNOWN_STATUS"


@pytest.mark.parametrize("category", [None, "", "weather"])
def test_cancelling_needs_a_known_category(category: str | None) -> None:
    with pytest.raises(BookingError) as info:
        _plan("booked", "cancelled", cancellation_category=category)
    assert info.value.code in ("CANCELLATION_CATEGORY_REQUIRED", "UNKNOWN_CANCELLATION_CATEGORY")
    assert info.value.field == "cancellation_category"


def test_a_category_without_a_cancellation_is_refused() -> None:
    with pytest.raises(BookingError) as info:
        _plan("booked", "arrived", cancellation_category="emergency")
    assert info.value.code == "UNEXPECTED_CANCELLATION_CATEGORY"


def test_no_show_only_once_the_appointment_has_started() -> None:
    with pytest.raises(BookingError) as info:
        _plan("booked", "no-show", now=START - timedelta(minutes=1))
    assert info.value.code == "TOO_EARLY"
    assert _plan("booked", "no-show", now=START).new == "no-show"


def test_check_in_is_refused_before_the_appointment_day() -> None:
    with pytest.raises(BookingError) as info:
        _plan("booked", "arrived", now=START - timedelta(days=1), local_today=DAY - timedelta(1))
    assert info.value.code == "TOO_EARLY"
    assert "Tue 08 Jan 2030" in info.value.message


def test_a_late_patient_turns_a_no_show_into_an_arrival_on_the_same_day() -> None:
    t = _plan("no-show", "arrived")
    assert t.correction and t.priority == "high"
    with pytest.raises(BookingError) as info:
        _plan("no-show", "arrived", local_today=DAY + timedelta(days=1))
    assert info.value.code == "CORRECTION_NOT_ALLOWED"


def test_undoing_a_cancellation_needs_an_admin_a_reason_and_a_future_start() -> None:
    early = START - timedelta(days=1)
    ok = _plan("cancelled", "booked", actor_role="admin", reason="Cancelled the wrong one",
               now=early, local_today=DAY - timedelta(days=1))  # fmt: skip
    assert ok.correction and ok.takes_time_again
    for kw, code in [
        ({"actor_role": "manager", "reason": "oops"}, "NOT_PERMITTED"),
        ({"actor_role": "admin", "reason": "  "}, "REASON_REQUIRED"),
    ]:
        with pytest.raises(BookingError) as info:
            _plan("cancelled", "booked", now=early, **kw)
        assert info.value.code == code
    with pytest.raises(BookingError) as info:
        _plan("cancelled", "booked", actor_role="admin", reason="oops", now=START)
    assert info.value.code == "CORRECTION_NOT_ALLOWED"


def test_a_reason_over_the_limit_is_refused() -> None:
    with pytest.raises(BookingError) as info:
        _plan("booked", "cancelled", reason="x" * 1001)
    assert (info.value.code, info.value.field) == ("INVALID_TEXT", "reason")
    assert "1,000" in info.value.message


@pytest.mark.parametrize(
    ("old", "path"),
    [
        ("booked", ["arrived", "in-progress", "completed"]),
        ("confirmed", ["arrived", "in-progress", "completed"]),
        ("arrived", ["in-progress", "completed"]),
        ("in-progress", ["completed"]),
        ("completed", []),
        ("cancelled", None),
        ("no-show", None),
    ],
)
def test_the_way_to_completion_goes_through_each_step(old: str, path: list[str] | None) -> None:
    assert path_to(old, "completed") == path


@given(
    old=st.sampled_from(APPOINTMENT_STATUSES),
    new=st.one_of(st.sampled_from(APPOINTMENT_STATUSES), st.text(max_size=12)),
    category=st.one_of(st.none(), st.sampled_from(["patient-initiated", "other"]), st.text()),
    reason=st.one_of(st.none(), st.text(max_size=1100)),
    role=st.sampled_from(["front-desk", "manager", "system", None]),
    minutes_after_start=st.integers(-3000, 3000),
)
def test_a_decision_is_always_an_allowed_step_or_a_clear_refusal(
    old: str,
    new: str,
    category: str | None,
    reason: str | None,
    role: str | None,
    minutes_after_start: int,
) -> None:
    now = START + timedelta(minutes=minutes_after_start)
    try:
        t = plan_transition(
            old,
            new,
            start_at=START,
            local_start_date=DAY,
            now=now,
            local_today=(now - timedelta(hours=5)).date(),
            actor_role=role,
            reason=reason,
            cancellation_category=category,
        )
    except BookingError as err:
        assert err.message and err.code.isupper()
        return
    assert new in TRANSITIONS[old] or (old, new) in CORRECTIONS
    assert t.correction == ((old, new) in CORRECTIONS)
