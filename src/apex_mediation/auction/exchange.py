"""The auction, top to bottom.

    request + app + placement (from the in-memory snapshot)
      -> time budget: tmax = min(placement timeout, client timeout)
      -> floor = max(placement floor, country floor, client floor)
      -> frequency caps for this device
      -> for each server-side bidder: privacy policy, circuit breaker, its own deadline
      -> concurrent fan-out; whatever has not answered by tmax is a timeout
      -> each bid: currency to USD, the account's bid adjustment, the floor
      -> waterfall instances join with the publisher's eCPM estimates
      -> hybrid ranking by eCPM; first or second price for the winner
      -> signed tracking URLs for the winner and the ordered fallbacks

Every candidate ends with an outcome and a reason (see trace.py). Nothing here blocks the event
loop or reads the database; the auction record goes to the log without being awaited.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from apex_mediation.auction import pacing
from apex_mediation.auction.adapters.base import Adapter, AdapterError, Bid, BidderCall, HttpReply
from apex_mediation.auction.adapters.notices import LossReason, substitute
from apex_mediation.auction.adapters.registry import get_adapter
from apex_mediation.auction.breaker import Breakers, State
from apex_mediation.auction.currency import Rates, UnknownCurrency
from apex_mediation.auction.latency import LatencyTracker, bidder_deadline_ms
from apex_mediation.auction.metrics import (
    bidder_skipped_total,
    circuit_opened_total,
    observe_bidder,
    watch_breakers,
)
from apex_mediation.auction.model import AuctionRequest
from apex_mediation.auction.ranking import Candidate, adjust, clearing_price, effective_floor, rank
from apex_mediation.auction.sample_creative import sample_bid
from apex_mediation.auction.snapshot import AppConfig, LineConfig, PlacementConfig
from apex_mediation.auction.trace import CandidateOutcome
from apex_mediation.auction.transport import BidderTransport
from apex_mediation.ivt.scoring import ALLOWED, Decision
from apex_mediation.privacy.policy import apply as apply_privacy
from apex_mediation.privacy.policy import decide
from apex_mediation.stores.cache import Cache
from apex_mediation.tracking.tokens import TokenSigner

MAX_RANKED = 5  # winner + fallbacks returned to the SDK
TRACKED_EVENTS = ("imp", "click", "reward")
VIDEO_EVENTS = ("start", "firstQuartile", "midpoint", "thirdQuartile", "complete")


@dataclass(frozen=True)
class ExchangeSettings:
    bidder_buffer_ms: float = 10.0  # kept back from each bidder for our own work
    min_bidder_ms: float = 15.0  # a bidder with less than this left is not called
    response_margin_ms: float = 3.0  # the response is written before tmax by this much
    ttl_s: int = 3600  # how long a filled response may be shown


@dataclass
class RankedEntry:
    outcome: CandidateOutcome
    ecpm_micros: int  # what this entry earns if shown (the clearing price for the winner)
    token: str
    tracking: dict[str, str]


@dataclass
class AuctionResult:
    auction_id: str
    request: AuctionRequest
    app: AppConfig
    placement: PlacementConfig
    floor_micros: int
    tmax_ms: int
    test: bool
    outcomes: list[CandidateOutcome]
    ranked: list[RankedEntry]
    started_at: float  # unix seconds
    duration_ms: float
    no_fill_reason: str | None = None
    device_key: str | None = None  # hashed, for caps and unique-device counts
    ivt: Decision = ALLOWED  # the invalid-traffic pre-check's decision
    notices: list[str] = field(default_factory=list)  # win/loss URLs, fired after the response

    @property
    def winner(self) -> RankedEntry | None:
        return self.ranked[0] if self.ranked else None

    def trace(self) -> dict[str, Any]:
        return {
            "auctionId": self.auction_id,
            "placementId": self.placement.id,
            "floorMicros": self.floor_micros,
            "tmaxMs": self.tmax_ms,
            "auctionType": self.placement.auction_type,
            "test": self.test,
            "clearingPriceMicros": self.winner.ecpm_micros if self.winner else None,
            "durationMs": round(self.duration_ms, 2),
            "noFillReason": self.no_fill_reason,
            "candidates": [o.as_trace() for o in self.outcomes],
        }


@dataclass
class _Prepared:
    line: LineConfig
    adapter: Adapter
    call: BidderCall
    outcome: CandidateOutcome
    timeout_s: float


class Exchange:
    def __init__(
        self,
        *,
        transport: BidderTransport,
        rates: Rates,
        signer: TokenSigner,
        cache: Cache,
        base_url: str,
        settings: ExchangeSettings | None = None,
    ) -> None:
        self.transport = transport
        self.rates = rates
        self.signer = signer
        self.cache = cache
        self.base_url = base_url.rstrip("/")
        self.settings = settings or ExchangeSettings()
        self.breakers = Breakers()
        watch_breakers(self.breakers)
        self.latency = LatencyTracker()

    async def run(
        self,
        request: AuctionRequest,
        app: AppConfig,
        placement: PlacementConfig,
        ivt: Decision = ALLOWED,
    ) -> AuctionResult:
        started, wall = time.monotonic(), time.time()
        tmax_ms = placement.timeout_ms
        if request.client_timeout_ms:
            tmax_ms = min(tmax_ms, request.client_timeout_ms)
        deadline = started + tmax_ms / 1000
        country_floor = placement.country_floors.get(request.device.country or "")
        floor = effective_floor(placement.floor_micros, country_floor, request.client_floor_micros)
        test = app.test_mode or request.test
        result = AuctionResult(
            auction_id=secrets.token_hex(12),
            request=request,
            app=app,
            placement=placement,
            floor_micros=floor,
            tmax_ms=tmax_ms,
            test=test,
            outcomes=[],
            ranked=[],
            started_at=wall,
            duration_ms=0.0,
            ivt=ivt,
        )

        result.device_key = pacing.device_key(request)
        if ivt.blocked:  # invalid traffic: no bidder is called, not even a test fill
            result.outcomes = [
                CandidateOutcome(
                    line.network, _kind(line), line.account_id, "blocked_ivt", ivt.reason_text
                )
                for line in (*placement.bidding, *placement.waterfall)
            ]
            return self._finish(result, started, no_fill="blocked_ivt")
        capped = await pacing.check(self.cache, placement, result.device_key, wall)
        candidates: list[Candidate] = []
        if capped is not None:
            result.outcomes = [
                CandidateOutcome(line.network, _kind(line), line.account_id, "capped", capped)
                for line in (*placement.bidding, *placement.waterfall)
            ]
        else:
            prepared = [
                self._prepare(line, request, floor, deadline, test, placement, result)
                for line in placement.bidding
                if self._wanted(line, request)
            ]
            await self._fan_out([p for p in prepared if p is not None], deadline)
            candidates = self._bid_candidates(result.outcomes, floor, placement)
            candidates += self._waterfall_candidates(placement, request, floor, result)
        ranked = rank(candidates)[:MAX_RANKED]
        if not ranked and test:
            ranked = self._test_fill(result, floor)
        self._rank_and_sign(result, ranked, floor)
        no_fill = f"capped: {capped}" if capped else "no eligible bid"
        return self._finish(result, started, no_fill=None if ranked else no_fill)

    # -- candidates ---------------------------------------------------------------------------
    @staticmethod
    def _wanted(line: LineConfig, request: AuctionRequest) -> bool:
        # The client's adapter list may narrow the candidates, never add to them.
        hint = request.adapters_hint
        return line.enabled and (not hint or line.network in hint)

    def _prepare(
        self,
        line: LineConfig,
        request: AuctionRequest,
        floor: int,
        deadline: float,
        test: bool,
        placement: PlacementConfig,
        result: AuctionResult,
    ) -> _Prepared | None:
        outcome = CandidateOutcome(
            line.network, "bidding", line.account_id, "error", line_params=line.params
        )
        result.outcomes.append(outcome)
        adapter = get_adapter(line.network)
        if adapter is None or adapter.mode != "s2s":
            outcome.reason = (
                f"no server-side adapter for {line.network}"
                if adapter is None
                else f"{line.network} is client-side: add it to the waterfall"
            )
            return None
        decision = decide(
            request.privacy, request.device, gvl_id=adapter.gvl_id, purposes=adapter.purposes
        )
        outcome.privacy = decision.reasons
        if not decision.allowed:
            outcome.outcome, outcome.reason = "blocked_privacy", "; ".join(decision.reasons)
            return None
        breaker_key = line.health_key or line.network
        if not self.breakers.get(breaker_key, line.network).allow():
            outcome.outcome, outcome.reason = "circuit_open", "circuit open after failures"
            bidder_skipped_total.labels(line.network, "circuit_open").inc()
            return None
        left_ms = (deadline - time.monotonic()) * 1000
        budget_ms = bidder_deadline_ms(
            left_ms, self.settings.bidder_buffer_ms, self.latency.cap_ms(breaker_key)
        )
        if budget_ms < self.settings.min_bidder_ms:
            outcome.outcome = "timeout"
            outcome.reason = (
                f"skipped: {budget_ms:.0f} ms left, needs {self.settings.min_bidder_ms:.0f}"
            )
            bidder_skipped_total.labels(line.network, "no_time").inc()
            return None
        call = BidderCall(
            request=apply_privacy(request, decision),
            imp_id="1",
            floor_micros=floor,
            tmax_ms=int(budget_ms),
            params=line.params,
            credentials=line.credentials,
            personalised=decision.personalised,
            publisher_id=placement.publisher_id,
            test=test,
        )
        return _Prepared(line, adapter, call, outcome, budget_ms / 1000)

    async def _fan_out(self, prepared: list[_Prepared], deadline: float) -> None:
        if not prepared:
            return
        tasks = {asyncio.create_task(self._call_bidder(p)): p for p in prepared}
        wait_s = deadline - time.monotonic() - self.settings.response_margin_ms / 1000
        _, pending = await asyncio.wait(tasks, timeout=max(wait_s, 0))
        for task in pending:
            task.cancel()
            p = tasks[task]
            p.outcome.outcome, p.outcome.reason = "timeout", "no answer within tmax"
            self._record_health(p, ok=False, latency_ms=None)

    async def _call_bidder(self, p: _Prepared) -> None:
        started = time.monotonic()
        try:
            requests = p.adapter.build_requests(p.call)
        except AdapterError as exc:
            p.outcome.reason = f"request not built: {exc}"
            return
        try:
            replies = await asyncio.gather(*(self.transport.send(r, p.timeout_s) for r in requests))
        except TimeoutError:
            p.outcome.outcome, p.outcome.reason = "timeout", f"no answer within {p.call.tmax_ms} ms"
            self._record_health(p, ok=False, latency_ms=None)
            return
        except Exception as exc:  # a bidder's network failure is that bidder's error only
            p.outcome.reason = f"{type(exc).__name__}: {exc}"[:300]
            self._record_health(p, ok=False, latency_ms=None)
            return
        latency_ms = (time.monotonic() - started) * 1000
        p.outcome.latency_ms = latency_ms
        self._parse(p, list(zip(requests, replies, strict=True)))
        self._record_health(p, ok=p.outcome.outcome != "error", latency_ms=latency_ms)

    def _parse(self, p: _Prepared, exchanges: list[tuple[Any, HttpReply]]) -> None:
        bids: list[Bid] = []
        errors: list[str] = []
        no_bid = None
        for sent, reply in exchanges:
            parsed = p.adapter.parse_response(p.call, sent, reply)
            bids += parsed.bids
            errors += parsed.errors
            no_bid = no_bid or parsed.no_bid_reason
        priced = []
        for bid in bids:
            try:
                usd = self.rates.table.to_usd_micros(bid.price, bid.currency)
            except (UnknownCurrency, ValueError) as exc:
                errors.append(str(exc))
                continue
            priced.append((adjust(usd, p.line.bid_adjustment_ppm), bid))
        if priced:
            price, bid = max(priced, key=lambda pb: pb[0])
            p.outcome.outcome, p.outcome.bid, p.outcome.price_micros = "bid", bid, price
            p.outcome.bid_price, p.outcome.bid_currency = bid.price, bid.currency
            p.outcome.reason = "; ".join(errors)
        elif errors:
            p.outcome.outcome, p.outcome.reason = "error", "; ".join(errors)[:500]
        else:
            p.outcome.outcome, p.outcome.reason = "no_bid", no_bid or "no bid"

    def _record_health(self, p: _Prepared, ok: bool, latency_ms: float | None) -> None:
        key = p.line.health_key or p.line.network
        breaker = self.breakers.get(key, p.line.network)
        was_open = breaker.state is State.OPEN
        breaker.record(ok)
        if breaker.state is State.OPEN and not was_open:
            circuit_opened_total.labels(p.line.network).inc()
        if latency_ms is not None:
            self.latency.observe(key, latency_ms)
        observe_bidder(p.line.network, p.outcome.outcome, latency_ms)

    def _bid_candidates(
        self, outcomes: list[CandidateOutcome], floor: int, placement: PlacementConfig
    ) -> list[Candidate]:
        candidates = []
        for index, outcome in enumerate(outcomes):
            if outcome.outcome != "bid" or outcome.price_micros is None:
                continue
            if outcome.price_micros < floor or outcome.price_micros <= 0:
                outcome.outcome = "below_floor"
                outcome.reason = f"{outcome.price_micros} < floor {floor} micros"
                continue
            candidates.append(
                Candidate("bid", outcome.network, outcome.price_micros, order=index, ref=index)
            )
        return candidates

    def _waterfall_candidates(
        self, placement: PlacementConfig, request: AuctionRequest, floor: int, result: AuctionResult
    ) -> list[Candidate]:
        candidates = []
        for line in placement.waterfall:
            if not self._wanted(line, request):
                continue
            outcome = CandidateOutcome(
                line.network,
                "waterfall",
                line.account_id,
                "bid",
                price_micros=line.ecpm_micros,
                line_params=line.params,
            )
            result.outcomes.append(outcome)
            adapter = get_adapter(line.network)
            decision = decide(
                request.privacy,
                request.device,
                gvl_id=adapter.gvl_id if adapter else None,
                purposes=adapter.purposes if adapter else frozenset({1}),
            )
            outcome.privacy = decision.reasons
            ecpm = line.ecpm_micros or 0
            if not decision.allowed:
                outcome.outcome, outcome.reason = "blocked_privacy", "; ".join(decision.reasons)
            elif ecpm < floor or ecpm <= 0:
                outcome.outcome = "below_floor"
                outcome.reason = f"eCPM estimate {ecpm} < floor {floor} micros"
            else:
                outcome.reason = "waterfall instance (eCPM estimate)"
                candidates.append(
                    Candidate(
                        "waterfall",
                        line.network,
                        ecpm,
                        order=line.priority,
                        ref=len(result.outcomes) - 1,
                    )
                )
        return candidates

    def _test_fill(self, result: AuctionResult, floor: int) -> list[Candidate]:
        """Test traffic always sees an ad: Apex's own test creative, marked test, never billed."""
        price = max(floor, 1_000_000)
        bid = sample_bid(result.auction_id, result.placement.format, price)
        result.outcomes.append(
            CandidateOutcome(
                "apex_test",
                "bidding",
                None,
                "bid",
                "test creative (no bidder filled)",
                latency_ms=0.0,
                price_micros=price,
                bid_price=bid.price,
                bid_currency="USD",
                bid=bid,
            )
        )
        return [
            Candidate(
                "bid", "apex_test", price, order=len(result.outcomes), ref=len(result.outcomes) - 1
            )
        ]

    # -- result -------------------------------------------------------------------------------
    def _rank_and_sign(self, result: AuctionResult, ranked: list[Candidate], floor: int) -> None:
        winning_price = clearing_price(ranked, floor, result.placement.auction_type)
        for position, candidate in enumerate(ranked):
            outcome = result.outcomes[candidate.ref]
            outcome.rank = position
            price = (
                winning_price
                if position == 0 and winning_price is not None
                else candidate.ecpm_micros
            )
            bid_id = outcome.bid.bid_id if outcome.bid else f"{result.auction_id}-{position}"
            token = self.signer.sign(
                auction_id=result.auction_id,
                bid_id=bid_id,
                app_id=result.app.id,
                placement_id=result.placement.id,
                network=outcome.network,
                price_micros=price,
                currency=outcome.bid_currency or "USD",
                test=result.test,
                device_key=result.device_key or "",
                ivt_ppm=result.ivt.verdict.score_ppm,
                ivt_bits=result.ivt.verdict.bits,
                now=result.started_at,
            )
            result.ranked.append(RankedEntry(outcome, price, token, self._tracking(token)))
        self._notices(result, winning_price)

    def _tracking(self, token: str) -> dict[str, str]:
        base = self.base_url
        urls = {event: f"{base}/t/{event}?token={token}" for event in TRACKED_EVENTS}
        urls.update({event: f"{base}/t/video/{event}?token={token}" for event in VIDEO_EVENTS})
        urls["creative"] = f"{base}/v1/creative?token={token}"
        return urls

    def _notices(self, result: AuctionResult, winning_price: int | None) -> None:
        """Win notice for the winner, loss notices (with the OpenRTB loss code) for the rest."""
        for outcome in result.outcomes:
            bid = outcome.bid
            if bid is None or outcome.network == "apex_test":
                continue
            won = outcome.rank == 0
            url = bid.nurl if won else bid.lurl
            if not url:
                continue
            loss = (
                None
                if won
                else (
                    LossReason.BELOW_AUCTION_FLOOR
                    if outcome.outcome == "below_floor"
                    else LossReason.LOST_TO_HIGHER_BID
                )
            )
            price = winning_price if won and winning_price is not None else outcome.price_micros
            result.notices.append(
                substitute(
                    url,
                    auction_id=result.auction_id,
                    bid_id=bid.bid_id,
                    imp_id=bid.imp_id,
                    seat_id=outcome.network,
                    price=_usd(price or 0),
                    currency="USD",
                    loss_code=int(loss) if loss is not None else None,
                )
            )

    def _finish(self, result: AuctionResult, started: float, no_fill: str | None) -> AuctionResult:
        result.no_fill_reason = no_fill
        result.duration_ms = (time.monotonic() - started) * 1000
        return result


def _kind(line: LineConfig) -> Literal["bidding", "waterfall"]:
    return "waterfall" if line.kind == "waterfall" else "bidding"


def _usd(micros: int) -> str:
    """Micros as a decimal string of dollars, for ${AUCTION_PRICE}."""
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}".rstrip("0").rstrip(".")
