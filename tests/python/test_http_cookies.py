"""httpx.Client sessions that rely on cookies alone play in parallel and never
see each other's state; a request naming no session gets 404."""
from concurrent.futures import ThreadPoolExecutor

import httpx

from episodes import script


def play(url, i):
    task_id = ["easy", "medium", "hard"][i % 3]
    with httpx.Client(base_url=url) as c:  # the cookie jar is the only session handle
        r = c.post("/reset", json={"task_id": task_id, "seed": 1000 + i, "episode_id": f"cookie-{i}"})
        assert r.status_code == 200
        for action in script(task_id)[:-1]:
            assert c.post("/step", json={"action": action}).status_code == 200
            state = c.get("/state").json()
            assert state["episode_id"] == f"cookie-{i}" and state["seed"] == 1000 + i
        return c.get("/state").json()


def test_cookie_sessions_are_isolated(server):
    with ThreadPoolExecutor(max_workers=16) as pool:
        states = list(pool.map(lambda i: play(server.url, i), range(48)))
    assert [s["episode_id"] for s in states] == [f"cookie-{i}" for i in range(48)]
    assert all(s["step_count"] == 5 for s in states)


def test_no_session_is_404(server):
    r = httpx.post(f"{server.url}/step", json={"action": {"action_type": "read_config"}})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "SESSION_NOT_FOUND"
    r = httpx.get(f"{server.url}/state")
    assert r.status_code == 404
