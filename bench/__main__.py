"""`make bench`: seed (once) a large organization into its own PostgreSQL database, run
every registered benchmark beside its raw-SQL floor, print a table, write results.json.

Environment: BENCH_DATABASE_URL (default: database ``clinic_bench`` on the local server),
BENCH_SCALE (default 1.0 = ~3 million appointments).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.harness import REGISTRY, BenchEnv, format_table, run_case
from data.db import Database
from data.migrate import upgrade
from domain.context import AppContext
from settings import Settings

HERE = Path(__file__).resolve().parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench"


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_seeded(url: str, scale: float, reseed: bool) -> dict[str, object]:
    """Create, migrate and seed the bench database unless it already holds this scale."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = (
            conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            ).first()
            is not None
        )
        meta = None
        if exists and not reseed:
            probe = create_engine(url)
            try:
                with probe.connect() as pc:
                    has_meta = pc.execute(text("SELECT to_regclass('bench_meta')")).scalar()
                    if has_meta:
                        row = pc.execute(
                            text("SELECT value FROM bench_meta WHERE key = 'seed'")
                        ).first()
                        meta = row[0] if row else None
            finally:
                probe.dispose()
        if meta and meta.get("scale") == scale:
            upgrade(url)  # newer migrations since the seed
            return meta
        if exists:
            conn.execute(text(f'DROP DATABASE "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()

    from data.seed import large_profile, seed

    upgrade(url)
    db = Database(url)
    print(f"seeding scale {scale} into {target.database} (once; later runs reuse it)", flush=True)
    report = seed(db, large_profile(scale), progress=lambda m: print(f"  {m}", flush=True))
    meta = {
        "scale": scale,
        "seconds": round(report.seconds, 1),
        "rows": report.rows,
        "appointments": report.rows.get("appointments", 0),
        "appointments_per_second": round(report.rows.get("appointments", 0) / report.seconds),
        "rows_per_second": round(sum(report.rows.values()) / report.seconds),
        "seeded_at": datetime.now(UTC).isoformat(),
    }
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb NOT NULL)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO bench_meta VALUES ('seed', CAST(:v AS jsonb)) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            {"v": json.dumps(meta)},
        )
    db.dispose()
    return meta


def load_modules() -> None:
    for info in pkgutil.iter_modules([str(HERE)]):
        if info.name.startswith("bench_"):
            importlib.import_module(f"bench.{info.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run benchmarks whose name contains this text (repeatable)",
    )
    parser.add_argument("--reseed", action="store_true", help="drop and seed again")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", 1.0)))
    parser.add_argument("--repeat", type=int, default=None, help="override repetitions")
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)

    meta = ensure_seeded(url, args.scale, args.reseed)
    print(
        f"seed: {meta['appointments']:,} appointments, {sum(meta['rows'].values()):,} rows "
        f"in {meta['seconds']} s ({meta['appointments_per_second']:,} appointments/s, "
        f"{meta['rows_per_second']:,} rows/s)",
        flush=True,
    )

    load_modules()
    settings = Settings(database_url=url)
    db = Database(url)
    ctx = AppContext(settings=settings, db=db)
    results = []
    with psycopg.connect(libpq_url(url), autocommit=True) as raw:
        env = BenchEnv(db=db, ctx=ctx, raw=raw)
        for name, factory in REGISTRY:
            if args.only and not any(o in name for o in args.only):
                continue
            case = factory(env)
            if args.repeat:
                case.repeat = args.repeat
            result = run_case(name, case)
            results.append(result)
            print(f"  {name}: p50 {result.p50_ms:.2f} ms", flush=True)
    db.dispose()

    print()
    print(format_table(results))
    out = {
        "run_at": datetime.now(UTC).isoformat(),
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "seed": meta,
        "results": [r.as_dict() for r in results],
    }
    (HERE / "results.json").write_text(json.dumps(out, indent=2))
    print(f"\nwritten {HERE / 'results.json'}")
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"total {time.perf_counter() - t0:.0f} s")
    sys.exit(code)
