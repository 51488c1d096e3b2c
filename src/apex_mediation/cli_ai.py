"""`apex ai`: the operator's AI cost controls from a shell — flags, the budget, the staged
rollout, the spend estimate and the daily review. PostgreSQL only, so they run beside a server."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from apex_mediation.accounts.identity import Actor
from apex_mediation.ai import budget, estimate, flags, review, rollout
from apex_mediation.ai.features import ALL_FLAGS
from apex_mediation.ai.money import micros_to_dollars
from apex_mediation.cli_ivt import in_session
from apex_mediation.settings import get_settings

ai = typer.Typer(
    help="AI cost controls: flags, budget, rollout, estimate, review.", no_args_is_help=True
)
flag_commands = typer.Typer(help="Show or set the AI flags.", invoke_without_command=True)
budget_commands = typer.Typer(
    help="Show or set the monthly AI budget.", invoke_without_command=True
)
rollout_commands = typer.Typer(help="The staged rollout (week 1 to 3).", no_args_is_help=True)
ai.add_typer(flag_commands, name="flags")
ai.add_typer(budget_commands, name="budget")
ai.add_typer(rollout_commands, name="rollout")
console = Console()
ACTOR = Actor(kind="system", id="operator (cli)", publisher_id=None)
_SWITCH = {"on": True, "off": False, "true": True, "false": False}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@flag_commands.callback()
def show_flags(ctx: typer.Context) -> None:
    """Each flag's effective value and where it comes from."""
    if ctx.invoked_subcommand is not None:
        return

    async def step(session: AsyncSession) -> None:
        settings = get_settings()
        effective = await flags.effective(session, settings)
        changed = await flags.changed_at(session)
        for name in ALL_FLAGS:
            source = f"set {changed[name]:%Y-%m-%d %H:%M} UTC" if name in changed else "environment"
            console.print(f"{name:<30} {'on' if effective[name] else 'off':<4} ({source})")

    in_session(step)


@flag_commands.command("set")
def set_flag(
    name: Annotated[str, typer.Argument(help=", ".join(ALL_FLAGS))],
    value: Annotated[str, typer.Argument(help="on or off")],
) -> None:
    """Set a flag at run time (every process sees it at its next call; audit-logged)."""
    if value.lower() not in _SWITCH:
        console.print("[red]value:[/red] on or off")
        raise typer.Exit(2)

    async def step(session: AsyncSession) -> None:
        await flags.set_flag(session, get_settings(), ACTOR, name.upper(), _SWITCH[value.lower()])
        console.print(f"{name.upper()} is {'on' if _SWITCH[value.lower()] else 'off'}")

    in_session(step)


def _print_standing(s: budget.Standing) -> None:
    console.print(
        f"{s.month:%B %Y}: spent {micros_to_dollars(s.spent_micros, 4)}, reserved "
        f"{micros_to_dollars(s.reserved_micros, 4)} of {micros_to_dollars(s.budget_micros)}"
    )
    console.print(
        f"soft {micros_to_dollars(s.soft_micros)}, warning "
        f"{micros_to_dollars(s.warning_micros)}, hard {micros_to_dollars(s.hard_micros)}"
    )


@budget_commands.callback()
def show_budget(ctx: typer.Context) -> None:
    """This month's budget, spend and thresholds."""
    if ctx.invoked_subcommand is not None:
        return

    async def step(session: AsyncSession) -> None:
        _print_standing(await budget.standing(session, get_settings(), _now()))

    in_session(step)


@budget_commands.command("set")
def set_budget(dollars: Annotated[int, typer.Argument(help="Whole dollars a month")]) -> None:
    """Change this month's (and the following months') budget; audit-logged."""

    async def step(session: AsyncSession) -> None:
        _print_standing(await budget.set_budget(session, get_settings(), ACTOR, dollars, _now()))

    in_session(step)


def _print_status(status: rollout.Status) -> None:
    console.print(
        f"stage {status.stage} of {len(rollout.STAGES)}; this month's spend "
        f"{micros_to_dollars(status.spent_micros)}"
    )
    if status.next_stage is None:
        console.print("every stage is rolled out")
        return
    console.print(f"next: stage {status.next_stage.number} adds {status.next_stage.adds.value}")
    for blocker in status.blockers:
        console.print(f"  [yellow]blocked:[/yellow] {blocker}")
    if not status.blockers:
        console.print("  ready: `apex ai rollout advance`")


@rollout_commands.command("status")
def rollout_status() -> None:
    """The current stage and what the next one needs."""

    async def step(session: AsyncSession) -> None:
        _print_status(await rollout.status(session, get_settings(), _now()))

    in_session(step)


@rollout_commands.command("advance")
def rollout_advance() -> None:
    """Start the next stage, or say why not (exit 1)."""

    async def step(session: AsyncSession) -> None:
        _print_status(await rollout.advance(session, get_settings(), ACTOR, _now()))

    in_session(step)


@ai.command("estimate")
def estimate_spend(
    customers: Annotated[int, typer.Option(help="Number of customers (publishers)", min=0)],
) -> None:
    """Expected monthly spend per feature, and cumulatively in rollout order."""
    for row in estimate.estimate(get_settings(), customers):
        console.print(
            f"{row.feature.value:<14} {estimate.dollars(row.cents):>12}/month   "
            f"with the stages before it: {estimate.dollars(row.cumulative_cents)}/month"
        )


@ai.command("review")
def daily_review() -> None:
    """Send today's cost review now (Slack and email; once per day)."""

    async def step(session: AsyncSession) -> None:
        settings = get_settings()
        found = await review.build(session, settings, _now())
        for line in found.lines():
            console.print(line)
        queued = await review.send(session, settings, found)
        console.print(
            f"queued {queued} message(s)" if queued else "today's review was already sent"
        )

    in_session(step)
