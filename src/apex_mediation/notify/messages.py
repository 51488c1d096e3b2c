"""The emails Apex sends, as plain text: every link is absolute, built from APEX_PUBLIC_URL."""

from __future__ import annotations

from apex_mediation.notify.mail import Email

ROLE_NAMES = {"owner": "owner", "admin": "admin", "member": "member", "read_only": "read-only"}


def link(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def password_reset(to: str, url: str, valid_minutes: int) -> Email:
    return Email(
        to=to,
        subject="Reset your Apex password",
        text=(
            "Someone (hopefully you) asked to reset the password of your Apex Mediation account.\n"
            "\n"
            f"Choose a new password here:\n{url}\n"
            "\n"
            f"The link works once and expires in {valid_minutes} minutes. If you did not ask for "
            "this, ignore this email: your password stays as it is.\n"
        ),
    )


def invitation(
    to: str, url: str, *, publisher: str, role: str, inviter: str | None, valid_days: int
) -> Email:
    by = f"{inviter} invited you" if inviter else "You are invited"
    return Email(
        to=to,
        subject=f"Join {publisher} on Apex Mediation",
        text=(
            f"{by} to join {publisher} on Apex Mediation as {ROLE_NAMES.get(role, role)}.\n"
            "\n"
            f"Accept the invitation here:\n{url}\n"
            "\n"
            f"The link works once and expires in {valid_days} days. If you did not expect this "
            "invitation, ignore this email.\n"
        ),
    )
