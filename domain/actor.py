"""Who is acting: recorded on every activity event the services write, and what permission
and record-scope checks look at.

Pages get the signed-in user's actor from ``components.context.current_actor()`` (built from
the account the session names, never from request data); jobs and scripts use
``Actor.system()``. The name is copied onto each event so the history still reads right
after a user is renamed or removed. Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Actor:
    """The acting user (or the system).

    ``user_id`` and ``name`` go to ``activity_events.actor_user_id`` / ``actor_name``;
    ``role`` (one of ``data.vocabulary.ROLES``, or "system") decides permissions
    (``domain.permissions``); ``organization_id`` is the organization a signed-in user acts
    for; ``practitioner_id`` is set for practitioner accounts, whose reads and actions are
    limited to their own appointments.
    """

    user_id: int | None
    name: str
    role: str | None = None
    organization_id: int | None = None
    practitioner_id: int | None = None

    @classmethod
    def system(cls, name: str = "system", organization_id: int | None = None) -> Actor:
        """The actor of background jobs, imports and scripts: may do everything."""
        return cls(user_id=None, name=name, role=SYSTEM_ROLE, organization_id=organization_id)

    @property
    def is_system(self) -> bool:
        return self.role == SYSTEM_ROLE

    def can(self, permission: str) -> bool:
        from domain.permissions import role_has

        return self.role is not None and role_has(self.role, permission)
