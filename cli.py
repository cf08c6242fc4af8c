"""`appointments` console command: serve, migrate, seed, accounts, import-history,
reminders, calendar feeds and API tokens.

Each sub-command is one piece of `make run`, usable on its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from settings import Settings, get_settings

Command = Callable[[argparse.Namespace, Settings], int]
COMMANDS: dict[str, tuple[Command, Callable[[argparse.ArgumentParser], None], str]] = {}


def command(
    name: str, help_text: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = (fn, arguments, help_text)
        return fn

    return register


@command("migrate", "apply database migrations (Alembic) up to the newest revision")
def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from data.migrate import upgrade

    upgrade(settings.database_url)
    print(f"database at {_safe_url(settings.database_url)} is up to date")
    return 0


def _seed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing when the database already holds an organization",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=None,
        help="seed the benchmark organization instead of the demo; 1.0 = 30 clinics, "
        "300 practitioners, 200,000 patients, ~3 million appointments",
    )
    p.add_argument(
        "--anchor",
        type=datetime.fromisoformat,
        default=None,
        help="the instant the data is generated around (default: now), ISO 8601 with offset",
    )


@command("seed", "load the deterministic demo data (or a large benchmark organization)", _seed_args)
def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from data.db import Database
    from data.seed import DEMO_PROFILE, is_empty, large_profile, seed

    db = Database(settings.database_url)
    try:
        if args.if_empty and not is_empty(db):
            print("database already has data; not seeding")
            return 0
        profile = DEMO_PROFILE if args.scale is None else large_profile(args.scale)
        report = seed(
            db, profile, anchor=args.anchor, progress=lambda m: print(f"  {m}", flush=True)
        )
    finally:
        db.dispose()
    total = sum(report.rows.values())
    print(
        f"seeded {total:,} rows in {report.seconds:.1f} s: "
        + ", ".join(f"{n:,} {t}" for t, n in report.rows.items())
    )
    if report.logins:
        print("\ndemo sign-ins (demo data only: their passwords are public):")
        for org, role, email, password in report.logins:
            print(f"  {org:<26} {role:<13} {email:<30} {password}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    """From stdin (``--password-stdin``, for scripts) or typed twice at a terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise SystemExit("no terminal to type a password; pipe it with --password-stdin")
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise SystemExit("the two passwords differ")
    return first


def _context(settings: Settings):  # type: ignore[no-untyped-def]
    from domain.context import AppContext

    return AppContext.from_settings(settings)


def _create_org_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True)
    p.add_argument("--timezone", required=True, help="IANA zone, e.g. America/New_York")
    p.add_argument("--buffer-minutes", type=int, default=0)
    p.add_argument("--min-notice-minutes", type=int, default=0)
    p.add_argument("--horizon-days", type=int, default=90)


@command("create-organization", "create an empty organization (real deployments)", _create_org_args)
def _create_organization(args: argparse.Namespace, settings: Settings) -> int:
    from domain.organizations import OrganizationError, create_organization

    ctx = _context(settings)
    try:
        org = create_organization(
            ctx,
            args.name,
            args.timezone,
            buffer_minutes=args.buffer_minutes,
            min_notice_minutes=args.min_notice_minutes,
            booking_horizon_days=args.horizon_days,
        )
    except OrganizationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        ctx.db.dispose()
    print(f"created organization {org.id}: {org.name} ({org.timezone})")
    return 0


def _create_user_args(p: argparse.ArgumentParser) -> None:
    from data.vocabulary import ROLES

    p.add_argument("--email", required=True, help="the sign-in name")
    p.add_argument("--name", required=True, help="shown in the app and in the audit trail")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument(
        "--organization", default=None, help="name or id (default: the only organization)"
    )
    p.add_argument("--practitioner-id", type=int, default=None, help="for practitioner accounts")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")


@command("create-user", "create a staff account that can sign in", _create_user_args)
def _create_user(args: argparse.Namespace, settings: Settings) -> int:
    from domain.actor import Actor
    from domain.auth import AccountError, create_user
    from domain.organizations import find_organization

    ctx = _context(settings)
    try:
        org = find_organization(ctx, args.organization)
        if org is None:
            print(
                "error: name the organization with --organization (name or id); "
                "create one with `appointments create-organization`",
                file=sys.stderr,
            )
            return 2
        user = create_user(
            ctx,
            actor=Actor.system("appointments create-user", org.id),
            organization_id=org.id,
            name=args.name,
            email=args.email,
            role=args.role,
            password=_read_password(args),
            practitioner_id=args.practitioner_id,
        )
    except AccountError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        ctx.db.dispose()
    print(f"created {user.role} account {user.email} in {user.organization_name}")
    return 0


def _set_password_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--email", required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")


@command("set-password", "reset an account's password (ends its sessions)", _set_password_args)
def _set_password(args: argparse.Namespace, settings: Settings) -> int:
    from domain.actor import Actor
    from domain.auth import AccountError, find_user, set_password

    ctx = _context(settings)
    try:
        user = find_user(ctx, args.email)
        if user is None:
            print(f"error: no account with e-mail {args.email}", file=sys.stderr)
            return 2
        actor = Actor.system("appointments set-password", user.organization_id)
        set_password(ctx, actor, user.id, _read_password(args))
    except AccountError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        ctx.db.dispose()
    print(f"password of {user.email} changed; their open sessions have ended")
    return 0


def _import_args(p: argparse.ArgumentParser) -> None:
    from domain.history_formats import FORMATS

    p.add_argument("file", type=Path, help="CSV file, plain or gzip")
    p.add_argument(
        "--organization", required=True, help="organization name; created if it does not exist"
    )
    p.add_argument(
        "--format",
        required=True,
        choices=sorted(FORMATS),
        help="the column mapping of the source system (see README, 'Importing history')",
    )
    p.add_argument("--dry-run", action="store_true", help="check the file and count; write nothing")
    p.add_argument(
        "--timezone",
        default=None,
        help="time zone of a new organization and new clinics (default: the format's)",
    )
    p.add_argument(
        "--issues-file",
        type=Path,
        default=None,
        help="also write every error and warning to this CSV file",
    )


ISSUES_SHOWN = 50


@command(
    "import-history",
    "import past appointments from another system's CSV export (plain or gzip)",
    _import_args,
)
def _import_history(args: argparse.Namespace, settings: Settings) -> int:
    from domain.actor import Actor
    from domain.context import AppContext
    from domain.history_import import HistoryFileError, import_history

    ctx = AppContext.from_settings(settings)
    progress = _ProgressBars()
    try:
        report = import_history(
            ctx,
            args.file,
            organization=args.organization,
            format_name=args.format,
            dry_run=args.dry_run,
            timezone=args.timezone,
            progress=progress,
            actor=Actor.system("appointments import-history"),
        )
    except (HistoryFileError, ValueError) as exc:
        progress.close()
        print(f"error: {args.file}: {exc}; nothing was imported", file=sys.stderr)
        return 2
    finally:
        progress.close()
        ctx.db.dispose()

    verb = "would import" if report.dry_run else "imported"
    org_note = " (new)" if report.organization_created else ""
    print(f"read {report.rows_read:,} rows from {args.file} as {report.format_name}")
    print(
        f"{verb} {report.appointments_imported:,} appointments into "
        f'"{report.organization}"{org_note} in {report.seconds:.1f} s; '
        f"{report.appointments_already_present:,} were already there, "
        f"{report.rows_rejected:,} rows rejected"
    )
    print(
        f"{'would create' if report.dry_run else 'created'}: {report.patients_created:,} "
        f"patients, {report.clinics_created:,} clinics, "
        f"{report.practitioners_created:,} unknown-practitioner placeholders"
    )
    for title, issues in (
        ("warnings (imported as recorded)", report.warnings),
        ("errors (rows not imported)", report.errors),
    ):
        if not issues:
            continue
        print(f"{title}: {len(issues):,}")
        for issue in issues[:ISSUES_SHOWN]:
            print(f"  {issue}")
        if len(issues) > ISSUES_SHOWN:
            print(f"  ... and {len(issues) - ISSUES_SHOWN:,} more (see --issues-file)")
    if args.issues_file is not None:
        _write_issues(args.issues_file, report)
        print(f"all errors and warnings written to {args.issues_file}")
    if report.dry_run:
        print("dry run: nothing was written")
    return 1 if report.errors else 0


class _ProgressBars:
    """One console progress bar per import stage (shown only on a terminal)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._stage: str | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        from tqdm import tqdm

        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=total, desc=stage, unit=" rows", disable=None, leave=False)
        if self._bar is not None:
            if total is not None:
                self._bar.total = total
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._stage = None, None


def _write_issues(path: Path, report: Any) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["line", "appointment_id", "severity", "code", "message"])
        for severity, issues in (("error", report.errors), ("warning", report.warnings)):
            for i in issues:
                out.writerow([i.line, i.appointment_id or "", severity, i.code, i.message])


def _organization_or_exit(ctx, name_or_id: str | None):  # type: ignore[no-untyped-def]
    from domain.organizations import find_organization

    org = find_organization(ctx, name_or_id)
    if org is None:
        raise SystemExit(
            "error: name the organization with --organization (name or id)"
            if name_or_id is None
            else f"error: no organization {name_or_id!r}"
        )
    return org


def _reminders_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--organization", default=None, help="name or id (default: every organization)")


@command(
    "reminders",
    "send every due appointment reminder once (run it every 5 minutes from cron or a "
    "systemd timer; several at once are safe)",
    _reminders_args,
)
def _reminders(args: argparse.Namespace, settings: Settings) -> int:
    from domain.reminders import send_due_reminders

    ctx = _context(settings)
    try:
        org_id = None
        if args.organization is not None:
            org_id = _organization_or_exit(ctx, args.organization).id
        report = send_due_reminders(ctx, organization_id=org_id)
    finally:
        ctx.db.dispose()
    print(report.summary())
    # Non-zero when something failed to go out, so cron mails it / systemd marks it.
    return 1 if report.retrying or report.abandoned else 0


def _set_reminders_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--organization", default=None, help="name or id (default: the only one)")
    p.add_argument(
        "--offsets",
        required=True,
        help='times before the appointment, comma-separated, e.g. 48h,2h ("" or none: off)',
    )
    p.add_argument(
        "--channels",
        default="email,in-app",
        help="in order of preference: email (the patient), in-app (the front desk phones)",
    )


@command("set-reminders", "set when and how patients are reminded", _set_reminders_args)
def _set_reminders(args: argparse.Namespace, settings: Settings) -> int:
    from domain.actor import Actor
    from domain.reminders import ReminderSettingsError, set_reminder_settings

    ctx = _context(settings)
    try:
        org = _organization_or_exit(ctx, args.organization)
        text = args.offsets.strip()
        offsets = [] if text.lower() in ("", "none", "off") else text.split(",")
        result = set_reminder_settings(
            ctx,
            Actor.system("appointments set-reminders", org.id),
            org.id,
            offsets,
            [c.strip() for c in args.channels.split(",") if c.strip()],
        )
    except ReminderSettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        ctx.db.dispose()
    print(f"{org.name}: {result.describe()}")
    return 0


def _set_holds_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--organization", default=None, help="name or id (default: the only one)")
    p.add_argument("--hold-minutes", type=int, default=None, help="booking-form hold, 1-60")
    p.add_argument(
        "--offer-minutes", type=int, default=None, help="how long a waitlist offer stays open"
    )


@command(
    "set-holds",
    "set how long the booking form holds a time and a waitlist offer keeps its seat",
    _set_holds_args,
)
def _set_holds(args: argparse.Namespace, settings: Settings) -> int:
    from domain.actor import Actor
    from domain.admin.errors import NO_CHANGE, AdminError
    from domain.admin.org_settings import update_organization_settings
    from domain.organizations import get_organization

    ctx = _context(settings)
    try:
        org = _organization_or_exit(ctx, args.organization)
        given = {
            name: value
            for name, value in (
                ("hold_minutes", args.hold_minutes),
                ("waitlist_offer_minutes", args.offer_minutes),
            )
            if value is not None
        }
        try:
            update_organization_settings(
                ctx, Actor.system("appointments set-holds", org.id), org.id, **given
            )
        except AdminError as exc:
            if exc.code != NO_CHANGE:
                print(f"error: {exc.message}", file=sys.stderr)
                return 2
        saved = get_organization(ctx, org.id)
        assert saved is not None
    finally:
        ctx.db.dispose()
    print(
        f"{org.name}: holds last {saved.hold_minutes} min, waitlist offers "
        f"{saved.waitlist_offer_minutes} min"
    )
    return 0


def _store_stats_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--organization", default=None, help="name or id (default: every one)")
    p.add_argument("--months", type=int, default=24, help="calendar months back (default 24)")


@command(
    "store-stats",
    "store the analytics counts of past days ahead of the first look (optional: run it "
    "nightly from cron; the analytics page stores what it lacks by itself)",
    _store_stats_args,
)
def _store_stats(args: argparse.Namespace, settings: Settings) -> int:
    from domain.organizations import list_organizations
    from domain.stats import store_statistics

    ctx = _context(settings)
    try:
        orgs = (
            [_organization_or_exit(ctx, args.organization)]
            if args.organization is not None
            else list_organizations(ctx)
        )
        for org in orgs:
            started = time.perf_counter()
            try:
                stored = store_statistics(ctx, org.id, args.months)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"{org.name}: {stored} parts stored in {time.perf_counter() - started:.1f} s")
    finally:
        ctx.db.dispose()
    return 0


def _feed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--organization", default=None, help="name or id (default: the only one)")
    p.add_argument("--practitioner-id", type=int, required=True)
    p.add_argument(
        "--base-url",
        default=None,
        help="the site's address, e.g. https://clinic.example.org (prints the full link)",
    )


@command(
    "issue-calendar-feed",
    "give a practitioner a new private calendar (iCalendar) link; the old one stops working",
    _feed_args,
)
def _issue_calendar_feed(args: argparse.Namespace, settings: Settings) -> int:
    from domain.actor import Actor
    from domain.calendar_feeds import CalendarFeedError, issue_calendar_feed

    ctx = _context(settings)
    try:
        org = _organization_or_exit(ctx, args.organization)
        feed = issue_calendar_feed(
            ctx,
            Actor.system("appointments issue-calendar-feed", org.id),
            org.id,
            args.practitioner_id,
        )
    except CalendarFeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        ctx.db.dispose()
    base = (args.base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    print(f"calendar link (shown once; subscribe to it in a calendar app):\n{base}{feed.path}")
    return 0


@command("revoke-calendar-feed", "stop a practitioner's private calendar link", _feed_args)
def _revoke_calendar_feed(args: argparse.Namespace, settings: Settings) -> int:
    from domain.actor import Actor
    from domain.calendar_feeds import CalendarFeedError, revoke_calendar_feed

    ctx = _context(settings)
    try:
        org = _organization_or_exit(ctx, args.organization)
        done = revoke_calendar_feed(
            ctx,
            Actor.system("appointments revoke-calendar-feed", org.id),
            org.id,
            args.practitioner_id,
        )
    except CalendarFeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        ctx.db.dispose()
    print("calendar link revoked" if done else "this practitioner had no calendar link")
    return 0


def _create_token_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--organization", default=None, help="name or id (default: the only one)")
    p.add_argument("--name", required=True, help="who uses it, e.g. 'Lab system'")
    p.add_argument("--expires-days", type=int, default=None, help="default: never expires")


@command(
    "create-api-token",
    "create a read-only token for the FHIR API (one organization's data)",
    _create_token_args,
)
def _create_api_token(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from domain.actor import Actor
    from domain.api_tokens import ApiTokenError, create_api_token

    ctx = _context(settings)
    try:
        org = _organization_or_exit(ctx, args.organization)
        expires = None
        if args.expires_days is not None:
            expires = ctx.clock() + timedelta(days=args.expires_days)
        created = create_api_token(
            ctx,
            Actor.system("appointments create-api-token", org.id),
            org.id,
            args.name,
            expires_at=expires,
        )
    except ApiTokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        ctx.db.dispose()
    print(f"API token #{created.id} for {org.name} ({created.name}, {created.scope}):")
    print(created.token)
    print("Shown once: store it now. Send it as 'Authorization: Bearer <token>'.")
    return 0


def _list_tokens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--organization", default=None, help="name or id (default: the only one)")
    p.add_argument("--all", action="store_true", help="include revoked tokens")


@command("list-api-tokens", "list an organization's FHIR API tokens", _list_tokens_args)
def _list_api_tokens(args: argparse.Namespace, settings: Settings) -> int:
    from domain.api_tokens import list_api_tokens

    ctx = _context(settings)
    try:
        org = _organization_or_exit(ctx, args.organization)
        tokens = list_api_tokens(ctx, org.id, include_revoked=args.all)
    finally:
        ctx.db.dispose()
    if not tokens:
        print("no API tokens")
    for t in tokens:
        state = "revoked" if t.revoked_at else "active"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        expires = f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "never"
        print(
            f"#{t.id:<4} {t.name:<30} {t.scope:<5} {state:<8} created {t.created_at:%Y-%m-%d} "
            f"by {t.created_by}; last used {used}; expires {expires}"
        )
    return 0


def _revoke_token_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--organization", default=None, help="name or id (default: the only one)")
    p.add_argument("--id", type=int, required=True, help="the token's number (list-api-tokens)")


@command("revoke-api-token", "stop a FHIR API token at once", _revoke_token_args)
def _revoke_api_token(args: argparse.Namespace, settings: Settings) -> int:
    from domain.actor import Actor
    from domain.api_tokens import ApiTokenError, revoke_api_token

    ctx = _context(settings)
    try:
        org = _organization_or_exit(ctx, args.organization)
        done = revoke_api_token(
            ctx, Actor.system("appointments revoke-api-token", org.id), org.id, args.id
        )
    except ApiTokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        ctx.db.dispose()
    print(f"API token #{args.id} revoked" if done else f"API token #{args.id} was already revoked")
    return 0


def _import_schedules_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="CSV file, one weekly block per row (README: Administration)")
    p.add_argument(
        "--organization", default=None, help="name or id (default: the only organization)"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check every row and report; import nothing"
    )


@command(
    "import-schedules",
    "import weekly schedule blocks from a CSV file (all rows or none)",
    _import_schedules_args,
)
def _import_schedules(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from domain.actor import Actor
    from domain.admin import AdminError, import_schedules

    path = Path(args.file)
    if not path.is_file():
        print(f"error: no file {path}", file=sys.stderr)
        return 2
    ctx = _context(settings)
    try:
        org = _organization_or_exit(ctx, args.organization)
        report = import_schedules(
            ctx,
            Actor.system("appointments import-schedules", org.id),
            org.id,
            path.read_bytes(),
            dry_run=args.dry_run,
            file_name=path.name,
        )
    except AdminError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        ctx.db.dispose()
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    for note in report.notes:
        print(f"  note: {note}")
    if report.problems:
        print(report.summary(), file=sys.stderr)
        return 1
    print(f"{org.name}: {report.summary()}")
    return 0


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)


@command("serve", "serve the dashboard (development server; see `make serve-prod`)", _serve_args)
def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from app import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(settings)
    print(f"serving on http://{host}:{port}", flush=True)
    app.run(host=host, port=port, debug=settings.debug)
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="appointments", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_fn, arguments, help_text) in COMMANDS.items():
        arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fn = COMMANDS[args.command][0]
    return fn(args, get_settings())


if __name__ == "__main__":
    sys.exit(main())
