"""Who is acting: a console user, an API key, or the system itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from apex_mediation.accounts.errors import PermissionDenied

ROLE_RANK = {"read_only": 0, "member": 1, "admin": 2, "owner": 3}


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "api_key" | "system"
    id: str | None
    publisher_id: uuid.UUID | None
    role: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    is_platform_operator: bool = False
    ip: str | None = None

    @classmethod
    def system(cls, publisher_id: uuid.UUID | None = None) -> Actor:
        return cls(kind="system", id=None, publisher_id=publisher_id, role="owner")

    def require_role(self, minimum: str) -> None:
        if ROLE_RANK.get(self.role or "", -1) < ROLE_RANK[minimum]:
            raise PermissionDenied(f"this action needs the {minimum} role or higher")

    def require_scope(self, scope: str) -> None:
        if self.kind == "api_key" and scope not in self.scopes:
            raise PermissionDenied(f"this API key lacks the '{scope}' scope")

    def tenant(self) -> uuid.UUID:
        if self.publisher_id is None:
            raise PermissionDenied("no publisher selected")
        return self.publisher_id
