"""Password reset and notification preferences in the domain."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from sqlalchemy import func, select

from apex_mediation.accounts import notifications, password_reset, publishers, sessions
from apex_mediation.accounts.errors import InvalidInput, PermissionDenied
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.passwords import verify_password
from apex_mediation.accounts.tokens import LinkInvalid, hash_token
from apex_mediation.db.models import ConsoleSession, PasswordResetToken, User
from apex_mediation.services import Services

PASSWORD = "domain-reset-password"


async def _user(services: Services) -> User:
    async with services.postgres.session() as session:
        created = await publishers.create_publisher(
            session,
            name="Reset Co",
            owner_email=f"r-{secrets.token_hex(5)}@example.com",
            owner_password=PASSWORD,
        )
        await sessions.open_session(session, created.owner.id, ttl=dt.timedelta(hours=1))
        await session.commit()
        return created.owner


async def test_a_reset_spends_every_link_and_closes_every_session(services: Services) -> None:
    user = await _user(services)
    async with services.postgres.session() as session:
        first = await password_reset.request_reset(session, f"  {user.email.upper()} ")
        second = await password_reset.request_reset(session, user.email)
        assert first is not None and second is not None and first.token != second.token
        stored = await session.scalar(
            select(PasswordResetToken.token_hash).where(
                PasswordResetToken.token_hash == hash_token(first.token)
            )
        )
        assert stored is not None and first.token not in stored
        await session.commit()
    async with services.postgres.session() as session:
        with pytest.raises(InvalidInput):  # refused by the policy: the link stays usable
            await password_reset.complete_reset(session, first.token, "short")
        await password_reset.check_link(session, first.token)
        await password_reset.complete_reset(session, first.token, "the new password!")
        await session.commit()
    async with services.postgres.session() as session:
        for token in (first.token, second.token):
            with pytest.raises(LinkInvalid) as caught:
                await password_reset.check_link(session, token)
            assert caught.value.reason == "used"
        stored_user = await session.get(User, user.id)
        assert stored_user is not None
        assert verify_password(stored_user.password_hash, "the new password!")
        open_sessions = await session.scalar(
            select(func.count()).where(ConsoleSession.user_id == user.id)
        )
        assert open_sessions == 0


async def test_an_unknown_address_gets_nothing(services: Services) -> None:
    async with services.postgres.session() as session:
        assert await password_reset.request_reset(session, "nobody@nowhere.example") is None
        assert await password_reset.request_reset(session, "not an address") is None


async def test_notification_preferences_are_the_users_own(services: Services) -> None:
    user = await _user(services)
    me = Actor(kind="user", id=str(user.id), publisher_id=None)
    async with services.postgres.session() as session:
        assert await notifications.wants(session, user.id, "weekly_report") is True
        assert await notifications.wants(session, user.id, "product") is True
        assert await notifications.wants(session, user.id, "marketing") is False
        assert await notifications.wants(session, user.id, "marketing") is False  # opt-in
        chosen = notifications.Preferences(weekly_report=False, product=True, marketing=True)
        await notifications.save_preferences(session, me, chosen)
        await notifications.save_preferences(session, me, chosen)  # an upsert, not a duplicate
        await session.commit()
    async with services.postgres.session() as session:
        assert await notifications.get_preferences(session, user.id) == chosen
        key = Actor(kind="api_key", id="k", publisher_id=None)
        with pytest.raises(PermissionDenied):
            await notifications.save_preferences(session, key, chosen)
