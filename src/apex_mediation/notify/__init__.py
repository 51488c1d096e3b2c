"""Outgoing notifications: email over SMTP and Slack webhooks, queued in a durable outbox
(`outbox`), rendered from the Jinja2 files under notify/templates/ (`templates`)."""
