"""Franka Kitchen: each task's success test and goal state, and its scripted controllers (reach a handle and drive
it toward its goal, push the kettle, undirected play), all steering the arm by damped least squares."""

from __future__ import annotations

from typing import Callable, NamedTuple

import mujoco
import numpy as np

from viva_robot.sim.gym_robotics import BONUS_THRESH, OBS_ELEMENT_GOALS, OBS_ELEMENT_INDICES
from viva_robot.sim.kinematics import dls, rotation_error, site_if_moved, site_jacobian, site_quat, tilted

KITCHEN_DT = 0.08  # s per FrankaKitchen env step; action * 2 is the joint velocity in rad/s
ROBOT_STATE_DIM = 18  # arm + gripper qpos and qvel come first in the flat observation


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


def kitchen_success(element: str) -> Callable[[mujoco.MjModel, mujoco.MjData], bool]:
    """FrankaKitchen's own test: the object within BONUS_THRESH (0.3) of its goal."""
    idx, goal = OBS_ELEMENT_INDICES[element], OBS_ELEMENT_GOALS[element]

    def success(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
        return bool(np.linalg.norm(data.qpos[idx] - goal) < BONUS_THRESH)

    success.__name__ = f"{element.replace(' ', '_')}_success"
    return success


def set_goal_state(element: str) -> Callable[[mujoco.MjModel, mujoco.MjData], None]:
    """The object put at its goal (for a goal image when the script misses)."""

    def set_goal(model: mujoco.MjModel, data: mujoco.MjData) -> None:
        data.qpos[OBS_ELEMENT_INDICES[element]] = OBS_ELEMENT_GOALS[element]
        data.qvel[:] = 0
        mujoco.mj_forward(model, data)

    return set_goal


def franka_arm_action(model, data, target_pos, target_quat, gripper: float) -> np.ndarray:
    """Kitchen action moving `end_effector` toward a pose: DLS on the 7 arm joints (velocity actions)."""
    site = model.site("end_effector").id
    jacp, jacr = site_jacobian(model, data, site)
    err = np.concatenate([target_pos - data.site_xpos[site], rotation_error(target_quat, site_quat(data, site))])
    dq = dls(np.vstack([jacp[:, :7], jacr[:, :7]]), err / KITCHEN_DT, damping=0.05)
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
            self.quat = tilted(site_quat(data, model.site("end_effector").id), np.array([1.0, 0, 0]), h.tilt)
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
            target = site_if_moved(model, data, h.site, {h.joint: h.lead}) + np.array(h.contact)
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
            self.quat = site_quat(data, model.site("end_effector").id)
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
            self.quat, self.target = site_quat(data, site), data.site_xpos[site].copy()
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
        self.wp_quat = tilted(self.quat, np.array([0.0, 0.0, 1.0]), rng.uniform(-0.6, 0.6))
        self.hold, self.speed = int(rng.integers(15, 45)), rng.uniform(0.01, 0.04)
