"""Apex's own test creative: what test traffic sees when no bidder fills. Marked test end to
end (the beacon token carries the flag), so it is never billed."""

from __future__ import annotations

import html

from apex_mediation.auction.adapters.base import Bid


def sample_bid(auction_id: str, ad_format: str, price_micros: int) -> Bid:
    label = html.escape(ad_format.replace("_", " "))
    markup = (
        '<!doctype html><html><body style="margin:0;font-family:sans-serif">'
        '<div style="display:flex;align-items:center;justify-content:center;height:100%;'
        'min-height:50px;background:#0b5fff;color:#fff" data-apex-test="1">'
        f"Apex Mediation test ad &middot; {label}</div></body></html>"
    )
    dollars = f"{price_micros // 1_000_000}.{price_micros % 1_000_000:06d}"
    return Bid(
        bid_id=f"test-{auction_id}",
        imp_id="1",
        price=dollars,
        currency="USD",
        ad_markup=markup,
        creative_id="apex-test-creative",
        adomain=("apex.example",),
    )
