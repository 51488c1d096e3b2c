"""The password policy: length, common passwords, the account's own address — at signup,
password change, reset and invitation acceptance, each answered with a 4xx naming the field."""

from __future__ import annotations

import secrets

import pytest

from apex_mediation.accounts import invitations, password_reset
from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.accounts.identity import Actor
from apex_mediation.accounts.passwords import check_policy, common_passwords, is_common
from apex_mediation.services import Services
from tests.accounts.conftest import ClientFactory, Person, logged_in


def test_the_shipped_list_is_the_common_passwords() -> None:
    listed = common_passwords()
    assert len(listed) > 25_000
    assert {"123456", "password", "qwerty", "1qaz2wsx3edc"} <= listed
    assert not any(word.startswith("#") for word in listed)


@pytest.mark.parametrize(
    ("password", "email", "says"),
    [
        ("short", None, "at least 12 characters"),
        ("x" * 257, None, "at most 256 characters"),
        ("1qaz2wsx3edc", None, "too common"),  # listed as it is
        ("Password1234", None, "too common"),  # a listed word with digits after it
        ("!!Sunshine2024!!", None, "too common"),  # and symbols around it
        ("qwertyqwerty", None, "too common"),  # a listed word repeated
        ("abcabcabcabc", None, "too common"),  # a short sequence repeated
        ("aaaaaaaaaaaaaaaa", None, "too common"),
        ("Someone@Example.com", "someone@example.com", "not be your email"),
        ("someone.lastname", "someone.lastname@example.com", "not be your email"),
    ],
)
def test_weak_passwords_are_refused_naming_the_field(
    password: str, email: str | None, says: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_policy(password, email)
    assert caught.value.field == "password"
    assert says in caught.value.message


@pytest.mark.parametrize(
    "password",
    ["violet kettle drums at noon", "correct horse battery staple", "v8#Lq2!zR4@wNp"],
)
def test_long_uncommon_passwords_pass(password: str) -> None:
    assert not is_common(password)
    check_policy(password, "someone@example.com")


async def test_signup_refuses_a_common_password_or_the_address(
    own_ip_client: ClientFactory,
) -> None:
    http = own_ip_client()
    email = f"policy-{secrets.token_hex(4)}@example.com"
    for password in ("password123456", email):
        response = await http.post(
            "/api/v1/auth/signup",
            json={"email": email, "password": password, "publisherName": "P"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["details"]["fields"][0]["field"] == "password"
    page = await own_ip_client().post(
        "/signup", data={"publisher_name": "P", "email": email, "password": "Password123456"}
    )
    assert page.status_code == 400
    assert "password: password is too common" in page.text


async def test_a_password_change_refuses_weak_ones(
    person: Person, own_ip_client: ClientFactory
) -> None:
    http = own_ip_client()
    csrf = await logged_in(http, person)
    response = await http.post(
        "/api/v1/account/password",
        headers={"X-CSRF-Token": csrf},
        json={"currentPassword": person.password, "newPassword": "iloveyou1234"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["field"] == "newPassword"


async def test_reset_and_invitation_refuse_weak_ones(person: Person, services: Services) -> None:
    async with services.postgres.session() as session:
        issued = await password_reset.request_reset(session, person.email)
        assert issued is not None
        invited = await invitations.invite(
            session,
            Actor(
                kind="user", id=str(person.user_id), publisher_id=person.publisher_id, role="owner"
            ),
            email=f"invitee-{secrets.token_hex(4)}@example.com",
            role="member",
        )
        await session.commit()
    async with services.postgres.session() as session:
        with pytest.raises(InvalidInput) as reset_refused:
            await password_reset.complete_reset(session, issued.token, person.email)
        assert reset_refused.value.field == "password"
        with pytest.raises(InvalidInput) as invite_refused:
            await invitations.accept_with_signup(session, invited.token, "football12345")
        assert invite_refused.value.field == "password"
        # Both links still work with a good password.
        await password_reset.complete_reset(session, issued.token, "a fresh and quiet orchard")
        await invitations.accept_with_signup(session, invited.token, "plum tram at the quay")
