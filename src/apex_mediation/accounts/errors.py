"""Domain errors: raised by the capability packages, mapped to HTTP responses in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base class; `field` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The object does not exist, or belongs to another publisher (indistinguishable on purpose)."""


class Conflict(DomainError):
    pass


class InvalidInput(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class AuthenticationFailed(DomainError):
    pass


class PaymentRequired(DomainError):
    """The publisher's access is restricted until an overdue invoice is paid (dunning)."""
