from __future__ import annotations

from apex_mediation.auction.adapters.notices import LossReason, substitute

IDS = {"auction_id": "a-1", "bid_id": "b-1", "imp_id": "i-1", "seat_id": "s-1"}


def test_every_macro_is_replaced() -> None:
    url = (
        "https://dsp.example/win?a=${AUCTION_ID}&b=${AUCTION_BID_ID}&i=${AUCTION_IMP_ID}"
        "&s=${AUCTION_SEAT_ID}&p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}&l=${AUCTION_LOSS}"
    )
    filled = substitute(url, **IDS, price="1.25", currency="USD", loss_code=LossReason.BID_WON)
    assert filled == "https://dsp.example/win?a=a-1&b=b-1&i=i-1&s=s-1&p=1.25&c=USD&l=0"


def test_values_are_url_encoded() -> None:
    filled = substitute(
        "https://dsp.example/w?a=${AUCTION_ID}&s=${AUCTION_SEAT_ID}",
        auction_id="a&b=c d",
        bid_id="b",
        imp_id="i",
        seat_id="x/y?z#",
        price="1",
        currency="USD",
        loss_code=None,
    )
    assert filled == "https://dsp.example/w?a=a%26b%3Dc%20d&s=x%2Fy%3Fz%23"


def test_a_value_cannot_inject_another_macro() -> None:
    filled = substitute(
        "https://dsp.example/w?a=${AUCTION_ID}&p=${AUCTION_PRICE}",
        **{**IDS, "auction_id": "${AUCTION_PRICE}"},
        price="9",
        currency="USD",
        loss_code=None,
    )
    assert filled == "https://dsp.example/w?a=%24%7BAUCTION_PRICE%7D&p=9"


def test_loss_code_and_its_absence() -> None:
    url = "https://dsp.example/loss?r=${AUCTION_LOSS}&p=${AUCTION_PRICE}"
    lost = substitute(
        url, **IDS, price="2.5", currency="EUR", loss_code=LossReason.LOST_TO_HIGHER_BID
    )
    assert lost == "https://dsp.example/loss?r=102&p=2.5"
    assert substitute(url, **IDS, price="2.5", currency="EUR", loss_code=None).startswith(
        "https://dsp.example/loss?r=&p="
    )


def test_unknown_macros_and_plain_urls_are_left_alone() -> None:
    url = "https://dsp.example/w?m=${AUCTION_MBR}&x=1"
    assert substitute(url, **IDS, price="1", currency="USD", loss_code=None) == url


def test_loss_reason_codes_follow_openrtb_2_6() -> None:
    expected = {
        0: "BID_WON",
        1: "INTERNAL_ERROR",
        2: "IMPRESSION_OPPORTUNITY_EXPIRED",
        10: "MISSING_MINIMUM_CREATIVE_APPROVAL_DATA",
        100: "BELOW_AUCTION_FLOOR",
        102: "LOST_TO_HIGHER_BID",
        104: "BUYER_SEAT_BLOCKED",
        215: "CREATIVE_FILTERED_APP_BUNDLE_EXCLUSIONS",
    }
    assert {code: LossReason(code).name for code in expected} == expected
    assert len(LossReason) == 32
