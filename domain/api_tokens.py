"""API tokens: how another system (an EHR, a patient portal, a reporting job) reads this
organization's schedule through the FHIR API.

A token belongs to one organization and can only ever read that organization's data. It
is shown once, when created (``appointments create-api-token``); the database keeps its
SHA-256 only. Tokens carry a scope (only ``read`` exists: the API has no writes), may
expire, and can be revoked; creating and revoking are audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from data.models import ApiToken, Organization
from data.vocabulary import API_TOKEN_SCOPES, MAX_NAME_LENGTH
from domain import activity
from domain.actor import Actor
from domain.context import AppContext
from domain.permissions import Permission, PermissionDenied, require
from domain.text import TextError, clean_text
from domain.tokens import new_token, plausible_token, token_hash

# Recognisable in logs and by secret scanners ("clinic scheduling token").
TOKEN_PREFIX = "cst_"
LAST_USED_RESOLUTION = timedelta(minutes=5)


class ApiTokenError(ValueError):
    """A token request that cannot be done; the message says why."""


@dataclass(frozen=True)
class CreatedApiToken:
    id: int
    organization_id: int
    name: str
    scope: str
    expires_at: datetime | None
    # Shown once: only its hash is stored.
    token: str


@dataclass(frozen=True)
class ApiTokenInfo:
    id: int
    name: str
    scope: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class ApiPrincipal:
    """Who an accepted token stands for: one organization's API client."""

    token_id: int
    organization_id: int
    name: str
    scope: str


def _authorize(actor: Actor, organization_id: int) -> None:
    if actor.organization_id is not None and actor.organization_id != organization_id:
        raise PermissionDenied("You can only work in your own organization.")
    require(actor, Permission.MANAGE_SETTINGS)


def create_api_token(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    name: str,
    *,
    scope: str = "read",
    expires_at: datetime | None = None,
) -> CreatedApiToken:
    """A new token for the organization; ``name`` says who uses it ("Lab system")."""
    _authorize(actor, organization_id)
    try:
        label = clean_text(name, field="name", max_length=MAX_NAME_LENGTH, required=True)
    except TextError as exc:
        raise ApiTokenError(exc.message) from exc
    assert label is not None
    if scope not in API_TOKEN_SCOPES:
        raise ApiTokenError(
            f"Unknown scope {scope!r}; tokens can be: {', '.join(API_TOKEN_SCOPES)}."
        )
    now = ctx.clock()
    if expires_at is not None and expires_at <= now:
        raise ApiTokenError("The expiry must be in the future.")
    token = new_token(TOKEN_PREFIX)
    with ctx.db.transaction() as s:
        if s.get(Organization, organization_id) is None:
            raise ApiTokenError("This organization was not found.")
        row = ApiToken(
            organization_id=organization_id,
            name=label,
            token_hash=token_hash(token),
            scope=scope,
            created_at=now,
            created_by=actor.name,
            expires_at=expires_at,
        )
        s.add(row)
        s.flush()
        activity.record_event(
            s,
            organization_id=organization_id,
            event_type=activity.EVENT_API_TOKEN_CREATED,
            appointment_id=None,
            payload={"token_id": row.id, "name": label, "scope": scope},
            actor=actor,
            at=now,
        )
        return CreatedApiToken(row.id, organization_id, label, scope, expires_at, token)


def list_api_tokens(
    ctx: AppContext, organization_id: int, *, include_revoked: bool = False
) -> list[ApiTokenInfo]:
    stmt = select(ApiToken).where(ApiToken.organization_id == organization_id)
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    with ctx.db.read() as s:
        return [
            ApiTokenInfo(
                t.id,
                t.name,
                t.scope,
                t.created_at,
                t.created_by,
                t.expires_at,
                t.revoked_at,
                t.last_used_at,
            )
            for t in s.scalars(stmt.order_by(ApiToken.id))
        ]


def revoke_api_token(ctx: AppContext, actor: Actor, organization_id: int, token_id: int) -> bool:
    """Stop a token at once; False when it was already revoked. Another organization's
    token is "not found"."""
    _authorize(actor, organization_id)
    now = ctx.clock()
    with ctx.db.transaction() as s:
        row = s.get(ApiToken, token_id, with_for_update={"key_share": True})
        if row is None or row.organization_id != organization_id:
            raise ApiTokenError(f"API token #{token_id} was not found.")
        if row.revoked_at is not None:
            return False
        row.revoked_at = now
        activity.record_event(
            s,
            organization_id=organization_id,
            event_type=activity.EVENT_API_TOKEN_REVOKED,
            appointment_id=None,
            payload={"token_id": row.id, "name": row.name, "scope": row.scope},
            actor=actor,
            at=now,
        )
    return True


def authenticate_api_token(
    ctx: AppContext, token: object, scope: str = "read"
) -> ApiPrincipal | None:
    """The client a presented token stands for, or None: unknown, revoked, expired, or
    without ``scope``."""
    if not plausible_token(token) or not str(token).startswith(TOKEN_PREFIX):
        return None
    now = ctx.clock()
    with ctx.db.read() as s:
        row = s.execute(
            select(
                ApiToken.id,
                ApiToken.organization_id,
                ApiToken.name,
                ApiToken.scope,
                ApiToken.expires_at,
                ApiToken.revoked_at,
                ApiToken.last_used_at,
            ).where(ApiToken.token_hash == token_hash(str(token)))
        ).first()
    if row is None or row.revoked_at is not None or row.scope != scope:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
        with ctx.db.transaction() as s:
            s.execute(
                update(ApiToken)
                .where(ApiToken.id == row.id)
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
    return ApiPrincipal(row.id, row.organization_id, row.name, row.scope)
