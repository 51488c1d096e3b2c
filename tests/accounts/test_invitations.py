"""Invitations and the team, in the domain: roles are enforced here, whatever the pages show."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from apex_mediation.accounts import invitations, publishers, team
from apex_mediation.accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.tokens import LinkInvalid
from apex_mediation.db.models import AuditLog, Invitation, Membership, User
from apex_mediation.services import Services

PASSWORD = "domain-test-password"


@dataclass
class Org:
    publisher_id: uuid.UUID
    owner: Actor


def email() -> str:
    return f"d-{secrets.token_hex(5)}@example.com"


def actor(user_id: uuid.UUID, org: Org, role: str) -> Actor:
    return Actor(kind="user", id=str(user_id), publisher_id=org.publisher_id, role=role)


@pytest.fixture
async def org(services: Services) -> Org:
    async with services.postgres.session() as session:
        created = await publishers.create_publisher(
            session, name="Domain Co", owner_email=email(), owner_password=PASSWORD
        )
        await session.commit()
    owner = Actor(
        kind="user", id=str(created.owner.id), publisher_id=created.publisher.id, role="owner"
    )
    return Org(created.publisher.id, owner)


async def add_member(services: Services, org: Org, role: str) -> uuid.UUID:
    """A new account joined through an invitation with `role`."""
    async with services.postgres.session() as session:
        issued = await invitations.invite(session, org.owner, email=email(), role=role)
        user, _ = await invitations.accept_with_signup(session, issued.token, PASSWORD)
        await session.commit()
        return user.id


async def test_only_admins_invite_and_never_above_themselves(services: Services, org: Org) -> None:
    member = actor(await add_member(services, org, "member"), org, "member")
    admin = actor(await add_member(services, org, "admin"), org, "admin")
    async with services.postgres.session() as session:
        with pytest.raises(PermissionDenied):
            await invitations.invite(session, member, email=email(), role="read_only")
        with pytest.raises(PermissionDenied):
            await invitations.invite(session, admin, email=email(), role="owner")
        with pytest.raises(PermissionDenied):
            await invitations.list_pending(session, member)
        with pytest.raises(InvalidInput):
            await invitations.invite(session, admin, email=email(), role="superuser")
        with pytest.raises(InvalidInput):
            await invitations.invite(session, admin, email="nope", role="member")
        issued = await invitations.invite(session, admin, email=email(), role="admin")
        assert issued.invitation.invited_by == uuid.UUID(admin.id or "")
        assert len(issued.token) >= 40 and issued.invitation.token_hash != issued.token


async def test_accepting_checks_the_address_and_spends_the_link(
    services: Services, org: Org
) -> None:
    invited, stranger = email(), email()
    async with services.postgres.session() as session:
        for address in (invited, stranger):
            await publishers.create_publisher(
                session, name="Theirs", owner_email=address, owner_password=PASSWORD
            )
        issued = await invitations.invite(session, org.owner, email=invited.upper(), role="member")
        await session.commit()
    async with services.postgres.session() as session:
        wrong = await session.scalar(select(User).where(User.email == stranger))
        assert wrong is not None
        with pytest.raises(PermissionDenied):
            await invitations.accept(session, issued.token, wrong)
        with pytest.raises(Conflict):
            await invitations.accept_with_signup(session, issued.token, PASSWORD)
        right = await session.scalar(select(User).where(User.email == invited))
        assert right is not None
        accepted = await invitations.accept(session, issued.token, right)
        assert accepted.accepted_by == right.id
        await session.commit()
    async with services.postgres.session() as session:
        role = await publishers.membership_role(session, right.id, org.publisher_id)
        assert role == "member"
        with pytest.raises(LinkInvalid) as used:
            await invitations.lookup(session, issued.token)
        assert used.value.reason == "used"
        with pytest.raises(Conflict):  # already a member
            await invitations.invite(session, org.owner, email=invited, role="admin")


async def test_expired_revoked_and_unknown_links(services: Services, org: Org) -> None:
    async with services.postgres.session() as session:
        old = await invitations.invite(session, org.owner, email=email(), role="member")
        late = await invitations.invite(session, org.owner, email=email(), role="member")
        await session.execute(
            update(Invitation)
            .where(Invitation.id == late.invitation.id)
            .values(expires_at=Invitation.created_at)
        )
        await invitations.revoke(session, org.owner, old.invitation.id)
        await session.commit()
    async with services.postgres.session() as session:
        for token, reason in ((old.token, "revoked"), (late.token, "expired"), ("x", "unknown")):
            with pytest.raises(LinkInvalid) as caught:
                await invitations.accept_with_signup(session, token, PASSWORD)
            assert caught.value.reason == reason
            assert isinstance(caught.value, NotFound)


async def test_revoking_is_tenant_scoped(services: Services, org: Org) -> None:
    async with services.postgres.session() as session:
        other = await publishers.create_publisher(
            session, name="Elsewhere", owner_email=email(), owner_password=PASSWORD
        )
        outsider = Actor(
            kind="user", id=str(other.owner.id), publisher_id=other.publisher.id, role="owner"
        )
        issued = await invitations.invite(session, org.owner, email=email(), role="member")
        with pytest.raises(NotFound):
            await invitations.revoke(session, outsider, issued.invitation.id)
        with pytest.raises(NotFound):
            await team.change_role(session, outsider, uuid.UUID(org.owner.id or ""), "member")


async def test_the_last_owner_survives_concurrent_demotions(services: Services, org: Org) -> None:
    second = await add_member(services, org, "owner")
    first = uuid.UUID(org.owner.id or "")

    async def demote(who: uuid.UUID, target: uuid.UUID) -> str:
        async with services.postgres.session() as session:
            try:
                await team.change_role(session, actor(who, org, "owner"), target, "admin")
            except Conflict:
                return "refused"
            await asyncio.sleep(0.05)  # hold the locks while the other tries
            await session.commit()
            return "done"

    results = await asyncio.gather(demote(first, second), demote(second, first))
    assert sorted(results) == ["done", "refused"]
    async with services.postgres.session() as session:
        owners = await session.scalars(
            select(Membership.user_id).where(
                Membership.publisher_id == org.publisher_id, Membership.role == "owner"
            )
        )
        assert len(list(owners)) == 1
        actions = await session.scalars(
            select(AuditLog.action).where(AuditLog.publisher_id == org.publisher_id)
        )
        assert "member.role_changed" in list(actions)


async def test_members_are_listed_owners_first(services: Services, org: Org) -> None:
    await add_member(services, org, "read_only")
    await add_member(services, org, "admin")
    async with services.postgres.session() as session:
        members = await team.list_members(session, org.owner)
    assert [m.role for m in members] == ["owner", "admin", "read_only"]
