"""IAB TCF v2.2 purposes that the adapters declare."""

from __future__ import annotations

# The minimum to serve and count a non-personalised ad: 1 store and/or access information on a
# device, 2 use limited data to select advertising, 7 measure advertising performance.
# Personalised ads (purposes 3 and 4) are not declared here: the privacy policy decides them per
# request and tells the adapter through `BidderCall.personalised`.
BASIC_ADS = frozenset({1, 2, 7})
