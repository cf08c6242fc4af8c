"""The patient type-ahead shared by the booking form and the waitlist: the server searches
(at most 20 matches), the chosen patient stays listed, and a hint says what to do next."""

from __future__ import annotations

from typing import Any

from dash import no_update

from components.context import app_context, current_actor
from domain.patients import PatientMatch, get_patient, search_patients
from domain.text import TextError

SEARCH_EXAMPLE = "For example “smith jo”, or a date of birth: 05/02/1980 (month first)."


def patient_option(p: PatientMatch) -> dict[str, Any]:
    return {"label": p.label, "value": p.id}


def patient_choices(query: str | None, chosen: int | None) -> tuple[object, object]:
    """(dropdown options, hint) for what was typed; bad input keeps the options and says why."""
    actor = current_actor()
    org_id = actor.organization_id or 0
    try:
        found = search_patients(app_context(), org_id, query, actor=actor)
    except TextError as exc:
        return no_update, exc.message
    options = [patient_option(p) for p in found.matches]
    if chosen is not None and not any(o["value"] == chosen for o in options):
        current = get_patient(app_context(), org_id, chosen, actor=actor)
        if current is not None:
            options.insert(0, patient_option(current))
    if found.hint:
        hint = found.hint if (query or "").strip() else SEARCH_EXAMPLE
    elif not found.matches:
        hint = "No patient found. Check the spelling, or search by date of birth."
    elif found.truncated:
        hint = f"Showing the first {len(found.matches)}: type more of the name to narrow."
    else:
        n = len(found.matches)
        hint = f"{n} patient{'s' if n != 1 else ''} found: choose one."
    return options, hint
