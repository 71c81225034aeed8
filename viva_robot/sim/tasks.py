"""The simulated tasks: which gymnasium-robotics scene, which camera, which horizon.

Task names are the project's (`door`, `kitchen-microwave`, ...). Adding a task is one entry in TASKS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym

from viva_robot.config import TASK_NAMES
from viva_robot.sim.render import CameraPose


@dataclass(frozen=True)
class SimTask:
    name: str
    gym_id: str
    camera: CameraPose
    horizon: int  # the env's own episode length (steps)
    control_dt: float  # seconds per env step
    make_kwargs: dict = field(default_factory=dict)


def _kitchen(name: str, task: str, camera: CameraPose) -> SimTask:
    # The kitchen ends an episode the step its task completes; play video keeps a short "goal reached" tail.
    kwargs = {"tasks_to_complete": [task], "terminate_on_tasks_completed": False}
    return SimTask(name, "FrankaKitchen-v1", camera, 280, 0.08, kwargs)


# Each camera frames the arm and the task's object so that progress is visible at 64x64 (checked by eye on
# `viva-robot dataset show` sheets). The robot base is at the origin facing +y.
_KITCHEN_WIDE = CameraPose(lookat=(-0.3, 0.45, 2.15), distance=1.9, azimuth=90.0, elevation=-30.0)


TASKS: dict[str, SimTask] = {
    "door": SimTask("door", "AdroitHandDoor-v1", CameraPose((0.0, -0.1, 0.25), 1.1, 90.0, -25.0), 200, 0.01),
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
    import gymnasium_robotics  # quietly imported by viva_robot.sim

    gym.register_envs(gymnasium_robotics)
    # The passive env checker only warns that the kitchen reuses its observation buffer; we copy observations.
    return gym.make(task.gym_id, max_episode_steps=task.horizon, disable_env_checker=True, **task.make_kwargs)
