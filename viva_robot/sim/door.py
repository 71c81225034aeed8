"""The Adroit door: its success test and milestone, its goal state and goal pose, and its scripted controllers
(palm to handle, turn the latch, pull; undirected play), steering the arm's 4 spring actuators."""

from __future__ import annotations

import mujoco
import numpy as np

from viva_robot.sim.kinematics import dls, site_if_moved, site_jacobian

DOOR_OPEN = 1.35  # door_hinge angle counted as success by AdroitHandDoor
DOOR_UNLATCHED = 1.2  # rad of latch: the bolt clears the frame past ~1.1
ROBOT_STATE_DIM = 27  # hand and arm qpos come first in the flat observation
# Where the door is in its goal image (joint -> value).
DOOR_GOAL = {"door_hinge": 1.5, "latch": 1.2}
# How far the door's goal image has the palm pull the door open on the lever before the door swings on. The
# hand's pose is the cue the value reads (its door video never shows the door move): at 0.3 rad the palm is
# still where attempts hold the turned lever, and V(s_t, g*) rises along scripted attempts (temporal-order
# accuracy 0.83 / 0.90); posed at 0.6 / 0.9 rad, or at home, the value falls as the hand reaches
# (0.66-0.71; docs/results.md). The arm can follow the lever to ~1 rad, not to the success angle.
DOOR_HOLD_ANGLE = 0.3


def door_success(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    return bool(data.qpos[model.joint("door_hinge").qposadr[0]] >= DOOR_OPEN)


def door_unlatched(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    """The door's attempt milestone: the script turns the lever but cannot pull the door open (DESIGN.md §5)."""
    return bool(data.qpos[model.joint("latch").qposadr[0]] >= DOOR_UNLATCHED)


def set_door_goal(model: mujoco.MjModel, data: mujoco.MjData) -> None:
    for joint, value in DOOR_GOAL.items():
        data.qpos[model.joint(joint).qposadr[0]] = value
    data.qvel[:] = 0
    mujoco.mj_forward(model, data)


def pose_door_goal(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    """At the milestone: the door opened with the palm on the lever by DOOR_HOLD_ANGLE, then swung on to the goal
    angle with the hand left there. False when the arm cannot follow the lever."""
    if pose_hand_on_open_door(model, data, DOOR_HOLD_ANGLE) >= 0.005:
        return False
    pose_hand_on_open_door(model, data, DOOR_GOAL["door_hinge"], iterations=0)  # swings on; hand stays
    return True


ARM_DOFS = 4  # ARTz, ARRx, ARRy, ARRz come first in qpos, dofs and actuators


def door_arm_action(model, data, target_pos) -> np.ndarray:
    """Normalized actions for the 4 arm actuators moving the palm (S_grasp) toward target_pos.

    The arm actuators are springs (force = 500 ctrl - 200 q), not servos: the control that holds q*
    against gravity is (200 q* + bias force) / 500.
    """
    site = model.site("S_grasp").id
    jacp, _ = site_jacobian(model, data, site)
    err = target_pos - data.site_xpos[site]
    # The joints are heavily damped (a ~0.1 s lag): aim past the target, but not wildly far.
    err *= min(2.0, 0.2 / max(np.linalg.norm(err), 1e-9))
    q_target = data.qpos[:ARM_DOFS] + dls(jacp[:, :ARM_DOFS], err, damping=0.02)
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
            target = site_if_moved(model, data, "S_handle", {"latch": 1.0})
            if latch > 1.2 or self.steps > 60:
                self.phase, self.steps = "pull", 0
        else:  # pull along the door's arc while holding the lever down
            target = site_if_moved(model, data, "S_handle", {"door_hinge": 0.3, "latch": 0.2})
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
        jacp, _ = site_jacobian(model, data, palm)
        step = dls(jacp[:, :ARM_DOFS], err, damping=0.01)
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
