"""Response bodies. Separate from the input specs so that no secret column can reach a response."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

from apex_mediation.db.models import ApiKey, App, NetworkAccount
from apex_mediation.inventory.pagination import Page
from apex_mediation.inventory.placements import PlacementView, config_of
from apex_mediation.inventory.specs import PlacementConfig

T = TypeVar("T")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_text(value: object) -> object:
    """Only YYYY-MM-DD text: pydantic would otherwise read a number as a Unix time."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("a date as YYYY-MM-DD")


# An input date (query or body) as the OpenAPI document promises: `format: date` text only.
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_text)]


class Out(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        from_attributes=True,
    )


class Pagination(Out):
    page: int
    page_size: int
    total: int
    total_pages: int


class Paginated(Out, Generic[T]):
    data: list[T]
    pagination: Pagination


def paginated(page: Page[Any], data: list[T]) -> dict[str, object]:
    return {
        "data": data,
        "pagination": Pagination(
            page=page.page, page_size=page.page_size, total=page.total, total_pages=page.total_pages
        ),
    }


class AppOut(Out):
    id: uuid.UUID
    name: str
    platform: str
    bundle_id: str | None
    domain: str | None
    allowed_origins: list[str]
    test_mode: bool
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, app: App) -> AppOut:
        return cls.model_validate(app)


class PlacementOut(Out):
    id: uuid.UUID
    app_id: uuid.UUID
    name: str
    format: str
    enabled: bool
    config_version: int
    config: PlacementConfig
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, view: PlacementView) -> PlacementOut:
        p = view.placement
        return cls(
            id=p.id,
            app_id=p.app_id,
            name=p.name,
            format=p.format,
            enabled=p.enabled,
            config_version=p.config_version,
            config=config_of(view),
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class NetworkAccountOut(Out):
    id: uuid.UUID
    network: str
    name: str
    # Key -> masked value ("****abcd"); the plaintext is never returned.
    credentials: dict[str, str]
    bid_adjustment_ppm: int
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, account: NetworkAccount, masked: dict[str, str]) -> NetworkAccountOut:
        return cls(
            id=account.id,
            network=account.network,
            name=account.name,
            credentials=masked,
            bid_adjustment_ppm=account.bid_adjustment_ppm,
            enabled=account.enabled,
            created_at=account.created_at,
            updated_at=account.updated_at,
        )


class ApiKeyOut(Out):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    app_id: uuid.UUID | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls.model_validate(key)


class IssuedApiKeyOut(ApiKeyOut):
    key: str  # shown once


class PublisherOut(Out):
    id: uuid.UUID
    name: str
    role: str | None = None


class MeOut(Out):
    user_id: uuid.UUID
    email: str
    is_platform_operator: bool
    publishers: list[PublisherOut]
    csrf_token: str | None = None
