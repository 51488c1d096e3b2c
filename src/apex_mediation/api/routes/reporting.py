"""Reporting: `/api/v1/reporting` as PROTOCOL.md §8 documents it, plus `/export.csv`.

Money is shown twice: `revenue` and `ecpm` as decimal USD (the documented shape) and
`revenueMicros` and `ecpmMicros` as the exact integers they come from. The response models live
here, not in api/schemas.py, because nothing else returns them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.api.deps import CurrentActor, ServicesDep
from apex_mediation.api.schemas import Out
from apex_mediation.auction.model import AdFormat
from apex_mediation.reporting import ivt as ivt_report
from apex_mediation.reporting import params, service, transparency
from apex_mediation.reporting.export import to_csv
from apex_mediation.reporting.params import Filters, Granularity, Period
from apex_mediation.reporting.service import Metrics

router = APIRouter(prefix="/api/v1/reporting", tags=["reporting"])
AUCTION_LOG_MAX = timedelta(days=31)  # one export is one month of raw rows at most


# -- dependencies ----------------------------------------------------------------------------


async def reporting_actor(actor: CurrentActor) -> Actor:
    """A key with the `reporting` scope, or any member's console session."""
    actor.require_scope("reporting")
    actor.tenant()
    return actor


async def report_period(
    start_date: Annotated[str | None, Query(alias="startDate", max_length=64)] = None,
    end_date: Annotated[str | None, Query(alias="endDate", max_length=64)] = None,
) -> Period:
    return params.parse_period(start_date, end_date, now=datetime.now(UTC))


async def report_filters(
    app_id: Annotated[uuid.UUID | None, Query(alias="appId")] = None,
    placement_id: Annotated[uuid.UUID | None, Query(alias="placementId")] = None,
    network: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    format: Annotated[AdFormat | None, Query()] = None,
) -> Filters:
    return Filters(app_id, placement_id, network, country.upper() if country else None, format)


ReportingActor = Annotated[Actor, Depends(reporting_actor)]
PeriodDep = Annotated[Period, Depends(report_period)]
FiltersDep = Annotated[Filters, Depends(report_filters)]
LimitQuery = Annotated[int, Query(ge=1, le=params.MAX_LIMIT)]
GranularityQuery = Annotated[Granularity, Query()]
Report = Literal["overview", "timeseries", "adapters", "countries", "top-apps", "realtime"]


# -- response bodies -------------------------------------------------------------------------


class ServedOut(Out):
    """What was served: everything a network can be credited with."""

    revenue: float  # USD
    revenue_micros: int
    impressions: int
    clicks: int
    video_completes: int
    rewards: int
    fills: int
    ecpm: float  # USD per thousand impressions
    ecpm_micros: int
    ctr: float
    show_rate: float  # impressions / fills


class MetricsOut(ServedOut):
    requests: int
    fill_rate: float  # fills / requests


class OverviewOut(MetricsOut):
    start_date: datetime
    end_date: datetime  # exclusive
    dau: float | None  # null unless the period is whole UTC days
    arpdau: float | None
    arpdau_micros: int | None


class PointOut(MetricsOut):
    timestamp: datetime  # the bucket's start


class SeriesOut(Out):
    start_date: datetime
    end_date: datetime
    granularity: str
    data: list[PointOut]


class RealtimeOut(MetricsOut):
    """Totals of the last hour, then per minute."""

    start_date: datetime
    end_date: datetime
    data: list[PointOut]


class NetworkRowOut(ServedOut):
    """Requests and fill rate are left out: an unfilled auction has no network to charge."""

    network: str


class CountryRowOut(MetricsOut):
    country: str


class AppRowOut(MetricsOut):
    app_id: uuid.UUID


class AdaptersOut(Out):
    start_date: datetime
    end_date: datetime
    data: list[NetworkRowOut]


class CountriesOut(Out):
    start_date: datetime
    end_date: datetime
    data: list[CountryRowOut]


class TopAppsOut(Out):
    start_date: datetime
    end_date: datetime
    data: list[AppRowOut]


def _usd(micros: int) -> float:
    return micros / 1_000_000


def _served(m: Metrics) -> dict[str, Any]:
    return {
        "revenue": _usd(m.revenue_micros),
        "revenue_micros": m.revenue_micros,
        "impressions": m.impressions,
        "clicks": m.clicks,
        "video_completes": m.video_completes,
        "rewards": m.rewards,
        "fills": m.fills,
        "ecpm": _usd(m.ecpm_micros),
        "ecpm_micros": m.ecpm_micros,
        "ctr": m.ctr,
        "show_rate": m.show_rate,
    }


def _metrics(m: Metrics) -> dict[str, Any]:
    return {**_served(m), "requests": m.requests, "fill_rate": m.fill_rate}


def _period(period: Period) -> dict[str, Any]:
    return {"start_date": period.start, "end_date": period.end}


def _points(series: service.Series) -> list[PointOut]:
    return [PointOut(timestamp=p.at, **_metrics(p.metrics)) for p in series.points]


# -- routes ----------------------------------------------------------------------------------


@router.get("/overview", response_model=OverviewOut)
async def overview(
    actor: ReportingActor, services: ServicesDep, period: PeriodDep, filters: FiltersDep
) -> OverviewOut:
    result = await service.overview(services.analytics, actor.tenant(), period, filters)
    arpdau = result.arpdau_micros
    return OverviewOut(
        **_period(period),
        **_metrics(result.metrics),
        dau=result.dau,
        arpdau=None if arpdau is None else _usd(arpdau),
        arpdau_micros=arpdau,
    )


@router.get("/timeseries", response_model=SeriesOut)
async def timeseries(
    actor: ReportingActor,
    services: ServicesDep,
    period: PeriodDep,
    filters: FiltersDep,
    granularity: GranularityQuery = "day",
) -> SeriesOut:
    series = await service.timeseries(
        services.analytics, actor.tenant(), period, filters, granularity
    )
    return SeriesOut(**_period(period), granularity=granularity, data=_points(series))


@router.get("/adapters", response_model=AdaptersOut)
async def adapters(
    actor: ReportingActor, services: ServicesDep, period: PeriodDep, filters: FiltersDep
) -> AdaptersOut:
    result = await service.by_network(services.analytics, actor.tenant(), period, filters)
    rows = [NetworkRowOut(network=row.key, **_served(row.metrics)) for row in result.rows]
    return AdaptersOut(**_period(period), data=rows)


@router.get("/countries", response_model=CountriesOut)
async def countries(
    actor: ReportingActor,
    services: ServicesDep,
    period: PeriodDep,
    filters: FiltersDep,
    limit: LimitQuery = params.DEFAULT_LIMIT,
) -> CountriesOut:
    result = await service.by_country(services.analytics, actor.tenant(), period, filters, limit)
    rows = [CountryRowOut(country=row.key, **_metrics(row.metrics)) for row in result.rows]
    return CountriesOut(**_period(period), data=rows)


@router.get("/top-apps", response_model=TopAppsOut)
async def top_apps(
    actor: ReportingActor,
    services: ServicesDep,
    period: PeriodDep,
    filters: FiltersDep,
    limit: LimitQuery = params.DEFAULT_LIMIT,
) -> TopAppsOut:
    result = await service.top_apps(services.analytics, actor.tenant(), period, filters, limit)
    rows = [AppRowOut(app_id=uuid.UUID(row.key), **_metrics(row.metrics)) for row in result.rows]
    return TopAppsOut(**_period(period), data=rows)


@router.get("/realtime", response_model=RealtimeOut)
async def realtime(
    actor: ReportingActor, services: ServicesDep, filters: FiltersDep
) -> RealtimeOut:
    series = await service.realtime(services.analytics, actor.tenant(), filters)
    return RealtimeOut(**_period(series.period), **_metrics(series.totals), data=_points(series))


@router.get(
    "/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the report's rows as CSV"}},
)
async def export_csv(
    actor: ReportingActor,
    services: ServicesDep,
    period: PeriodDep,
    filters: FiltersDep,
    report: Annotated[Report, Query()],
    granularity: GranularityQuery = "day",
    limit: LimitQuery = params.DEFAULT_LIMIT,
) -> Response:
    """Any report as CSV, with the same parameters; lists give one line per row."""
    rows: Sequence[Out]
    if report == "overview":
        rows = [await overview(actor, services, period, filters)]
    elif report == "timeseries":
        rows = (await timeseries(actor, services, period, filters, granularity)).data
    elif report == "adapters":
        rows = (await adapters(actor, services, period, filters)).data
    elif report == "countries":
        rows = (await countries(actor, services, period, filters, limit)).data
    elif report == "top-apps":
        rows = (await top_apps(actor, services, period, filters, limit)).data
    else:
        live = await realtime(actor, services, filters)
        rows, period = live.data, Period(live.start_date, live.end_date)
    fields = _ROW_MODELS[report].model_fields
    columns = [field.alias or name for name, field in fields.items()]
    text = to_csv(columns, [row.model_dump(by_alias=True) for row in rows])
    filename = f"apex-{report}-{period.start:%Y%m%dT%H%MZ}-{period.end:%Y%m%dT%H%MZ}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/auction-log",
    response_class=Response,
    responses={
        200: {
            "content": {media: {} for _, media in transparency.EXPORT_FORMATS.values()},
            "description": "one row per candidate of every auction in the period",
        }
    },
)
async def auction_log(
    actor: ReportingActor,
    services: ServicesDep,
    period: PeriodDep,
    placement_id: Annotated[uuid.UUID | None, Query(alias="placementId")] = None,
    format: Annotated[transparency.ExportFormat, Query()] = "csv",
) -> Response:
    """The publisher's own auction log: every bid and no-bid, its price, rank and loss reason,
    with the auction's floor and clearing price, as CSV or Parquet."""
    if period.end - period.start > AUCTION_LOG_MAX:
        raise InvalidInput(
            f"an auction log export covers at most {AUCTION_LOG_MAX.days} days", field="endDate"
        )
    data = await transparency.auction_log(
        services.analytics, actor.tenant(), period, placement_id, format
    )
    filename = f"apex-auction-log-{period.start:%Y%m%dT%H%MZ}-{period.end:%Y%m%dT%H%MZ}.{format}"
    return Response(
        data,
        media_type=transparency.EXPORT_FORMATS[format][1],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class SdkVersionOut(Out):
    platform: str
    sdk_version: str
    apps: int
    requests: int  # auction requests made by this version
    crashes: int
    crashes_per_thousand: float  # crashes per 1,000 auction requests


class SdkVersionsOut(Out):
    start_date: datetime
    end_date: datetime
    data: list[SdkVersionOut]


@router.get("/sdk-versions", response_model=SdkVersionsOut)
async def sdk_versions(
    actor: ReportingActor, services: ServicesDep, period: PeriodDep
) -> SdkVersionsOut:
    """Per SDK platform and version: apps, requests and crash reports."""
    rows = await transparency.sdk_health(services.analytics, actor.tenant(), period)
    data = [
        SdkVersionOut(
            platform=row["platform"],
            sdk_version=row["sdk_version"],
            apps=row["apps"],
            requests=row["requests"],
            crashes=row["crashes"],
            crashes_per_thousand=round(row["crashes"] * 1000 / row["requests"], 3)
            if row["requests"]
            else 0.0,
        )
        for row in rows
    ]
    return SdkVersionsOut(**_period(period), data=data)


class IvtRowOut(Out):
    key: str  # the reason, app id, placement id, network, country, format or bucket start
    impressions: int
    invalid_impressions: int
    invalid_impression_share: float
    clicks: int
    invalid_clicks: int
    requests: int
    invalid_requests: int
    invalid_request_share: float


class IvtReportOut(Out):
    start_date: datetime
    end_date: datetime
    group_by: str
    totals: IvtRowOut
    data: list[IvtRowOut]


def _ivt_row(row: ivt_report.IvtRow) -> IvtRowOut:
    return IvtRowOut(
        key=row.key,
        impressions=row.impressions,
        invalid_impressions=row.invalid_impressions,
        invalid_impression_share=row.invalid_impression_share,
        clicks=row.clicks,
        invalid_clicks=row.invalid_clicks,
        requests=row.requests,
        invalid_requests=row.invalid_requests,
        invalid_request_share=row.invalid_request_share,
    )


@router.get("/ivt", response_model=IvtReportOut)
async def ivt(
    actor: ReportingActor,
    services: ServicesDep,
    period: PeriodDep,
    filters: FiltersDep,
    group_by: Annotated[ivt_report.GroupBy, Query(alias="groupBy")] = "reason",
) -> IvtReportOut:
    """Invalid traffic: the share of impressions, clicks and requests that was invalid, by
    reason (against the period's totals), app, placement, network, country, format or time."""
    result = await ivt_report.report(services.analytics, actor.tenant(), period, filters, group_by)
    return IvtReportOut(
        **_period(period),
        group_by=group_by,
        totals=_ivt_row(result.totals),
        data=[_ivt_row(row) for row in result.rows],
    )


_ROW_MODELS: dict[str, type[Out]] = {
    "overview": OverviewOut,
    "timeseries": PointOut,
    "adapters": NetworkRowOut,
    "countries": CountryRowOut,
    "top-apps": AppRowOut,
    "realtime": PointOut,
}
