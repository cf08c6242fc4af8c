"""Benchmark harness: every operation is timed beside its floor, the same rows fetched or
aggregated by raw SQL on a plain psycopg connection in the same run.

A benchmark module in ``bench/`` (named ``bench_*.py``) registers cases with
``@benchmark("name")`` on a factory ``(env) -> Case``. The runner interleaves operation
and floor calls so machine noise hits both alike, then reports p50, p95 and the ratio of
the p50s.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from data.db import Database
from domain.context import AppContext


@dataclass
class Case:
    operation: Callable[[], Any]
    floor: Callable[[], Any] | None = None
    repeat: int = 30
    warmup: int = 2
    # Called before every operation timing, untimed (e.g. to clear a cache for a cold run).
    before_each: Callable[[], None] | None = None
    target_ms: float | None = None
    max_ratio: float | None = None
    note: str = ""
    # A target for the slow tail (e.g. interactive callbacks: p95 <= 300 ms).
    target_p95_ms: float | None = None


@dataclass
class BenchEnv:
    db: Database
    ctx: AppContext
    raw: psycopg.Connection  # autocommit connection for floors
    facts: dict[str, Any] = field(default_factory=dict)

    def sql(
        self, query: str, params: tuple[Any, ...] | dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        with self.raw.cursor() as cur:
            cur.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall()


Factory = Callable[[BenchEnv], Case]
REGISTRY: list[tuple[str, Factory]] = []


def benchmark(name: str) -> Callable[[Factory], Factory]:
    def register(factory: Factory) -> Factory:
        REGISTRY.append((name, factory))
        return factory

    return register


@dataclass
class Result:
    name: str
    p50_ms: float
    p95_ms: float
    floor_p50_ms: float | None
    floor_p95_ms: float | None
    n: int
    target_ms: float | None = None
    max_ratio: float | None = None
    note: str = ""
    target_p95_ms: float | None = None

    @property
    def ratio(self) -> float | None:
        if not self.floor_p50_ms:
            return None
        return self.p50_ms / self.floor_p50_ms

    @property
    def verdict(self) -> str:
        problems = []
        if self.target_ms is not None and self.p50_ms > self.target_ms:
            problems.append(f"p50>{self.target_ms:g}ms")
        if self.target_p95_ms is not None and self.p95_ms > self.target_p95_ms:
            problems.append(f"p95>{self.target_p95_ms:g}ms")
        if self.max_ratio is not None and self.ratio is not None and self.ratio > self.max_ratio:
            problems.append(f"ratio>{self.max_ratio:g}")
        return "MISS " + ",".join(problems) if problems else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "p50_ms": round(self.p50_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "floor_p50_ms": None if self.floor_p50_ms is None else round(self.floor_p50_ms, 3),
            "floor_p95_ms": None if self.floor_p95_ms is None else round(self.floor_p95_ms, 3),
            "ratio": None if self.ratio is None else round(self.ratio, 2),
            "n": self.n,
            "target_ms": self.target_ms,
            "target_p95_ms": self.target_p95_ms,
            "max_ratio": self.max_ratio,
            "verdict": self.verdict,
            "note": self.note,
        }


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run_case(name: str, case: Case) -> Result:
    for _ in range(case.warmup):
        if case.before_each:
            case.before_each()
        case.operation()
        if case.floor:
            case.floor()
    op_times: list[float] = []
    floor_times: list[float] = []
    for _ in range(case.repeat):
        if case.before_each:
            case.before_each()
        t0 = time.perf_counter()
        case.operation()
        op_times.append((time.perf_counter() - t0) * 1000)
        if case.floor:
            t0 = time.perf_counter()
            case.floor()
            floor_times.append((time.perf_counter() - t0) * 1000)
    return Result(
        name=name,
        p50_ms=percentile(op_times, 50),
        p95_ms=percentile(op_times, 95),
        floor_p50_ms=percentile(floor_times, 50) if floor_times else None,
        floor_p95_ms=percentile(floor_times, 95) if floor_times else None,
        n=case.repeat,
        target_ms=case.target_ms,
        max_ratio=case.max_ratio,
        note=case.note,
        target_p95_ms=case.target_p95_ms,
    )


def format_table(results: list[Result]) -> str:
    header = (
        f"{'operation':<52} {'p50 ms':>9} {'p95 ms':>9} {'floor p50':>10} {'ratio':>7}  verdict"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        floor = "" if r.floor_p50_ms is None else f"{r.floor_p50_ms:10.2f}"
        ratio = "" if r.ratio is None else f"{r.ratio:7.2f}"
        lines.append(
            f"{r.name:<52} {r.p50_ms:9.2f} {r.p95_ms:9.2f} {floor:>10} {ratio:>7}  "
            f"{r.verdict}{'  ' + r.note if r.note else ''}"
        )
    return "\n".join(lines)
