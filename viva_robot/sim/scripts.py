"""Scripted policies that make play data: noisy goal-reaching attempts and undirected play.

A policy maps the live (model, data) of a gymnasium-robotics env to one normalized action per env step.
It never steps the simulation; look-ahead ("where would the handle be if the door were a bit more
open?") runs forward kinematics on a private copy of the state. Recipes and the facts behind them are
in DESIGN.md section 5.

Size: not yet split by scene (kitchen, door) over shared kinematics, as issue 13 item 5 asks: that split goes with
SimTask carrying each task's facts.
"""

from __future__ import annotations

from typing import Callable, Literal, NamedTuple

import mujoco
import numpy as np
from gymnasium_robotics.envs.franka_kitchen.kitchen_env import (
    BONUS_THRESH,
    OBS_ELEMENT_GOALS,
    OBS_ELEMENT_INDICES,
)

from viva_robot.config import TASK_NAMES

Controller = Callable[[mujoco.MjModel, mujoco.MjData], np.ndarray]


class Handle(NamedTuple):
    """How the kitchen script reaches an articulated object and drives it toward its goal."""

    element: str  # gymnasium-robotics task name (key of OBS_ELEMENT_GOALS)
    site: str  # the point the end effector reaches
    joint: str  # the joint the script moves
    lead: float  # how far ahead along the joint the tracked target runs (rad or m)
    approach: tuple[float, float, float]  # pre-contact offset from the site (world frame, m)
    contact: tuple[float, float, float]  # offset kept while driving (a push is made from the side)
    grasp: bool  # close the gripper on the handle, or push with a closed gripper
    tilt: float = 0.0  # fingers pitched toward the wall (rad about world x): reach for high targets


KITCHEN_HANDLES = {
    "kitchen-microwave": Handle("microwave", "microhandle_site", "microwave", -0.08, (0, -0.15, 0), (0, 0, 0), True),
    "kitchen-slide-cabinet": Handle("slide cabinet", "slide_site", "slide_cabinet", 0.05, (0, -0.15, 0), (0, 0, 0), True),
    # The site is the middle of a tall bar at the edge of the arm's reach: grip the bar lower down.
    "kitchen-hinge-cabinet": Handle("hinge cabinet", "hinge_site2", "right_hinge_cabinet", 0.25, (0, -0.15, 0), (0, 0, -0.11), True),
    # The switch lever swings toward -x about a vertical axis: push it from its +x side.
    "kitchen-light-switch": Handle("light switch", "light_site", "light_switch", -0.15, (0.1, -0.1, 0), (0.03, 0, 0), False, 0.8),
}
KITCHEN_TASKS = {**{t: h.element for t, h in KITCHEN_HANDLES.items()}, "kitchen-kettle": "kettle"}
KITCHEN_DT = 0.08  # s per FrankaKitchen env step; action * 2 is the joint velocity in rad/s
DOOR_OPEN = 1.35  # door_hinge angle counted as success by AdroitHandDoor


def _kitchen_success(element: str) -> Callable[[mujoco.MjModel, mujoco.MjData], bool]:
    idx, goal = OBS_ELEMENT_INDICES[element], OBS_ELEMENT_GOALS[element]
    return lambda model, data: bool(np.linalg.norm(data.qpos[idx] - goal) < BONUS_THRESH)


def _door_success(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    return bool(data.qpos[model.joint("door_hinge").qposadr[0]] >= DOOR_OPEN)


TASK_SUCCESS: dict[str, Callable[[mujoco.MjModel, mujoco.MjData], bool]] = {
    "door": _door_success,
    **{t: _kitchen_success(e) for t, e in KITCHEN_TASKS.items()},
}

DOOR_UNLATCHED = 1.2  # rad of latch: the bolt clears the frame past ~1.1


def _door_unlatched(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    return bool(data.qpos[model.joint("latch").qposadr[0]] >= DOOR_UNLATCHED)


# The furthest point an attempt reliably reaches, where recording it further adds only frames that look
# like the end: task success in the kitchen; the unlatched handle for the door, which the script turns
# but cannot pull open (DESIGN.md §5). Collection ends an episode shortly after it.
ATTEMPT_MILESTONE: dict[str, Callable[[mujoco.MjModel, mujoco.MjData], bool]] = {**TASK_SUCCESS, "door": _door_unlatched}


class Policy:
    """One episode's policy: a controller plus Gaussian action noise, clipped to the action box."""

    def __init__(self, controller: Controller, rng: np.random.Generator, noise: float):
        self.controller, self.rng, self.noise = controller, rng, noise

    def __call__(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        action = self.controller(model, data)
        if self.noise > 0:
            action = action + self.rng.normal(0.0, self.noise, action.shape)
        return np.clip(action, -1.0, 1.0)


def make_policy(task: str, kind: Literal["scripted", "play"], rng: np.random.Generator, noise: float) -> Policy:
    if task not in TASK_NAMES:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASK_NAMES)}")
    match kind, task:
        case "scripted", "door":
            return Policy(DoorScript(), rng, noise)
        case "scripted", "kitchen-kettle":
            return Policy(KettlePush(), rng, noise)
        case "scripted", _:
            return Policy(KitchenScript(KITCHEN_HANDLES[task]), rng, noise)
        # Play is already random; its randomness comes from rng, not from action noise.
        case "play", "door":
            return Policy(DoorPlay(rng), rng, 0.0)
        case "play", _:
            return Policy(KitchenPlay(rng), rng, 0.0)
    raise ValueError(f"unknown policy kind {kind!r}; valid kinds: scripted, play")


# ---------------------------------------------------------------- shared kinematics


def _dls(jac: np.ndarray, err: np.ndarray, damping: float) -> np.ndarray:
    """Damped least squares: a joint step toward err that stays bounded near singularities."""
    return jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(len(err)), err)


def _site_jacobian(model, data, site: int) -> tuple[np.ndarray, np.ndarray]:
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    mujoco.mj_jacSite(model, data, jacp, jacr, site)
    return jacp, jacr


def _site_quat(data, site: int) -> np.ndarray:
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, data.site_xmat[site])
    return quat


def _rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """World-frame rotation vector taking `current` to `target` (the frame mj_jacSite's jacr uses)."""
    conj, delta, vel = np.empty(4), np.empty(4), np.empty(3)
    mujoco.mju_negQuat(conj, current)
    mujoco.mju_mulQuat(delta, target, conj)
    mujoco.mju_quat2Vel(vel, delta, 1.0)
    return vel


def _tilted(quat: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """quat rotated by angle about a world axis."""
    rot, out = np.empty(4), np.empty(4)
    mujoco.mju_axisAngle2Quat(rot, axis, angle)
    mujoco.mju_mulQuat(out, rot, quat)
    return out


def _site_if_moved(model, data, site: str, moves: dict[str, float]) -> np.ndarray:
    """Where `site` would be with the named joints moved by the given amounts (a kinematics-only copy)."""
    probe = mujoco.MjData(model)
    probe.qpos[:] = data.qpos
    for joint, delta in moves.items():
        j = model.joint(joint)
        probe.qpos[j.qposadr[0]] = np.clip(probe.qpos[j.qposadr[0]] + delta, *j.range)
    mujoco.mj_kinematics(model, probe)
    return probe.site(site).xpos.copy()


# ---------------------------------------------------------------- Franka Kitchen


def franka_arm_action(model, data, target_pos, target_quat, gripper: float) -> np.ndarray:
    """Kitchen action moving `end_effector` toward a pose: DLS on the 7 arm joints (velocity actions)."""
    site = model.site("end_effector").id
    jacp, jacr = _site_jacobian(model, data, site)
    err = np.concatenate([target_pos - data.site_xpos[site], _rotation_error(target_quat, _site_quat(data, site))])
    dq = _dls(np.vstack([jacp[:, :7], jacr[:, :7]]), err / KITCHEN_DT, damping=0.05)
    arm = dq / 2.0
    arm /= max(1.0, np.abs(arm).max())  # slow down uniformly so the path stays straight
    return np.concatenate([arm, [gripper, gripper]])


class KitchenScript:
    """Reach a handle, grasp (or touch) it, and drive its joint toward the goal by tracking a lead point."""

    def __init__(self, handle: Handle):
        self.h, self.phase, self.steps, self.quat, self.retreat = handle, "approach", 0, None, None

    def __call__(self, model, data) -> np.ndarray:
        h, ee = self.h, data.site("end_effector").xpos
        adr = model.joint(h.joint).qposadr[0]
        if self.quat is None:  # the start orientation already suits the vertical handles
            self.quat = _tilted(_site_quat(data, model.site("end_effector").id), np.array([1.0, 0, 0]), h.tilt)
            self.goal = OBS_ELEMENT_GOALS[h.element][list(OBS_ELEMENT_INDICES[h.element]).index(adr)]
        handle = data.site(h.site).xpos + np.array(h.contact)
        self.steps += 1
        joint = data.qpos[adr]
        open_gripper = 1.0 if h.grasp else -1.0
        if self.phase == "approach":
            target, gripper = handle + np.array(h.approach), open_gripper
            if np.linalg.norm(target - ee) < 0.04 or self.steps > 25:
                self._to("reach")
        elif self.phase == "reach":
            target, gripper = handle, open_gripper
            if np.linalg.norm(target - ee) < 0.015 or self.steps > 25:
                self._to("close")
        elif self.phase == "close":
            target, gripper = handle, -1.0
            if self.steps >= 5:
                self._to("drive")
        elif self.phase == "drive":
            target = _site_if_moved(model, data, h.site, {h.joint: h.lead}) + np.array(h.contact)
            gripper = -1.0
            if np.linalg.norm(handle - ee) > 0.05:  # slipped off: let go and come in again
                self._to("approach")
            elif abs(joint - self.goal) < 0.08 or (joint - self.goal) * np.sign(h.lead) > 0:
                self._to("release")
                self.retreat = ee - np.array(h.approach) * 0.7
        else:  # release: let go and back off the way the hand came
            target, gripper = self.retreat, 1.0
        return franka_arm_action(model, data, target, self.quat, gripper)

    def _to(self, phase: str):
        self.phase, self.steps = phase, 0


class KettlePush:
    """Push the kettle from behind along +y toward the back burner (its goal), keeping it upright."""

    HALF_DEPTH, PUSH_HEIGHT = 0.122, 0.06  # kettle base half-size and a push height on its body (m)

    def __init__(self):
        self.phase, self.steps, self.quat, self.retreat = "approach", 0, None, None
        self.goal_y = OBS_ELEMENT_GOALS["kettle"][1]

    def __call__(self, model, data) -> np.ndarray:
        if self.quat is None:
            self.quat = _site_quat(data, model.site("end_effector").id)
        kettle, ee = data.body("kettle").xpos.copy(), data.site("end_effector").xpos
        kettle[0] = data.site("kettle_site").xpos[0]
        behind = kettle + np.array([0.0, -self.HALF_DEPTH - 0.04, self.PUSH_HEIGHT])
        self.steps += 1
        if self.phase == "approach":  # come in high so the fingers clear the kettle body
            target = behind + np.array([0, -0.05, 0.15])
            if np.linalg.norm(target - ee) < 0.03 or self.steps > 40:
                self.phase, self.steps = "lower", 0
        elif self.phase == "lower":
            target = behind
            if np.linalg.norm(target - ee) < 0.015 or self.steps > 25:
                self.phase, self.steps = "push", 0
        elif self.phase == "push":
            target = behind + np.array([0, 0.06, 0])  # aim inside the body: the contact pushes it
            if np.linalg.norm(behind - ee) > 0.08:
                self.phase, self.steps = "approach", 0
            elif data.qpos[24] > self.goal_y - 0.03:
                self.phase, self.retreat = "retreat", ee + np.array([0, -0.1, 0.1])
        else:
            target = self.retreat
        return franka_arm_action(model, data, target, self.quat, -1.0)


class KitchenPlay:
    """Undirected play: the hand wanders smoothly between random points, now and then at an object."""

    LOW, HIGH = np.array([-0.7, 0.15, 1.75]), np.array([0.2, 0.6, 2.45])  # reachable space in front
    OBJECT_SITES = ("microhandle_site", "slide_site", "hinge_site2", "light_site", "kettle_site", "knob2_site")

    def __init__(self, rng: np.random.Generator):
        self.rng, self.quat, self.target, self.waypoint, self.hold = rng, None, None, None, 0
        self.gripper, self.speed = 1.0, 0.03

    def __call__(self, model, data) -> np.ndarray:
        site = model.site("end_effector").id
        if self.quat is None:
            self.quat, self.target = _site_quat(data, site), data.site_xpos[site].copy()
        if self.hold <= 0:
            self._new_waypoint(model, data)
        self.hold -= 1
        # The target glides toward the waypoint so the arm never jumps.
        step = self.waypoint - self.target
        self.target += step * min(1.0, self.speed / max(np.linalg.norm(step), 1e-9))
        if self.rng.random() < 0.04:
            self.gripper = -self.gripper
        return franka_arm_action(model, data, self.target, self.wp_quat, self.gripper)

    def _new_waypoint(self, model, data):
        rng = self.rng
        if rng.random() < 0.3:
            name = self.OBJECT_SITES[rng.integers(len(self.OBJECT_SITES))]
            point = data.site(name).xpos + rng.normal(0.0, 0.03, 3)
        else:
            point = rng.uniform(self.LOW, self.HIGH)
        self.waypoint = np.clip(point, self.LOW - 0.1, self.HIGH + 0.2)
        self.wp_quat = _tilted(self.quat, np.array([0.0, 0.0, 1.0]), rng.uniform(-0.6, 0.6))
        self.hold, self.speed = int(rng.integers(15, 45)), rng.uniform(0.01, 0.04)


# ---------------------------------------------------------------- Adroit door


ARM_DOFS = 4  # ARTz, ARRx, ARRy, ARRz come first in qpos, dofs and actuators


def door_arm_action(model, data, target_pos) -> np.ndarray:
    """Normalized actions for the 4 arm actuators moving the palm (S_grasp) toward target_pos.

    The arm actuators are springs (force = 500 ctrl - 200 q), not servos: the control that holds q*
    against gravity is (200 q* + bias force) / 500.
    """
    site = model.site("S_grasp").id
    jacp, _ = _site_jacobian(model, data, site)
    err = target_pos - data.site_xpos[site]
    # The joints are heavily damped (a ~0.1 s lag): aim past the target, but not wildly far.
    err *= min(2.0, 0.2 / max(np.linalg.norm(err), 1e-9))
    q_target = data.qpos[:ARM_DOFS] + _dls(jacp[:, :ARM_DOFS], err, damping=0.02)
    gain, bias = model.actuator_gainprm[:ARM_DOFS, 0], model.actuator_biasprm[:ARM_DOFS, 1]
    ctrl = (-bias * q_target + data.qfrc_bias[:ARM_DOFS]) / gain
    return _normalize(model, ctrl, slice(0, ARM_DOFS))


def _normalize(model, ctrl, actuators: slice) -> np.ndarray:
    low, high = model.actuator_ctrlrange[actuators].T
    return (ctrl - (low + high) / 2) / ((high - low) / 2)


def _hand_action(model, closed: float) -> np.ndarray:
    """Finger and wrist actions: 0 = open flat hand, 1 = a fist (flexion joints at their upper range)."""
    low, high = model.actuator_ctrlrange[ARM_DOFS:].T
    names = [model.actuator(i).name for i in range(model.nu)]
    flex = np.array([n[2:4] in ("FF", "MF", "RF", "LF") and n[-2:] in ("J2", "J1", "J0") for n in names])
    ctrl = np.where(flex[ARM_DOFS:], low + closed * 0.8 * (high - low), (low + high) / 2)
    return _normalize(model, ctrl, slice(ARM_DOFS, model.nu))


class DoorScript:
    """Palm to handle, close the fingers, press the latch lever down, then pull the door open."""

    def __init__(self):
        self.phase, self.steps, self.grip = "approach", 0, 0.0

    def __call__(self, model, data) -> np.ndarray:
        handle, palm = data.site("S_handle").xpos, data.site("S_grasp").xpos
        latch = data.qpos[model.joint("latch").qposadr[0]]
        self.steps += 1
        if self.phase == "approach":  # above and in front of the lever, then onto it
            target = handle + np.array([0.0, -0.05, 0.06])
            if np.linalg.norm(target - palm) < 0.02 or self.steps > 40:
                self.phase, self.steps = "reach", 0
        elif self.phase == "reach":
            target = handle + np.array([0.0, -0.02, 0.02])
            if np.linalg.norm(target - palm) < 0.015 or self.steps > 20:
                self.phase, self.steps = "close", 0
        elif self.phase == "close":
            target, self.grip = handle, min(1.0, self.grip + 0.15)
            if self.steps > 8:
                self.phase, self.steps = "turn", 0
        elif self.phase == "turn":  # the bolt clears the frame past ~1.1 rad of latch
            target = _site_if_moved(model, data, "S_handle", {"latch": 1.0})
            if latch > 1.2 or self.steps > 60:
                self.phase, self.steps = "pull", 0
        else:  # pull along the door's arc while holding the lever down
            target = _site_if_moved(model, data, "S_handle", {"door_hinge": 0.3, "latch": 0.2})
        hand = _hand_action(model, self.grip)
        if self.phase in ("turn", "pull"):
            # The wrist servos are weak (gain 10): left centred, the lever's push just bends the wrist
            # instead of turning the latch. Driving both wrist joints to their low ends turns it.
            hand[:2] = -1.0
        return np.concatenate([door_arm_action(model, data, target), hand])


def pose_hand_on_open_door(model, data, angle: float, iterations: int = 100) -> float:
    """Open the door to `angle` kinematically with the palm following the lever: the arm's 4 joints solved
    (damped least squares) so the palm keeps its offset to the handle in the door's frame (iterations=0:
    the hand stays put). Returns the palm's remaining error in metres (the arm follows the lever to ~1 rad)."""
    door, palm = model.body("door").id, model.site("S_grasp").id
    mujoco.mj_kinematics(model, data)
    offset = data.xmat[door].reshape(3, 3).T @ (data.site_xpos[palm] - data.site("S_handle").xpos)
    data.qpos[model.joint("door_hinge").qposadr[0]] = angle
    data.qvel[:] = 0

    def error() -> np.ndarray:
        mujoco.mj_forward(model, data)
        return data.site("S_handle").xpos + data.xmat[door].reshape(3, 3) @ offset - data.site_xpos[palm]

    for _ in range(iterations):
        err = error()  # forward kinematics first: the Jacobian reads them
        jacp, _ = _site_jacobian(model, data, palm)
        step = _dls(jacp[:, :ARM_DOFS], err, damping=0.01)
        data.qpos[:ARM_DOFS] = np.clip(data.qpos[:ARM_DOFS] + step, *model.jnt_range[:ARM_DOFS].T)
    return float(np.linalg.norm(error()))


class DoorPlay:
    """Undirected play: the palm wanders around the handle region while the fingers open and close."""

    def __init__(self, rng: np.random.Generator):
        self.rng, self.hold, self.offset, self.grip, self.grip_goal = rng, 0, np.zeros(3), 0.0, 0.0
        self.fingers = np.zeros(24)

    def __call__(self, model, data) -> np.ndarray:
        rng = self.rng
        if self.hold <= 0:
            self.offset = rng.uniform([-0.15, -0.2, -0.1], [0.15, 0.02, 0.15])
            self.grip_goal, self.hold = rng.uniform(0, 1), int(rng.integers(10, 40))
            self.finger_goal = rng.uniform(-0.5, 0.5, 24)
        self.hold -= 1
        self.grip += np.clip(self.grip_goal - self.grip, -0.05, 0.05)
        self.fingers += np.clip(self.finger_goal - self.fingers, -0.05, 0.05)
        arm = door_arm_action(model, data, data.site("S_handle").xpos + self.offset)
        return np.concatenate([arm, np.clip(_hand_action(model, self.grip) + self.fingers, -1, 1)])
