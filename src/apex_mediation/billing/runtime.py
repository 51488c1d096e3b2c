"""Billing inside the serving process: the Stripe gateway (one HTTP session for the process)
and the background loops that billing and its notifications need — the billing cycle and the
notification outbox — unless APEX_BACKGROUND_JOBS is off (a separate worker runs them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apex_mediation.background import Periodic
from apex_mediation.billing.cycle import billing_loop
from apex_mediation.billing.stripe_gateway import StripeGateway
from apex_mediation.notify.outbox import dispatcher_loop
from apex_mediation.services import Services


@dataclass
class BillingRuntime:
    gateway: StripeGateway | None
    loops: list[Periodic] = field(default_factory=list)

    @classmethod
    def start(cls, services: Services) -> BillingRuntime:
        runtime = cls(StripeGateway.from_settings(services.settings))
        if services.settings.background_jobs:
            runtime.loops = [billing_loop(services, runtime.gateway), dispatcher_loop(services)]
            for loop in runtime.loops:
                loop.start()
        return runtime

    async def stop(self) -> None:
        for loop in self.loops:
            await loop.stop()
        if self.gateway is not None:
            await self.gateway.aclose()


def gateway_of(app: Any) -> StripeGateway | None:
    runtime: BillingRuntime | None = getattr(app.state, "billing", None)
    return runtime.gateway if runtime is not None else None
