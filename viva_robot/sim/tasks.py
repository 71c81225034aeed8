"""The simulated tasks: which gymnasium-robotics scene, which camera, which horizon.

Task names are the project's (`door`, `kitchen-microwave`, ...). Adding a task is one entry in TASKS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym

from viva_robot.sim.render import CameraPose


@dataclass(frozen=True)
class SimTask:
    name: str
    gym_id: str
    camera: CameraPose
    horizon: int  # the env's own episode length (steps)
    control_dt: float  # seconds per env step
    make_kwargs: dict = field(default_factory=dict)


_KITCHEN_CAMERA = CameraPose(lookat=(-0.2, 0.5, 2.0), distance=2.2, azimuth=70.0, elevation=-35.0)


def _kitchen(name: str, task: str) -> SimTask:
    return SimTask(name, "FrankaKitchen-v1", _KITCHEN_CAMERA, 280, 0.08, {"tasks_to_complete": [task]})


TASKS: dict[str, SimTask] = {
    "door": SimTask("door", "AdroitHandDoor-v1", CameraPose((0.0, 0.0, 0.3), 1.4, 90.0, -30.0), 200, 0.01),
    "kitchen-microwave": _kitchen("kitchen-microwave", "microwave"),
    "kitchen-slide-cabinet": _kitchen("kitchen-slide-cabinet", "slide cabinet"),
    "kitchen-hinge-cabinet": _kitchen("kitchen-hinge-cabinet", "hinge cabinet"),
    "kitchen-kettle": _kitchen("kitchen-kettle", "kettle"),
    "kitchen-light-switch": _kitchen("kitchen-light-switch", "light switch"),
}


def get_task(name: str) -> SimTask:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name]


def make_env(task: SimTask) -> gym.Env:
    """The gymnasium-robotics env behind a task (no rendering: frames come from SceneRenderer)."""
    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
    return gym.make(task.gym_id, max_episode_steps=task.horizon, **task.make_kwargs)
