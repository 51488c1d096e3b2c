"""`/api/v1/transparency`: a publisher's auction receipts, one by one or as a verified chain.

A receipt is returned with the exact body that was hashed (`body`), its hash, the previous
receipt's hash, the signing key's id and the signature, so that it can be re-checked without
trusting this API; `receipt` is the same body parsed, for reading.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from apex_mediation.accounts.errors import NotFound
from apex_mediation.accounts.tenancy import get_owned
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.api.routes.reporting import PeriodDep, ReportingActor
from apex_mediation.api.schemas import Out
from apex_mediation.db.models import Placement
from apex_mediation.reporting import transparency
from apex_mediation.tracking import receipts

router = APIRouter(prefix="/api/v1/transparency", tags=["transparency"])
MAX_RECEIPTS = 500


class ReceiptOut(Out):
    auction_id: str
    placement_id: uuid.UUID
    chain: str
    seq: int
    issued_at: datetime
    hash: str
    prev_hash: str
    key_id: str
    signature: str
    body: str  # the exact bytes that were hashed (UTF-8)
    receipt: dict[str, Any]


class ReceiptsOut(Out):
    data: list[ReceiptOut]
    next_cursor: str | None


class BreakOut(Out):
    chain: str
    seq: int
    auction_id: str
    problem: str


class VerificationOut(Out):
    placement_id: uuid.UUID
    receipts: int
    chains: int
    ok: bool
    first_break: BreakOut | None


def _receipt(row: dict[str, Any]) -> ReceiptOut:
    return ReceiptOut(
        auction_id=row["auction_id"],
        placement_id=row["placement_id"],
        chain=row["chain"],
        seq=row["seq"],
        issued_at=datetime.fromisoformat(row["issued_at"] + "+00:00"),
        hash=row["hash"],
        prev_hash=row["prev_hash"],
        key_id=row["key_id"],
        signature=row["signature"],
        body=row["body"],
        receipt=json.loads(row["body"]),
    )


@router.get("/auctions", response_model=ReceiptsOut)
async def list_receipts(
    actor: ReportingActor,
    services: ServicesDep,
    period: PeriodDep,
    placement_id: Annotated[uuid.UUID | None, Query(alias="placementId")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RECEIPTS)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ReceiptsOut:
    """Receipts newest first; pass `nextCursor` back as `cursor` for the next page."""
    page = await transparency.receipts(
        services.analytics, actor.tenant(), period, placement_id, limit, cursor
    )
    return ReceiptsOut(data=[_receipt(row) for row in page.rows], next_cursor=page.next_cursor)


@router.get("/auctions/{auction_id}", response_model=ReceiptOut)
async def get_receipt(
    actor: ReportingActor,
    services: ServicesDep,
    auction_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
) -> ReceiptOut:
    row = await transparency.receipt(services.analytics, actor.tenant(), auction_id)
    if row is None:
        raise NotFound(f"no receipt for auction {auction_id}")
    return _receipt(row)


@router.get("/placements/{placement_id}/verification", response_model=VerificationOut)
async def verify_placement(
    actor: ReportingActor, services: ServicesDep, session: SessionDep, placement_id: uuid.UUID
) -> VerificationOut:
    """Re-check the placement's whole chain: hashes, links, sequence and signatures."""
    await get_owned(session, Placement, actor.tenant(), placement_id, "placement")
    verifier = receipts.ChainVerifier(await transparency.verify_keys(session))
    pages = transparency.chain_pages(services.analytics, actor.tenant(), placement_id)
    async for page in pages:
        if not verifier.feed(page):
            break
    verdict = verifier.verdict
    broken = verdict.first_break
    return VerificationOut(
        placement_id=placement_id,
        receipts=verdict.receipts,
        chains=verdict.chains,
        ok=verdict.ok,
        first_break=BreakOut(**vars(broken)) if broken else None,
    )
