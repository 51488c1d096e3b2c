"""Business metrics the operator's dashboards and alerts read."""

from __future__ import annotations

from prometheus_client import Counter

customers_created_total = Counter(
    "customers_created_total", "Publisher accounts created (signup or operator)"
)
