"""The features that may call AI, each behind the master switch and a flag of its own."""

from __future__ import annotations

from enum import StrEnum

MASTER_FLAG = "ENABLE_AI_AUTOMATION"


class Feature(StrEnum):
    SALES = "sales"
    GROWTH = "growth"
    SELF_EVOLVING = "self_evolving"

    @property
    def flag(self) -> str:
        return FEATURE_FLAGS[self]


FEATURE_FLAGS: dict[Feature, str] = {
    Feature.SALES: "ENABLE_SALES_AI_OPTIMIZATION",
    Feature.GROWTH: "ENABLE_GROWTH_AI_ANALYTICS",
    Feature.SELF_EVOLVING: "ENABLE_SELF_EVOLVING_AI",
}
ALL_FLAGS = (MASTER_FLAG, *FEATURE_FLAGS.values())
