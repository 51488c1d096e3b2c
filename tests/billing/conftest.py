"""Billing fixtures: the local Stripe stand-in on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from apex_mediation.demo.fake_stripe import FakeStripe


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    """A fresh fake per test: `.base_url`, `.api_key` and `.webhook_secret` to configure with."""
    async with FakeStripe.running(host="127.0.0.1", port=0) as fake:
        yield fake
