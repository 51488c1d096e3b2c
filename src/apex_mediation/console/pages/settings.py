"""Settings: the team (members, roles, invitations) and the user's notification emails.

Every page works for any member; the forms that change the team show to admins and owners, and
the domain functions refuse the rest whatever the page showed. Ids from another publisher are
"not found" like missing ones.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from apex_mediation.accounts import invitations, notifications, team, tokens
from apex_mediation.accounts.errors import Conflict, InvalidInput
from apex_mediation.accounts.identity import ROLE_RANK
from apex_mediation.api.deps import ServicesDep, SessionDep
from apex_mediation.console.inputs import parse_id
from apex_mediation.console.rendering import ConsoleRoute, form_error, redirect, render
from apex_mediation.console.viewer import Viewer, ViewerDep
from apex_mediation.db.models import ROLES
from apex_mediation.notify import mail, messages

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
ROLE_LABELS = {"owner": "Owner", "admin": "Admin", "member": "Member", "read_only": "Read-only"}
NOTIFICATIONS = (
    ("weekly_report", "Weekly report", "Revenue, impressions and eCPM of the past week, Mondays."),
    ("alerts", "Alerts", "A network stops answering, fill drops, a credential is rejected."),
    ("billing", "Payouts and billing", "Invoices, payment receipts and payout notices."),
    (
        "product",
        "Product tips and updates",
        "Getting started during your trial, then new features and changes, a few a year.",
    ),
    ("marketing", "Marketing", "Offers, events and case studies from the Apex team."),
)
FLASHES = {
    "invited": "Invitation sent.",
    "invited-logged": "Invitation created. No mail server is configured: the email is in the log.",
    "invited-failed": "Invitation created, but sending the email failed; check the mail settings.",
    "invitation-revoked": "Invitation revoked.",
    "role": "Role changed.",
    "removed": "Member removed.",
    "saved": "Preferences saved.",
    "key-revoked": "API key revoked: calls with it now fail.",
}


def flash(done: str | None) -> str | None:
    return FLASHES.get(done or "")


def grantable(viewer: Viewer) -> list[str]:
    """The roles this viewer may give: none above their own."""
    rank = ROLE_RANK.get(viewer.role or "", -1)
    return [role for role in ROLES if ROLE_RANK[role] <= rank]


async def _team_context(session: SessionDep, viewer: Viewer) -> dict[str, Any]:
    admin = viewer.can("admin")
    return {
        "viewer": viewer,
        "tab": "team",
        "members": await team.list_members(session, viewer.actor),
        "invitations": await invitations.list_pending(session, viewer.actor) if admin else [],
        "admin": admin,
        "grantable": grantable(viewer),
        "rank": ROLE_RANK,
        "my_rank": ROLE_RANK.get(viewer.role or "", -1),
        "role_labels": ROLE_LABELS,
        "now": tokens.now(),
    }


@router.get("/settings")
async def settings_home() -> Response:
    return redirect("/settings/team")


@router.get("/settings/team")
async def team_page(
    request: Request, viewer: ViewerDep, session: SessionDep, done: str | None = None
) -> Response:
    context = await _team_context(session, viewer)
    return render(request, "settings/team.html", {**context, "flash": flash(done)})


@router.post("/settings/team/{user_id}/role")
async def change_role(
    viewer: ViewerDep,
    session: SessionDep,
    user_id: str,
    role: Annotated[str, Form(max_length=20)],
) -> Response:
    await team.change_role(session, viewer.actor, parse_id(user_id, "member"), role)
    return redirect("/settings/team?done=role")


@router.post("/settings/team/{user_id}/remove")
async def remove_member(viewer: ViewerDep, session: SessionDep, user_id: str) -> Response:
    await team.remove_member(session, viewer.actor, parse_id(user_id, "member"))
    return redirect("/settings/team?done=removed")


@router.post("/settings/invitations")
async def invite(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=254)],
    role: Annotated[str, Form(max_length=20)],
) -> Response:
    try:
        issued = await invitations.invite(session, viewer.actor, email=email, role=role)
    except (InvalidInput, Conflict) as exc:  # a form mistake: show it with what was typed
        context = await _team_context(session, viewer)
        context.update(error=form_error(exc), invite_email=email, invite_role=role)
        return render(
            request, "settings/team.html", context, 409 if isinstance(exc, Conflict) else 400
        )
    await session.commit()  # the link works before the email can arrive
    url = messages.link(services.settings.base_url, f"/invitations/{issued.token}")
    message = messages.invitation(
        issued.invitation.email,
        url,
        publisher=issued.publisher_name,
        role=issued.invitation.role,
        inviter=viewer.email,
        valid_days=invitations.INVITATION_TTL.days,
    )
    delivery = await mail.deliver(services.settings, message)
    suffix = {"sent": "", "logged": "-logged", "failed": "-failed"}[delivery]
    return redirect(f"/settings/team?done=invited{suffix}")


@router.post("/settings/invitations/{invitation_id}/revoke")
async def revoke_invitation(viewer: ViewerDep, session: SessionDep, invitation_id: str) -> Response:
    await invitations.revoke(session, viewer.actor, parse_id(invitation_id, "invitation"))
    return redirect("/settings/team?done=invitation-revoked")


@router.get("/settings/notifications")
async def notifications_page(
    request: Request, viewer: ViewerDep, session: SessionDep, done: str | None = None
) -> Response:
    chosen = await notifications.get_preferences(session, viewer.user_id)
    context = {
        "viewer": viewer,
        "tab": "notifications",
        "options": NOTIFICATIONS,
        "chosen": chosen.as_dict(),
        "flash": flash(done),
    }
    return render(request, "settings/notifications.html", context)


@router.post("/settings/notifications")
async def save_notifications(
    viewer: ViewerDep,
    session: SessionDep,
    weekly_report: Annotated[str | None, Form(max_length=10)] = None,
    alerts: Annotated[str | None, Form(max_length=10)] = None,
    billing: Annotated[str | None, Form(max_length=10)] = None,
    product: Annotated[str | None, Form(max_length=10)] = None,
    marketing: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    chosen = notifications.Preferences(
        weekly_report=weekly_report is not None,
        alerts=alerts is not None,
        billing=billing is not None,
        product=product is not None,
        marketing=marketing is not None,
    )
    await notifications.save_preferences(session, viewer.actor, chosen)
    return redirect("/settings/notifications?done=saved")
