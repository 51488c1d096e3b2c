"""The publisher's audit log: `/api/v1/audit-log` (JSON, paginated) and `/export.csv`.

Owners only (a platform operator may act on a publisher's behalf): the log names members, their
networks and every change to keys and credentials. API keys act with the admin role, so a key,
even a management one, cannot read it.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from apex_mediation.accounts import audit_reader
from apex_mediation.accounts.audit_reader import AuditQuery, Entry
from apex_mediation.api.deps import CurrentActor, SessionDep
from apex_mediation.api.routes.apps import PageQuery, PageSizeQuery
from apex_mediation.api.schemas import IsoDate, Out, Paginated, paginated
from apex_mediation.inventory.pagination import DEFAULT_PAGE_SIZE
from apex_mediation.reporting.export import to_csv

router = APIRouter(prefix="/api/v1/audit-log", tags=["audit log"])
CSV_COLUMNS = (
    "occurredAt",
    "actor",
    "actorType",
    "actorId",
    "action",
    "objectType",
    "objectId",
    "ipPrefix",
    "details",
)


class AuditEntryOut(Out):
    id: int
    occurred_at: dt.datetime
    actor: str
    actor_type: str
    actor_id: str | None
    action: str
    object_type: str
    object_id: str | None
    ip_prefix: str | None  # the client's /24 (IPv4) or /48 (IPv6), never the full address
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: Entry) -> AuditEntryOut:
        return cls(
            id=entry.id,
            occurred_at=entry.occurred_at,
            actor=entry.actor,
            actor_type=entry.actor_type,
            actor_id=entry.actor_id,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            ip_prefix=entry.ip_prefix,
            details=entry.details,
        )


async def audit_query(
    actor: CurrentActor,
    start_date: Annotated[IsoDate | None, Query(alias="startDate")] = None,
    end_date: Annotated[IsoDate | None, Query(alias="endDate")] = None,
    action: Annotated[
        str | None, Query(max_length=100, pattern=audit_reader.ACTION_PATTERN)
    ] = None,
) -> AuditQuery:
    """startDate and endDate are whole UTC days, both included; action is one action
    (`api_key.created`) or a family (`api_key`)."""
    return audit_reader.publisher_query(actor, start_date, end_date, action)


AuditQueryDep = Annotated[AuditQuery, Depends(audit_query)]


@router.get("", response_model=Paginated[AuditEntryOut])
async def list_entries(
    query: AuditQueryDep,
    session: SessionDep,
    page: PageQuery = 1,
    page_size: PageSizeQuery = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """The publisher's audit entries, newest first."""
    found = await audit_reader.search(session, query, page, page_size)
    return paginated(found, [AuditEntryOut.of(entry) for entry in found.items])


def csv_of(entries: list[Entry]) -> str:
    rows = [
        {
            "occurredAt": entry.occurred_at,
            "actor": entry.actor,
            "actorType": entry.actor_type,
            "actorId": entry.actor_id,
            "action": entry.action,
            "objectType": entry.object_type,
            "objectId": entry.object_id,
            "ipPrefix": entry.ip_prefix,
            "details": json.dumps(entry.details, sort_keys=True, separators=(",", ":")),
        }
        for entry in entries
    ]
    return to_csv(CSV_COLUMNS, rows)


def csv_filename(publisher_id: uuid.UUID | None, query: AuditQuery) -> str:
    scope = str(publisher_id) if publisher_id else "all"
    since = query.start.isoformat() if query.start else "start"
    until = query.end.isoformat() if query.end else "now"
    return f"apex-audit-log-{scope}-{since}-{until}.csv"


@router.get(
    "/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the matching entries as CSV"}},
)
async def export_csv(query: AuditQueryDep, session: SessionDep) -> Response:
    """Every matching entry as CSV (at most 100,000; narrow the dates for more)."""
    entries = await audit_reader.export(session, query)
    return Response(
        csv_of(entries),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{csv_filename(query.publisher_id, query)}"'
            )
        },
    )
