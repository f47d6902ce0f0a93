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

from conftest import BIN, ROOT

KUBERNETES_VERSION = "1.32.0"
BUILT_IN = {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "Secret",
            "NetworkPolicy", "ServiceAccount"}
IMAGE = "ghcr.io/mlops-debug-env/mlops-debug-env"
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
                 "PrometheusRule", "HTTPRoute", "BackendTrafficPolicy", "ConfigMap", "NetworkPolicy",
                 "ServiceAccount"]:
        assert kind in kinds, kind
    for d in docs:
        if d["kind"] in BUILT_IN:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
    by_kind = {d["kind"]: d for d in docs}
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    settings = settings_of(docs)
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


def settings_of(docs):
    return next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("mlops-debug-env-settings"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_review_points_hold(overlay):
    docs = render(overlay)
    by_kind = {d["kind"]: d for d in docs}
    deployment = by_kind["Deployment"]
    # the HPA owns the scale: an apply must not reset it
    assert "replicas" not in deployment["spec"]
    pod = deployment["spec"]["template"]["spec"]
    c = pod["containers"][0]
    # the image by digest, set through kustomize `images:` (the overlay's digest has the right shape)
    kustomization = yaml.safe_load(open(os.path.join(ROOT, "deploy", "k8s", "overlays", overlay, "kustomization.yaml")))
    image = next(i for i in kustomization["images"] if i["name"] == IMAGE)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image["digest"]), image
    assert c["image"] == f"{IMAGE}:{image['newTag']}@{image['digest']}"
    # no token committed in any overlay: the tokens Secret is created out of band
    assert not [d for d in docs if d["kind"] == "Secret"]
    assert "secretGenerator" not in kustomization
    # a dedicated ServiceAccount with no token mounted
    sa = by_kind["ServiceAccount"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"] != "default"
    assert sa["automountServiceAccountToken"] is False and pod["automountServiceAccountToken"] is False
    # spread over nodes and zones; scale-down takes the pod with the lowest deletion cost
    keys = {t["topologyKey"] for t in pod["topologySpreadConstraints"]}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    selector = deployment["spec"]["selector"]["matchLabels"]
    for t in pod["topologySpreadConstraints"]:
        assert t["labelSelector"]["matchLabels"].items() <= selector.items()
    assert "controller.kubernetes.io/pod-deletion-cost" in deployment["spec"]["template"]["metadata"]["annotations"]
    # NetworkPolicy: the pods, ingress on the main port and (separately) the admin port, no egress
    policy = by_kind["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= selector.items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"} and policy["egress"] == []
    ports = [[p["port"] for p in rule["ports"]] for rule in policy["ingress"]]
    assert sorted(ports) == [["admin"], ["http"]]
    # kube-prometheus-stack's default selectors
    for kind in ["ServiceMonitor", "PrometheusRule"]:
        assert by_kind[kind]["metadata"]["labels"]["release"], kind
    # the HTTPRoute: namespaced parent on the HTTPS listener, agent paths only, no timeout on /ws
    route = by_kind["HTTPRoute"]["spec"]
    parent = route["parentRefs"][0]
    assert parent["namespace"] and parent["sectionName"] == "https"
    paths = {}
    for rule in route["rules"]:
        for m in rule["matches"]:
            assert m["path"]["type"] == "Exact", m
            paths[m["path"]["value"]] = rule
    assert "/ws" in paths and "timeouts" not in paths["/ws"]
    assert {"/reset", "/step", "/state", "/ws"} <= set(paths)
    for path in paths:
        assert path not in {"/metrics", "/ready"} and not path.startswith("/operator"), path
    # session utilisation can drive the HPA: capacity per pod is not set so high it never nears the target
    capacity = int(settings_of(docs)["data"]["MLOPS_MAX_SESSIONS"])
    assert capacity <= 10_000
    hpa = by_kind["HorizontalPodAutoscaler"]["spec"]
    assert hpa["minReplicas"] >= 1 and hpa["maxReplicas"] >= hpa["minReplicas"]


def serve_defaults():
    """Every flag's default from `mlops-debug-env serve --help`: {flag: default or None}."""
    help_text = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    flags = {}
    for block in re.split(r"\n(?=\s*--)", help_text):
        m = re.match(r"\s*--([a-z0-9-]+)", block)
        if m:
            d = re.search(r"\[default: ([^\]]+)\]", block)
            flags[m.group(1)] = d.group(1) if d else None
    return flags


# Every wait between SIGTERM and exit, in order (src/server/mod.rs serve_with_admin, src/main.rs):
# the drain waits for open episodes up to --drain-timeout-secs; then connections get
# --shutdown-grace-secs; then the session actors get --shutdown-grace-secs again (stop_all).
# A second signal exits at once. A new shutdown flag must be added here (the test fails until it is).
SHUTDOWN_WAITS = ["drain-timeout-secs", "shutdown-grace-secs", "shutdown-grace-secs"]
MARGIN_SECS = 5  # the kubelet's SIGKILL is not to race the process's own exit


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worst_case_shutdown_fits_in_the_grace_period(overlay):
    defaults = serve_defaults()
    shutdown_flags = {f for f in defaults if re.search(r"drain|shutdown|grace", f)}
    assert shutdown_flags == set(SHUTDOWN_WAITS), f"shutdown flags changed: {sorted(shutdown_flags)}"
    docs = render(overlay)
    settings = settings_of(docs)["data"]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    c = pod["containers"][0]

    def value(flag):
        env = "MLOPS_" + flag.upper().replace("-", "_")
        return int(settings.get(env, defaults[flag]))

    worst = c["lifecycle"]["preStop"]["sleep"]["seconds"] + sum(value(f) for f in SHUTDOWN_WAITS)
    assert worst + MARGIN_SECS <= pod["terminationGracePeriodSeconds"], (worst, pod["terminationGracePeriodSeconds"])


def test_production_passes_checkov_with_every_skip_justified(tmp_path):
    checkov = os.path.join(ROOT, ".venv-checkov", "bin", "checkov")
    assert os.path.exists(checkov), "scripts/test.sh installs checkov into .venv-checkov"
    docs = render("production")
    for d in docs:
        for key, reason in d["metadata"].get("annotations", {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, why = reason.partition("=")
                assert re.fullmatch(r"CKV_K8S_\d+", check) and len(why.split()) >= 8, (key, reason)
    manifest = tmp_path / "production.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    result = subprocess.run([checkov, "--framework", "kubernetes", "-f", str(manifest), "--output", "json",
                             "--skip-download"],
                            capture_output=True, text=True)
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]]
    assert summary["failed"] == 0 and result.returncode == 0, failed
    assert summary["passed"] >= 50
    skipped = report["results"]["skipped_checks"]
    assert all(len(s["check_result"].get("suppress_comment", "").split()) >= 8 for s in skipped), skipped


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
    names = {r["alert"] for g in rules()["groups"] for r in g["rules"] if "alert" in r}
    assert len(names) == 6


def adapter_values():
    return yaml.safe_load(open(os.path.join(ROOT, "deploy", "prometheus-adapter", "values.yaml")))


def test_adapter_rules_are_chart_values():
    rules = adapter_values()["rules"]["custom"]
    assert [r["name"]["as"] for r in rules] == ["mlops_session_utilisation"]
    assert all("<<.LabelMatchers>>" in r["metricsQuery"] and "<<.GroupBy>>" in r["metricsQuery"] for r in rules)
    # not a ConfigMap in the app's namespace, which the adapter would not read
    assert not [d for d in render("production") if d["kind"] == "ConfigMap" and "adapter" in d["metadata"]["name"]]


def named_metrics():
    texts = [json.dumps(json.load(open(os.path.join(ROOT, "deploy", "grafana", "mlops-debug-env.json"))))]
    texts.append(json.dumps(rules()))
    texts.append(json.dumps(adapter_values()))
    names = set()
    for t in texts:
        # recording rules (level:metric:operations) are not the farm's
        for m in re.findall(r"(?<![:\w])mlops_[a-z_]+(?![:\w])", t):
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
