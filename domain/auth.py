"""Accounts, passwords and sign-in.

Passwords are hashed with Argon2id (argon2-cffi's RFC 9106 low-memory profile) and
re-hashed on sign-in when the parameters change. Failed sign-ins are throttled per
(e-mail, client address) and per client address, in a store every app process shares
(``data.throttle``). No message tells whether an account exists: an unknown e-mail, a
wrong password and a deactivated account read the same, take about as long (a dummy hash
is verified), and are throttled alike.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from data.models import ActivityEvent, Organization, Practitioner, User
from data.throttle import DatabaseThrottleStore, RedisThrottleStore, ThrottleStore, redis_client
from data.vocabulary import (
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ROLES,
)
from domain.actor import Actor
from domain.context import AppContext
from domain.text import TextError, clean_text

# argon2-cffi's RFC 9106 low-memory profile: Argon2id, 64 MiB, 3 passes, 4 lanes.
PRODUCTION_HASHER = PasswordHasher()
HASHER = PRODUCTION_HASHER  # the test suite swaps in a cheap one

THROTTLE_WINDOW = timedelta(minutes=15)
# Per e-mail + client address: a person mistyping is not locked out, a guesser is.
MAX_FAILURES_PER_ACCOUNT = 5
# Per client address, across e-mails: slows password spraying over many accounts while a
# whole clinic behind one NAT address can still mistype.
MAX_FAILURES_PER_ADDRESS = 50

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_dummy_hash: str | None = None


class AuthError(Exception):
    """Sign-in or account problem; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LoginRefused(AuthError):
    def __init__(self) -> None:
        super().__init__("The e-mail address or password is incorrect.")


class LoginThrottled(AuthError):
    def __init__(self, retry_after: timedelta) -> None:
        minutes = max(1, -(-int(retry_after.total_seconds()) // 60))
        super().__init__(
            "Too many failed sign-in attempts. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
            "or ask your administrator to reset your password."
        )
        self.retry_after = retry_after


class AccountError(AuthError):
    """A create/change request that cannot be done (taken e-mail, weak password, ...)."""


@dataclass(frozen=True)
class UserInfo:
    id: int
    organization_id: int
    organization_name: str
    name: str
    email: str
    role: str
    practitioner_id: int | None
    active: bool
    session_version: int
    last_login_at: datetime | None

    @property
    def actor(self) -> Actor:
        return Actor(
            user_id=self.id,
            name=self.name,
            role=self.role,
            organization_id=self.organization_id,
            practitioner_id=self.practitioner_id,
        )


def _info(user: User, organization_name: str) -> UserInfo:
    return UserInfo(
        id=user.id,
        organization_id=user.organization_id,
        organization_name=organization_name,
        name=user.name,
        email=user.email,
        role=user.role,
        practitioner_id=user.practitioner_id,
        active=user.active,
        session_version=user.session_version,
        last_login_at=user.last_login_at,
    )


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def check_password_rules(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"Passwords are limited to {MAX_PASSWORD_LENGTH} characters.")
    if not password.strip():
        raise AccountError("A password cannot be only spaces.")
    if "\x00" in password:
        raise AccountError("The password contains a character that cannot be used.")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _waste_a_verification(password: str) -> None:
    """Spend the time a real verification takes, so response times do not reveal
    whether the e-mail belongs to an account."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = HASHER.hash("an account that does not exist")
    _verify(_dummy_hash, password)


# --------------------------------------------------------------------------- throttling


def login_throttle(ctx: AppContext) -> ThrottleStore:
    """The context's shared throttle store: Redis when configured, else the database."""
    store = ctx.extras.get("login_throttle")
    if store is None:
        if ctx.settings.redis_url:
            client = ctx.extras.get("redis") or redis_client(ctx.settings.redis_url)
            ctx.extras.setdefault("redis", client)
            store = RedisThrottleStore(client, ctx.settings.redis_key_prefix)
        else:
            store = DatabaseThrottleStore(ctx.db)
        ctx.extras["login_throttle"] = store
    return store


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _throttle_keys(email: str, client_address: str) -> tuple[str, str]:
    return _key("account", email, client_address), _key("address", client_address)


def _retry_after(failures: list[datetime], limit: int, now: datetime) -> timedelta | None:
    if len(failures) < limit:
        return None
    # Locked until the failure that reached the limit leaves the window.
    return failures[-limit] + THROTTLE_WINDOW - now


def _check_locked(store: ThrottleStore, keys: tuple[str, str], now: datetime) -> None:
    since = now - THROTTLE_WINDOW
    for key, limit in zip(keys, (MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS), strict=True):
        wait = _retry_after(store.failures_since(key, since), limit, now)
        if wait is not None and wait > timedelta(0):
            raise LoginThrottled(wait)


# --------------------------------------------------------------------------- sign-in


def authenticate(ctx: AppContext, email: str, password: str, client_address: str) -> UserInfo:
    """The active user with this e-mail and password, or ``LoginRefused`` /
    ``LoginThrottled``. Updates ``last_login_at`` and clears the account's failures."""
    now = ctx.clock()
    email = normalize_email(email if isinstance(email, str) else "")
    password = password if isinstance(password, str) else ""
    store = login_throttle(ctx)
    keys = _throttle_keys(email, client_address or "unknown")
    _check_locked(store, keys, now)

    found: tuple[UserInfo, str] | None = None  # the user and their password hash
    if email and len(email) <= MAX_EMAIL_LENGTH:
        with ctx.db.read() as s:
            row = s.execute(
                select(User, Organization.name)
                .join(Organization, Organization.id == User.organization_id)
                .where(User.email == email)
            ).one_or_none()
            if row is not None:
                found = _info(*row), row[0].password_hash
    usable = bool(password) and len(password) <= MAX_PASSWORD_LENGTH
    if found is None or not found[0].active or not usable:
        if usable:
            _waste_a_verification(password)
        ok = False
    else:
        ok = _verify(found[1], password)
    if not ok:
        store.record_failure(list(keys), now, THROTTLE_WINDOW)
        _check_locked(store, keys, now)
        raise LoginRefused()

    user, password_hash = found  # type: ignore[misc]
    store.clear(keys[0])
    changes: dict[str, Any] = {"last_login_at": now}
    if HASHER.check_needs_rehash(password_hash):
        changes["password_hash"] = hash_password(password)
    with ctx.db.transaction() as s:
        s.execute(update(User).where(User.id == user.id).values(**changes))
    return replace(user, last_login_at=now)


def load_session_user(ctx: AppContext, user_id: int, session_version: int) -> UserInfo | None:
    """The user a session cookie names, if the account is still active and the session
    was issued at its current version (a password change or deactivation ends it)."""
    with ctx.db.read() as s:
        row = s.execute(
            select(User, Organization.name)
            .join(Organization, Organization.id == User.organization_id)
            .where(User.id == user_id)
        ).one_or_none()
        user = _info(*row) if row is not None else None
    if user is None or not user.active or user.session_version != session_version:
        return None
    return user


# --------------------------------------------------------------------------- accounts


def _event(actor: Actor, organization_id: int, event_type: str, payload: dict[str, Any]) -> Any:
    return ActivityEvent(
        organization_id=organization_id,
        event_type=event_type,
        payload=payload,
        priority="low",
        actor_user_id=actor.user_id,
        actor_name=actor.name,
    )


def create_user(
    ctx: AppContext,
    *,
    actor: Actor,
    organization_id: int,
    name: str,
    email: str,
    role: str,
    password: str,
    practitioner_id: int | None = None,
) -> UserInfo:
    """Create an account. Practitioner accounts must name the practitioner they are."""
    try:
        name = clean_text(name, field="name", max_length=MAX_NAME_LENGTH, required=True) or ""
    except TextError as exc:
        raise AccountError(exc.message) from exc
    email = normalize_email(email or "")
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise AccountError("Enter a valid e-mail address, e.g. name@clinic.org.")
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    if role == "practitioner" and practitioner_id is None:
        raise AccountError("A practitioner account must be linked to a practitioner.")
    if role != "practitioner" and practitioner_id is not None:
        raise AccountError("Only practitioner accounts are linked to a practitioner.")
    check_password_rules(password)
    password_hash = hash_password(password)
    with ctx.db.transaction() as s:
        org = s.get(Organization, organization_id)
        if org is None:
            raise AccountError("Unknown organization.")
        if practitioner_id is not None:
            prac = s.get(Practitioner, practitioner_id)
            if prac is None or prac.organization_id != organization_id:
                raise AccountError("No such practitioner in this organization.")
        if s.scalar(select(func.count()).where(User.email == email)):
            raise AccountError("An account with this e-mail address already exists.")
        user = User(
            organization_id=organization_id,
            name=name,
            email=email,
            role=role,
            password_hash=password_hash,
            practitioner_id=practitioner_id,
            active=True,
            session_version=1,
        )
        s.add(user)
        try:
            s.flush()
        except IntegrityError as exc:  # a concurrent create with the same e-mail
            raise AccountError("An account with this e-mail address already exists.") from exc
        s.add(_event(actor, organization_id, "USER_CREATED", {"user_id": user.id, "role": role}))
        return _info(user, org.name)


def _set_password_hash(
    ctx: AppContext, actor: Actor, user_id: int, new_password: str, event_type: str
) -> UserInfo:
    check_password_rules(new_password)
    password_hash = hash_password(new_password)
    with ctx.db.transaction() as s:
        user = s.get(User, user_id)
        if user is None or not (actor.is_system or user.organization_id == actor.organization_id):
            raise AccountError("No such account.")
        user.password_hash = password_hash
        user.session_version += 1
        s.add(_event(actor, user.organization_id, event_type, {"user_id": user.id}))
        s.flush()
        org_name = s.get_one(Organization, user.organization_id).name
        return _info(user, org_name)


def change_password(
    ctx: AppContext, actor: Actor, current_password: str, new_password: str
) -> UserInfo:
    """The signed-in user changes their own password; every other session of theirs ends
    (the caller re-issues the current session at the returned ``session_version``)."""
    if actor.user_id is None:
        raise AccountError("Only a signed-in user can change their password.")
    now = ctx.clock()
    store = login_throttle(ctx)
    # Someone at an unattended, signed-in screen must not be able to guess the password.
    keys = (_key("change-password", str(actor.user_id)),) * 2
    _check_locked(store, keys, now)
    with ctx.db.read() as s:
        user = s.get(User, actor.user_id)
        current_hash = user.password_hash if user is not None else None
    if current_hash is None or not _verify(current_hash, current_password or ""):
        store.record_failure([keys[0]], now, THROTTLE_WINDOW)
        raise AccountError("The current password is incorrect.")
    store.clear(keys[0])
    if new_password == current_password:
        raise AccountError("The new password must differ from the current one.")
    return _set_password_hash(ctx, actor, actor.user_id, new_password, "PASSWORD_CHANGED")


def set_password(ctx: AppContext, actor: Actor, user_id: int, new_password: str) -> UserInfo:
    """An administrator's reset; ends the user's sessions."""
    return _set_password_hash(ctx, actor, user_id, new_password, "PASSWORD_RESET")


def deactivate_user(ctx: AppContext, actor: Actor, user_id: int) -> None:
    """The account can no longer sign in and its open sessions end at their next request."""
    with ctx.db.transaction() as s:
        user = s.get(User, user_id)
        if user is None or not (actor.is_system or user.organization_id == actor.organization_id):
            raise AccountError("No such account.")
        user.active = False
        user.session_version += 1
        s.add(_event(actor, user.organization_id, "USER_DEACTIVATED", {"user_id": user.id}))


def end_sessions(ctx: AppContext, user_id: int) -> None:
    """Sign the user out everywhere: every session cookie issued so far stops working.

    Sessions are signed cookies (no server-side session table), so signing out bumps the
    account's session version; otherwise a copied cookie would outlive the sign-out."""
    with ctx.db.transaction() as s:
        s.execute(
            update(User).where(User.id == user_id).values(session_version=User.session_version + 1)
        )


def find_user(ctx: AppContext, email: str) -> UserInfo | None:
    with ctx.db.read() as s:
        row = s.execute(
            select(User, Organization.name)
            .join(Organization, Organization.id == User.organization_id)
            .where(User.email == normalize_email(email))
        ).one_or_none()
        return _info(*row) if row else None


def list_users(
    ctx: AppContext, organization_id: int, include_inactive: bool = False
) -> list[UserInfo]:
    with ctx.db.read() as s:
        query = (
            select(User, Organization.name)
            .join(Organization, Organization.id == User.organization_id)
            .where(User.organization_id == organization_id)
            .order_by(User.name, User.id)
        )
        if not include_inactive:
            query = query.where(User.active.is_(True))
        return [_info(u, n) for u, n in s.execute(query)]
