"""Auction receipts: one per auction, hash-chained per placement, signed with Ed25519.

A receipt's body is canonical JSON (sorted keys, no spaces, UTF-8) holding the placement, the
floor, every candidate's outcome and price, the winner, the clearing price, its place in the
chain (`chain`, `seq`) and the previous receipt's hash (`prevHash`). Its hash is the SHA-256 of
the body, hex; its signature is Ed25519 over the 32 raw bytes of that hash, made with the
platform's active signing key (the one that signs SDK configs; `keyId` names it). Anyone with
the public keys can re-check a receipt, and a removed or altered receipt breaks the chain: the
next one's `prevHash` no longer matches, or its `seq` jumps.

A chain is per placement and per serving process, named by the process's ingest log (a log
directory is owned by one process, so two processes never extend the same chain). At start the
heads are read back from what is stored (ClickHouse plus the log's undelivered records), so a
restart continues each chain. A receipt travels through the ingest log like the auction record
it belongs to.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from apex_mediation.auction.exchange import AuctionResult
from apex_mediation.stores.analytics import Analytics

FORMAT_VERSION = 1
GENESIS = "0" * 64
TABLE = "auction_receipts"
CHAIN_FILE = "receipt-chain-id"


class ReceiptSigner(Protocol):
    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> str: ...


def canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(body_text: str) -> str:
    return hashlib.sha256(body_text.encode()).hexdigest()


def chain_id(directory: Path) -> str:
    """This process's chain name, kept beside its ingest log so a restart continues it."""
    path = directory / CHAIN_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        name = "c" + secrets.token_hex(8)
        directory.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(name)
        temporary.replace(path)
        return name


def body(result: AuctionResult, chain: str, seq: int, prev_hash: str) -> dict[str, Any]:
    winner = result.winner
    return {
        "v": FORMAT_VERSION,
        "auctionId": result.auction_id,
        "publisherId": result.placement.publisher_id,
        "placementId": result.placement.id,
        "chain": chain,
        "seq": seq,
        "prevHash": prev_hash,
        "issuedAt": _iso_ms(result.started_at),
        "auctionType": result.placement.auction_type,
        "floorMicros": result.floor_micros,
        "test": result.test,
        "candidates": [
            {
                "network": o.network,
                "kind": o.kind,
                "outcome": o.outcome,
                "reason": o.reason[:200],
                "priceMicros": o.price_micros,
                "rank": o.rank,
            }
            for o in result.outcomes
        ],
        "winner": winner.outcome.network if winner else None,
        "clearingPriceMicros": winner.ecpm_micros if winner else None,
    }


class ReceiptChains:
    """The heads of this process's chains, and the receipts that extend them.

    `issue` is synchronous and called on the event loop, so receipts of one placement are
    numbered and linked in the order they are issued, without a lock.
    """

    def __init__(self, chain: str, signer: Callable[[], ReceiptSigner | None]) -> None:
        self.chain = chain
        self.signer = signer
        self._heads: dict[str, tuple[int, str]] = {}  # placement id -> (seq, hash)

    def restore(self, heads: Iterable[tuple[str, int, str]]) -> None:
        """Continue from stored heads (placement id, seq, hash); the highest seq wins."""
        for placement_id, seq, hash_ in heads:
            if seq > self._heads.get(placement_id, (0, ""))[0]:
                self._heads[placement_id] = (seq, hash_)

    def issue(self, result: AuctionResult) -> dict[str, Any]:
        """The receipt's row for `auction_receipts`, now the head of its placement's chain."""
        placement_id = result.placement.id
        seq, prev_hash = self._heads.get(placement_id, (0, GENESIS))
        text = canonical(body(result, self.chain, seq + 1, prev_hash))
        hash_ = digest(text)
        signer = self.signer()
        self._heads[placement_id] = (seq + 1, hash_)
        return {
            "placement_id": placement_id,
            "chain": self.chain,
            "seq": seq + 1,
            "auction_id": result.auction_id,
            "publisher_id": result.placement.publisher_id,
            "issued_at": dt.datetime.fromtimestamp(result.started_at, dt.UTC),
            "body": text,
            "hash": hash_,
            "prev_hash": prev_hash,
            "key_id": signer.key_id if signer else "",
            "signature": signer.sign(bytes.fromhex(hash_)) if signer else "",
        }


# -- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first place where a chain does not hold."""

    chain: str
    seq: int
    auction_id: str
    problem: str


@dataclass(frozen=True)
class Verdict:
    receipts: int
    chains: int
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def check_receipt(row: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    """What is wrong with one receipt on its own (body, hash, signature), or None."""
    text = str(row["body"])
    if digest(text) != row["hash"]:
        return "hash does not match the body"
    try:
        doc = json.loads(text)
    except ValueError:
        return "body is not JSON"
    if canonical(doc) != text:
        return "body is not in canonical form"
    for field, column in (("chain", "chain"), ("seq", "seq"), ("prevHash", "prev_hash")):
        if doc.get(field) != row[column]:
            return f"body's {field} differs from the stored {column}"
    if doc.get("auctionId") != row["auction_id"]:
        return "body's auctionId differs from the stored auction_id"
    key = keys.get(str(row["key_id"]))
    if key is None:
        return f"unsigned or signed by an unknown key ({row['key_id'] or 'none'})"
    try:
        key.verify(
            base64.b64decode(str(row["signature"]), validate=True), bytes.fromhex(str(row["hash"]))
        )
    except (InvalidSignature, ValueError):
        return "signature does not verify"
    return None


class ChainVerifier:
    """Re-checks receipts fed in (chain, seq) order, page by page; stops at the first break.

    The first receipt seen of each chain is trusted as its start (a range may begin mid-chain)
    unless it is seq 1, which must link to the genesis hash.
    """

    def __init__(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        self.keys = keys
        self.receipts = 0
        self.chains = 0
        self.first_break: Break | None = None
        self._previous: Mapping[str, Any] | None = None

    def feed(self, rows: Iterable[Mapping[str, Any]]) -> bool:
        """Check `rows`; False once a break is found (feeding more then changes nothing)."""
        for row in rows:
            if self.first_break is not None:
                return False
            self.receipts += 1
            problem = self._problem(row)
            if problem is not None:
                chain, seq, auction = str(row["chain"]), int(row["seq"]), str(row["auction_id"])
                self.first_break = Break(chain, seq, auction, problem)
                return False
            self._previous = row
        return self.first_break is None

    def _problem(self, row: Mapping[str, Any]) -> str | None:
        previous = self._previous
        if previous is None or previous["chain"] != row["chain"]:
            self.chains += 1
            previous = None
        problem = check_receipt(row, self.keys)
        if problem is not None:
            return problem
        if previous is None:
            if row["seq"] == 1 and row["prev_hash"] != GENESIS:
                return "the first receipt does not start from the genesis hash"
            return None
        if row["seq"] != previous["seq"] + 1:
            return f"receipts {previous['seq'] + 1}..{row['seq'] - 1} are missing"
        if row["prev_hash"] != previous["hash"]:
            return "prevHash is not the hash of the receipt before"
        return None

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.receipts, self.chains, self.first_break)


def verify(rows: Iterable[Mapping[str, Any]], keys: Mapping[str, Ed25519PublicKey]) -> Verdict:
    verifier = ChainVerifier(keys)
    verifier.feed(rows)
    return verifier.verdict


def _iso_ms(unix_s: float) -> str:
    moment = dt.datetime.fromtimestamp(unix_s, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def stored_heads(
    analytics: Analytics, chain: str, undelivered: Iterable[Mapping[str, Any]]
) -> list[tuple[str, int, str]]:
    """The last receipt of each of `chain`'s placements: in ClickHouse or still in the log."""
    rows = await analytics.query(
        "SELECT placement_id, max(seq) AS head_seq, argMax(hash, seq) AS head_hash"
        " FROM auction_receipts WHERE chain = {chain:String} GROUP BY placement_id",
        {"chain": chain},
    )
    heads = [(str(r["placement_id"]), int(r["head_seq"]), str(r["head_hash"])) for r in rows]
    heads += [(str(r["placement_id"]), int(r["seq"]), str(r["hash"])) for r in undelivered]
    return heads
