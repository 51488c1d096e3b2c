"""The SDK market fixtures (local bidders, a publisher with apps and an SDK key) for IVT tests."""

from tests.sdk.conftest import bidders, market

__all__ = ["bidders", "market"]
