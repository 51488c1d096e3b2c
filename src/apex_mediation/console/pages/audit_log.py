"""The audit log in the console: `/settings/audit-log` for a publisher's owners and
`/operator/audit-log` for platform operators (every publisher, or one), each with date and
action filters and a CSV download of what the filters match.

Filters come from a GET form, so an empty field means "no filter" and a malformed one is a 400
page naming the field, never a 5xx.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from apex_mediation.accounts import audit_reader
from apex_mediation.accounts.audit_reader import AuditQuery
from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.api.deps import SessionDep
from apex_mediation.api.routes.audit_log import csv_filename, csv_of
from apex_mediation.console.inputs import page_number
from apex_mediation.console.rendering import SECURITY_HEADERS, ConsoleRoute, render
from apex_mediation.console.viewer import OperatorDep, Viewer, ViewerDep

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50
TextQuery = Annotated[str, Query(max_length=100)]


def _date(value: str, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("a date as YYYY-MM-DD", field=field) from None


def _publisher(value: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput("a publisher id (a UUID)", field="publisher") from None


def _filters(start: str, end: str, action: str, **more: str) -> dict[str, str]:
    return {"start": start, "end": end, "action": action, **more}


async def _page(
    request: Request,
    session: SessionDep,
    template: str,
    query: AuditQuery,
    filters: dict[str, str],
    page: str,
    **context: Any,
) -> Response:
    found = await audit_reader.search(session, query, page_number(page), PAGE_SIZE)
    kept = {name: value for name, value in filters.items() if value}
    return render(
        request,
        template,
        {
            "entries": found.items,
            "page": found.page,
            "pages": found.total_pages,
            "total": found.total,
            "filters": filters,
            "query_string": urlencode(kept),
            "utc": dt.UTC,
            **context,
        },
    )


def _csv(query: AuditQuery, entries: list[audit_reader.Entry]) -> Response:
    return Response(
        csv_of(entries),
        media_type="text/csv; charset=utf-8",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": (
                f'attachment; filename="{csv_filename(query.publisher_id, query)}"'
            ),
        },
    )


@router.get("/settings/audit-log")
async def publisher_log(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    start: TextQuery = "",
    end: TextQuery = "",
    action: TextQuery = "",
    page: TextQuery = "1",
) -> Response:
    query = audit_reader.publisher_query(
        viewer.actor, _date(start, "start"), _date(end, "end"), action or None
    )
    return await _page(
        request,
        session,
        "settings/audit_log.html",
        query,
        _filters(start, end, action),
        page,
        viewer=viewer,
        tab="audit-log",
    )


@router.get("/settings/audit-log.csv")
async def publisher_log_csv(
    viewer: ViewerDep,
    session: SessionDep,
    start: TextQuery = "",
    end: TextQuery = "",
    action: TextQuery = "",
) -> Response:
    query = audit_reader.publisher_query(
        viewer.actor, _date(start, "start"), _date(end, "end"), action or None
    )
    return _csv(query, await audit_reader.export(session, query))


def _platform_query(
    viewer: Viewer, start: str, end: str, action: str, publisher: str
) -> AuditQuery:
    return audit_reader.platform_query(
        viewer.actor,
        _publisher(publisher),
        _date(start, "start"),
        _date(end, "end"),
        action or None,
    )


@router.get("/operator/audit-log")
async def platform_log(
    request: Request,
    viewer: OperatorDep,
    session: SessionDep,
    start: TextQuery = "",
    end: TextQuery = "",
    action: TextQuery = "",
    publisher: TextQuery = "",
    page: TextQuery = "1",
) -> Response:
    query = _platform_query(viewer, start, end, action, publisher)
    return await _page(
        request,
        session,
        "operator/audit_log.html",
        query,
        _filters(start, end, action, publisher=publisher),
        page,
        viewer=viewer,
    )


@router.get("/operator/audit-log.csv")
async def platform_log_csv(
    viewer: OperatorDep,
    session: SessionDep,
    start: TextQuery = "",
    end: TextQuery = "",
    action: TextQuery = "",
    publisher: TextQuery = "",
) -> Response:
    query = _platform_query(viewer, start, end, action, publisher)
    return _csv(query, await audit_reader.export(session, query))
