"""Notification templates: Jinja2 files under notify/templates/, three per message.

A template NAME (e.g. `product/announcement`, a path below notify/templates/ without suffix) is
`NAME.subject.txt`, `NAME.txt` and `NAME.html`; the HTML extends `_layout.html`. HTML is
autoescaped, the text files are not. Undefined variables are errors (StrictUndefined), so a
caller that forgets one fails when it queues the message, not when a reader opens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES_DIR = Path(__file__).parent / "templates"
# Set by `render` itself for the layout: the <title> and the unsubscribe footer.
RESERVED = frozenset({"unsubscribe_url", "email_subject"})

__all__ = ["TEMPLATES_DIR", "Rendered", "environment", "render"]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _text_footer(unsubscribe_url: str) -> str:
    return f"\n--\nTo stop receiving emails like this one: {unsubscribe_url}\n"


def render(
    name: str, context: Mapping[str, Any], *, unsubscribe_url: str | None = None
) -> Rendered:
    """Render template NAME; with `unsubscribe_url`, both bodies end with the link.

    Raises jinja2.TemplateNotFound for an unknown name and jinja2.UndefinedError for a variable
    the context lacks."""
    clash = RESERVED & context.keys()
    if clash:
        raise ValueError(f"the context may not set {', '.join(sorted(clash))}: render sets it")
    env = environment()
    values = {**context, "unsubscribe_url": unsubscribe_url}
    subject = " ".join(env.get_template(f"{name}.subject.txt").render(values).split())
    if not subject:
        raise ValueError(f"template {name} renders an empty subject")
    text = env.get_template(f"{name}.txt").render(values).rstrip() + "\n"
    if unsubscribe_url:
        text += _text_footer(unsubscribe_url)
    html = env.get_template(f"{name}.html").render({**values, "email_subject": subject})
    return Rendered(subject=subject, text=text, html=html)
