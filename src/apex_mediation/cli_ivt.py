"""`apex ivt`: the operator's invalid-traffic commands (ranges, lists, thresholds), and the
one-transaction runner the other database commands share."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.errors import DomainError
from apex_mediation.services import open_postgres_only
from apex_mediation.settings import Settings, get_settings

ivt = typer.Typer(help="Invalid traffic: ranges, lists, thresholds.", no_args_is_help=True)
console = Console()
ACTOR = "operator (cli)"


def in_session(
    step: Callable[[AsyncSession], Awaitable[None]], settings: Settings | None = None
) -> None:
    """Run `step` in one PostgreSQL transaction (committed after it), PostgreSQL only, so
    beside a serving process; a domain error is printed and exits 1."""

    async def run() -> None:
        postgres = await open_postgres_only(settings or get_settings(), pool_size=1)
        try:
            async with postgres.session() as session:
                await step(session)
                await session.commit()
        finally:
            await postgres.close()

    try:
        asyncio.run(run())
    except DomainError as exc:
        console.print(f"[red]{exc.field or 'error'}:[/red] {exc.message}")
        raise typer.Exit(1) from exc


@ivt.command("load-ranges")
def load_ranges(
    file: Annotated[Path, typer.Argument(help="A provider's published range file", exists=True)],
    source: Annotated[
        str | None, typer.Option(help="Name for these ranges (default: the file's name)")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="aws, gcp, azure, oracle, digitalocean or text (default: detected)"
        ),
    ] = None,
) -> None:
    """Load data-centre ranges from AWS ip-ranges.json, Google cloud.json, Azure ServiceTags,
    Oracle public_ip_ranges.json, DigitalOcean's CSV or a plain CIDR list; they replace the
    last load of the same source."""
    from apex_mediation.ivt import store
    from apex_mediation.ivt.ranges import parse_ranges

    try:
        detected, cidrs = parse_ranges(file.read_text(), fmt)
    except ValueError as exc:
        console.print(f"[red]{file}:[/red] {exc}")
        raise typer.Exit(1) from exc
    name = source or file.name

    async def step(session: AsyncSession) -> None:
        stored = await store.load_ranges(session, ACTOR, name, cidrs)
        console.print(f"{stored} ranges loaded from {file} ({detected}) as {name!r}")

    in_session(step)


@ivt.command("list-add")
def list_add(
    kind: Annotated[str, typer.Option(help="ip, cidr, device or app")],
    value: Annotated[str, typer.Option(help="The address, range, advertising id or app id")],
    action: Annotated[str, typer.Option(help="block or allow")] = "block",
    publisher: Annotated[
        str | None, typer.Option(help="A publisher's own list (default: platform-wide)")
    ] = None,
    note: Annotated[str, typer.Option(help="Why")] = "",
) -> None:
    """Add an allow- or block-list entry."""
    from apex_mediation.ivt import store

    publisher_id = uuid.UUID(publisher) if publisher else None

    async def step(session: AsyncSession) -> None:
        entry = await store.add_entry(
            session,
            ACTOR,
            kind=kind,
            value=value,
            action=action,
            publisher_id=publisher_id,
            note=note,
        )
        console.print(f"{entry.action} {entry.kind} {entry.value} (entry {entry.id})")

    in_session(step)


@ivt.command("thresholds")
def thresholds(
    publisher: Annotated[str, typer.Option(help="Publisher id")],
    block: Annotated[float, typer.Option(help="Score at which auctions are blocked")] = 0.9,
    flag: Annotated[float, typer.Option(help="Score at which traffic is invalid")] = 0.5,
) -> None:
    """Set a publisher's thresholds (defaults: block 0.9, flag 0.5)."""
    from apex_mediation.ivt import store

    async def step(session: AsyncSession) -> None:
        await store.set_thresholds(
            session,
            ACTOR,
            uuid.UUID(publisher),
            block=block,
            flag=flag,
        )
        console.print(f"publisher {publisher}: block at {block}, flag at {flag}")

    in_session(step)
