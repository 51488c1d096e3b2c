"""Idempotent demo data. The demo login and SDK key are kept in ./var/demo_credentials.json
(mode 0600) so that a second `apex demo` can print them again without storing plaintext keys in
the database."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts import api_keys
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.publishers import create_publisher
from apex_mediation.db.models import App, User
from apex_mediation.inventory import apps, network_accounts, placements
from apex_mediation.inventory.specs import AppSpec, NetworkAccountSpec, PlacementSpec

DEMO_EMAIL = "demo@apex.example"


@dataclass
class DemoCredentials:
    email: str
    password: str
    publisher_id: str
    app_id: str
    sdk_key: str
    management_key: str
    placement_id: str = ""  # the interstitial placement, for a first auction


def _save(path: Path, creds: DemoCredentials) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(creds), handle, indent=2)


def load_credentials(path: Path) -> DemoCredentials | None:
    try:
        return DemoCredentials(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


async def seed_demo(
    session: AsyncSession, secret: bytes, credentials_file: Path, bidder_endpoints: list[str]
) -> DemoCredentials:
    existing = await session.scalar(select(User).where(User.email == DEMO_EMAIL))
    saved = load_credentials(credentials_file)
    if existing is not None and saved is not None:
        return saved
    if existing is not None:
        raise RuntimeError(
            f"{DEMO_EMAIL} exists but {credentials_file} is gone; remove the "
            "demo publisher or the data directory to seed again"
        )
    password = secrets.token_urlsafe(12)
    created = await create_publisher(
        session, name="Demo Games Ltd", owner_email=DEMO_EMAIL, owner_password=password
    )
    actor = Actor(kind="system", id=None, publisher_id=created.publisher.id, role="owner")
    app = await apps.create_app(
        session,
        actor,
        AppSpec(
            name="Puzzle Quest",
            platform="android",
            bundle_id="com.example.puzzlequest",
            # Live, not test mode: the demo's bidders are local fakes, and its reports must
            # fill (test traffic is never in them).
            test_mode=False,
        ),
    )
    web = await apps.create_app(
        session,
        actor,
        AppSpec(
            name="Puzzle Quest Web",
            platform="web",
            domain="puzzlequest.example",
            allowed_origins=["https://puzzlequest.example"],
            test_mode=False,
        ),
    )
    accounts: dict[str, uuid.UUID] = {}
    for network, network_creds in (
        ("admob", {"app_id": "ca-app-pub-3940256099942544~3347511713"}),
        ("applovin", {"sdk_key": secrets.token_hex(16)}),
        ("unity", {"game_id": "1234567"}),
    ):
        account = await network_accounts.create_account(
            session,
            actor,
            secret,
            NetworkAccountSpec(
                network=network, name=f"{network} (demo)", credentials=network_creds
            ),
        )
        accounts[network] = account.id
    first_placement = await _placements(session, actor, app, web, accounts, bidder_endpoints)
    sdk = await api_keys.issue(
        session, actor, name="demo android sdk key", scopes=["sdk"], app_id=app.id
    )
    management = await api_keys.issue(
        session, actor, name="demo management key", scopes=["management", "reporting"]
    )
    creds = DemoCredentials(
        email=DEMO_EMAIL,
        password=password,
        publisher_id=str(created.publisher.id),
        app_id=str(app.id),
        sdk_key=sdk.secret,
        management_key=management.secret,
        placement_id=first_placement,
    )
    await session.commit()
    _save(credentials_file, creds)
    return creds


async def _placements(
    session: AsyncSession,
    actor: Actor,
    app: App,
    web: App,
    accounts: dict[str, uuid.UUID],
    bidder_endpoints: list[str],
) -> str:
    waterfall = [
        {
            "network": "admob",
            "priority": 0,
            "ecpmMicros": 1_500_000,
            "networkAccountId": str(accounts["admob"]),
            "params": {"ad_unit_id": "ca-app-pub-3940256099942544/1033173712"},
        },
        {
            "network": "unity",
            "priority": 1,
            "ecpmMicros": 800_000,
            "networkAccountId": str(accounts["unity"]),
            "params": {"placement_id": "Interstitial"},
        },
    ]
    # Server-side bidders: the local demo exchanges (demo/bidders.py), spoken to over OpenRTB
    # exactly as a real bidder would be.
    bidding = [{"network": "openrtb", "params": {"endpoint": url}} for url in bidder_endpoints]
    created = []
    for name, fmt, floor in (
        ("Level complete", "interstitial", 500_000),
        ("Extra life", "rewarded", 1_000_000),
        ("Home banner", "banner", 200_000),
    ):
        view = await placements.create_placement(
            session,
            actor,
            PlacementSpec.model_validate(
                {
                    "name": name,
                    "appId": str(app.id),
                    "format": fmt,
                    "config": {
                        "floorCpmMicros": floor,
                        "countryFloors": {"US": floor * 2},
                        "bidding": bidding,
                        "waterfall": waterfall,
                    },
                }
            ),
        )
        created.append(str(view.placement.id))
    await placements.create_placement(
        session,
        actor,
        PlacementSpec.model_validate(
            {
                "name": "Sidebar",
                "appId": str(web.id),
                "format": "banner",
                "config": {"floorCpmMicros": 300_000, "bidding": bidding},
            }
        ),
    )
    return created[0]
