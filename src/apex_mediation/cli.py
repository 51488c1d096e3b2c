"""`apex`: serve, migrate, demo, simulate, verify-receipts, keys, admin, config."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import secrets
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation import schema
from apex_mediation.app import create_app
from apex_mediation.cli_ai import ai as ai_commands
from apex_mediation.cli_backup import backup as backup_command
from apex_mediation.cli_backup import restore as restore_command
from apex_mediation.cli_billing import billing as billing_commands
from apex_mediation.cli_ivt import in_session
from apex_mediation.cli_ivt import ivt as ivt_commands
from apex_mediation.cli_jobs import jobs as jobs_commands
from apex_mediation.cli_jobs import worker as worker_command
from apex_mediation.cli_notify import notify as notify_commands
from apex_mediation.demo.seed import DemoCredentials
from apex_mediation.services import Services, open_services
from apex_mediation.settings import Settings, SettingsError, get_settings
from apex_mediation.stores import query_stats

app = typer.Typer(help="Apex Mediation: open, self-hostable ad mediation.", no_args_is_help=True)
admin = typer.Typer(help="Operator tasks.", no_args_is_help=True)
config = typer.Typer(help="Configuration.", no_args_is_help=True)
keys = typer.Typer(help="Config signing keys (Ed25519).", no_args_is_help=True)
app.add_typer(keys, name="keys")
app.add_typer(admin, name="admin")
app.add_typer(config, name="config")
app.add_typer(ivt_commands, name="ivt")
app.add_typer(billing_commands, name="billing")
app.add_typer(ai_commands, name="ai")
app.add_typer(jobs_commands, name="jobs")
app.add_typer(notify_commands, name="notify")
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.command("worker")(worker_command)
console = Console()

PortOption = Annotated[int | None, typer.Option("--port", help="Port (default APEX_PORT or 8000)")]
HostOption = Annotated[str | None, typer.Option("--host", help="Interface (default APEX_HOST)")]


def _settings(port: int | None = None, host: str | None = None) -> Settings:
    try:
        settings = get_settings()
        if port is not None:
            settings.port = port
        if host is not None:
            settings.host = host
        _ = settings.secret
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    return settings


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after shutting down, which would skip closing the
    stores (and stopping the embedded PostgreSQL); here a signal just ends `serve()`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def _run_serving(main: Coroutine[Any, Any, None]) -> None:
    """Run a serving process on uvloop when it is installed (it is, with uvicorn[standard]):
    `uvicorn.Server.serve()` inside `asyncio.run()` would otherwise use the stdlib loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


async def _serve(
    services: Services, alongside: Callable[[], Awaitable[object]] | None = None
) -> None:
    """Serve until stopped; `alongside` starts once the server is up and ends with it."""
    settings = services.settings
    server = _Server(
        uvicorn.Config(
            create_app(services=services),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            proxy_headers=True,
        )
    )
    if alongside is None:
        await server.serve()
        return

    async def companion() -> None:
        while not server.started and not server.should_exit:  # noqa: ASYNC110 - a flag only
            await asyncio.sleep(0.1)
        with contextlib.suppress(Exception):  # the companion never takes the server down
            await alongside()

    task = asyncio.create_task(companion())
    try:
        await server.serve()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@app.command()
def serve(port: PortOption = None, host: HostOption = None) -> None:
    """Serve the API, SDK endpoints and console until stopped."""
    settings = _settings(port, host)

    async def run() -> None:
        services = await open_services(settings)
        try:
            pending = await schema.pending(services)
            if not pending.empty:
                console.print(
                    "[yellow]pending migrations; /ready stays red until `apex migrate`[/yellow]"
                )
            stats = await query_stats.detect(services.postgres)
            if not stats.usable:
                console.print(f"[yellow]query statistics are off: {stats.advice}[/yellow]")
            console.print(f"serving on {settings.base_url}")
            await _serve(services)
        finally:
            await services.close()

    _run_serving(run())


async def _gentle_traffic(base_url: str, creds: DemoCredentials) -> None:
    from apex_mediation.demo.simulator import Simulator

    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        simulator = Simulator(client, creds.sdk_key, {creds.placement_id: "interstitial"})
        await simulator.run(rate_per_s=1, duration_s=24 * 3600, max_requests=86_400)


@app.command()
def simulate(
    url: Annotated[
        str, typer.Option(help="Server to simulate SDK traffic against")
    ] = "http://127.0.0.1:8000",
    sdk_key: Annotated[str | None, typer.Option(help="SDK key (default: the demo's)")] = None,
    placement: Annotated[
        list[str] | None, typer.Option(help="PLACEMENT_ID:FORMAT, repeatable (default: demo)")
    ] = None,
    rate: Annotated[float, typer.Option(help="Requests per second", min=0.1, max=2000)] = 10,
    duration: Annotated[float, typer.Option(help="Seconds", min=1, max=86_400)] = 30,
    installs: Annotated[int, typer.Option(help="Distinct simulated installs", min=1)] = 500,
    ivt_mix: Annotated[
        bool,
        typer.Option(
            "--ivt-mix",
            help="Labelled traffic: honest installs plus each kind of invalid traffic",
        ),
    ] = False,
    labels: Annotated[
        Path | None, typer.Option(help="With --ivt-mix: write the labels here (JSON lines)")
    ] = None,
) -> None:
    """Act as many SDK installs: auctions, impressions, clicks and rewarded completions.
    With --ivt-mix, also bots, data-centre traffic, click fraud and the other invalid kinds of
    ivt/reasons.py, every record labelled (bench/ivt.py measures detection with it)."""
    from apex_mediation.demo.seed import load_credentials
    from apex_mediation.demo.simulator import Simulator

    settings = _settings()
    demo = load_credentials(settings.data_dir / "demo_credentials.json")
    key = sdk_key or (demo.sdk_key if demo else None)
    targets = (
        dict(p.split(":", 1) for p in placement)
        if placement
        else ({demo.placement_id: "interstitial"} if demo else {})
    )
    if not key or not targets:
        console.print("[red]--sdk-key and --placement are needed (no demo data found)[/red]")
        raise typer.Exit(2)

    async def run() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            if ivt_mix:
                from apex_mediation.demo.ivt_mix import IvtMix

                mix = IvtMix(client, key, targets, labels_path=labels)
                console.print(await mix.run(rate, duration))
                return
            report = await Simulator(client, key, targets, installs=installs).run(rate, duration)
        console.print(report)

    asyncio.run(run())


@app.command()
def migrate(
    check: Annotated[bool, typer.Option("--check", help="List pending only")] = False,
) -> None:
    """Upgrade the PostgreSQL and ClickHouse schemas (or list what is pending)."""
    settings = _settings()

    async def run() -> int:
        services = await open_services(settings)
        try:
            if check:
                pending = await schema.pending(services)
                for name in pending.postgres:
                    console.print(f"postgres   {name}")
                for name in pending.clickhouse:
                    console.print(f"clickhouse {name}")
                if pending.empty:
                    console.print("up to date")
                return 1 if not pending.empty else 0
            applied = await schema.upgrade(services)
            console.print(
                f"postgres: {len(applied.postgres)} applied, "
                f"clickhouse: {len(applied.clickhouse)} applied"
            )
            return 0
        finally:
            await services.close()

    raise typer.Exit(asyncio.run(run()))


@app.command()
def demo(
    port: PortOption = None,
    host: HostOption = None,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Embedded stores, migrations, a demo publisher with apps and placements; then serve."""
    import datetime as dt
    import uuid

    from apex_mediation.billing.stripe_gateway import StripeGateway
    from apex_mediation.demo.bidders import DEMO_PROFILES, DemoBidders
    from apex_mediation.demo.billing_month import invoice_last_month, start_stripe
    from apex_mediation.demo.seed import seed_demo
    from apex_mediation.sdk.config_signing import create_key

    settings = _settings(port, host)
    if not (settings.keys_dir / "keyring.json").exists():
        create_key(settings.keys_dir)

    async def run() -> None:
        services = await open_services(settings)
        bidders = DemoBidders(DEMO_PROFILES, port=settings.demo_bidders_port)
        stripe = None
        try:
            await bidders.start()
            await schema.upgrade(services)
            async with services.postgres.session() as session:
                creds = await seed_demo(
                    session,
                    settings.secret,
                    settings.data_dir / "demo_credentials.json",
                    [bidders.endpoint(p.name) for p in DEMO_PROFILES],
                )
            stripe = await start_stripe(settings, settings.demo_bidders_port + 10)
            gateway = StripeGateway.from_settings(settings)
            billed = await invoice_last_month(
                services,
                gateway,
                uuid.UUID(creds.publisher_id),
                uuid.UUID(creds.app_id),
                uuid.UUID(creds.placement_id),
                dt.datetime.now(dt.UTC),
            )
            if gateway is not None:
                await gateway.aclose()
            console.print("[bold]Apex Mediation demo[/bold]")
            for label, value in (
                ("Console", f"{settings.base_url}/login"),
                ("API docs", f"{settings.base_url}/docs"),
                ("Readiness", f"{settings.base_url}/ready"),
                ("Metrics", f"{settings.base_url}/metrics"),
                ("Console login", f"{creds.email} / {creds.password}"),
                ("Publisher id", creds.publisher_id),
                ("Android app id", creds.app_id),
                ("Interstitial placement id", creds.placement_id),
                ("SDK key (X-Api-Key)", creds.sdk_key),
                ("Management key (Bearer)", creds.management_key),
                (
                    "Last month's invoice",
                    f"{settings.base_url}/billing"
                    + (f" ({'; '.join(billed.errors)})" if billed.errors else ""),
                ),
                ("Stripe", stripe.base_url + " (local stand-in)" if stripe else "configured"),
            ):
                # Plain lines, never truncated: keys must be copyable in any terminal width.
                console.print(f"  {label + ':':<34}{value}", soft_wrap=True, highlight=False)
            if serve_after:
                console.print(
                    f"Serving on {settings.base_url}; Ctrl-C stops it. A gentle "
                    "simulated audience (1 request/s) fills the reports."
                )
                await _serve(services, lambda: _gentle_traffic(settings.base_url, creds))
        finally:
            if stripe is not None:
                await stripe.stop()
            await bidders.stop()
            await services.close()

    _run_serving(run())


@app.command("verify-receipts")
def verify_receipts(
    placement: Annotated[str, typer.Option("--placement", help="Placement id")],
) -> None:
    """Re-check a placement's auction receipts: hashes, chain links, sequence, signatures.

    Prints the first break and exits 1 if there is one; exits 0 when every receipt holds.
    """
    import uuid

    from apex_mediation.db.models import Placement
    from apex_mediation.reporting import transparency
    from apex_mediation.tracking.receipts import ChainVerifier

    settings = _settings()
    try:
        placement_id = uuid.UUID(placement)
    except ValueError as exc:
        console.print(f"[red]--placement:[/red] not a placement id: {placement!r}")
        raise typer.Exit(2) from exc

    async def run() -> int:
        services = await open_services(settings)
        try:
            async with services.postgres.session() as session:
                found = await session.get(Placement, placement_id)
                if found is None:
                    console.print(f"[red]no placement {placement_id}[/red]")
                    return 2
                verifier = ChainVerifier(await transparency.verify_keys(session))
            pages = transparency.chain_pages(services.analytics, found.publisher_id, placement_id)
            async for page in pages:
                if not verifier.feed(page):
                    break
        finally:
            await services.close()
        verdict = verifier.verdict
        broken = verdict.first_break
        console.print(f"{verdict.receipts} receipts checked in {verdict.chains} chain(s)")
        if broken is None:
            console.print("[green]every receipt holds[/green]")
            return 0
        console.print(
            f"[red]first break:[/red] chain {broken.chain} seq {broken.seq} "
            f"(auction {broken.auction_id}): {broken.problem}"
        )
        return 1

    raise typer.Exit(asyncio.run(run()))


@admin.command("create-publisher")
def create_publisher(
    name: Annotated[str, typer.Option(help="Publisher (company) name")],
    email: Annotated[str, typer.Option(help="Owner's email")],
    password: Annotated[
        str | None, typer.Option(help="Owner's password (prompted if absent)")
    ] = None,
    operator: Annotated[bool, typer.Option(help="Make the owner a platform operator")] = False,
) -> None:
    """Create a publisher and its owner account."""
    from apex_mediation.accounts.identity import Actor
    from apex_mediation.accounts.publishers import create_publisher as create

    settings = _settings()
    if password is None:
        password = getpass.getpass(
            "Owner password (empty: generate one): "
        ) or secrets.token_urlsafe(16)
        console.print(f"password: {password}")

    async def step(session: AsyncSession) -> None:
        created = await create(
            session,
            name=name,
            owner_email=email,
            owner_password=password,
            actor=Actor.system(),
            is_platform_operator=operator,
        )
        console.print(f"publisher {created.publisher.id} created; owner {email}")

    in_session(step, settings)


@keys.command("create")
def keys_create() -> None:
    """Create the first config signing key (refuses if a key ring exists: use rotate)."""
    from apex_mediation.sdk.config_signing import create_key

    settings = _settings()
    try:
        key = create_key(settings.keys_dir)
    except FileExistsError as exc:
        console.print("[red]a key ring exists already;[/red] use `apex keys rotate`")
        raise typer.Exit(1) from exc
    console.print(f"created key {key.key_id} in {settings.keys_dir}")


@keys.command("rotate")
def keys_rotate(
    grace_days: Annotated[int, typer.Option(help="Days the old key stays verifiable")] = 14,
) -> None:
    """Make a new key active; the old one stays verifiable for the grace period."""
    import datetime as dt

    from apex_mediation.sdk.config_signing import SigningKeyMissing, rotate

    settings = _settings()
    try:
        key = rotate(settings.keys_dir, dt.timedelta(days=grace_days))
    except SigningKeyMissing as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"active key is now {key.key_id}; restart or wait for the servers to reload")


@keys.command("list")
def keys_list() -> None:
    """The key ring: ids, state and how long each stays verifiable."""
    from apex_mediation.sdk.config_signing import SigningKeyMissing, load_keyring

    settings = _settings()
    try:
        ring = load_keyring(settings.keys_dir)
    except SigningKeyMissing as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    table = Table("key id", "state", "created", "verifiable until")
    for key in ring.keys:
        state = "active" if key.key_id == ring.active.key_id else "retired"
        table.add_row(key.key_id, state, str(key.created_at), str(key.verify_until or "-"))
    console.print(table)


@config.command("show")
def show() -> None:
    """Print the effective settings, secrets masked."""
    settings = _settings()
    table = Table("setting", "value")
    for key, value in settings.masked().items():
        table.add_row(key, value)
    console.print(table)


def main() -> None:
    app()


@app.command()
def doctor() -> None:
    """The pre-deployment checklist: settings, secrets, stores, migrations, keys, billing, mail,
    AI flags and budget. Exits 1 when something must be fixed."""
    from apex_mediation.doctor import Finding, settings_findings, store_findings

    colours = {"ok": "green", "warn": "yellow", "fail": "red"}
    try:
        settings = get_settings()
        _ = settings.secret
    except SettingsError as exc:
        console.print(f"[red]fail[/red]  settings          {exc}", highlight=False)
        raise typer.Exit(1) from exc

    async def examine() -> list[Finding]:
        try:
            services = await open_services(settings)
        except Exception as exc:  # a store that cannot even open is the finding
            return [Finding("stores", "fail", f"could not open: {exc}"[:300])]
        try:
            return await store_findings(services)
        finally:
            await services.close()

    findings = [*settings_findings(settings), *asyncio.run(examine())]
    for f in findings:
        console.print(
            f"[{colours[f.status]}]{f.status:<4}[/]  {f.area:<17} {f.detail}", highlight=False
        )
    failed = sum(f.status == "fail" for f in findings)
    warned = sum(f.status == "warn" for f in findings)
    if failed:
        console.print(f"{failed} to fix, {warned} warning(s)", highlight=False)
        raise typer.Exit(1)
    console.print(
        f"ready: every check passed{f', {warned} warning(s)' if warned else ''}", highlight=False
    )
