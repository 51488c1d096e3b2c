"""`apex notify`: the notifications that gave up after their retries (the dead letter), and
requeueing them once the cause (SMTP credentials, a revoked Slack webhook) is fixed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Literal

import typer
from rich.console import Console

from apex_mediation.notify import outbox
from apex_mediation.services import open_postgres_only
from apex_mediation.settings import get_settings

notify = typer.Typer(help="Notifications: the dead letter, requeue.", no_args_is_help=True)
console = Console()


@notify.command("dead")
def dead(limit: Annotated[int, typer.Option(min=1, max=1000)] = 100) -> None:
    """The most recent dead notifications, with their last error."""

    async def show() -> None:
        postgres = await open_postgres_only(get_settings(), pool_size=1)
        try:
            async with postgres.session() as session:
                found = await outbox.list_dead(session, limit)
        finally:
            await postgres.close()
        for m in found:
            console.print(
                f"{m.id} {m.channel} {m.category} {m.template} to {m.recipient}: "
                f"{m.attempts} attempts, dead {m.dead_at:%Y-%m-%d %H:%M} — {m.last_error or ''}",
                markup=False,
                highlight=False,
            )
        console.print(f"{len(found)} dead notification(s)")

    asyncio.run(show())


@notify.command("requeue")
def requeue(
    ids: Annotated[list[str] | None, typer.Argument(help="Notification ids")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead notification")] = False,
) -> None:
    """Give dead notifications a fresh set of attempts, due now."""
    if bool(ids) == all_:
        raise typer.BadParameter("give notification ids or --all, not both")
    chosen: list[uuid.UUID] | Literal["all"] = "all"
    if not all_:
        try:
            chosen = [uuid.UUID(i) for i in ids or []]
        except ValueError as exc:
            raise typer.BadParameter(f"not a notification id: {exc}") from None

    async def go() -> int:
        postgres = await open_postgres_only(get_settings(), pool_size=1)
        try:
            async with postgres.session() as session:
                count = await outbox.requeue_dead(session, chosen)
                await session.commit()
                return count
        finally:
            await postgres.close()

    console.print(f"requeued {asyncio.run(go())} notification(s)")
