"""Everything the SDK edge needs at run time, built once per process from the open stores."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apex_mediation.auction.currency import Rates
from apex_mediation.auction.exchange import Exchange, ExchangeSettings
from apex_mediation.auction.snapshot import SnapshotStore
from apex_mediation.auction.transport import BidderTransport
from apex_mediation.background import Periodic
from apex_mediation.compliance.ip_hashing import IpHasher
from apex_mediation.ivt.config import IvtConfigStore
from apex_mediation.ivt.detector import IvtDetector
from apex_mediation.sdk.config_service import ConfigService
from apex_mediation.sdk.config_signing import SigningKeyMissing, load_keyring
from apex_mediation.sdk.limits import SdkLimits
from apex_mediation.services import Services
from apex_mediation.stores.analytics import Analytics, AnalyticsError
from apex_mediation.stores.cache import Cache, MemoryCache
from apex_mediation.stores.postgres import Postgres
from apex_mediation.tracking import dedupe, receipts
from apex_mediation.tracking.auction_log import AuctionLog
from apex_mediation.tracking.ingest_log import IngestLog
from apex_mediation.tracking.receipts import ReceiptChains
from apex_mediation.tracking.sdk_versions import SdkVersions
from apex_mediation.tracking.shipper import Shipper
from apex_mediation.tracking.tokens import TokenSigner
from apex_mediation.tuning import knobs
from apex_mediation.tuning.store import TuningStore

RATES_REFRESH_S = 30.0
SHIP_INTERVAL_S = 0.2  # beacons reach ClickHouse (and reports) within about this much
STOP_DRAIN_S = 5.0
VERSIONS_FLUSH_S = 10.0
IVT_REFRESH_S = 5.0  # an operator's list or threshold change is live within this
log = logging.getLogger(__name__)


@dataclass
class AuctionRuntime:
    snapshots: SnapshotStore
    exchange: Exchange
    auction_log: AuctionLog
    transport: BidderTransport
    signer: TokenSigner
    limits: SdkLimits
    keys_dir: Path
    ingest: IngestLog
    shipper: Shipper
    sdk_versions: SdkVersions
    ivt: IvtDetector
    tuning: TuningStore
    ip_hasher: IpHasher
    config: ConfigService | None = None
    config_error: str | None = None  # why signed configs cannot be served (no signing key)
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    _rates_loop: Periodic = field(init=False)
    _ship_loop: Periodic = field(init=False)
    _versions_loop: Periodic = field(init=False)
    _ivt_loop: Periodic = field(init=False)

    def __post_init__(self) -> None:
        async def refresh_rates() -> None:  # reloads when the override file changed
            self.exchange.rates.refresh()

        self._rates_loop = Periodic("currency table refresh", RATES_REFRESH_S, refresh_rates)
        self._ship_loop = Periodic("ingest shipping", SHIP_INTERVAL_S, self.shipper.ship_once)
        self._versions_loop = Periodic("sdk versions", VERSIONS_FLUSH_S, self.sdk_versions.flush)
        self._ivt_loop = Periodic("ivt policy refresh", IVT_REFRESH_S, self.ivt.config.refresh)

    def _tune(self, values: dict[str, int]) -> None:
        self.exchange.breakers.configure(
            values[knobs.BREAKER_THRESHOLD.key], values[knobs.BREAKER_COOLDOWN.key]
        )
        self.exchange.latency.set_margin(values[knobs.LATENCY_MARGIN.key] / 100)

    @property
    def creative_ttl_s(self) -> int:
        return self.tuning.value(knobs.CREATIVE_TTL.key)

    @property
    def dedupe_window_s(self) -> int:
        """How long an event id is remembered: past the life of any token that could carry it."""
        return self.signer.ttl_s * 2

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run after the response (notices): keep a reference so the task is not collected."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def start(self, postgres: Postgres, analytics: Analytics, cache: Cache) -> None:
        try:
            self.config = ConfigService(postgres, load_keyring(self.keys_dir))
            await self.config.publish_keys()
        except SigningKeyMissing as exc:
            # Never a silently new key: configs answer 503 and /ready says why.
            self.config_error = str(exc)
        await self.resume(analytics, cache)
        await self.snapshots.refresh(force=True)
        self.snapshots.start()
        try:
            await self.ivt.config.refresh(force=True)
        except Exception as exc:  # the shipped lists and defaults hold until the next refresh
            log.warning("ivt policy unreadable (%s); using the shipped defaults", exc)
        self._ivt_loop.start()
        try:
            await self.tuning.refresh()
        except Exception as exc:  # the knobs' defaults hold until the next refresh
            log.warning("runtime tuning unreadable (%s); using the defaults", exc)
        self.tuning.on_change(self._tune)
        self.tuning.start()
        self._rates_loop.start()
        # What an earlier run acknowledged but did not deliver is shipped first.
        self._ship_loop.start()
        self._versions_loop.start()

    async def resume(self, analytics: Analytics, cache: Cache) -> None:
        """Before serving: continue the receipt chains and, without Redis, remember recent
        event ids, from what is stored (ClickHouse and the log's undelivered records)."""
        chains = self.auction_log.chains
        ring = self.config.ring if self.config else None
        chains.signer = (lambda: ring.active) if ring else (lambda: None)
        try:
            undelivered = self.shipper.undelivered(receipts.TABLE)
            chains.restore(await receipts.stored_heads(analytics, chains.chain, undelivered))
        except AnalyticsError as exc:
            # Extending a chain from an unknown head would fork it: start a chain of its own.
            chains.chain = f"{chains.chain}-{secrets.token_hex(4)}"
            log.warning("receipt chain heads unreadable (%s); new chain %s", exc, chains.chain)
        if isinstance(cache, MemoryCache):
            try:
                undelivered = self.shipper.undelivered("events")
                await dedupe.warm(cache, analytics, undelivered, self.dedupe_window_s)
            except AnalyticsError as exc:
                log.warning("recent event ids unreadable (%s); replays may count again", exc)

    async def stop(self) -> None:
        await self._rates_loop.stop()
        await self._versions_loop.stop()
        await self._ivt_loop.stop()
        await self.tuning.stop()
        with contextlib.suppress(Exception):
            await self.sdk_versions.flush()
        await self.snapshots.stop()
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._ship_loop.stop()
        await self.ingest.sync()
        with contextlib.suppress(Exception):  # undelivered records stay in the log for next time
            await asyncio.wait_for(self.shipper.drain(), STOP_DRAIN_S)
        self.ingest.close()
        await self.transport.close()


def build_runtime(services: Services) -> AuctionRuntime:
    settings = services.settings
    transport = BidderTransport(allow_private=settings.allow_private_bidders)
    signer = TokenSigner(settings.secret)
    rates = Rates(settings.currency_rates_file)
    exchange = Exchange(
        transport=transport,
        rates=rates,
        signer=signer,
        cache=services.cache,
        base_url=settings.base_url,
        settings=ExchangeSettings(
            bidder_buffer_ms=settings.bidder_buffer_ms, min_bidder_ms=settings.min_bidder_ms
        ),
    )
    ingest = IngestLog(settings.data_dir / "ingest")
    ingest.recover()
    return AuctionRuntime(
        ingest=ingest,
        shipper=Shipper(ingest, services.analytics),
        sdk_versions=SdkVersions(services.postgres),
        ivt=IvtDetector(
            IvtConfigStore(services.postgres),
            services.cache,
            time.time(),
            ip_secret=services.settings.secret,
        ),
        snapshots=SnapshotStore(services.postgres, settings.secret, settings.snapshot_refresh_s),
        exchange=exchange,
        auction_log=AuctionLog(
            ingest, ReceiptChains(receipts.chain_id(ingest.directory), lambda: None)
        ),
        transport=transport,
        signer=signer,
        limits=SdkLimits(
            per_app_per_s=settings.sdk_rate_per_app, per_ip_per_s=settings.sdk_rate_per_ip
        ),
        keys_dir=settings.keys_dir,
        tuning=TuningStore(services.postgres),
        ip_hasher=IpHasher(settings.secret),
    )
