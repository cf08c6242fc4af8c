"""Finding a patient to book: by name or date of birth, for the booking form's type-ahead.

Bounded and indexed (``data.patient_queries``): a search returns at most ``limit``
patients, and says when there were more, so it stays fast with hundreds of thousands of
patients. Staff who may book (``book``) may search, in their own organization only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from data.patient_queries import patient_row, search_patient_rows
from data.vocabulary import MAX_SEARCH_LENGTH
from domain.actor import Actor
from domain.context import AppContext
from domain.permissions import Permission, PermissionDenied, require
from domain.text import clean_text

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Fewer letters than this match too many patients to be useful.
MIN_NAME_LETTERS = 2
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass(frozen=True)
class PatientMatch:
    id: int
    given_name: str
    family_name: str
    birth_date: date | None
    # The birth date was derived from an age (imported history), not recorded.
    birth_date_estimated: bool
    phone: str | None
    external_id: str | None

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def label(self) -> str:
        """'Smith, John · born 02 May 1980' for pick lists."""
        born = "date of birth unknown"
        if self.birth_date is not None:
            about = "about " if self.birth_date_estimated else ""
            born = f"born {about}{self.birth_date:%d %b %Y}"
        return f"{self.family_name}, {self.given_name} · {born}"


@dataclass(frozen=True)
class PatientSearch:
    matches: list[PatientMatch]
    # More patients match than were returned: the user should type more.
    truncated: bool
    # Why nothing was searched (too short), for the form; None when it searched.
    hint: str | None = None


def parse_birth_date(word: str) -> date | None:
    """A date of birth as staff type it: 1980-05-02 or 05/02/1980 (month first)."""
    iso, us = _ISO.match(word), _US.match(word)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if us:
            return date(int(us[3]), int(us[1]), int(us[2]))
    except ValueError:
        return None
    return None


def _check(actor: Actor, organization_id: int) -> None:
    require(actor, Permission.BOOK)
    if not actor.is_system and actor.organization_id != organization_id:
        raise PermissionDenied("You can only look up your own organization's patients.")


def _match(row: tuple) -> PatientMatch:  # type: ignore[type-arg]
    return PatientMatch(*row)


def search_patients(
    ctx: AppContext,
    organization_id: int,
    query: str | None,
    *,
    actor: Actor,
    limit: int = DEFAULT_LIMIT,
) -> PatientSearch:
    """Patients whose given or family names start with every word of ``query`` (any
    case), and whose date of birth is the one typed, if a word is a date
    (YYYY-MM-DD or MM/DD/YYYY); by family name. Raises ``TextError`` for text no search
    box sends (too long, control characters)."""
    _check(actor, organization_id)
    text = clean_text(query, field="search", max_length=MAX_SEARCH_LENGTH) or ""
    limit = max(1, min(limit, MAX_LIMIT))
    words, born = [], None
    for word in text.lower().split():
        day = parse_birth_date(word)
        if day is not None:
            born = day
        else:
            words.append(word)
    if born is None and sum(len(w) for w in words) < MIN_NAME_LETTERS:
        return PatientSearch(
            [], False, f"Type at least {MIN_NAME_LETTERS} letters of a name, or a date of birth."
        )
    with ctx.db.quick_read() as conn:
        rows = search_patient_rows(conn, organization_id, words, born, limit + 1)
    return PatientSearch([_match(r) for r in rows[:limit]], len(rows) > limit)


def get_patient(
    ctx: AppContext, organization_id: int, patient_id: int, *, actor: Actor
) -> PatientMatch | None:
    """One patient of the organization (None for an id of another organization)."""
    _check(actor, organization_id)
    with ctx.db.quick_read() as conn:
        row = patient_row(conn, organization_id, patient_id)
    return _match(row) if row else None
