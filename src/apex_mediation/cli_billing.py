"""`apex billing`: run the billing cycle or issue a month's invoices by hand (the serving process
runs the same cycle every few minutes). Both read ClickHouse, so with the embedded chDB they run
while the server is stopped; with CLICKHOUSE_URL, at any time."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from typing import Annotated

import typer
from rich.console import Console

from apex_mediation.billing import cycle
from apex_mediation.billing.stripe_gateway import StripeGateway
from apex_mediation.services import open_services
from apex_mediation.settings import get_settings

billing = typer.Typer(help="Billing: the cycle, a month's invoices.", no_args_is_help=True)
console = Console()


async def _with_services(month: dt.date | None, publisher: uuid.UUID | None) -> cycle.CycleReport:
    services = await open_services(get_settings())
    gateway = StripeGateway.from_settings(services.settings)
    try:
        now = dt.datetime.now(dt.UTC)
        if month is None:
            return await cycle.run(services, gateway, now)
        report = cycle.CycleReport()
        ids = [publisher] if publisher else None
        await cycle.issue_month(services, gateway, month, now, report, ids)
        return report
    finally:
        if gateway is not None:
            await gateway.aclose()
        await services.close()


def _print(report: cycle.CycleReport) -> None:
    if not report.ran:
        console.print("[yellow]another process is running the billing cycle[/yellow]")
        return
    for name, value in dataclasses.asdict(report).items():
        if name not in ("ran", "errors"):
            console.print(f"{name}: {value}")
    for error in report.errors:
        console.print(f"[red]error:[/red] {error}")
    if report.errors:
        raise typer.Exit(1)


@billing.command("run")
def run() -> None:
    """One billing cycle now: trials, customers, usage, last month's invoices, dunning."""
    _print(asyncio.run(_with_services(None, None)))


@billing.command("invoice")
def invoice(
    month: Annotated[str, typer.Option(help="The month to invoice, YYYY-MM")],
    publisher: Annotated[
        str | None, typer.Option(help="One publisher's id (default: every publisher)")
    ] = None,
) -> None:
    """Issue (push and collect) a closed month's invoices; months already invoiced are kept."""
    try:
        start = dt.date.fromisoformat(month + "-01")
        publisher_id = uuid.UUID(publisher) if publisher else None
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc} (month is YYYY-MM, publisher a UUID)")
        raise typer.Exit(2) from exc
    if start >= dt.datetime.now(dt.UTC).date().replace(day=1):
        console.print("[red]error:[/red] only a month that has ended can be invoiced")
        raise typer.Exit(2)
    _print(asyncio.run(_with_services(start, publisher_id)))
