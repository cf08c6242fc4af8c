"""Who is acting: the value services record in activity events and check permissions on.

Pages get the signed-in user's actor from ``components.context.current_actor()``; jobs and
imports use ``Actor.system(organization_id)``. Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Actor:
    """The acting user (or the system) and the organization they act for.

    ``user_id`` and ``name`` go to ``activity_events.actor_user_id`` / ``actor_name``;
    ``role`` decides permissions (``domain.permissions``); ``practitioner_id`` is set for
    practitioner accounts, whose reads and actions are limited to their own appointments.
    """

    user_id: int | None
    name: str
    role: str
    organization_id: int
    practitioner_id: int | None = None

    @classmethod
    def system(cls, organization_id: int, name: str = "system") -> Actor:
        """The actor of background jobs and imports: may do everything, is nobody."""
        return cls(user_id=None, name=name, role=SYSTEM_ROLE, organization_id=organization_id)

    @property
    def is_system(self) -> bool:
        return self.role == SYSTEM_ROLE

    def can(self, permission: str) -> bool:
        from domain.permissions import role_has

        return role_has(self.role, permission)
