"""Read access to organizations for the shell and the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from data.models import Organization
from domain.context import AppContext


@dataclass(frozen=True)
class OrganizationInfo:
    id: int
    name: str
    timezone: str
    buffer_minutes: int
    min_notice_minutes: int
    booking_horizon_days: int

    def local_today(self, now: datetime) -> date:
        return now.astimezone(ZoneInfo(self.timezone)).date()


def _info(org: Organization) -> OrganizationInfo:
    return OrganizationInfo(
        org.id,
        org.name,
        org.timezone,
        org.buffer_minutes,
        org.min_notice_minutes,
        org.booking_horizon_days,
    )


def get_organization(ctx: AppContext, organization_id: int) -> OrganizationInfo | None:
    with ctx.db.read() as s:
        org = s.get(Organization, organization_id)
        return _info(org) if org else None


def list_organizations(ctx: AppContext) -> list[OrganizationInfo]:
    with ctx.db.read() as s:
        return [_info(o) for o in s.scalars(select(Organization).order_by(Organization.id))]
