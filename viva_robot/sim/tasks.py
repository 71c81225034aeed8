"""The simulated tasks and every fact about each: which gymnasium-robotics scene, camera and horizon; the success
test (the env's sparse reward); the milestone a scripted attempt reliably reaches; how much of the flat
observation is robot state; how to put the task's object at its goal; and the scripted controllers that film
attempts and play (sim/kitchen.py, sim/door.py).

Task names are the project's (`door`, `kitchen-microwave`, ...): adding a task is its name in config.TASK_NAMES and
one entry in TASKS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import gymnasium as gym
import mujoco
import numpy as np

from viva_robot.config import TASK_NAMES
from viva_robot.sim import door, kitchen
from viva_robot.sim.kinematics import Controller, Policy
from viva_robot.sim.render import CameraPose

Check = Callable[[mujoco.MjModel, mujoco.MjData], bool]


@dataclass(frozen=True)
class SimTask:
    name: str
    gym_id: str
    camera: CameraPose
    horizon: int  # the env's own episode length (steps)
    control_dt: float  # seconds per env step
    success: Check  # the task achieved: the sparse reward, and what evaluation counts
    # The furthest point a scripted attempt reliably reaches, where recording further adds only frames that look like
    # the end: success in the kitchen; the unlatched handle for the door, which the script turns but cannot pull
    # open (DESIGN.md §5). Collection ends an episode shortly after it.
    milestone: Check
    robot_state_dim: int  # the flat observation's first entries are robot state, the rest object state
    set_goal_state: Callable[[mujoco.MjModel, mujoco.MjData], None]  # the object at its goal (goal-image fallback)
    scripted: Callable[[], Controller]  # a goal-reaching attempt
    play: Callable[[np.random.Generator], Controller]  # undirected play
    # How the goal image poses the scene once a noiseless scripted attempt reaches its milestone (True: posed);
    # None: the attempt's frame GOAL_HOLD_STEPS after success (the kitchen, where the script succeeds).
    pose_goal: Check | None = None
    make_kwargs: dict = field(default_factory=dict)


def _kitchen(name: str, element: str, camera: CameraPose) -> SimTask:
    # The kitchen ends an episode the step its task completes; play video keeps a short "goal reached" tail.
    kwargs = {"tasks_to_complete": [element], "terminate_on_tasks_completed": False}
    scripted = kitchen.KettlePush if element == "kettle" else (lambda: kitchen.KitchenScript(kitchen.KITCHEN_HANDLES[name]))
    success = kitchen.kitchen_success(element)
    return SimTask(name, "FrankaKitchen-v1", camera, 280, kitchen.KITCHEN_DT, success=success, milestone=success,
                   robot_state_dim=kitchen.ROBOT_STATE_DIM, set_goal_state=kitchen.set_goal_state(element),
                   scripted=scripted, play=kitchen.KitchenPlay, make_kwargs=kwargs)


# Each camera frames the arm and the task's object so that progress is visible at 64x64 (checked by eye on
# `viva-robot dataset show` sheets). The robot base is at the origin facing +y.
_KITCHEN_WIDE = CameraPose(lookat=(-0.3, 0.45, 2.15), distance=1.9, azimuth=90.0, elevation=-30.0)


TASKS: dict[str, SimTask] = {
    "door": SimTask("door", "AdroitHandDoor-v1", CameraPose((0.0, -0.1, 0.25), 1.1, 90.0, -25.0), 200, 0.01,
                    success=door.door_success, milestone=door.door_unlatched, robot_state_dim=door.ROBOT_STATE_DIM,
                    set_goal_state=door.set_door_goal, scripted=door.DoorScript, play=door.DoorPlay,
                    pose_goal=door.pose_door_goal),
    "kitchen-microwave": _kitchen("kitchen-microwave", "microwave", CameraPose((-0.45, 0.35, 1.95), 1.5, 70.0, -30.0)),
    "kitchen-slide-cabinet": _kitchen(
        "kitchen-slide-cabinet", "slide cabinet", CameraPose((-0.2, 0.45, 2.3), 1.9, 90.0, -25.0)
    ),
    "kitchen-hinge-cabinet": _kitchen(
        "kitchen-hinge-cabinet", "hinge cabinet", CameraPose((-0.45, 0.45, 2.3), 1.9, 90.0, -25.0)
    ),
    "kitchen-kettle": _kitchen("kitchen-kettle", "kettle", _KITCHEN_WIDE),
    "kitchen-light-switch": _kitchen("kitchen-light-switch", "light switch", _KITCHEN_WIDE),
}


if tuple(TASKS) != TASK_NAMES:  # adding a task: its name in config.TASK_NAMES, its facts here
    raise ImportError(f"sim/tasks.py TASKS {tuple(TASKS)} do not match config.TASK_NAMES {TASK_NAMES}")


def get_task(name: str) -> SimTask:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name]


def make_env(task: SimTask) -> gym.Env:
    """The gymnasium-robotics env behind a task (no rendering: frames come from SceneRenderer)."""
    from viva_robot.sim.gym_robotics import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
    # The passive env checker only warns that the kitchen reuses its observation buffer; we copy observations.
    return gym.make(task.gym_id, max_episode_steps=task.horizon, disable_env_checker=True, **task.make_kwargs)


def make_policy(task: str, kind: Literal["scripted", "play"], rng: np.random.Generator, noise: float) -> Policy:
    """One episode's policy for a task: its scripted attempt with Gaussian action noise, or undirected play (already
    random: its randomness comes from rng, not from action noise)."""
    t = get_task(task)
    match kind:
        case "scripted":
            return Policy(t.scripted(), rng, noise)
        case "play":
            return Policy(t.play(rng), rng, 0.0)
    raise ValueError(f"unknown policy kind {kind!r}; valid kinds: scripted, play")
