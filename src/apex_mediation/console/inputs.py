"""Reading what a browser sends: path ids, page numbers and form fields, each forgiving in the
way a page needs (an odd id is "not found", an odd page number is page 1), never a 5xx."""

from __future__ import annotations

import uuid

from starlette.datastructures import FormData

from apex_mediation.accounts.errors import NotFound


def parse_id(value: str, what: str) -> uuid.UUID:
    """A path id; anything that is not a UUID is simply not found (never a 422)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} not found") from None


def page_number(value: str) -> int:
    """A page number from the query; anything odd (including non-ASCII digits) is page 1."""
    return max(1, int(value)) if value.isascii() and value.isdigit() and len(value) <= 6 else 1


def form_text(data: FormData, name: str) -> str:
    """A text field as sent (a file upload or a missing field is empty)."""
    value = data.get(name)
    return value if isinstance(value, str) else ""
