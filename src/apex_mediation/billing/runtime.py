"""Billing inside the serving process: the Stripe gateway (one HTTP session for the process)
and the background loops that billing and its notifications need — the billing cycle and the
notification outbox — unless APEX_BACKGROUND_JOBS is off (a separate worker runs them)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from apex_mediation.background import Periodic
from apex_mediation.billing import invoicing
from apex_mediation.billing.cycle import billing_loop
from apex_mediation.billing.stripe_gateway import StripeGateway, StripeGatewayError
from apex_mediation.db.models import Publisher
from apex_mediation.notify.outbox import dispatcher_loop
from apex_mediation.services import Services

log = logging.getLogger(__name__)


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


async def create_customer(app: Any, publisher_id: uuid.UUID) -> None:
    """After a signup has committed (a background task, so signup never waits on Stripe): the
    publisher's Stripe customer. A failure is logged; the billing cycle creates it later."""
    gateway = gateway_of(app)
    if gateway is None:
        return
    services: Services = app.state.services
    try:
        async with services.postgres.session() as session:
            publisher = await session.get(Publisher, publisher_id)
            if publisher is not None:
                await invoicing.ensure_customer(session, gateway, publisher)
                await session.commit()
    except StripeGatewayError as exc:
        log.warning(
            "Stripe customer for %s not created yet (the cycle retries): %s", publisher_id, exc
        )
