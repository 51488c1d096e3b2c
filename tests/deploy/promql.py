"""What a PromQL expression reads, and what the running app exports: the alert rules and the
dashboards are both checked against the app's /metrics with these."""

from __future__ import annotations

import re

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

FROM_PROMETHEUS = {"up"}
TARGET_LABELS = {"job", "instance", "le"}  # le: every histogram's buckets
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "offset", "bool"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}")
_IDENTIFIER = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")


def referenced(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) an expression reads."""
    labels: set[str] = set()
    for match in _SELECTOR.finditer(expr):
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", match.group(2)))
    for match in _GROUPING.finditer(expr):
        labels |= {name.strip() for name in match.group(2).split(",") if name.strip()}
    bare = _GROUPING.sub(" ", _SELECTOR.sub(lambda m: m.group(1) or " ", expr))
    bare = re.sub(r"\[[^\]]*\]", " ", _STRING.sub(" ", bare))
    bare = re.sub(r"\boffset\s+\w+", " ", bare)
    metrics = {
        name
        for name in _IDENTIFIER.findall(bare)
        if name not in KEYWORDS and not re.fullmatch(r"\d\w*", name)
    }
    return metrics, labels


def exported(text: str) -> dict[str, set[str]]:
    """Sample names the app exports, with the labels each may carry (declared or seen)."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        declared = set(getattr(REGISTRY._names_to_collectors.get(family.name), "_labelnames", ()))
        names = {family.name}
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "count", "sum")}
        names |= {sample.name for sample in family.samples}
        labels = declared | {k for sample in family.samples for k in sample.labels}
        for name in names:
            found.setdefault(name, set()).update(labels)
    return found


def unknown(expr: str, exported_now: dict[str, set[str]]) -> list[str]:
    """The metrics and labels `expr` reads that the app does not export."""
    metrics, labels = referenced(expr)
    known = {m for m in metrics if m in exported_now or m in FROM_PROMETHEUS}
    missing = [f"metric {m}" for m in sorted(metrics - known)]
    offered = set().union(*(exported_now.get(m, set()) for m in known)) | TARGET_LABELS
    return missing + [f"label {lb}" for lb in sorted(labels - offered)]
