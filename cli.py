"""`appointments` console command: serve, migrate, seed (and later import/reminders).

Each sub-command is one piece of `make run`, usable on its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime

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
