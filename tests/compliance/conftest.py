"""The SDK tests' local bidders, for traffic that reaches the auction and the beacons."""

from tests.sdk.conftest import bidders  # noqa: F401 - a fixture, registered by importing it
