"""Slack through incoming webhooks. A target is a name ("operator") resolved from the settings
when the message is sent, so webhook URLs (secrets) never reach the database."""

from __future__ import annotations

import httpx

from apex_mediation.settings import Settings

# Target name -> the environment variable holding its webhook URL.
TARGETS = {"operator": "APEX_SLACK_WEBHOOK_URL"}
TIMEOUT_S = 10.0

__all__ = ["TARGETS", "TIMEOUT_S", "SlackError", "message_text", "post", "webhook_for"]


class SlackError(RuntimeError):
    """Slack did not take the message; the text never contains the webhook URL."""


def webhook_for(settings: Settings, target: str) -> str | None:
    """The webhook URL of `target`, or None when it is not configured."""
    if target not in TARGETS:
        raise ValueError(f"unknown Slack target {target!r}; known: {', '.join(TARGETS)}")
    secret = settings.slack_webhook_url
    return secret.get_secret_value() if secret is not None else None


def _escape(text: str) -> str:
    """Slack reads &, < and > as markup (links, mentions); rendered values stay literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_text(subject: str, body: str) -> str:
    return f"*{_escape(subject)}*\n{_escape(body.strip())}"


async def post(http: httpx.AsyncClient, url: str, text: str) -> None:
    try:
        response = await http.post(url, json={"text": text}, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        # httpx messages can quote the request URL; only the exception's kind is kept.
        raise SlackError(f"Slack webhook unreachable ({type(exc).__name__})") from exc
    if response.status_code != 200:
        raise SlackError(f"Slack answered {response.status_code}: {response.text[:200]}")
