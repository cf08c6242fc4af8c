"""Foundation: counting appointments per status through the ORM vs the raw SQL."""

from __future__ import annotations

from sqlalchemy import func, select

from bench.harness import BenchEnv, Case, benchmark
from data.models import Appointment, Organization


def _org_id(env: BenchEnv) -> int:
    if "org_id" not in env.facts:
        with env.db.read() as s:
            env.facts["org_id"] = s.scalars(
                select(Organization.id).where(Organization.name == "Metro Health System")
            ).one()
    return int(env.facts["org_id"])


@benchmark("appointments per status (ORM vs raw count)")
def status_counts(env: BenchEnv) -> Case:
    org = _org_id(env)

    def orm() -> dict[str, int]:
        with env.db.read() as s:
            rows = s.execute(
                select(Appointment.status, func.count())
                .where(Appointment.organization_id == org)
                .group_by(Appointment.status)
            ).all()
        return {status: int(n) for status, n in rows}

    def raw() -> dict[str, int]:
        rows = env.sql(
            "SELECT status, count(*) FROM appointments WHERE organization_id = %s GROUP BY status",
            (org,),
        )
        return dict(rows)

    assert orm() == raw(), "ORM and raw SQL disagree on the status counts"
    return Case(operation=orm, floor=raw, repeat=7, warmup=1, max_ratio=1.2)
