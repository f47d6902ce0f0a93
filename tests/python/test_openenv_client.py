"""openenv-core 0.3.0's stock GenericEnvClient plays full episodes over /ws; its
observations equal those the HTTP API returns for the same seed and actions."""
import httpx
import pytest
from openenv.core import GenericEnvClient

from episodes import script


def play_ws(url, task_id, seed):
    trajectory = []
    with GenericEnvClient(base_url=url).sync() as env:
        r = env.reset(task_id=task_id, seed=seed, episode_id=f"py-{task_id}-{seed}")
        assert r.reward is None and r.done is False
        trajectory.append((r.observation, r.reward, r.done))
        for action in script(task_id):
            r = env.step(action)
            trajectory.append((r.observation, r.reward, r.done))
        state = env.state()
    return trajectory, state


def play_http(url, task_id, seed):
    trajectory = []
    with httpx.Client(base_url=url) as c:
        r = c.post("/reset", json={"task_id": task_id, "seed": seed, "episode_id": f"py-{task_id}-{seed}"}).json()
        trajectory.append((r["observation"], r["reward"], r["done"]))
        for action in script(task_id):
            r = c.post("/step", json={"action": action}).json()
            trajectory.append((r["observation"], r["reward"], r["done"]))
        state = c.get("/state").json()
    return trajectory, state


@pytest.mark.parametrize("task_id", ["easy", "medium", "hard"])
def test_stock_client_plays_every_task_and_matches_http(server, task_id):
    ws_traj, ws_state = play_ws(server.url, task_id, 17)
    http_traj, http_state = play_http(server.url, task_id, 17)
    assert ws_traj == http_traj
    assert ws_state == http_state
    assert ws_traj[-1][2] is True
    assert ws_traj[-1][0]["last_action_result"]["status"] == "submitted"
    assert ws_state["done"] is True and ws_state["step_count"] == len(script(task_id))
    assert ws_traj[1][1] == 0.02  # first read


def test_stock_client_sees_capacity_as_a_runtime_error(start_server):
    s = start_server("--max-sessions", "1")
    with GenericEnvClient(base_url=s.url).sync() as first:
        first.reset(seed=1)
        second = GenericEnvClient(base_url=s.url).sync()
        with pytest.raises(RuntimeError, match="CAPACITY_REACHED"):
            with second:
                second.reset(seed=2)
        assert first.step({"action_type": "read_config"}).reward == 0.02


def test_step_errors_reach_the_stock_client(server):
    with GenericEnvClient(base_url=server.url).sync() as env:
        env.reset(seed=3)
        with pytest.raises(RuntimeError, match="VALIDATION_ERROR"):
            env.step({"action_type": "read_everything"})
        assert env.step({"action_type": "read_config"}).reward == 0.02


def test_stock_client_plays_a_compact_episode(server):
    full, _ = play_ws(server.url, "medium", 23)
    with GenericEnvClient(base_url=server.url).sync() as env:
        r = env.reset(task_id="medium", seed=23, episode_id="py-medium-23", compact=True)
        assert r.observation == full[0][0], "the reset observation is whole"
        for i, action in enumerate(script("medium"), start=1):
            r = env.step(action)
            lean = dict(full[i][0])
            del lean["task_description"], lean["available_artifacts"]
            assert (r.observation, r.reward, r.done) == (lean, full[i][1], full[i][2])
