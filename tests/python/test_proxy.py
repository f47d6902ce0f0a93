"""Three farm processes on loopback behind nginx (deploy/nginx), consistent
hashing on the session header/cookie: 300 HTTP sessions complete with
trajectories equal to solo runs and spread over all three; SIGTERM to one
drains it without touching the others, and its sessions then get a clear
error, never another session's state. WebSocket sessions work through the
proxy too."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from openenv.core import GenericEnvClient

from conftest import ROOT, Server
from episodes import script

SESSIONS = 300
OPERATOR = "op-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert os.path.exists(nginx), "nginx is required: scripts/test.sh installs the Debian package"
    farms, proc, runtime = [], None, tempfile.mkdtemp(prefix="mlops-nginx-")
    try:
        farms = [Server("--operator-token", OPERATOR, "--drain-timeout-secs", "2") for _ in range(3)]
        port = free_port()
        conf = open(os.path.join(ROOT, "deploy", "nginx", "nginx.conf.template")).read()
        # Only these placeholders, as `envsubst '${UPSTREAM_SERVERS} ...'` does: nginx's own $variables stay.
        for name, value in {
            "UPSTREAM_SERVERS": " ".join(f"server {f.addr};" for f in farms),
            "LISTEN_PORT": str(port),
            "RUNTIME_DIR": runtime,
        }.items():
            conf = conf.replace("${" + name + "}", value)
        path = os.path.join(runtime, "nginx.conf")
        open(path, "w").write(conf)
        proc = subprocess.Popen([nginx, "-c", path, "-p", runtime, "-g", "daemon off;"], stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url, farms
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        for f in farms:
            if f.proc.poll() is None:
                f.stop()
        shutil.rmtree(runtime, ignore_errors=True)


def play(base, i, steps):
    """Plays the first `steps` scripted actions of episode i; the cookie jar is the only session handle."""
    task_id = ["easy", "medium", "hard"][i % 3]
    c = httpx.Client(base_url=base)
    r = c.post("/reset", json={"task_id": task_id, "seed": 500 + i, "episode_id": f"proxy-{i}"})
    assert r.status_code == 200, r.text
    first = r.json()
    first["observation"].pop("messages")  # says whether the id was proposed by a proxy
    first.pop("session_id")
    assert len(first.pop("session_secret")) == 32  # the session is new: its secret comes once
    trajectory = [first]
    for action in script(task_id)[:steps]:
        trajectory.append(c.post("/step", json={"action": action}).json())
    return c, r.headers["x-session-id"], trajectory


def owners(farms):
    """Which instance holds each session id (from the operator routes)."""
    held = {}
    for i, f in enumerate(farms):
        listing = httpx.get(f"{f.url}/operator/sessions", headers={"Authorization": f"Bearer {OPERATOR}"}).json()
        for s in listing["sessions"]:
            held[s["session_id"]] = i
    return held


def created(farm):
    text = httpx.get(f"{farm.url}/metrics").text
    m = re.search(r'^mlops_sessions_created_total\{transport="http"\} (\S+)', text, re.M)
    return float(m.group(1))


def test_sessions_through_the_proxy(cluster):
    url, farms = cluster
    with ThreadPoolExecutor(max_workers=16) as pool:
        proxied = list(pool.map(lambda i: play(url, i, 3), range(SESSIONS)))
        # each episode played alone, straight to one instance
        solo = list(pool.map(lambda i: play(farms[0].url, i, 3)[2], range(SESSIONS)))
    for i in range(SESSIONS):
        assert proxied[i][2] == solo[i], f"session {i} differs from its solo run"
    counts = [created(f) for f in farms]
    assert all(c >= 30 for c in counts), f"sessions per instance: {counts}"

    # WebSocket sessions need no stickiness.
    with GenericEnvClient(base_url=url).sync() as env:
        env.reset(task_id="hard", seed=3)
        assert env.step({"action_type": "read_config"}).reward == 0.02

    # SIGTERM one instance: it drains; the others' sessions are unaffected.
    held = owners(farms)
    owners_of = [held.get(sid) for _, sid, _ in proxied]
    victim = 1
    on_victim = [p for p, o in zip(proxied, owners_of) if o == victim]
    elsewhere = [p for p, o in zip(proxied, owners_of) if o != victim]
    assert on_victim and elsewhere
    farms[victim].proc.send_signal(__import__("signal").SIGTERM)
    # while draining, the victim still serves its open episodes
    c, sid, _ = on_victim[0]
    state = c.get("/state")
    assert state.status_code == 200 and state.json()["episode_id"].startswith("proxy-")
    assert farms[victim].proc.wait(timeout=20) == 0, "the drained instance exits 0"
    for c, sid, traj in elsewhere[:40]:
        r = c.post("/step", json={"action": {"action_type": "read_eval_results"}})
        assert r.status_code == 200, r.text
        assert r.headers["x-session-id"] == sid
    # the stopped instance's sessions get a clear error, never another session's state
    for c, sid, traj in on_victim:
        r = c.get("/state")
        if r.status_code == 200:
            assert r.headers["x-session-id"] == sid and r.json()["episode_id"] == traj[0]["observation"]["episode_id"]
        else:
            assert r.status_code in (404, 410, 502, 503), r.text
            if r.status_code in (404, 410):
                assert r.json()["error"]["code"] in ("SESSION_NOT_FOUND", "SESSION_EXPIRED")
