"""Win, billing and loss notices: OpenRTB macro substitution and the loss reason codes.

The exchange fires a bid's `nurl` / `burl` / `lurl` after the auction; the URLs carry the
OpenRTB 2.6 substitution macros (section 4.4), filled in here with URL-encoded values so that a
value can never break out of its query parameter.
"""

from __future__ import annotations

from enum import IntEnum
from urllib.parse import quote

__all__ = ["LossReason", "substitute"]


class LossReason(IntEnum):
    """OpenRTB 2.6 loss reason codes (list 5.25); 500+ are exchange specific."""

    BID_WON = 0
    INTERNAL_ERROR = 1
    IMPRESSION_OPPORTUNITY_EXPIRED = 2
    INVALID_BID_RESPONSE = 3
    INVALID_DEAL_ID = 4
    INVALID_AUCTION_ID = 5
    INVALID_ADVERTISER_DOMAIN = 6
    MISSING_MARKUP = 7
    MISSING_CREATIVE_ID = 8
    MISSING_BID_PRICE = 9
    MISSING_MINIMUM_CREATIVE_APPROVAL_DATA = 10
    BELOW_AUCTION_FLOOR = 100
    BELOW_DEAL_FLOOR = 101
    LOST_TO_HIGHER_BID = 102
    LOST_TO_DEAL_BID = 103
    BUYER_SEAT_BLOCKED = 104
    CREATIVE_FILTERED_GENERAL = 200
    CREATIVE_FILTERED_PENDING_PROCESSING = 201
    CREATIVE_FILTERED_DISAPPROVED = 202
    CREATIVE_FILTERED_SIZE_NOT_ALLOWED = 203
    CREATIVE_FILTERED_INCORRECT_FORMAT = 204
    CREATIVE_FILTERED_ADVERTISER_EXCLUSIONS = 205
    CREATIVE_FILTERED_APP_STORE_ID_EXCLUSIONS = 206
    CREATIVE_FILTERED_NOT_SECURE = 207
    CREATIVE_FILTERED_LANGUAGE_EXCLUSIONS = 208
    CREATIVE_FILTERED_CATEGORY_EXCLUSIONS = 209
    CREATIVE_FILTERED_CREATIVE_ATTRIBUTE_EXCLUSIONS = 210
    CREATIVE_FILTERED_AD_TYPE_EXCLUSIONS = 211
    CREATIVE_FILTERED_ANIMATION_TOO_LONG = 212
    CREATIVE_FILTERED_NOT_ALLOWED_IN_DEAL = 213
    CREATIVE_FILTERED_INVALID_SKADNETWORK = 214
    CREATIVE_FILTERED_APP_BUNDLE_EXCLUSIONS = 215


def substitute(
    url: str,
    *,
    auction_id: str,
    bid_id: str,
    imp_id: str,
    seat_id: str,
    price: str,
    currency: str,
    loss_code: int | None,
) -> str:
    """`url` with its OpenRTB macros replaced; `${AUCTION_LOSS}` is empty when no loss code.

    `price` is the clearing price as a decimal string in `currency`. Macros that are not known
    here are left as they are: a bidder may expect them filled by someone else.
    """
    values = {
        "${AUCTION_ID}": auction_id,
        "${AUCTION_BID_ID}": bid_id,
        "${AUCTION_IMP_ID}": imp_id,
        "${AUCTION_SEAT_ID}": seat_id,
        "${AUCTION_PRICE}": price,
        "${AUCTION_CURRENCY}": currency,
        "${AUCTION_LOSS}": "" if loss_code is None else str(int(loss_code)),
    }
    for macro, value in values.items():
        if macro in url:
            url = url.replace(macro, quote(value, safe=""))
    return url
