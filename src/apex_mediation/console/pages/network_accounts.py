"""Network accounts: the publisher's own credentials for each ad network.

Creating one is two steps: choose the network, then fill in exactly the credential fields its
adapter declares. Credentials are write-only: after saving, a page shows only their masked tails,
and editing keeps each stored value unless a new one is typed. Only admins and owners manage
accounts; others see the list without its forms.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from apex_mediation.accounts.errors import Conflict, DomainError, InvalidInput, NotFound
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.auction.adapters.registry import ADAPTERS, get_adapter
from apex_mediation.console.inputs import form_text, page_number
from apex_mediation.console.rendering import ConsoleRoute, form_error, redirect, render
from apex_mediation.console.viewer import Viewer, ViewerDep
from apex_mediation.db.models import NetworkAccount
from apex_mediation.inventory import network_accounts
from apex_mediation.inventory.specs import NetworkAccountPatch, NetworkAccountSpec

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 100
DONE = {
    "created": "Network account added.",
    "updated": "Network account saved.",
    "deleted": "Network account deleted.",
}
_AT_FIELD = re.compile(r"^(?P<message>.*) - at `credentials\.(?P<field>\w+)`$")
_NAMED_FIELD = re.compile(r"field `(?P<field>\w+)`")
_REGEX = re.compile(r"^Expected `str` matching regex '(?P<pattern>.*)'$")


@dataclass(frozen=True)
class CredentialField:
    name: str  # the adapter's key, e.g. game_id
    required: bool

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    @property
    def input_id(self) -> str:
        return f"credential_{self.name}"


def networks() -> list[tuple[str, str]]:
    """(network, display name) of every adapter, by display name."""
    return sorted(
        ((name, adapter.display_name) for name, adapter in ADAPTERS.items()),
        key=lambda item: item[1].lower(),
    )


def credential_fields(network: str) -> list[CredentialField]:
    """The credential fields `network`'s adapter declares, in declaration order."""
    adapter = get_adapter(network)
    if adapter is None:
        raise InvalidInput(f"unknown network {network!r}", field="network")
    info = msgspec.inspect.type_info(adapter.credentials_type)
    assert isinstance(info, msgspec.inspect.StructType)
    return [CredentialField(field.name, field.required) for field in info.fields]


def _text(form: FormData, key: str) -> str:
    return form_text(form, key).strip()


def _ppm(text: str) -> int:
    """A bid adjustment typed as a percentage of the bid (100 = unchanged), in millionths."""
    try:
        value = Decimal(text or "100")
    except InvalidOperation:
        raise InvalidInput("not a number", field="bid adjustment") from None
    # Bounded before scaling: 1e999999 would overflow the decimal context.
    in_range = value.is_finite() and 0 < value <= 1000
    ppm = int((value * 10_000).to_integral_value(ROUND_HALF_UP)) if in_range else 0
    if not 0 < ppm <= 10_000_000:
        raise InvalidInput("must be more than 0% and at most 1000%", field="bid adjustment")
    return ppm


def _typed(form: FormData, fields: list[CredentialField]) -> dict[str, str]:
    return {field.name: value for field in fields if (value := _text(form, field.input_id))}


def _problem(
    exc: DomainError | ValidationError, fields: list[CredentialField]
) -> tuple[str, str | None]:
    """The error line, naming a credential by its label when the adapter's check points at one,
    and the id of the input at fault (marked invalid on the form)."""
    inputs = {"name": "name", "bid adjustment": "bid_adjustment"}
    inputs.update((field.label, field.input_id) for field in fields)
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        first = str(errors[0]["loc"][0]) if errors and errors[0]["loc"] else ""
        return form_error(exc), inputs.get(first)
    if exc.field == "credentials":
        at = _AT_FIELD.match(exc.message)
        named = at or _NAMED_FIELD.search(exc.message)
        if named:
            field = CredentialField(named.group("field"), True)
            message = at.group("message") if at else exc.message
            message = _REGEX.sub(r"not in the expected format (\g<pattern>)", message)
            return f"{field.label}: {message}", inputs.get(field.label)
    return form_error(exc), inputs.get(exc.field or "")


def _require_admin(viewer: Viewer) -> None:
    viewer.actor.require_role("admin")


def _account_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound("network account not found") from None


def _row(services: ServicesDep, account: NetworkAccount) -> dict[str, Any]:
    adapter = get_adapter(account.network)
    return {
        "account": account,
        "display_name": adapter.display_name if adapter else account.network,
        "masked": network_accounts.masked_credentials(services.settings.secret, account),
    }


@router.get("/network-accounts")
async def list_page(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    page: str = "1",
    done: str | None = None,
) -> Response:
    result = await network_accounts.list_accounts(
        session, viewer.actor.tenant(), page_number(page), PAGE_SIZE
    )
    context = {
        "viewer": viewer,
        "rows": [_row(services, account) for account in result.items],
        "page": result,
        "flash": DONE.get(done or ""),
        "can_manage": viewer.can("admin"),
    }
    return render(request, "network_accounts/list.html", context)


@router.get("/network-accounts/new")
async def new_page(request: Request, viewer: ViewerDep, network: str | None = None) -> Response:
    _require_admin(viewer)
    context: dict[str, Any] = {"viewer": viewer, "networks": networks(), "network": network}
    if not network:
        return render(request, "network_accounts/choose.html", context)
    try:
        fields = credential_fields(network)
    except InvalidInput as exc:
        context["error"] = form_error(exc)
        return render(request, "network_accounts/choose.html", context, 400)
    return render(request, "network_accounts/form.html", _form_context(viewer, network, fields))


def _form_context(
    viewer: Viewer,
    network: str,
    fields: list[CredentialField],
    account: dict[str, Any] | None = None,
    **values: Any,
) -> dict[str, Any]:
    adapter = get_adapter(network)
    return {
        "viewer": viewer,
        "network": network,
        "display_name": adapter.display_name if adapter else network,
        "fields": fields,
        "row": account,
        **values,
    }


@router.post("/network-accounts")
async def create(
    request: Request, viewer: ViewerDep, session: SessionDep, services: ServicesDep
) -> Response:
    _require_admin(viewer)
    form = await request.form()
    network = _text(form, "network")
    fields = credential_fields(network)
    name, adjustment = _text(form, "name"), _text(form, "bid_adjustment")
    enabled = form.get("enabled") is not None
    typed = _typed(form, fields)
    missing = [field for field in fields if field.required and field.name not in typed]
    try:
        if missing:
            raise InvalidInput("required", field=missing[0].label)
        spec = NetworkAccountSpec(
            network=network,
            name=name,
            credentials=typed,
            bid_adjustment_ppm=_ppm(adjustment),
            enabled=enabled,
        )
        async with session.begin_nested():
            await network_accounts.create_account(
                session, viewer.actor, services.settings.secret, spec
            )
    except (InvalidInput, Conflict, ValidationError) as exc:
        message, at = _problem(exc, fields)
        values: dict[str, Any] = {"name": name, "bid_adjustment": adjustment, "enabled": enabled}
        context = _form_context(viewer, network, fields, error=message, error_at=at, **values)
        return render(request, "network_accounts/form.html", context, _status(exc))
    return redirect("/network-accounts?done=created")


def _status(exc: Exception) -> int:
    return 409 if isinstance(exc, Conflict) else 400


@router.get("/network-accounts/{account_id}/edit")
async def edit_page(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    account_id: str,
) -> Response:
    _require_admin(viewer)
    account = await network_accounts.get_account(
        session, viewer.actor.tenant(), _account_id(account_id)
    )
    context = _form_context(
        viewer,
        account.network,
        credential_fields(account.network),
        _row(services, account),
        name=account.name,
        bid_adjustment=f"{Decimal(account.bid_adjustment_ppm) / 10_000:f}",
        enabled=account.enabled,
    )
    return render(request, "network_accounts/form.html", context)


@router.post("/network-accounts/{account_id}")
async def update(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    account_id: str,
) -> Response:
    _require_admin(viewer)
    publisher, secret = viewer.actor.tenant(), services.settings.secret
    key = _account_id(account_id)
    account = await network_accounts.get_account(session, publisher, key)
    form = await request.form()
    fields = credential_fields(account.network)
    name, adjustment = _text(form, "name"), _text(form, "bid_adjustment")
    enabled = form.get("enabled") is not None
    typed = _typed(form, fields)
    try:
        # A blank credential keeps its stored value; the adapter checks the whole set.
        credentials = {**network_accounts.credentials(secret, account), **typed} if typed else None
        patch = NetworkAccountPatch(
            name=name, bid_adjustment_ppm=_ppm(adjustment), enabled=enabled, credentials=credentials
        )
        async with session.begin_nested():
            await network_accounts.update_account(session, viewer.actor, secret, key, patch)
    except (InvalidInput, Conflict, ValidationError) as exc:
        message, at = _problem(exc, fields)
        # The savepoint's rollback expired the account: read it again as stored.
        account = await network_accounts.get_account(session, publisher, key)
        values: dict[str, Any] = {"name": name, "bid_adjustment": adjustment, "enabled": enabled}
        row = _row(services, account)
        context = _form_context(
            viewer, account.network, fields, row, error=message, error_at=at, **values
        )
        return render(request, "network_accounts/form.html", context, _status(exc))
    return redirect("/network-accounts?done=updated")


@router.post("/network-accounts/{account_id}/delete")
async def delete(viewer: ViewerDep, session: SessionDep, account_id: str) -> Response:
    _require_admin(viewer)
    await network_accounts.delete_account(session, viewer.actor, _account_id(account_id))
    return redirect("/network-accounts?done=deleted")
