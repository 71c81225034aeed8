"""What the scripted policies share: a policy (a controller plus action noise) and the kinematics helpers they
steer with (damped least squares, site Jacobians and orientations, look-ahead on a kinematics-only copy).

A policy maps the live (model, data) of a gymnasium-robotics env to one normalized action per env step.
It never steps the simulation; look-ahead ("where would the handle be if the door were a bit more
open?") runs forward kinematics on a private copy of the state. Recipes and the facts behind them are
in DESIGN.md section 5; the controllers per scene are in sim/kitchen.py and sim/door.py.
"""

from __future__ import annotations

from typing import Callable

import mujoco
import numpy as np

Controller = Callable[[mujoco.MjModel, mujoco.MjData], np.ndarray]


class Policy:
    """One episode's policy: a controller plus Gaussian action noise, clipped to the action box."""

    def __init__(self, controller: Controller, rng: np.random.Generator, noise: float):
        self.controller, self.rng, self.noise = controller, rng, noise

    def __call__(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        action = self.controller(model, data)
        if self.noise > 0:
            action = action + self.rng.normal(0.0, self.noise, action.shape)
        return np.clip(action, -1.0, 1.0)


def dls(jac: np.ndarray, err: np.ndarray, damping: float) -> np.ndarray:
    """Damped least squares: a joint step toward err that stays bounded near singularities."""
    return jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(len(err)), err)


def site_jacobian(model, data, site: int) -> tuple[np.ndarray, np.ndarray]:
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    mujoco.mj_jacSite(model, data, jacp, jacr, site)
    return jacp, jacr


def site_quat(data, site: int) -> np.ndarray:
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, data.site_xmat[site])
    return quat


def rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """World-frame rotation vector taking `current` to `target` (the frame mj_jacSite's jacr uses)."""
    conj, delta, vel = np.empty(4), np.empty(4), np.empty(3)
    mujoco.mju_negQuat(conj, current)
    mujoco.mju_mulQuat(delta, target, conj)
    mujoco.mju_quat2Vel(vel, delta, 1.0)
    return vel


def tilted(quat: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """quat rotated by angle about a world axis."""
    rot, out = np.empty(4), np.empty(4)
    mujoco.mju_axisAngle2Quat(rot, axis, angle)
    mujoco.mju_mulQuat(out, rot, quat)
    return out


def site_if_moved(model, data, site: str, moves: dict[str, float]) -> np.ndarray:
    """Where `site` would be with the named joints moved by the given amounts (a kinematics-only copy)."""
    probe = mujoco.MjData(model)
    probe.qpos[:] = data.qpos
    for joint, delta in moves.items():
        j = model.joint(joint)
        probe.qpos[j.qposadr[0]] = np.clip(probe.qpos[j.qposadr[0]] + delta, *j.range)
    mujoco.mj_kinematics(model, probe)
    return probe.site(site).xpos.copy()
