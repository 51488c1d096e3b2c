"""Placements and their lines: the server-side bidders and the waterfall instances.

Every change bumps `config_version`, which the auction's in-memory snapshot and the signed SDK
config use to tell one configuration from the next.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import audit
from apex_mediation.accounts.errors import InvalidInput, NotFound
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.tenancy import get_owned
from apex_mediation.auction.adapters.registry import get_adapter, validate_params
from apex_mediation.db.models import NetworkAccount, Placement, PlacementLine
from apex_mediation.inventory.apps import get_app
from apex_mediation.inventory.pagination import Page, paginate
from apex_mediation.inventory.specs import (
    BiddingLineSpec,
    PlacementConfig,
    PlacementReplace,
    PlacementSpec,
    WaterfallLineSpec,
)


@dataclass(frozen=True)
class PlacementView:
    placement: Placement
    bidding: list[PlacementLine]
    waterfall: list[PlacementLine]


def _state(placement: Placement, config: PlacementConfig | None) -> dict[str, Any]:
    return {
        "name": placement.name,
        "format": placement.format,
        "enabled": placement.enabled,
        "config": config.model_dump(mode="json") if config else None,
    }


async def _check_accounts(
    session: AsyncSession, publisher_id: uuid.UUID, config: PlacementConfig
) -> None:
    """Each line's params must fit its network's model; bidders must bid server-side; every
    referenced network account must be this publisher's and of the line's network."""
    lines: list[tuple[str, int, BiddingLineSpec | WaterfallLineSpec]] = [
        *(("bidding", i, line) for i, line in enumerate(config.bidding)),
        *(("waterfall", i, line) for i, line in enumerate(config.waterfall)),
    ]
    for kind, index, line in lines:
        where = f"config.{kind}[{index}]"
        problems = validate_params(line.network, dict(line.params))
        if problems:
            raise InvalidInput(problems[0].removeprefix("params: "), field=f"{where}.params")
        adapter = get_adapter(line.network)
        if kind == "bidding" and adapter is not None and adapter.mode != "s2s":
            raise InvalidInput(
                f"{line.network} takes part client-side: add it to the waterfall",
                field=f"{where}.network",
            )
        if line.network_account_id is None:
            continue
        network = await session.scalar(
            select(NetworkAccount.network).where(
                NetworkAccount.id == line.network_account_id,
                NetworkAccount.publisher_id == publisher_id,
            )
        )
        field = f"config.{kind}[{index}].networkAccountId"
        if network is None:
            raise InvalidInput("unknown network account", field=field)
        if network != line.network:
            raise InvalidInput(f"network account is for {network}, not {line.network}", field=field)


def _apply_config(placement: Placement, config: PlacementConfig) -> list[PlacementLine]:
    placement.floor_cpm_micros = config.floor_cpm_micros
    placement.country_floors = dict(config.country_floors)
    placement.timeout_ms = config.timeout_ms
    placement.auction_type = config.auction_type
    placement.refresh_interval_s = config.refresh_interval_s
    placement.fcap_per_hour = config.fcap_per_hour
    placement.fcap_per_day = config.fcap_per_day
    placement.min_interval_s = config.min_interval_s
    lines = [
        PlacementLine(
            placement_id=placement.id,
            kind="bidding",
            network=line.network,
            network_account_id=line.network_account_id,
            priority=index,
            params=dict(line.params),
            enabled=line.enabled,
        )
        for index, line in enumerate(config.bidding)
    ]
    lines += [
        PlacementLine(
            placement_id=placement.id,
            kind="waterfall",
            network=line.network,
            network_account_id=line.network_account_id,
            priority=line.priority,
            ecpm_micros=line.ecpm_micros,
            params=dict(line.params),
            enabled=line.enabled,
        )
        for line in config.waterfall
    ]
    return lines


async def _lines(
    session: AsyncSession, placement_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[PlacementLine]]:
    by_placement: dict[uuid.UUID, list[PlacementLine]] = {pid: [] for pid in placement_ids}
    if placement_ids:
        rows = await session.scalars(
            select(PlacementLine)
            .where(PlacementLine.placement_id.in_(placement_ids))
            .order_by(PlacementLine.kind, PlacementLine.priority)
        )
        for line in rows:
            by_placement[line.placement_id].append(line)
    return by_placement


def _view(placement: Placement, lines: list[PlacementLine]) -> PlacementView:
    return PlacementView(
        placement=placement,
        bidding=[line for line in lines if line.kind == "bidding"],
        waterfall=[line for line in lines if line.kind == "waterfall"],
    )


async def get_placement(
    session: AsyncSession, publisher_id: uuid.UUID, placement_id: uuid.UUID
) -> PlacementView:
    placement = await get_owned(session, Placement, publisher_id, placement_id, "placement")
    return _view(placement, (await _lines(session, [placement.id]))[placement.id])


async def list_placements(
    session: AsyncSession,
    publisher_id: uuid.UUID,
    *,
    page: int,
    page_size: int,
    ad_format: str | None = None,
    app_id: uuid.UUID | None = None,
) -> Page[PlacementView]:
    query = select(Placement).where(Placement.publisher_id == publisher_id)
    if ad_format is not None:
        query = query.where(Placement.format == ad_format)
    if app_id is not None:
        query = query.where(Placement.app_id == app_id)
    result = await paginate(
        session, query.order_by(Placement.created_at, Placement.id), page, page_size
    )
    lines = await _lines(session, [p.id for p in result.items])
    return Page(
        items=[_view(p, lines[p.id]) for p in result.items],
        page=result.page,
        page_size=result.page_size,
        total=result.total,
    )


async def create_placement(
    session: AsyncSession, actor: Actor, spec: PlacementSpec
) -> PlacementView:
    actor.require_role("member")
    publisher_id = actor.tenant()
    try:
        await get_app(session, publisher_id, spec.app_id)
    except NotFound as exc:
        raise InvalidInput("unknown app", field="appId") from exc
    await _check_accounts(session, publisher_id, spec.config)
    placement = Placement(
        id=uuid.uuid4(),
        publisher_id=publisher_id,
        app_id=spec.app_id,
        name=spec.name,
        format=spec.format,
    )
    lines = _apply_config(placement, spec.config)
    session.add(placement)
    await session.flush()
    session.add_all(lines)
    await session.flush()
    await audit.record(
        session,
        actor,
        "placement.created",
        "placement",
        placement.id,
        after=_state(placement, spec.config),
    )
    return await get_placement(session, publisher_id, placement.id)


async def replace_placement(
    session: AsyncSession, actor: Actor, placement_id: uuid.UUID, spec: PlacementReplace
) -> PlacementView:
    actor.require_role("member")
    publisher_id = actor.tenant()
    current = await get_placement(session, publisher_id, placement_id)
    placement = current.placement
    before = _state(placement, config_of(current))
    await _check_accounts(session, publisher_id, spec.config)
    if spec.name is not None:
        placement.name = spec.name
    if spec.format is not None:
        placement.format = spec.format
    if spec.enabled is not None:
        placement.enabled = spec.enabled
    await session.execute(delete(PlacementLine).where(PlacementLine.placement_id == placement.id))
    session.add_all(_apply_config(placement, spec.config))
    placement.config_version = Placement.config_version + 1
    placement.updated_at = func.now()
    await session.flush()
    await session.refresh(placement)
    await audit.record(
        session,
        actor,
        "placement.config_changed",
        "placement",
        placement.id,
        before=before,
        after=_state(placement, spec.config),
    )
    return await get_placement(session, publisher_id, placement.id)


async def delete_placement(session: AsyncSession, actor: Actor, placement_id: uuid.UUID) -> None:
    actor.require_role("member")
    current = await get_placement(session, actor.tenant(), placement_id)
    before = _state(current.placement, config_of(current))
    await session.delete(current.placement)
    await audit.record(
        session, actor, "placement.deleted", "placement", placement_id, before=before
    )


def config_of(view: PlacementView) -> PlacementConfig:
    """The placement's configuration in the shape the API takes and returns."""
    p = view.placement
    return PlacementConfig.model_validate(
        {
            "floor_cpm_micros": p.floor_cpm_micros,
            "country_floors": p.country_floors,
            "timeout_ms": p.timeout_ms,
            "auction_type": p.auction_type,
            "refresh_interval_s": p.refresh_interval_s,
            "fcap_per_hour": p.fcap_per_hour,
            "fcap_per_day": p.fcap_per_day,
            "min_interval_s": p.min_interval_s,
            "bidding": [
                {
                    "network": line.network,
                    "params": line.params,
                    "network_account_id": line.network_account_id,
                    "enabled": line.enabled,
                }
                for line in view.bidding
            ],
            "waterfall": [
                {
                    "network": line.network,
                    "priority": line.priority,
                    "params": line.params,
                    "ecpm_micros": line.ecpm_micros,
                    "network_account_id": line.network_account_id,
                    "enabled": line.enabled,
                }
                for line in view.waterfall
            ],
        }
    )
