"""Deployment artifacts checked with real tools: kubectl kustomize renders every
overlay, built-in kinds validate against a pinned Kubernetes version, promtool
accepts the alert rules, every metric the dashboard, alerts and adapter name
exists in a live exposition, and hadolint accepts the Dockerfile."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import httpx
import kubernetes_validate
import pytest
import yaml

from conftest import ROOT

KUBERNETES_VERSION = "1.32.0"
BUILT_IN = {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "Secret"}
OVERLAYS = ["dev", "production"]


def render(overlay):
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required (kubectl kustomize renders the overlays offline)"
    out = subprocess.run([kubectl, "kustomize", os.path.join(ROOT, "deploy", "k8s", "overlays", overlay)],
                         capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_render_and_validate(overlay):
    docs = render(overlay)
    kinds = {d["kind"] for d in docs}
    for kind in ["Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceMonitor",
                 "PrometheusRule", "HTTPRoute", "BackendTrafficPolicy", "ConfigMap"]:
        assert kind in kinds, kind
    for d in docs:
        if d["kind"] in BUILT_IN:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
    by_kind = {d["kind"]: d for d in docs}
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    settings = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("mlops-debug-env-settings"))
    drain = int(settings["data"]["MLOPS_DRAIN_TIMEOUT_SECS"]) + int(settings["data"]["MLOPS_SHUTDOWN_GRACE_SECS"])
    assert pod["terminationGracePeriodSeconds"] > drain + c["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health" and c["readinessProbe"]["httpGet"]["path"] == "/ready"
    # probes and scrapes go to the admin port, outside the connection cap
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["admin"] == int(settings["data"]["MLOPS_ADMIN_PORT"]) != ports["http"]
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"]:
        assert c[probe]["httpGet"]["port"] == "admin", probe
    assert by_kind["ServiceMonitor"]["spec"]["endpoints"][0]["port"] == "admin"
    assert "admin" in {p["name"] for p in by_kind["Service"]["spec"]["ports"]}
    assert "MLOPS_HIDE_GROUND_TRUTH" not in settings["data"], "hidden by default since 2.0.0"
    assert pod["securityContext"]["runAsNonRoot"] and c["securityContext"]["readOnlyRootFilesystem"]
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert any(e.get("configMapRef") for e in c["envFrom"])
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in c["env"]} == {"mlops-debug-env-tokens"}
    hpa = by_kind["HorizontalPodAutoscaler"]["spec"]["metrics"]
    assert hpa[0]["pods"]["metric"]["name"] == "mlops_session_utilisation" and hpa[1]["resource"]["name"] == "cpu"
    policy = by_kind["BackendTrafficPolicy"]["spec"]["loadBalancer"]
    assert policy["consistentHash"]["header"]["name"] == "X-Session-Id"
    service_port = by_kind["Service"]["spec"]["ports"][0]["port"]
    assert by_kind["HTTPRoute"]["spec"]["rules"][0]["backendRefs"][0]["port"] == service_port


def rules():
    rule = next(d for d in render("production") if d["kind"] == "PrometheusRule")
    return {"groups": rule["spec"]["groups"]}


def test_promtool_accepts_the_alert_rules():
    promtool = shutil.which("promtool")
    assert promtool
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(rules(), f)
    result = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    os.unlink(f.name)
    assert result.returncode == 0, result.stdout + result.stderr
    names = {r["alert"] for g in rules()["groups"] for r in g["rules"]}
    assert len(names) == 5


def named_metrics():
    texts = [json.dumps(json.load(open(os.path.join(ROOT, "deploy", "grafana", "mlops-debug-env.json"))))]
    texts.append(json.dumps(rules()))
    adapter = next(d for d in render("production") if d["kind"] == "ConfigMap" and "adapter" in d["metadata"]["name"])
    texts.append(adapter["data"]["config.yaml"])
    names = set()
    for t in texts:
        for m in re.findall(r"\bmlops_[a-z_]+", t):
            names.add(re.sub(r"_(bucket|sum|count)$", "", m))
    # the adapter's derived metric is served by the adapter, not the farm
    names.discard("mlops_session_utilisation")
    return names


def test_every_metric_named_in_dashboard_alerts_and_adapter_exists(server):
    exposition = httpx.get(f"{server.url}/metrics").text
    exported = set(re.findall(r"^# TYPE (\S+) ", exposition, re.M))
    names = named_metrics()
    assert len(names) >= 12
    missing = names - exported
    assert not missing, f"named but not exported: {sorted(missing)}"


def test_dockerfile_passes_hadolint_and_has_the_properties():
    dockerfile = os.path.join(ROOT, "deploy", "Dockerfile")
    hadolint = os.path.join(os.path.dirname(sys.executable), "hadolint")
    result = subprocess.run([hadolint, "--failure-threshold", "warning", dockerfile], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = open(dockerfile).read()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage"
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("0", "root")), "runs as non-root"
    assert re.search(r"^EXPOSE 7860", text, re.M) and re.search(r"^HEALTHCHECK .*\n?.*/health", text, re.M)
    assert "COPY --from=build" in text
    ignore = open(os.path.join(ROOT, ".dockerignore")).read().split()
    assert "target/" in ignore and ".git/" in ignore
