"""The alert rules, recording rules, adapter rule and dashboard on a real Prometheus.

- `promtool test rules` runs tests/prometheus/alerts_test.yaml against the rules
  rendered from the production overlay's PrometheusRule: every alert fires on a
  series that should fire it and stays silent on one that should not.
- Debian's `prometheus` server, started here on loopback with a free port,
  scrapes the admin ports of three farms (free ports) while a bounded load of
  mixed HTTP episodes runs (submitted, truncated by invalid actions, abandoned),
  with the rules of the rendered PrometheusRule loaded. Cluster series the farm
  does not export (kube-state-metrics' HPA series, cAdvisor's CPU throttling)
  are backfilled with `promtool tsdb create-blocks-from openmetrics` before the
  server starts. Every query of the Grafana dashboard (variables substituted),
  every alert expression and the adapter's metricsQuery is then evaluated
  through the HTTP API and must return data with sane values.
"""
import json
import math
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import httpx
import pytest
import yaml

from conftest import ROOT, Server
from test_deploy import adapter_values, render

NAMESPACE = "mlops-test"
PODS = ["farm-0", "farm-1", "farm-2"]
TASKS = ["easy", "medium", "hard"]
CAPACITY = 20  # --max-sessions per farm
HELD = 4  # sessions each farm holds open, untouched, through the test
WORKERS = 3  # load threads per farm
LOAD_SECS = 28  # the load runs this long (and at most MAX_STEPS steps)
MAX_STEPS = 30_000
SCRAPE = "2s"
# What Grafana substitutes: $__rate_interval is max(4 x scrape interval, $__interval + scrape interval);
# 20 s is what a dashboard range of a few minutes gives on a 2 s scrape (and leaves the window
# inside the load's steady phase). $__range is the dashboard's time range.
RATE_INTERVAL = "20s"
RANGE = "5m"
THROTTLED = {"farm-0": 0.1, "farm-1": 0.25, "farm-2": 0.4}  # backfilled CPU throttling ratio per pod
REPLICAS = {"current": 3, "desired": 4, "max": 20}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rendered_rules():
    rule = next(d for d in render("production") if d["kind"] == "PrometheusRule")
    return {"groups": rule["spec"]["groups"]}


def alerts():
    return [r for g in rendered_rules()["groups"] for r in g["rules"] if "alert" in r]


# ---------------------------------------------------------------- promtool unit tests


def test_promtool_unit_tests_cover_every_alert(tmp_path):
    promtool = shutil.which("promtool")
    assert promtool, "scripts/test.sh installs promtool (Debian package prometheus)"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rendered_rules()))
    source = os.path.join(ROOT, "tests", "prometheus", "alerts_test.yaml")
    shutil.copy(source, tmp_path / "alerts_test.yaml")
    tests = yaml.safe_load(open(source))["tests"]
    fires, silent = set(), set()
    for group in tests:
        for case in group["alert_rule_test"]:
            (fires if case["exp_alerts"] else silent).add(case["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names <= fires, f"no firing case for {sorted(names - fires)}"
    assert names <= silent, f"no silent case for {sorted(names - silent)}"
    result = subprocess.run([promtool, "test", "rules", str(tmp_path / "alerts_test.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr
    # the unit tests can fail: an alert that never fires is caught
    broken = rendered_rules()
    for g in broken["groups"]:
        for r in g["rules"]:
            if r.get("alert") == "MlopsActorPanics":
                r["expr"] = r["expr"].replace("> 0", "> 1")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(broken))
    result = subprocess.run([promtool, "test", "rules", str(tmp_path / "alerts_test.yaml")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "MlopsActorPanics" in result.stdout + result.stderr


# ---------------------------------------------------------------- backfilled cluster series


def openmetrics(start, end, step=5):
    """kube-state-metrics HPA series and cAdvisor CFS counters for the three pods, start..end."""
    times = list(range(start, end + 1, step))
    hpa = f'namespace="{NAMESPACE}",horizontalpodautoscaler="mlops-debug-env"'
    out = []
    for name, value in [("kube_horizontalpodautoscaler_status_current_replicas", REPLICAS["current"]),
                        ("kube_horizontalpodautoscaler_status_desired_replicas", REPLICAS["desired"]),
                        ("kube_horizontalpodautoscaler_spec_max_replicas", REPLICAS["max"])]:
        out.append(f"# TYPE {name} gauge")
        out += [f"{name}{{{hpa}}} {value} {t}" for t in times]
    out.append("# TYPE kube_horizontalpodautoscaler_status_condition gauge")
    for status, value in [("true", 1), ("false", 0), ("unknown", 0)]:
        out += [f'kube_horizontalpodautoscaler_status_condition{{{hpa},condition="ScalingActive",status="{status}"}} '
                f"{value} {t}" for t in times]
    # 100 ms CFS periods: ten a second; a fixed share of them throttled per pod.
    for family, share in [("container_cpu_cfs_periods", None), ("container_cpu_cfs_throttled_periods", True)]:
        out.append(f"# TYPE {family} counter")
        for pod in PODS:
            labels = f'namespace="{NAMESPACE}",pod="{pod}",container="farm"'
            for t in times:
                periods = 10 * (t - start)
                value = periods * THROTTLED[pod] if share else periods
                out.append(f"{family}_total{{{labels}}} {value} {t}")
    out.append("# EOF")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- the load


class Load:
    """Mixed HTTP episodes on one farm: full scripted episodes (submitted), invalid actions
    until the farm truncates (--max-invalid-actions 2), and episodes closed half-way
    (abandoned). Every step the farm's session answered is timestamped."""

    def __init__(self, url, deadline, budget):
        self.url, self.deadline, self.budget = url, deadline, budget
        self.steps = []
        self.episodes = {"submitted": 0, "truncated": 0, "abandoned": 0}
        self.error = None

    def run(self, worker):
        try:
            with httpx.Client(base_url=self.url, timeout=10) as c:
                i = worker
                while time.time() < self.deadline and self.budget.get() < MAX_STEPS:
                    self.episode(c, i)
                    i += WORKERS
        except Exception as e:  # reported by the test
            self.error = repr(e)

    def step(self, c, headers, action):
        r = c.post("/step", json={"action": action}, headers=headers)
        # 422: an invalid action, which the session still counts as a step (outcome="invalid")
        assert r.status_code in (200, 422), r.text
        self.steps.append(time.time())
        return r

    def episode(self, c, i):
        from episodes import script

        task = TASKS[i % 3]
        r = c.post("/reset", json={"task_id": task, "seed": 10_000 + i})
        assert r.status_code == 200, r.text
        body = r.json()
        headers = {"X-Session-Id": body["session_id"], "X-Session-Secret": body["session_secret"]}
        kind = (i // 3) % 3  # each worker keeps its task (i % 3) and cycles through the kinds
        if kind == 0:
            for action in script(task):
                last = self.step(c, headers, action)
            assert last.json()["done"]
            self.episodes["submitted"] += 1
        elif kind == 1:
            self.step(c, headers, {"action_type": "not_an_action"})
            last = self.step(c, headers, {"action_type": "not_an_action"})
            assert last.status_code == 200 and last.json()["done"], last.text
            self.episodes["truncated"] += 1
        else:
            for action in script(task)[:3]:
                self.step(c, headers, action)
            self.episodes["abandoned"] += 1
        assert c.post("/close", headers=headers).status_code in (200, 204)


class Budget:
    def __init__(self, loads):
        self.loads = loads

    def get(self):
        return sum(len(l.steps) for l in self.loads)


# ---------------------------------------------------------------- the cluster


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    prom, promtool = shutil.which("prometheus"), shutil.which("promtool")
    assert prom and promtool, "scripts/test.sh installs the Debian package prometheus"
    tmp = tmp_path_factory.mktemp("prometheus")
    farms, proc = [], None
    try:
        for _ in PODS:
            farm = Server("--admin-port", "0", "--max-sessions", str(CAPACITY), "--max-invalid-actions", "2")
            admin = re.search(r"admin on http://([\d.]+:\d+)", farm.proc.stdout.readline())
            assert admin, "the farm prints its admin address"
            farm.admin = admin.group(1)
            farms.append(farm)
        # cluster series, backfilled up to a few seconds ago (the head then takes the live scrapes)
        backfill_end = int(time.time()) - 2
        (tmp / "cluster.om").write_text(openmetrics(backfill_end - 600, backfill_end))
        data = tmp / "data"
        result = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(tmp / "cluster.om"),
                                 str(data)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        (tmp / "rules.yaml").write_text(yaml.safe_dump(rendered_rules()))
        config = {
            "global": {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE},
            "rule_files": [str(tmp / "rules.yaml")],
            "scrape_configs": [{
                "job_name": "mlops-debug-env",
                "static_configs": [{"targets": [f.admin],
                                    "labels": {"namespace": NAMESPACE, "pod": pod, "container": "farm"}}
                                   for f, pod in zip(farms, PODS)],
            }],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        proc = subprocess.Popen([prom, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=open(tmp / "prometheus.log", "w"))
        api = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{api}/-/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp / "prometheus.log").read_text()
            time.sleep(0.1)
        else:
            pytest.fail("prometheus did not become ready: " + (tmp / "prometheus.log").read_text())
        # Sessions held open (no steps): utilisation has a known value on every pod.
        for f in farms:
            for i in range(HELD):
                assert httpx.post(f"{f.url}/reset", json={"task_id": TASKS[i % 3]}).status_code == 200
        # the load
        time.sleep(4)  # a couple of scrapes before the load, so every counter starts from a sample
        start = time.time()
        loads = [Load(f.url, start + LOAD_SECS, None) for f in farms]
        budget = Budget(loads)
        threads = []
        for load in loads:
            load.budget = budget
            for w in range(WORKERS):
                t = threading.Thread(target=load.run, args=(w,))
                t.start()
                threads.append(t)
        for t in threads:
            t.join(timeout=LOAD_SECS + 60)
        end = time.time()
        for load in loads:
            assert load.error is None, load.error
        time.sleep(6)  # scrapes and rule evaluations after the load
        yield {"api": api, "farms": farms, "loads": loads, "start": start, "end": end,
               "backfill_end": backfill_end, "log": tmp / "prometheus.log"}
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for f in farms:
            if f.proc.poll() is None:
                f.stop()


def query(api, expr, at):
    r = httpx.get(f"{api}/api/v1/query", params={"query": expr, "time": f"{at:.3f}"}, timeout=30)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (expr, body)
    assert body["data"]["resultType"] == "vector", (expr, body["data"]["resultType"])
    return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]


def substitute(expr):
    return (expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__range", RANGE)
            .replace("$namespace", NAMESPACE).replace("$task", "(" + "|".join(TASKS) + ")"))


CLUSTER = re.compile(r"\b(kube_|container_)")


def at_time(cluster, expr):
    """Cluster series are backfilled up to backfill_end; the farms' are live until the load's end."""
    if CLUSTER.search(expr):
        return cluster["backfill_end"]
    return cluster["eval_at"]


@pytest.fixture(scope="module")
def cluster(prometheus):
    c = dict(prometheus)
    c["eval_at"] = c["end"] - 1  # the last scrapes inside the load
    return c


def test_the_load_was_mixed_and_counted_exactly(cluster):
    loads = cluster["loads"]
    for load, farm in zip(loads, cluster["farms"]):
        assert all(n > 0 for n in load.episodes.values()), load.episodes
        exposition = httpx.get(f"http://{farm.admin}/metrics").text
        steps = sum(float(v) for v in re.findall(r"^mlops_steps_total\{[^}]*\} (\S+)$", exposition, re.M))
        assert steps == len(load.steps), (steps, len(load.steps))
    assert sum(len(l.steps) for l in loads) <= MAX_STEPS + len(PODS) * WORKERS * 6


def test_rules_load_and_evaluate_without_errors(cluster):
    groups = httpx.get(f"{cluster['api']}/api/v1/rules").json()["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) == sum(len(g["rules"]) for g in rendered_rules()["groups"])
    for r in rules:
        assert r["health"] == "ok", r
    targets = httpx.get(f"{cluster['api']}/api/v1/targets").json()["data"]["activeTargets"]
    assert len(targets) == 3 and all(t["health"] == "up" for t in targets), targets


def steps_counted(cluster, window_secs):
    at = cluster["eval_at"]
    return sum(1 for l in cluster["loads"] for t in l.steps if at - window_secs < t <= at) / window_secs


def test_every_dashboard_query_returns_sane_data(cluster):
    dashboard = json.load(open(os.path.join(ROOT, "deploy", "grafana", "mlops-debug-env.json")))
    api = cluster["api"]
    results = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = substitute(target["expr"])
            assert "$" not in expr, expr
            samples = query(api, expr, at_time(cluster, expr))
            assert samples, f"{panel['title']}: no data for {expr}"
            for _, v in samples:
                # an episode's return may be negative (penalties); everything else is a count, rate or ratio
                assert math.isfinite(v) and (v >= 0 or "return" in panel["title"]), (panel["title"], expr, v)
            results.setdefault(panel["title"], []).append(samples)

    def values(title, i=0):
        return [v for _, v in results[title][i]]

    # throughput: the dashboard's steps/s is what the load generator counted in the same window
    expected = steps_counted(cluster, int(RATE_INTERVAL.rstrip("s")))
    measured = sum(values("Steps/s by task"))
    print(f"steps/s over {RATE_INTERVAL}: dashboard {measured:.1f}, load generator {expected:.1f}")
    assert expected > 0 and 0.75 <= measured / expected <= 1.25, (measured, expected)
    assert {m["task"] for m, _ in results["Steps/s by task"][0]} == set(TASKS)
    assert {m["outcome"] for m, _ in results["Episodes/s by task and outcome"][0]} >= {"submitted", "truncated",
                                                                                      "abandoned"}
    assert sum(values("Invalid actions/s by task")) > 0
    # sessions: utilisation in [0, 1], capacity as configured, one series per pod
    utilisation = results["Session utilisation per pod"][0]
    assert {m["pod"] for m, _ in utilisation} == set(PODS)
    assert all(HELD / CAPACITY <= v <= 1 for _, v in utilisation), utilisation
    assert values("Active sessions vs capacity per pod", 1) == [CAPACITY] * 3
    # latency quantiles ordered
    for title in ["Step latency p50 / p95 / p99", "Reset latency p50 / p95 / p99"]:
        p50, p95, p99 = (values(title, i)[0] for i in range(3))
        assert 0 < p50 <= p95 <= p99, (title, p50, p95, p99)
    for (m50, p50), (m90, p90) in zip(sorted(results["Episode length (steps) p50 / p90 by task"][0], key=str),
                                      sorted(results["Episode length (steps) p50 / p90 by task"][1], key=str)):
        assert m50 == m90 and 0 < p50 <= p90 <= 20, (m50, p50, p90)
    assert all(0 <= v <= 1 for v in values("Mean score by task"))
    assert values("Actor panics (time range)") == [0]
    assert values("WebSocket connections") == [0]
    assert sum(values("HTTP requests/s by route and status")) > 0
    assert len(results["Build info"][0]) == 3
    # backfilled cluster series
    replicas = "Replicas (HPA current / desired / max) and scraped pods"
    assert [values(replicas, i) for i in range(4)] == [[REPLICAS["current"]], [REPLICAS["desired"]],
                                                       [REPLICAS["max"]], [len(PODS)]]
    throttling = {m["pod"]: v for m, v in results["CPU throttling per pod"][0]}
    assert throttling.keys() == THROTTLED.keys()
    for pod, share in THROTTLED.items():
        assert abs(throttling[pod] - share) < 1e-6, throttling


def alert_parts(expr):
    """An alert's expression without its threshold: each side of a top-level `and`."""
    parts = re.split(r"\s+and\s+", expr)
    return [re.sub(r"\s*(==|!=|>=|<=|>|<)\s*[0-9.]+\s*$", "", p) for p in parts]


def test_every_alert_and_adapter_expression_returns_data(cluster):
    api = cluster["api"]
    for rule in alerts():
        for part in alert_parts(rule["expr"]):
            assert not re.search(r"(==|>|<)\s*[0-9.]+\s*$", part), part
            samples = query(api, part, at_time(cluster, part))
            assert samples, f"{rule['alert']}: no data for {part}"
            assert all(math.isfinite(v) and v >= 0 for _, v in samples), (rule["alert"], samples)
    # after the load only the held sessions are open: utilisation is exactly HELD / CAPACITY per pod,
    # from the recording rule and from the adapter's query (as the adapter expands it for the HPA)
    now = time.time()
    recorded = query(api, f'namespace_pod:mlops_session_utilisation:ratio{{namespace="{NAMESPACE}"}}', now)
    assert sorted((m["pod"], v) for m, v in recorded) == [(p, HELD / CAPACITY) for p in PODS]
    for rule in adapter_values()["rules"]["custom"]:
        expr = (rule["metricsQuery"].replace("<<.LabelMatchers>>", f'namespace="{NAMESPACE}",pod=~"{"|".join(PODS)}"')
                .replace("<<.GroupBy>>", "pod"))
        samples = query(api, expr, now)
        assert sorted((m["pod"], v) for m, v in samples) == [(p, HELD / CAPACITY) for p in PODS], samples
        series = httpx.get(f"{api}/api/v1/series", params={"match[]": rule["seriesQuery"]}).json()["data"]
        assert {s["pod"] for s in series} == set(PODS)
    # nothing fires on a healthy farm (the backfilled HPA reports its metrics readable)
    firing = [a for a in httpx.get(f"{api}/api/v1/alerts").json()["data"]["alerts"] if a["state"] == "firing"]
    assert not firing, firing
