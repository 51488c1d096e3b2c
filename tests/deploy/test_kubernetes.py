"""The Kubernetes manifests (deploy/k8s): the base and the production overlay render with
kustomize, every object validates against the Kubernetes schemas offline (kubernetes-validate,
strict), the Prometheus Operator objects match what the app exports and alerts on, checkov
finds nothing to fix, and the properties that matter hold: probes, resources, a non-root
read-only pod, an HPA and a PDB on the API, the OpenAI key in the worker only, default-deny
network policies, and config keys the app actually reads."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from apex_mediation.settings import SECRETS_DIR_ENV, Settings
from tests.deploy.test_terraform_module import JSON, _checkov

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.32"
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}
Objects = dict[tuple[str, str], dict[str, Any]]


@cache
def _render(target: str) -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to render deploy/k8s"
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _objects(target: str) -> Objects:
    return {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(_render(target))}


def _pod(objects: Objects, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = objects[("Deployment", name)]["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("target", ["base", "overlays/production"])
def test_every_object_validates_against_the_kubernetes_schemas(target: str) -> None:
    objects = _objects(target)
    assert {kind for kind, _ in objects} >= {
        "Namespace", "ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PrometheusRule",
    }  # fmt: skip
    for (kind, name), obj in objects.items():
        assert obj["metadata"].get("namespace", "apex") == "apex", (kind, name)
        if kind in OPERATOR_KINDS:
            continue  # custom resources: checked against the app below
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_a_broken_object_is_refused_by_the_validation() -> None:
    deployment = json.loads(json.dumps(_objects("base")[("Deployment", "apex-api")]))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = [
        "http"
    ]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_production_overlay_pins_the_image_and_scales_up() -> None:
    base, production = _objects("base"), _objects("overlays/production")
    for name in ("apex-api", "apex-worker"):
        image = _pod(production, name)["containers"][0]["image"]
        assert image == "registry.example.com/apex-mediation:0.1.0"
    assert production[("Deployment", "apex-api")]["spec"]["replicas"] == 3
    hpa = production[("HorizontalPodAutoscaler", "apex-api")]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 20)
    assert base[("HorizontalPodAutoscaler", "apex-api")]["spec"]["minReplicas"] == 2
    api = _pod(production, "apex-api")["containers"][0]["resources"]
    assert api["limits"]["memory"] == "2Gi"


def test_the_api_is_probed_sized_and_kept_available() -> None:
    objects = _objects("overlays/production")
    pod = _pod(objects, "apex-api")
    api = pod["containers"][0]
    assert api["args"] == ["serve"]
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert {"cpu", "memory"} <= set(api["resources"]["requests"]) & set(api["resources"]["limits"])
    hpa = objects[("HorizontalPodAutoscaler", "apex-api")]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "apex-api",
    }
    pdb = objects[("PodDisruptionBudget", "apex-api")]["spec"]
    labels = objects[("Deployment", "apex-api")]["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items() and pdb["minAvailable"] >= 1
    env = {e["name"]: e["value"] for e in api["env"]}
    assert env["APEX_BACKGROUND_JOBS"] == "false"  # the worker runs the jobs


@pytest.mark.parametrize("name", ["apex-api", "apex-worker"])
def test_pods_run_unprivileged_read_only_and_bounded(name: str) -> None:
    pod = _pod(_objects("overlays/production"), name)
    assert (
        pod["securityContext"]["runAsNonRoot"] is True
        and pod["automountServiceAccountToken"] is False
    )
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == [
            "ALL"
        ]
        assert container["resources"]["limits"]["memory"]
        assert container["livenessProbe"] and container["readinessProbe"]


def test_only_the_worker_gets_the_openai_key() -> None:
    objects = _objects("overlays/production")
    holders = [name for (kind, name), o in objects.items()
               if kind == "Secret" and "OPENAI_API_KEY" in o.get("stringData", {})]  # fmt: skip
    assert holders == ["apex-openai"]
    for name in ("apex-api", "apex-worker"):
        pod = _pod(objects, name)
        refs = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v} | {
            source["secret"]["name"]
            for v in pod["volumes"]
            for source in v.get("projected", {}).get("sources", [])
            if "secret" in source
        }
        assert ("apex-openai" in refs) is (name == "apex-worker"), name
        assert "apex-secrets" in refs
        for container in pod["containers"]:  # secrets as files, never as environment
            assert all("secretRef" not in s for s in container.get("envFrom", []))
            assert all("valueFrom" not in e for e in container.get("env", []))
            env = {e["name"]: e.get("value") for e in container["env"]}
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert env["APEX_SECRETS_DIR"] in mounts


def test_network_policies_deny_by_default_and_select_each_pod() -> None:
    objects = _objects("overlays/production")
    deny = objects[("NetworkPolicy", "default-deny")]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    for name in ("apex-api", "apex-worker"):
        policy = objects[("NetworkPolicy", name)]["spec"]
        labels = objects[("Deployment", name)]["spec"]["template"]["metadata"]["labels"]
        assert policy["podSelector"]["matchLabels"].items() <= labels.items()
        public = [
            rule for rule in policy["egress"]
            for peer in rule.get("to", []) if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"
        ]  # fmt: skip
        assert public and all("10.0.0.0/8" in r["to"][0]["ipBlock"]["except"] for r in public)


def test_config_keys_are_settings_the_app_reads() -> None:
    aliases = {f.alias for f in Settings.model_fields.values() if f.alias} | {SECRETS_DIR_ENV}
    objects = _objects("overlays/production")
    keys = set(objects[("ConfigMap", "apex-config")]["data"])
    for name in ("apex-secrets", "apex-openai"):
        keys |= set(objects[("Secret", name)]["stringData"])
    for name in ("apex-api", "apex-worker"):
        keys |= {e["name"] for c in _pod(objects, name)["containers"] for e in c.get("env", [])}
    assert keys - aliases == set()


def test_prometheus_scrapes_what_the_alerts_select_and_gets_the_same_rules() -> None:
    objects = _objects("overlays/production")
    alerts = yaml.safe_load((ROOT / "deploy/monitoring/alerts.yml").read_text())
    assert objects[("PrometheusRule", "apex")]["spec"]["groups"] == alerts["groups"]
    # The Service's name is the scrape job the availability alerts select.
    assert 'up{job="apex-api"}' in alerts["groups"][0]["rules"][0]["expr"]
    monitor = objects[("ServiceMonitor", "apex")]["spec"]
    ports = {e["port"] for e in monitor["endpoints"]}
    for name in ("apex-api", "apex-worker"):
        service = objects[("Service", name)]
        assert name in monitor["selector"]["matchExpressions"][0]["values"]
        assert {p["name"] for p in service["spec"]["ports"]} <= ports


def test_checkov_finds_nothing_to_fix(tmp_path: Path) -> None:
    checkov = _checkov()
    if checkov is None:
        pytest.skip("checkov is not installed (set CHECKOV=/path/to/checkov)")
    rendered = tmp_path / "production.yaml"
    rendered.write_text(_render("overlays/production"))
    result = subprocess.run(
        [checkov, "-f", str(rendered), "--framework", "kubernetes", "--quiet", "--compact", *JSON],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    failed = report["results"].get("failed_checks", [])
    assert [(c["check_id"], c["resource"]) for c in failed] == [], result.stdout
    assert report["summary"]["parsing_errors"] == 0 and report["summary"]["passed"] > 0
