"""The Grafana dashboard, statically: it type-checks against the Dashboard type
Grafana publishes (npm @grafana/schema, with TypeScript's excess-property
checks), its range windows are $__rate_interval (or $__range), and each
variable filters every selector of every panel it names (namespace: every
panel). Its queries are evaluated on a real Prometheus in test_prometheus.py."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "mlops-debug-env.json")
CHECKER = os.path.join(ROOT, "tests", "grafana")
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
FUNCTIONS = {"sum", "max", "min", "count", "rate", "increase", "histogram_quantile", "by", "le", "avg"}


def dashboard():
    return json.load(open(DASHBOARD))


def exprs(panel):
    return [t["expr"] for t in panel.get("targets", [])]


def type_check(path, tmp_path):
    tsc = os.path.join(CHECKER, "node_modules", ".bin", "tsc")
    assert os.path.exists(tsc), "scripts/test.sh installs tests/grafana's node_modules (npm ci)"
    source = tmp_path / "dashboard.ts"
    # Inside tests/grafana so that @grafana/schema resolves from its node_modules.
    target = os.path.join(CHECKER, f"check-{os.getpid()}-{tmp_path.name}.ts")
    source.write_text('import type { Dashboard } from "@grafana/schema";\n'
                      f"const dashboard: Dashboard = {json.dumps(json.load(open(path)), indent=1)};\n"
                      "export default dashboard;\n")
    shutil.copy(source, target)
    try:
        return subprocess.run([tsc, "--noEmit", "--strict", "--skipLibCheck", "--moduleResolution", "bundler",
                               "--module", "esnext", "--target", "es2022", target],
                              capture_output=True, text=True, cwd=CHECKER)
    finally:
        os.unlink(target)


def test_dashboard_type_checks_against_grafana_schema(tmp_path):
    result = type_check(DASHBOARD, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # the check can fail: a wrongly typed field is refused
    broken = dashboard()
    broken["panels"][0]["gridPos"]["w"] = "wide"
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(broken))
    result = type_check(str(bad), tmp_path)
    assert result.returncode != 0 and "TS2322" in result.stdout, result.stdout + result.stderr


def test_windows_are_rate_interval():
    d = dashboard()
    windows = [w for p in d["panels"] for e in exprs(p) for w in re.findall(r"\[([^\]]+)\]", e)]
    assert windows and set(windows) <= {"$__rate_interval", "$__range"}, set(windows)
    assert windows.count("$__rate_interval") >= 15


def test_variables_filter_every_panel_they_name():
    d = dashboard()
    variables = {v["name"] for v in d["templating"]["list"] if v["type"] != "datasource"}
    assert variables == {"namespace", "task"}
    panels = d["panels"]
    assert len(panels) >= 20
    named = {"task": 0}
    for p in panels:
        for e in exprs(p):
            # every metric is read through a selector, and every selector filters the namespace
            bare = set(re.findall(r"\b([a-z_:]+)\b(?![{(\s]*[{(])", SELECTOR.sub("", e))) - FUNCTIONS
            assert not {b for b in bare if b.startswith(("mlops_", "kube_", "container_", "namespace_"))}, (p["title"], e)
            for metric, matchers in SELECTOR.findall(e):
                assert 'namespace=~"$namespace"' in matchers, (p["title"], metric)
                if "task" in p["title"].lower():
                    assert 'task=~"$task"' in matchers, (p["title"], metric)
                    named["task"] += 1
    assert named["task"] >= 8
    titles = " | ".join(p["title"].lower() for p in panels)
    for wanted in ["invalid action", "reset latency", "replicas", "cpu throttling"]:
        assert wanted in titles, wanted
