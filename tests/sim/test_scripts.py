"""Scripted play policies: goal-reaching attempts make progress, play stays in bounds."""

import gymnasium as gym
import numpy as np
import pytest

from viva_robot.config import TASK_NAMES
from viva_robot.sim.tasks import get_task, make_env, make_policy


def _env(task: str) -> gym.Env:
    return make_env(get_task(task))


def _run(task, kind, noise=0.0, steps=None, seed=0, on_step=None):
    """Roll one episode; returns the first step with task success (or None) and the env."""
    env = _env(task)
    env.reset(seed=seed)
    model, data = env.unwrapped.model, env.unwrapped.data
    policy = make_policy(task, kind, np.random.default_rng(seed), noise)
    first_success = None
    for t in range(steps or env.spec.max_episode_steps):
        action = policy(model, data)
        assert action.shape == env.action_space.shape
        assert np.all(np.isfinite(action)) and np.all(np.abs(action) <= 1.0)
        env.step(action)
        assert np.all(np.isfinite(data.qpos))
        if on_step:
            on_step(t, model, data)
        if first_success is None and get_task(task).success(model, data):
            first_success = t + 1
    return first_success, env


@pytest.mark.parametrize("task", ["kitchen-microwave", "kitchen-slide-cabinet"])
def test_kitchen_scripted_succeeds_without_noise(task):
    first_success, _ = _run(task, "scripted")
    assert first_success is not None and first_success <= 280


def test_success_is_false_at_reset():
    for task in TASK_NAMES:
        env = _env(task)
        env.reset(seed=0)
        assert not get_task(task).success(env.unwrapped.model, env.unwrapped.data), task


def test_door_scripted_reaches_handle_and_turns_latch():
    dist = []

    def palm_to_handle(t, model, data):
        dist.append(np.linalg.norm(data.site("S_grasp").xpos - data.site("S_handle").xpos))

    _, env = _run("door", "scripted", steps=110, on_step=palm_to_handle)
    data = env.unwrapped.data
    assert min(dist) < 0.3 * dist[0]
    assert data.qpos[env.unwrapped.model.joint("latch").qposadr[0]] > 0.5


@pytest.mark.parametrize("task", ["kitchen-microwave", "door"])
def test_play_is_bounded_and_moves(task):
    positions = []
    site = "end_effector" if task != "door" else "S_grasp"
    _run(task, "play", steps=100, seed=3, on_step=lambda t, m, d: positions.append(d.site(site).xpos.copy()))
    assert np.ptp(np.array(positions), axis=0).max() > 0.05  # the hand actually wanders


def test_noise_is_added_and_clipped():
    env = _env("kitchen-microwave")
    env.reset(seed=0)
    m, d = env.unwrapped.model, env.unwrapped.data
    clean = make_policy("kitchen-microwave", "scripted", np.random.default_rng(0), 0.0)(m, d)
    noisy = make_policy("kitchen-microwave", "scripted", np.random.default_rng(0), 0.5)(m, d)
    assert not np.allclose(clean, noisy) and np.abs(noisy).max() <= 1.0


def test_unknown_task_lists_valid_tasks():
    with pytest.raises(ValueError, match="kitchen-microwave"):
        make_policy("kitchen-toaster", "scripted", np.random.default_rng(0), 0.0)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_each_task_carries_its_facts(name):
    """Everything the env, collection and the goal image need is on the task's one TASKS entry."""
    task = get_task(name)
    env = _env(name)
    obs, _ = env.reset(seed=0)
    model, data = env.unwrapped.model, env.unwrapped.data
    flat = np.asarray(obs["observation"] if isinstance(obs, dict) else obs).ravel()
    assert 0 < task.robot_state_dim < flat.size
    assert not task.success(model, data) and not task.milestone(model, data)
    task.set_goal_state(model, data)
    assert task.success(model, data), name  # the goal state is a success
    assert callable(task.scripted()) and callable(task.play(np.random.default_rng(0)))
    env.close()
