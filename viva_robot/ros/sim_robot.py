"""A MuJoCo Franka that speaks the real drivers' topics, so the whole hardware path runs without an arm.

The Franka Kitchen scene (gymnasium-robotics) steps in real time, one env step (0.08 s) per timer tick. Each tick
it publishes what franka_ros2 and realsense2_camera would: `sensor_msgs/JointState`, the end-effector
`PoseStamped` in the robot base frame (`panda0_link0`, best-effort like franka_ros2's convenience topic) and the
fixed camera's frame (`sensor_msgs/Image` rgb8, the same camera `collect` films play data with; `publish_image`
false leaves the image topic to a separate camera node), plus the task's
success as `std_msgs/Bool` (standing in for the operator or a detector). It tracks `PoseStamped` targets on the
command topic with a Cartesian controller (damped least squares on the 7 joints) and gripper commands
(`std_msgs/Float32`, 0 open .. 1 closed). With more than one publisher on the command topic it holds still: on a
real arm that would be two programs fighting over the target.
"""

from __future__ import annotations

import sys

import mujoco
import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float32
from std_srvs.srv import Trigger

from viva_robot.robot.topics import TOPICS
from viva_robot.ros.node import run_node
from viva_robot.ros.messages import image_to_msg, joint_state_msg, pose_from_msg, pose_to_msg
from viva_robot.sim.render import SceneRenderer
from viva_robot.sim.kitchen import franka_arm_action
from viva_robot.sim.tasks import get_task, make_env

BASE_BODY, EE_SITE = "panda0_link0", "end_effector"
# ROS parameters and their defaults (a launch file's parameter YAML may set any of these, and nothing else).
PARAMETERS = {**TOPICS, "task": "kitchen-microwave", "image_size": 64, "seed": 0, "frame_id": BASE_BODY,
              "camera_frame_id": "camera_color_optical_frame", "publish_image": True}


def _xyzw(wxyz: np.ndarray) -> np.ndarray:
    return np.array([wxyz[1], wxyz[2], wxyz[3], wxyz[0]])


def _wxyz(xyzw: np.ndarray) -> np.ndarray:
    return np.array([xyzw[3], xyzw[0], xyzw[1], xyzw[2]])


class FrankaSim:
    """The kitchen Franka with poses in its base frame (what the real arm reports); no ROS in here."""

    def __init__(self, task: str, image_size: int, seed: int = 0):
        self.task = get_task(task)
        if not task.startswith("kitchen"):
            raise ValueError(f"the simulated robot is the kitchen Franka; task {task!r} is not a kitchen task")
        self.env = make_env(self.task)
        self.model, self.data = self.env.unwrapped.model, self.env.unwrapped.data
        self.renderer = SceneRenderer(self.model, image_size, self.task.camera)
        self._success = self.task.success
        self.joint_names = [self.model.joint(i).name.removeprefix("robot:") for i in range(9)]
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        self.env.reset(seed=self.seed)
        self.seed += 1
        self.target = self.ee_pose()
        self.gripper = 0.0

    def _base(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The base's world position, quaternion (w, x, y, z) and rotation matrix."""
        b = self.model.body(BASE_BODY).id
        rot = np.empty(9)
        mujoco.mju_quat2Mat(rot, self.data.xquat[b])
        return self.data.xpos[b].copy(), self.data.xquat[b].copy(), rot.reshape(3, 3)

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """End-effector position and quaternion (x, y, z, w) in the base frame."""
        bp, bq, rot = self._base()
        s = self.model.site(EE_SITE).id
        quat, inv, out = np.empty(4), np.empty(4), np.empty(4)
        mujoco.mju_mat2Quat(quat, self.data.site_xmat[s])
        mujoco.mju_negQuat(inv, bq)
        mujoco.mju_mulQuat(out, inv, quat)
        return rot.T @ (self.data.site_xpos[s] - bp), _xyzw(out)

    def step(self) -> None:
        """One control period toward the current target."""
        bp, bq, rot = self._base()
        position, orientation = self.target
        world_q = np.empty(4)
        mujoco.mju_mulQuat(world_q, bq, _wxyz(orientation))
        action = franka_arm_action(self.model, self.data, bp + rot @ position, world_q,
                                   1.0 - 2.0 * self.gripper)  # kitchen finger action: +1 opens, -1 closes
        self.env.step(action)

    def joints(self) -> tuple[np.ndarray, np.ndarray]:
        return self.data.qpos[:9].copy(), self.data.qvel[:9].copy()

    def success(self) -> bool:
        return bool(self._success(self.model, self.data))

    def render(self) -> np.ndarray:
        return self.renderer.render(self.data)

    def close(self) -> None:
        self.renderer.close()
        self.env.close()


class SimRobotNode(Node):
    def __init__(self, **overrides):
        super().__init__("viva_sim_robot")
        p = {name: self.declare_parameter(name, default).value for name, default in {**PARAMETERS, **overrides}.items()}
        self.p = p
        self.sim = FrankaSim(p["task"], int(p["image_size"]), int(p["seed"]))
        self.commands = 0
        self._foreign_logged = False
        self.joint_pub = self.create_publisher(JointState, p["joint_states_topic"], qos_profile_sensor_data)
        self.pose_pub = self.create_publisher(PoseStamped, p["ee_pose_topic"], qos_profile_sensor_data)
        self.image_pub = self.create_publisher(Image, p["image_topic"], qos_profile_sensor_data)
        self.success_pub = self.create_publisher(Bool, p["success_topic"], 10)
        self.create_subscription(PoseStamped, p["command_topic"], self._on_command, 10)
        self.create_subscription(Float32, p["gripper_command_topic"], self._on_gripper, 10)
        self.create_service(Trigger, p["reset_service"], self._on_reset)
        self.create_timer(self.sim.task.control_dt, self._tick)

    def destroy_node(self) -> None:
        self.sim.close()
        super().destroy_node()

    def _on_command(self, msg: PoseStamped) -> None:
        if self.count_publishers(self.p["command_topic"]) > 1:
            if not self._foreign_logged:
                self.get_logger().error(f"{self.count_publishers(self.p['command_topic'])} publishers on "
                                        f"{self.p['command_topic']}: holding still until only one is left")
                self._foreign_logged = True
            return
        self._foreign_logged = False
        position, orientation = pose_from_msg(msg)
        if np.isfinite(position).all() and np.isfinite(orientation).all() and np.linalg.norm(orientation) > 0.5:
            self.sim.target = (position, orientation / np.linalg.norm(orientation))
            self.commands += 1

    def _on_gripper(self, msg: Float32) -> None:
        if np.isfinite(msg.data):
            self.sim.gripper = float(np.clip(msg.data, 0.0, 1.0))

    def _on_reset(self, request, response):
        self.sim.reset()
        response.success, response.message = True, f"scene reset (seed {self.sim.seed - 1})"
        return response

    def _tick(self) -> None:
        self.sim.step()
        stamp = self.get_clock().now().to_msg()
        q, qd = self.sim.joints()
        self.joint_pub.publish(joint_state_msg(self.sim.joint_names, q, qd, stamp))
        self.pose_pub.publish(pose_to_msg(*self.sim.ee_pose(), stamp, self.p["frame_id"]))
        if self.p["publish_image"]:  # False when a separate camera node provides the frames
            self.image_pub.publish(image_to_msg(self.sim.render(), stamp, self.p["camera_frame_id"]))
        self.success_pub.publish(Bool(data=self.sim.success()))


def main(argv: list[str] | None = None) -> int:
    return run_node(SimRobotNode, "viva-ros-sim-robot", (ValueError,), argv)

if __name__ == "__main__":
    sys.exit(main())
