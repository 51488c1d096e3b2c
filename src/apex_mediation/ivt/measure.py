"""How well invalid-traffic detection did on labelled traffic: precision and recall from the
labels a traffic generator wrote (demo/ivt_mix.py) and the rows the server stored in ClickHouse.

Pure functions over plain rows, so the same figures come out of a benchmark, a test or a
notebook. Inputs:
- labels: `{"record": "auction", "auction_id"?, "request_id"?, "label"}` for auctions (a 204
  names no auction, so an auction label may carry only the request id: it is then joined on
  `auctions.request_id`), and `{"record": <event name>, "auction_id", "label"}` for events.
  `label` is "honest" or a reason name from ivt/reasons.py. The first label of a record counts;
  repeats are counted as `duplicate_labels` and otherwise ignored.
- auctions rows `{auction_id, request_id, ivt, ivt_reasons}`; events rows `{auction_id, event,
  ivt, ivt_reasons}`. Rows of one record (not yet merged, or replays stored beside the first)
  are folded into one: flagged if any is, reasons the union.

A record is *flagged* when its row has ivt = 1 (an auction: blocked; an event: not counted).
Reasons are judged on `ivt_reasons` whatever the flag, since a reason can be carried by a record
whose score stayed under the threshold:
- a reason's precision: of the records carrying it, the share labelled invalid (any reason);
- a reason's recall: of the records labelled with it, the share carrying it.
Labelled records with no row are `missing`: reported, and left out of every rate (a lost record
says nothing about detection; the harness must show 0). Rows with no label are ignored (probes,
other traffic). Rates are floats rounded to 4 decimals, or None when nothing was there to
divide by (e.g. precision when nothing was flagged).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from apex_mediation.ivt.reasons import GIVT, REASONS, SIVT
from apex_mediation.tracking import event_names

HONEST = "honest"
AUCTION = "auction"
EVENT_RECORDS = frozenset(
    {event_names.IMPRESSION, event_names.CLICK, event_names.REWARD, *event_names.VIDEO.values()}
)
RECORDS = frozenset({AUCTION, *EVENT_RECORDS})


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded to 4 decimals; None when there is no whole."""
    return round(part / whole, 4) if whole else None


def category(label: str) -> str:
    """The label's class: honest, givt or sivt (ivt/reasons.py)."""
    if label in GIVT:
        return "givt"
    if label in SIVT:
        return "sivt"
    return HONEST


@dataclass
class Tally:
    records: int = 0  # labelled and found in ClickHouse
    flagged: int = 0
    missing: int = 0  # labelled, not found


@dataclass
class LabelFigures:
    label: str
    category: str  # honest | givt | sivt
    records: int
    flagged: int
    missing: int
    flagged_share: float | None  # flagged / records: the false-positive rate for "honest"
    recall: float | None  # flagged / records for invalid labels; None for "honest"
    by_record: dict[str, Tally]  # "auction", "impression", ... -> counts


@dataclass
class ReasonFigures:
    reason: str
    category: str
    carried: int  # records whose ivt_reasons contain the reason
    carried_invalid: int  # ... of which labelled invalid (by any reason)
    precision: float | None
    labelled: int  # records labelled with the reason
    labelled_carrying: int  # ... of which carry it
    recall: float | None


@dataclass
class Measurement:
    fp_rate: float | None  # flagged honest / honest
    givt_recall: float | None  # flagged / records, over all GIVT labels
    sivt_recall: float | None  # the same over all SIVT labels
    precision: float | None  # flagged invalid / flagged
    records: int  # labelled records found in ClickHouse
    missing: int
    flagged: int
    honest: Tally
    givt: Tally
    sivt: Tally
    duplicate_labels: int
    labels: dict[str, LabelFigures] = field(default_factory=dict)
    reasons: dict[str, ReasonFigures] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Row:
    ivt: bool = False
    reasons: frozenset[str] = frozenset()

    def merge(self, row: Mapping[str, Any]) -> None:
        self.ivt = self.ivt or bool(int(row.get("ivt") or 0))
        self.reasons = self.reasons | frozenset(str(r) for r in row.get("ivt_reasons") or ())


def _fold(rows: Iterable[Mapping[str, Any]], *key_fields: str) -> dict[tuple[str, ...], _Row]:
    folded: dict[tuple[str, ...], _Row] = {}
    for row in rows:
        key = tuple(str(row.get(name) or "") for name in key_fields)
        if not key[0]:
            continue
        folded.setdefault(key, _Row()).merge(row)
    return folded


def _label_key(label: Mapping[str, Any]) -> tuple[str, str]:
    record = str(label.get("record", ""))
    if record not in RECORDS:
        raise ValueError(f"unknown record {record!r} in label {dict(label)}")
    name = str(label.get("label", ""))
    if name != HONEST and name not in REASONS:
        raise ValueError(f"unknown label {name!r}: 'honest' or a reason of ivt/reasons.py")
    auction_id = str(label.get("auction_id") or "")
    if record == AUCTION:
        if auction_id:
            return AUCTION, auction_id
        request_id = str(label.get("request_id") or "")
        if not request_id:
            raise ValueError(f"an auction label needs auction_id or request_id: {dict(label)}")
        return "auction-request", request_id
    if not auction_id:
        raise ValueError(f"an event label needs auction_id: {dict(label)}")
    return record, auction_id


def measure(
    labels: Iterable[Mapping[str, Any]],
    auctions: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
) -> Measurement:
    """Join the labels to the stored rows and compute the figures (see the module docstring)."""
    auction_rows = list(auctions)
    by_auction = _fold(auction_rows, "auction_id")
    by_request = _fold(auction_rows, "request_id")
    event_rows = _fold(events, "auction_id", "event")

    per_label: dict[str, LabelFigures] = {}
    classes = {HONEST: Tally(), "givt": Tally(), "sivt": Tally()}
    carried: dict[str, list[int]] = {}  # reason -> [carried, carried_invalid]
    labelled: dict[str, list[int]] = {}  # reason -> [labelled, labelled_carrying]
    seen: set[tuple[str, str]] = set()
    duplicates = 0

    for label in labels:
        key = _label_key(label)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        name = str(label["label"])
        record = str(label["record"])
        kind = category(name)
        figures = per_label.get(name)
        if figures is None:
            figures = per_label[name] = LabelFigures(name, kind, 0, 0, 0, None, None, {})
        tally = figures.by_record.setdefault(record, Tally())

        row: _Row | None
        if key[0] == AUCTION:
            row = by_auction.get((key[1],))
            if row is None and label.get("request_id"):
                row = by_request.get((str(label["request_id"]),))
        elif key[0] == "auction-request":
            row = by_request.get((key[1],))
        else:
            row = event_rows.get((key[1], record))
        if row is None:
            figures.missing += 1
            tally.missing += 1
            classes[kind].missing += 1
            continue

        figures.records += 1
        tally.records += 1
        classes[kind].records += 1
        if row.ivt:
            figures.flagged += 1
            tally.flagged += 1
            classes[kind].flagged += 1
        for reason in row.reasons:
            counts = carried.setdefault(reason, [0, 0])
            counts[0] += 1
            counts[1] += name != HONEST
        if name != HONEST:
            counts = labelled.setdefault(name, [0, 0])
            counts[0] += 1
            counts[1] += name in row.reasons

    for figures in per_label.values():
        figures.flagged_share = rate(figures.flagged, figures.records)
        figures.recall = None if figures.label == HONEST else figures.flagged_share

    reasons: dict[str, ReasonFigures] = {}
    for reason in [*REASONS, *sorted(set(carried) - set(REASONS))]:
        c, ci = carried.get(reason, [0, 0])
        n, nc = labelled.get(reason, [0, 0])
        known = REASONS.get(reason)
        reasons[reason] = ReasonFigures(
            reason,
            known.category if known else "unknown",
            c,
            ci,
            rate(ci, c),
            n,
            nc,
            rate(nc, n),
        )

    honest, givt, sivt = classes[HONEST], classes["givt"], classes["sivt"]
    flagged = honest.flagged + givt.flagged + sivt.flagged
    return Measurement(
        fp_rate=rate(honest.flagged, honest.records),
        givt_recall=rate(givt.flagged, givt.records),
        sivt_recall=rate(sivt.flagged, sivt.records),
        precision=rate(givt.flagged + sivt.flagged, flagged),
        records=honest.records + givt.records + sivt.records,
        missing=honest.missing + givt.missing + sivt.missing,
        flagged=flagged,
        honest=honest,
        givt=givt,
        sivt=sivt,
        duplicate_labels=duplicates,
        labels=dict(sorted(per_label.items(), key=lambda kv: _order(kv[0]))),
        reasons=reasons,
    )


def _order(label: str) -> tuple[int, int]:
    """Honest first, then the reasons in ivt/reasons.py's order (GIVT, then SIVT)."""
    names = list(REASONS)
    return (0, 0) if label == HONEST else (1, names.index(label))
