"""Write deploy/k8s/base/prometheusrule.yaml from deploy/monitoring/alerts.yml (the rules are
written once, in alerts.yml; the Prometheus Operator needs them wrapped in a PrometheusRule)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
HEADER = (
    "# deploy/monitoring/alerts.yml as a Prometheus Operator rule: the same groups, kept equal by\n"
    "# tests/deploy/test_kubernetes.py (regenerate: python scripts/build-prometheusrule.py).\n"
)


def main() -> None:
    groups = yaml.safe_load((ROOT / "deploy/monitoring/alerts.yml").read_text())["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "apex", "labels": {"release": "prometheus"}},
        "spec": {"groups": groups},
    }
    text = yaml.safe_dump(rule, sort_keys=False, width=100, allow_unicode=True)
    (ROOT / "deploy/k8s/base/prometheusrule.yaml").write_text(HEADER + text)


if __name__ == "__main__":
    main()
