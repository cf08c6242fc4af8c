"""Read access to organizations for the shell and the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from data.models import Clinic, Organization
from domain.context import AppContext


@dataclass(frozen=True)
class OrganizationInfo:
    id: int
    name: str
    timezone: str
    buffer_minutes: int
    min_notice_minutes: int
    booking_horizon_days: int
    # Notification switches (see data.models.Organization.settings).
    settings: dict[str, Any] = field(default_factory=dict)

    def local_today(self, now: datetime) -> date:
        return now.astimezone(ZoneInfo(self.timezone)).date()

    @property
    def hold_minutes(self) -> int:
        """How long the booking form holds a chosen time."""
        from domain.holds import hold_length  # builds on this module

        return hold_length(self.settings)

    @property
    def waitlist_offer_minutes(self) -> int:
        """How long a waitlist offer keeps its seat."""
        from domain.waitlist import offer_minutes  # builds on this module

        return offer_minutes(self.settings)


def _info(org: Organization) -> OrganizationInfo:
    return OrganizationInfo(
        org.id,
        org.name,
        org.timezone,
        org.buffer_minutes,
        org.min_notice_minutes,
        org.booking_horizon_days,
        dict(org.settings or {}),
    )


def get_organization(ctx: AppContext, organization_id: int) -> OrganizationInfo | None:
    with ctx.db.read() as s:
        org = s.get(Organization, organization_id)
        return _info(org) if org else None


def list_organizations(ctx: AppContext) -> list[OrganizationInfo]:
    with ctx.db.read() as s:
        return [_info(o) for o in s.scalars(select(Organization).order_by(Organization.id))]


@dataclass(frozen=True)
class ClinicInfo:
    id: int
    name: str
    timezone: str
    address: str | None
    active: bool


def list_clinics(
    ctx: AppContext, organization_id: int, include_inactive: bool = False
) -> list[ClinicInfo]:
    with ctx.db.read() as s:
        query = select(Clinic).where(Clinic.organization_id == organization_id)
        if not include_inactive:
            query = query.where(Clinic.active.is_(True))
        return [
            ClinicInfo(c.id, c.name, c.timezone, c.address, c.active)
            for c in s.scalars(query.order_by(Clinic.name))
        ]


# Notification switches of a new organization (the settings page changes them).
DEFAULT_SETTINGS: dict[str, Any] = {
    "notify_practitioner": True,
    "notify_patient": True,
    "notify_coordinators": False,
}


class OrganizationError(ValueError):
    pass


def create_organization(
    ctx: AppContext,
    name: str,
    timezone: str,
    *,
    buffer_minutes: int = 0,
    min_notice_minutes: int = 0,
    booking_horizon_days: int = 90,
) -> OrganizationInfo:
    """A new, empty organization (real deployments; the demo seed makes its own)."""
    from zoneinfo import ZoneInfoNotFoundError

    from data.vocabulary import MAX_NAME_LENGTH
    from domain.text import TextError, clean_text

    try:
        clean = clean_text(name, field="name", max_length=MAX_NAME_LENGTH, required=True)
        ZoneInfo(timezone)
    except TextError as exc:
        raise OrganizationError(exc.message) from exc
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise OrganizationError(
            f"Unknown time zone {timezone!r}; use an IANA name such as America/New_York."
        ) from exc
    with ctx.db.transaction() as s:
        if s.scalar(select(Organization.id).where(Organization.name == clean)) is not None:
            raise OrganizationError(f"An organization named {clean!r} already exists.")
        org = Organization(
            name=clean,
            timezone=timezone,
            buffer_minutes=buffer_minutes,
            min_notice_minutes=min_notice_minutes,
            booking_horizon_days=booking_horizon_days,
            settings=dict(DEFAULT_SETTINGS),
        )
        s.add(org)
        s.flush()
        return _info(org)


def find_organization(ctx: AppContext, name_or_id: str | None) -> OrganizationInfo | None:
    """By id or exact name; None given and exactly one organization: that one."""
    orgs = list_organizations(ctx)
    if name_or_id is None:
        return orgs[0] if len(orgs) == 1 else None
    for org in orgs:
        if org.name == name_or_id or str(org.id) == name_or_id:
            return org
    return None
