"""The console commands an administrator uses for reminders, calendar links and API tokens
(run in-process: ``appointments_command``)."""

from __future__ import annotations

import re
from collections.abc import Callable

from data.db import Database
from domain.api_tokens import authenticate_api_token
from domain.calendar_feeds import calendar_feed_for_token
from domain.context import AppContext
from domain.reminders import get_reminder_settings
from settings import Settings
from tests.factories import make_clinic, make_org, make_practitioner
from tests.integration.conftest import CommandLine


def test_reminders_calendar_links_and_api_tokens_from_the_command_line(
    db: Database, appointments_command: Callable[[str], CommandLine]
) -> None:
    with db.transaction() as s:
        org = make_org(s, name="Lakeside")
        practitioner = make_practitioner(s, org, [make_clinic(s, org)])
        org_id, practitioner_id = org.id, practitioner.id
    ctx = AppContext(settings=Settings(database_url=db.url), db=db)
    command = appointments_command(db.url)

    def _run(*argv: str) -> tuple[int, str]:
        done = command(*argv)
        return done.code, done.out + done.err

    code, out = _run("set-reminders", "--offsets", "48h,2h")
    assert code == 0 and "48 h before and 2 h before, by email then in-app" in out
    assert get_reminder_settings(ctx, org_id).offsets_minutes == (2880, 120)
    code, out = _run("set-reminders", "--offsets", "soon")
    assert code == 2 and "not a time before the appointment" in out
    code, out = _run("reminders")
    assert code == 0 and "sent 0 reminder(s)" in out
    assert "SMTP_HOST is not set" in out  # e-mail is on, but there is no mail server

    code, out = _run(
        "issue-calendar-feed",
        "--practitioner-id",
        str(practitioner_id),
        "--base-url",
        "https://clinic.example.org/",
    )
    assert code == 0
    (token,) = re.findall(r"https://clinic\.example\.org/calendar/([\w-]+)\.ics", out)
    assert calendar_feed_for_token(ctx, token) is not None
    code, out = _run("revoke-calendar-feed", "--practitioner-id", str(practitioner_id))
    assert code == 0 and calendar_feed_for_token(ctx, token) is None
    code, out = _run("issue-calendar-feed", "--practitioner-id", "999999")
    assert code == 2 and "not found" in out

    code, out = _run("create-api-token", "--name", "Lab system", "--expires-days", "30")
    assert code == 0
    (api_token,) = re.findall(r"^(cst_[\w-]+)$", out, re.MULTILINE)
    principal = authenticate_api_token(ctx, api_token)
    assert principal is not None and principal.organization_id == org_id
    code, out = _run("list-api-tokens")
    assert code == 0 and "Lab system" in out and "active" in out and api_token not in out
    code, out = _run("revoke-api-token", "--id", str(principal.token_id))
    assert code == 0 and authenticate_api_token(ctx, api_token) is None
    code, out = _run("revoke-api-token", "--id", "999999")
    assert code == 2 and "not found" in out
    code, out = _run("create-api-token", "--name", "X", "--organization", "Nowhere")
    assert code == 1 and "no organization 'Nowhere'" in out
