"""ivt/measure.py on hand-made labels and rows: every figure against a value computed by hand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from apex_mediation.ivt.measure import Tally, measure, rate
from apex_mediation.ivt.reasons import REASONS


def _auction(
    auction_id: str, request_id: str, ivt: int = 0, reasons: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "auction_id": auction_id,
        "request_id": request_id,
        "ivt": ivt,
        "ivt_reasons": list(reasons),
    }


def _event(
    auction_id: str, event: str, ivt: int = 0, reasons: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {"auction_id": auction_id, "event": event, "ivt": ivt, "ivt_reasons": list(reasons)}


LABELS: list[dict[str, str]] = [
    # honest, not flagged
    {"record": "auction", "auction_id": "a1", "request_id": "r1", "label": "honest"},
    # honest no-fill (a 204: only the request id), flagged: the false positive
    {"record": "auction", "request_id": "r2", "label": "honest"},
    {"record": "auction", "auction_id": "a3", "request_id": "r3", "label": "declared_bot"},
    {"record": "auction", "request_id": "r4", "label": "datacenter_ip"},
    # carries its reason without reaching the flag threshold
    {"record": "auction", "auction_id": "a5", "request_id": "r5", "label": "device_rate"},
    {"record": "click", "auction_id": "a6", "label": "fast_click"},
    {"record": "impression", "auction_id": "a6", "label": "honest"},
    # two rows for one record (a stored replay): folded, flagged because one is
    {"record": "impression", "auction_id": "a8", "label": "replayed_token"},
    # no row at all: missing
    {"record": "impression", "auction_id": "a9", "label": "geo_mismatch"},
    # the same record again: only the first label counts
    {"record": "auction", "auction_id": "a1", "request_id": "r1", "label": "declared_bot"},
]
AUCTIONS = [
    _auction("a1", "r1"),
    _auction("x2", "r2", 1, ("geo_mismatch",)),
    _auction("a3", "r3", 1, ("declared_bot",)),
    _auction("x4", "r4", 1, ("datacenter_ip", "ip_rate")),
    _auction("a5", "r5", 0, ("device_rate",)),
    _auction("probe", "probe", 1, ("declared_bot",)),  # not labelled: ignored
]
EVENTS = [
    _event("a6", "click", 1, ("fast_click",)),
    _event("a6", "impression"),
    _event("a8", "impression"),
    _event("a8", "impression", 1, ("replayed_token",)),
    _event("a99", "impression", 1, ("click_burst",)),  # not labelled: ignored
]


def _once(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The rows as a one-pass iterator, as a streaming reader would hand them over."""
    yield from rows


def test_overall_figures() -> None:
    m = measure(_once(LABELS), _once(AUCTIONS), _once(EVENTS))
    # honest: a1 (clean), r2 (flagged), a6 impression (clean)
    assert m.honest == Tally(records=3, flagged=1, missing=0)
    assert m.fp_rate == 0.3333
    # GIVT: a3 and r4, both flagged
    assert m.givt == Tally(records=2, flagged=2, missing=0)
    assert m.givt_recall == 1.0
    # SIVT: a5 (not flagged), a6 click and a8 impression (flagged); a9 missing
    assert m.sivt == Tally(records=3, flagged=2, missing=1)
    assert m.sivt_recall == 0.6667
    # flagged: r2 (honest), a3, r4, a6 click, a8 impression -> 4 of 5 invalid
    assert m.flagged == 5
    assert m.precision == 0.8
    assert m.records == 8
    assert m.missing == 1
    assert m.duplicate_labels == 1


def test_per_label_figures() -> None:
    m = measure(LABELS, AUCTIONS, EVENTS)
    assert list(m.labels) == [
        "honest",
        "declared_bot",
        "datacenter_ip",
        "device_rate",
        "fast_click",
        "replayed_token",
        "geo_mismatch",
    ]
    honest = m.labels["honest"]
    assert (honest.category, honest.records, honest.flagged, honest.missing) == ("honest", 3, 1, 0)
    assert honest.flagged_share == 0.3333
    assert honest.recall is None  # honest traffic has no recall; its flagged share is the FP rate
    assert honest.by_record == {
        "auction": Tally(records=2, flagged=1),
        "impression": Tally(records=1, flagged=0),
    }
    bot = m.labels["declared_bot"]
    assert (bot.category, bot.records, bot.flagged, bot.recall) == ("givt", 1, 1, 1.0)
    device_rate = m.labels["device_rate"]
    assert (device_rate.category, device_rate.records, device_rate.flagged) == ("sivt", 1, 0)
    assert device_rate.recall == 0.0
    replayed = m.labels["replayed_token"]
    assert (replayed.records, replayed.flagged, replayed.recall) == (1, 1, 1.0)
    geo = m.labels["geo_mismatch"]
    assert (geo.records, geo.flagged, geo.missing, geo.recall) == (0, 0, 1, None)
    assert geo.by_record == {"impression": Tally(records=0, flagged=0, missing=1)}


def test_per_reason_precision_and_recall() -> None:
    m = measure(LABELS, AUCTIONS, EVENTS)
    assert set(REASONS) <= set(m.reasons)

    def figures(name: str) -> tuple[int, int, float | None, int, int, float | None]:
        r = m.reasons[name]
        return r.carried, r.carried_invalid, r.precision, r.labelled, r.labelled_carrying, r.recall

    # Carried only by the honest no-fill: precision 0; its one labelled record is missing.
    assert figures("geo_mismatch") == (1, 0, 0.0, 0, 0, None)
    assert figures("declared_bot") == (1, 1, 1.0, 1, 1, 1.0)  # the unlabelled probe is ignored
    assert figures("datacenter_ip") == (1, 1, 1.0, 1, 1, 1.0)
    # Carried by a datacenter_ip record: still a true positive (labelled invalid), no labels.
    assert figures("ip_rate") == (1, 1, 1.0, 0, 0, None)
    # Carried although not flagged: reason recall 1, label recall (flagged) 0.
    assert figures("device_rate") == (1, 1, 1.0, 1, 1, 1.0)
    assert figures("fast_click") == (1, 1, 1.0, 1, 1, 1.0)
    assert figures("replayed_token") == (1, 1, 1.0, 1, 1, 1.0)
    assert figures("click_burst") == (0, 0, None, 0, 0, None)  # only on an unlabelled event
    assert figures("prefetch") == (0, 0, None, 0, 0, None)
    assert m.reasons["device_rate"].category == "sivt"
    assert m.reasons["prefetch"].category == "givt"


def test_auction_label_falls_back_to_the_request_id() -> None:
    labels = [{"record": "auction", "auction_id": "gone", "request_id": "r1", "label": "honest"}]
    m = measure(labels, [_auction("a1", "r1", 1, ("declared_bot",))], [])
    assert (m.honest.records, m.honest.flagged, m.missing) == (1, 1, 0)
    assert m.fp_rate == 1.0
    assert m.reasons["declared_bot"].precision == 0.0


def test_an_event_is_matched_by_auction_and_event_name() -> None:
    labels = [{"record": "reward", "auction_id": "a1", "label": "fast_reward"}]
    rows = [_event("a1", "impression", 1, ("fast_reward",)), _event("a1", "video_complete")]
    m = measure(labels, [], rows)
    assert (m.sivt.records, m.sivt.missing, m.sivt_recall) == (0, 1, None)


def test_unknown_reasons_in_rows_are_reported() -> None:
    labels = [{"record": "impression", "auction_id": "a1", "label": "honest"}]
    m = measure(labels, [], [_event("a1", "impression", 0, ("new_rule",))])
    assert m.reasons["new_rule"].category == "unknown"
    assert (m.reasons["new_rule"].carried, m.reasons["new_rule"].precision) == (1, 0.0)
    assert m.fp_rate == 0.0
    assert m.precision is None  # nothing flagged


def test_nothing_measured() -> None:
    m = measure([], [], [])
    assert (m.records, m.missing, m.flagged, m.duplicate_labels) == (0, 0, 0, 0)
    assert (m.fp_rate, m.givt_recall, m.sivt_recall, m.precision) == (None, None, None, None)
    assert m.labels == {}
    assert m.as_dict()["reasons"]["declared_bot"]["precision"] is None


@pytest.mark.parametrize(
    "label",
    [
        {"record": "auction", "auction_id": "a", "label": "robot"},  # not a reason
        {"record": "view", "auction_id": "a", "label": "honest"},  # not an event name
        {"record": "auction", "label": "honest"},  # neither id
        {"record": "click", "request_id": "r", "label": "honest"},  # events need the auction
    ],
)
def test_malformed_labels_are_refused(label: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        measure([label], [], [])


def test_rate_rounds_to_four_decimals() -> None:
    assert rate(2, 3) == 0.6667
    assert rate(1, 8) == 0.125
    assert rate(0, 5) == 0.0
    assert rate(0, 0) is None
