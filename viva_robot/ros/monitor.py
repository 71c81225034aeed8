"""The value-monitor node: V(s, g*) of the live camera frame, before any RL touches the arm.

It subscribes to the camera, evaluates the frozen value on the newest frame at up to `rate_hz` (frames that
arrive while the value is busy are skipped, never queued) and publishes the value (`std_msgs/Float32`) and an
annotated image (frame | goal thumbnail + the value's recent trace) that rqt_image_view or any image viewer
shows. With `success_threshold` set it also publishes success (`std_msgs/Bool`) when V crosses it: the
"value crossing a threshold" success signal for the env backend when no operator or detector provides one.
"""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Float32

from viva_robot.robot.topics import TOPICS
from viva_robot.ros.node import run_node
from viva_robot.envs.ros import fit_image
from viva_robot.ros.messages import MessageError, image_from_msg, image_to_msg


# ROS parameters and their defaults (a launch file's parameter YAML may set any of these, and nothing else).
PARAMETERS = {"image_topic": TOPICS["image_topic"], "value_topic": TOPICS["value_topic"],
              "value_image_topic": TOPICS["value_image_topic"], "success_topic": TOPICS["success_topic"],
              "value": "", "goal_image": "", "image_size": 64, "rate_hz": 10.0, "trace": 100,
              "success_threshold": float("nan"), "device": "cpu"}


class ValueMonitorNode(Node):
    def __init__(self, **overrides):
        super().__init__("viva_value_monitor")
        p = {name: self.declare_parameter(name, default).value for name, default in {**PARAMETERS, **overrides}.items()}
        self.p = p
        if not p["value"] or not p["goal_image"]:
            raise ValueError("viva_value_monitor needs the parameters value:=RUN/value.pt and goal_image:=GOAL.png")
        import torch
        from PIL import Image as PILImage

        from viva_robot.value.guide import ValueGuide

        torch.set_num_threads(1)
        size = int(p["image_size"])
        self.guide = ValueGuide(Path(p["value"]), size, torch.device(p["device"]))
        with PILImage.open(p["goal_image"]) as im:
            self.goal = fit_image(np.asarray(im.convert("RGB")), size)
        self.guide.set_goal(self.goal)
        self.values: deque[float] = deque(maxlen=int(p["trace"]))
        self.frames = 0
        self._latest: Image | None = None
        self.value_pub = self.create_publisher(Float32, p["value_topic"], 10)
        self.image_pub = self.create_publisher(Image, p["value_image_topic"], 10)
        self.success_pub = (self.create_publisher(Bool, p["success_topic"], 10)
                            if np.isfinite(p["success_threshold"]) else None)
        self.create_subscription(Image, p["image_topic"], self._on_image, qos_profile_sensor_data)
        self.create_timer(1.0 / p["rate_hz"], self._evaluate)

    def _on_image(self, msg: Image) -> None:
        self._latest = msg  # keep only the newest frame

    def _evaluate(self) -> None:
        msg, self._latest = self._latest, None
        if msg is None:
            return
        try:
            frame = fit_image(image_from_msg(msg), int(self.p["image_size"]))
        except MessageError as e:
            self.get_logger().error(f"{self.p['image_topic']}: {e}", throttle_duration_sec=5.0)
            return
        from viva_robot.value.panel import value_panel

        value = float(self.guide(frame[None])[0])
        self.values.append(value)
        self.frames += 1
        self.value_pub.publish(Float32(data=value))
        success = np.isfinite(self.p["success_threshold"]) and value >= self.p["success_threshold"]
        if self.success_pub is not None:
            self.success_pub.publish(Bool(data=bool(success)))
        trace = np.array(self.values)
        panel = value_panel(frame, self.goal, trace, len(trace) - 1, bool(success), label="frame")
        self.image_pub.publish(image_to_msg(panel, msg.header.stamp, msg.header.frame_id))


def main(argv: list[str] | None = None) -> int:
    return run_node(ValueMonitorNode, "viva-ros-value-monitor", (ValueError, OSError), argv)

if __name__ == "__main__":
    sys.exit(main())
