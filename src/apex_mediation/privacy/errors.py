"""The one error every consent-string decoder raises."""

from __future__ import annotations


class ConsentStringError(ValueError):
    """A consent string (TCF, GPP, US Privacy) that cannot be decoded; the message says why."""
