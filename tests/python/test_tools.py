"""Real tools against a live farm: `openenv validate --url` and `promtool check metrics`."""
import os
import shutil
import subprocess
import sys

import httpx


def test_openenv_validate_passes(server):
    openenv = os.path.join(os.path.dirname(sys.executable), "openenv")
    result = subprocess.run([openenv, "validate", "--url", server.url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_exposition(server):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/test.sh installs the Debian package prometheus"
    with httpx.Client(base_url=server.url) as c:
        c.post("/reset", json={"seed": 5})
        c.post("/step", json={"action": {"action_type": "read_config"}})
        exposition = c.get("/metrics").text
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stdout + result.stderr
