"""The reports on the server client too: clickhouse-connect backed by chDB (a `chdb://` URL)
binds parameters and sends insert settings its own way."""

from __future__ import annotations

import uuid
from datetime import timedelta

from apex_mediation.reporting import service
from apex_mediation.reporting.params import Filters, Period
from apex_mediation.stores.analytics import Analytics
from tests.reporting.data import DAY, event, seed

PERIOD = Period(DAY, DAY + timedelta(days=2))


async def test_reports_through_the_server_client(server_store: Analytics) -> None:
    seeded = await seed(server_store, uuid.uuid4())
    publisher = seeded.publisher_id
    overview = await service.overview(server_store, publisher, PERIOD, Filters())
    assert (overview.metrics.revenue_micros, overview.metrics.impressions) == (10_500, 4)
    assert (overview.metrics.requests, overview.metrics.fills) == (7, 4)
    assert (overview.dau, overview.arpdau_micros) == (1.5, 3_500)
    narrow = Filters(app_id=seeded.app2, network="admob", country="US", format="rewarded")
    app2 = await service.overview(server_store, publisher, PERIOD, narrow)
    assert (app2.metrics.revenue_micros, app2.metrics.requests, app2.dau) == (4_000, 1, 1.0)
    apps = await service.top_apps(server_store, publisher, PERIOD, Filters(), 1)
    assert [row.key for row in apps.rows] == [str(seeded.app1)]
    series = await service.timeseries(server_store, publisher, PERIOD, Filters(), "day")
    assert [point.metrics.impressions for point in series.points] == [3, 1]


async def test_a_resent_batch_counts_once_through_the_server_client(
    server_store: Analytics,
) -> None:
    publisher, app, placement = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = DAY + timedelta(hours=3)
    batch = [
        event(
            publisher,
            at=at,
            app_id=app,
            placement_id=placement,
            cpm_micros=1_000_000,
            device_key=f"d{n}",
        )
        for n in range(3)
    ]
    await server_store.insert("events", batch, dedup_token=f"batch-{publisher}")
    # Resent in another order: the token, not the bytes, makes it the same batch.
    await server_store.insert("events", batch[::-1], dedup_token=f"batch-{publisher}")
    overview = await service.overview(server_store, publisher, PERIOD, Filters())
    assert (overview.metrics.impressions, overview.metrics.revenue_micros) == (3, 3_000)
