"""The simulator backend: gymnasium-robotics tasks behind the project's env interface.

Frames come from the same fixed-camera `SceneRenderer` that `collect` films play data with, so the value
sees online frames that look like its training video. The reward is sparse: 1.0 on steps where the task
is achieved (AdroitHandDoor: hinge >= 1.35 rad; Franka Kitchen: the object within 0.3 of its goal).
The goal image shows the task done the way a person would photograph it on a real robot: for the kitchen
tasks, the last frame of a scripted attempt (reset seed 0, no noise) a few steps after it succeeds, arm at
the handle; for the door (which no script opens), a scripted attempt up to the turned lever, the door then
opened kinematically with the palm on the lever for the first 0.3 rad and swung on to 1.5 rad. A goal with
the hand back at its home pose makes "hand at home" look like progress: the value then falls as the hand
reaches for the handle (measured, experiments/goal_value.py).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from viva_robot.envs.checks import checked_action, checked_goal_image
from viva_robot.sim.render import SceneRenderer
from viva_robot.sim.tasks import get_task, make_env, make_policy

GOAL_HOLD_STEPS = 10  # as collected attempts end 10 frames after success (their last frame is a training goal)


class SimEnv(gym.Env):
    """A simulated task with image + state observations, a sparse success reward and a goal image."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 12}

    def __init__(self, task: str, image_size: int = 64, goal_image: np.ndarray | None = None,
                 max_steps: int | None = None, render_mode: str | None = "rgb_array", camera: bool = True):
        self.task = get_task(task)
        self.render_mode = render_mode
        self._env = make_env(self.task)
        self._model, self._data = self._env.unwrapped.model, self._env.unwrapped.data
        self._is_success = self.task.success
        self.max_steps = max_steps or self.task.horizon
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.task.control_dt)}
        self._renderer = SceneRenderer(self._model, image_size, self.task.camera)
        self._robot_dims = self.task.robot_state_dim
        flat = self._flat_obs(self._env.reset(seed=0)[0])
        self.camera = camera  # False: no "image" in observations (state-only agents without a value skip rendering)
        self.observation_space = spaces.Dict({
            **({"image": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)} if camera else {}),
            "state": spaces.Box(-np.inf, np.inf, (self._robot_dims,), np.float32),
            "object_state": spaces.Box(-np.inf, np.inf, (flat.size - self._robot_dims,), np.float32),
        })
        self.action_space = spaces.Box(-1.0, 1.0, self._env.action_space.shape, np.float32)
        self.goal_image = self._render_goal() if goal_image is None else checked_goal_image(goal_image, image_size, task)
        self._steps = 0

    # -- the interface ---------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, _ = self._env.reset(seed=int(self.np_random.integers(2**31)) if seed is None else seed)
        self._steps = 0
        return self._observation(obs), {"success": self._is_success(self._model, self._data)}

    def step(self, action):
        action = checked_action(action, self.action_space.shape, self.task.name)
        obs, _, _, _, _ = self._env.step(np.clip(action, -1.0, 1.0))
        self._steps += 1
        success = self._is_success(self._model, self._data)
        truncated = self._steps >= self.max_steps
        return self._observation(obs), float(success), False, truncated, {"success": success}

    def render(self) -> np.ndarray:
        return self._renderer.render(self._data)

    def close(self) -> None:
        self._renderer.close()
        self._env.close()

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _flat_obs(self, obs) -> np.ndarray:
        return np.array(obs["observation"] if isinstance(obs, dict) else obs, dtype=np.float32).ravel()

    def _observation(self, obs) -> dict[str, np.ndarray]:
        flat = self._flat_obs(obs)
        obs = {"state": flat[: self._robot_dims], "object_state": flat[self._robot_dims:]}
        return {"image": self.render(), **obs} if self.camera else obs

    def _render_goal(self) -> np.ndarray:
        """The task done with the hand/arm where a person would leave it: a scripted attempt (reset seed 0, no
        noise) GOAL_HOLD_STEPS after success (kitchen); where the task poses its goal (the door: an attempt up to
        the unlatched lever, the door then opened with the palm on the lever by door.DOOR_HOLD_ANGLE and swung on
        to the goal angle), that pose at the milestone. Falls back to the reset scene with the object set to its
        goal if the script misses."""
        self._env.reset(seed=0)
        model, data = self._model, self._data
        policy = make_policy(self.task.name, "scripted", np.random.default_rng(0), 0.0)
        done_at = None
        for t in range(self.task.horizon):
            self._env.step(policy(model, data))
            if self.task.pose_goal is not None and self.task.milestone(model, data):
                if self.task.pose_goal(model, data):
                    assert self._is_success(model, data), f"{self.task.name}: goal pose is not a success"
                    return self.render()
                break
            if done_at is None and self._is_success(model, data):
                done_at = t
            if done_at is not None and t - done_at >= GOAL_HOLD_STEPS:
                if self._is_success(model, data):
                    return self.render()
                break
        self._env.reset(seed=0)  # the script missed: fall back to the set state
        self.task.set_goal_state(self._model, self._data)
        assert self._is_success(self._model, self._data), f"{self.task.name}: goal state is not a success"
        return self.render()

