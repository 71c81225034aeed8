"""The simulator backend of the env interface: Gymnasium's own checker, sparse success reward, goal images."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from viva_robot.envs.sim import SimEnv
from viva_robot.sim.tasks import get_task
from viva_robot.sim.tasks import TASKS

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # check_env warns about unbounded state boxes


@pytest.mark.parametrize("task", list(TASKS))
def test_check_env_passes(task):
    env = SimEnv(task, image_size=32)
    try:
        check_env(env)
        obs, info = env.reset(seed=3)
        assert set(obs) == {"image", "state", "object_state"} and obs["image"].dtype == np.uint8
        assert obs["image"].shape == (32, 32, 3) and info == {"success": False}
        assert env.goal_image.shape == (32, 32, 3)
        # the goal looks different (the light switch is a few pixels at 32x32: its wide camera needs a closer look)
        assert np.abs(env.goal_image.astype(int) - obs["image"].astype(int)).mean() > 0.05
    finally:
        env.close()


def test_reset_is_seeded_and_reward_is_sparse_success():
    env = SimEnv("kitchen-microwave", image_size=32)
    try:
        a, _ = env.reset(seed=5)
        b, _ = env.reset(seed=5)
        np.testing.assert_array_equal(a["image"], b["image"])
        _, reward, terminated, truncated, info = env.step(np.zeros(9, np.float32))
        assert reward == 0.0 and not info["success"] and not terminated and not truncated
        get_task("kitchen-microwave").set_goal_state(env._model, env._data)  # put the microwave door at its goal
        _, reward, _, _, info = env.step(np.zeros(9, np.float32))
        assert reward == 1.0 and info["success"]
    finally:
        env.close()


def test_episode_truncates_at_max_steps():
    env = SimEnv("door", image_size=16, max_steps=3)
    try:
        env.reset(seed=0)
        flags = [env.step(env.action_space.sample())[3] for _ in range(3)]
        assert flags == [False, False, True]
    finally:
        env.close()


def test_bad_actions_and_goal_images_are_refused():
    env = SimEnv("door", image_size=16)
    try:
        env.reset(seed=0)
        with pytest.raises(ValueError, match=r"door: action has shape \(27,\), expected \(28,\)"):
            env.step(np.zeros(27))
        bad = np.zeros(28)
        bad[3] = np.nan
        with pytest.raises(ValueError, match=r"door: action contains NaN or inf"):
            env.step(bad)
    finally:
        env.close()
    with pytest.raises(ValueError, match=r"door: goal image is uint8 \(64, 64, 3\), expected uint8 \(16, 16, 3\)"):
        SimEnv("door", image_size=16, goal_image=np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"unknown task 'kitchen-oven'; valid tasks: door, kitchen-microwave"):
        SimEnv("kitchen-oven")


def test_camera_off_leaves_frames_out_and_still_passes_the_checker():
    env = SimEnv("door", image_size=32, camera=False)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"state", "object_state"} and set(env.observation_space.spaces) == set(obs)
    assert env.goal_image.shape == (32, 32, 3)  # the task's goal image is still there
    env.close()


def test_door_goal_shows_the_hand_on_the_opened_door():
    """The door's goal image: an attempt up to the turned lever, the door pulled 0.3 rad open with the palm on
    the lever, then swung on to 1.5 rad (no script opens it; a hand at home would read as progress)."""
    from viva_robot.sim.door import DOOR_HOLD_ANGLE, door_unlatched, pose_hand_on_open_door
    from viva_robot.sim.tasks import make_policy

    env = SimEnv("door", image_size=32)
    try:
        model, data = env._model, env._data
        env._env.reset(seed=0)
        home_palm = data.site("S_grasp").xpos.copy()
        get_task("door").set_goal_state(model, data)
        hand_at_home = env.render()
        env._env.reset(seed=0)
        policy = make_policy("door", "scripted", np.random.default_rng(0), 0.0)
        while not door_unlatched(model, data):
            env._env.step(policy(model, data))
        held = data.site("S_grasp").xpos - data.site("S_handle").xpos
        assert pose_hand_on_open_door(model, data, DOOR_HOLD_ANGLE) < 0.005  # the palm follows the lever
        assert data.qpos[model.joint("door_hinge").qposadr[0]] == DOOR_HOLD_ANGLE
        moved = data.site("S_grasp").xpos - data.site("S_handle").xpos
        assert abs(np.linalg.norm(moved) - np.linalg.norm(held)) < 0.005  # same grip, rotated with the door
        assert np.linalg.norm(data.site("S_grasp").xpos - home_palm) > 0.15  # not at home
        probe = data.qpos.copy()
        assert pose_hand_on_open_door(model, data, 1.5) > 0.05  # the arm cannot follow the lever that far
        data.qpos[:] = probe
        assert pose_hand_on_open_door(model, data, 1.5, iterations=0) > 0.1  # swung on, hand left where it was
        assert env._is_success(model, data)
        np.testing.assert_array_equal(env.goal_image, env.render())  # ... which is the env's goal image
        assert np.abs(env.goal_image.astype(int) - hand_at_home.astype(int)).mean() > 1.0
    finally:
        env.close()
