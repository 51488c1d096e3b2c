"""The JSON the console's charts draw (read by static/console.js): revenue and impressions over
time, revenue by network and by country, for one publisher, period and filters."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import JSONResponse

from apex_mediation.reporting import service
from apex_mediation.reporting.params import Filters, Granularity, Period
from apex_mediation.stores.analytics import Analytics

TOP_COUNTRIES = 10


async def chart_response(
    analytics: Analytics,
    publisher: uuid.UUID,
    period: Period,
    filters: Filters,
    granularity: Granularity,
    label_format: str,
) -> JSONResponse:
    series = await service.timeseries(analytics, publisher, period, filters, granularity)
    networks = await service.by_network(analytics, publisher, period, filters)
    countries = await service.by_country(analytics, publisher, period, filters, TOP_COUNTRIES)
    # Dollars as floats: chart axes only, never stored or summed.
    body: dict[str, Any] = {
        "series": {
            "labels": [p.at.strftime(label_format) for p in series.points],
            "revenue": [p.metrics.revenue_micros / 1e6 for p in series.points],
            "impressions": [p.metrics.impressions for p in series.points],
        },
        "networks": {
            "labels": [r.key or "(none)" for r in networks.rows],
            "revenue": [r.metrics.revenue_micros / 1e6 for r in networks.rows],
        },
        "countries": {
            "labels": [r.key or "??" for r in countries.rows],
            "revenue": [r.metrics.revenue_micros / 1e6 for r in countries.rows],
        },
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
