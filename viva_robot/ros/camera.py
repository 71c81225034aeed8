"""The RealSense camera node `viva_camera`: color (optionally depth aligned to color) from a librealsense pipeline,
published as realsense2_camera does (message types, default topic names), so the two swap by topic remapping.

The camera itself (librealsense pipeline, timestamps, the replay device) is robot/realsense.py; this module is the
ROS side. ROS time is assumed to be wall time (no use_sim_time): a real camera lives on wall time.

QoS: sensor data (best effort, keep last 5) for images and camera info: a late frame is worth less than the next,
and a slow subscriber must not back-pressure the camera. Subscribe with sensor-data QoS (a reliable subscription does
not match a best-effort publisher); such a subscription also matches realsense2_camera's reliable publishers.

Faults: a reading thread (not the executor) waits for frames. No frame for `stall_timeout_s` is a stall: logged once
("no frame from camera <serial> for X s"), counted (`stalls`), and the pipeline is restarted every RESTART_PERIOD_S
until frames return. A frame goes out only if newer than the last one published and younger than `stall_timeout_s`,
so no old frame is ever published; holding the arm is the safety supervisor's job (its watchdog sees images stop).

Replay (`replay:=<viva dataset>`): the dataset's frames go through robot/realsense.py's software device, so the
same pipeline code runs without a camera.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from viva_robot.data.dataset import DatasetError
from viva_robot.robot.realsense import CameraError, Frame, RealSenseCamera, ReplayDevice, rs
from viva_robot.robot.topics import TOPICS
from viva_robot.ros.node import run_node
from viva_robot.ros.messages import camera_info_msg, image_to_msg, s_to_stamp

RESTART_PERIOD_S = 2.0  # a USB camera needs about a second to re-enumerate; retrying faster only adds churn
PARAMETERS = {  # ROS parameters and their defaults
    "serial": "", "width": 640, "height": 480, "fps": 30, "align_depth": False,
    "frame_id": "camera_color_optical_frame", "image_topic": TOPICS["image_topic"],
    "info_topic": "/camera/camera/color/camera_info",
    "depth_topic": "/camera/camera/aligned_depth_to_color/image_raw",
    "stall_timeout_s": 1.0, "replay": "",
}


def depth_to_msg(depth: np.ndarray, stamp, frame_id: str) -> Image:
    depth = np.ascontiguousarray(depth, dtype=np.uint16)
    msg = Image(height=depth.shape[0], width=depth.shape[1], encoding="16UC1",
                is_bigendian=int(sys.byteorder == "big"), step=depth.shape[1] * 2)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.data = depth.tobytes()
    return msg


class CameraNode(Node):
    """`viva_camera`: publishes Image + CameraInfo (same stamp) from a RealSense or a replayed dataset."""

    def __init__(self, *, rs_context: rs.context | None = None, context=None, **overrides):
        super().__init__("viva_camera", context=context)
        any_type = ParameterDescriptor(dynamic_typing=True)  # `serial:=0123...` arrives as an int otherwise
        self.p = p = {name: self.declare_parameter(name, default, any_type if name == "serial" else None).value
                      for name, default in {**PARAMETERS, **overrides}.items()}
        self.stall_timeout_s = float(p["stall_timeout_s"])
        try:
            self.replay = ReplayDevice(p["replay"], p["fps"]) if p["replay"] else None
        except (CameraError, DatasetError):
            super().destroy_node()  # half built: keep rclpy's shutdown from calling our destroy_node
            raise
        if self.replay is not None:
            self.get_logger().info(f"replaying {p['replay']} at {p['fps']} fps, {self.replay.width}x"
                                   f"{self.replay.height} (the dataset's size), pinhole intrinsics fx = fy = width")
            self.camera = RealSenseCamera(self.replay.context, ReplayDevice.SERIAL, self.replay.width,
                                          self.replay.height, p["fps"])
        else:  # realsense2_camera's convention: a leading "_" keeps a numeric serial a string
            self.camera = RealSenseCamera(rs_context, str(p["serial"]).removeprefix("_"), p["width"], p["height"],
                                          p["fps"], p["align_depth"])
        self.image_pub = self.create_publisher(Image, p["image_topic"], qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, p["info_topic"], qos_profile_sensor_data)
        self.depth_pub = (self.create_publisher(Image, p["depth_topic"], qos_profile_sensor_data)
                          if p["align_depth"] and self.replay is None else None)
        self.published = self.dropped = self.stalls = 0
        self.last_error = ""
        self._last_stamp = float("-inf")
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="viva-camera-reader", daemon=True)
        self._reader.start()

    def _error(self, message: str) -> None:
        if message != self.last_error:  # once per fault, not once per retry
            self.get_logger().error(message)
        self.last_error = message

    def _read_loop(self) -> None:
        stalled_since, last_restart = None, float("-inf")
        while not self._stop.is_set():
            timeout = self.stall_timeout_s
            try:
                if not self.camera.running:
                    self.camera.start()
                    self.get_logger().info(f"camera {self.camera.serial} streaming")
                    timeout = max(timeout, RESTART_PERIOD_S)  # a first frame takes longer (USB, auto-exposure)
                frame = self.camera.read(timeout)
            except (CameraError, RuntimeError) as e:  # librealsense raises RuntimeError on unplug and USB errors
                self.camera.stop()
                self._error(str(e))
                self._stop.wait(RESTART_PERIOD_S)
                continue
            now = time.monotonic()
            if frame is None:
                if stalled_since is None:
                    stalled_since, self.stalls = now - timeout, self.stalls + 1
                    self._error(f"no frame from camera {self.camera.serial} for {timeout:.1f} s; "
                                f"restarting its pipeline every {RESTART_PERIOD_S:.0f} s until frames return")
                if now - last_restart >= RESTART_PERIOD_S:
                    last_restart = now
                    self.camera.stop()
                continue
            if self.last_error:  # after a stall or a failed start
                since = f" after {now - stalled_since:.1f} s" if stalled_since is not None else ""
                self.get_logger().info(f"camera {self.camera.serial}: frames again{since}")
            stalled_since, self.last_error = None, ""
            try:
                self._publish(frame)
            except Exception as e:
                if not self.context.ok():
                    return  # shut down (Ctrl-C) while a frame was on its way out
                self._error(f"camera {self.camera.serial}: could not publish a frame ({e.__class__.__name__}: {e})")

    def _publish(self, frame: Frame) -> None:
        if frame.timestamp_s <= self._last_stamp or time.time() - frame.timestamp_s > self.stall_timeout_s:
            self.dropped += 1  # older than what subscribers already have, or queued since before a stall
            return
        self._last_stamp = frame.timestamp_s
        stamp, fid, i = s_to_stamp(frame.timestamp_s), self.p["frame_id"], self.camera.intrinsics
        self.image_pub.publish(image_to_msg(frame.rgb, stamp, fid))
        self.info_pub.publish(camera_info_msg(i.width, i.height, i.fx, i.fy, i.cx, i.cy, list(i.distortion), i.model,
                                              stamp, fid))
        if self.depth_pub is not None and frame.depth is not None:
            self.depth_pub.publish(depth_to_msg(frame.depth, stamp, fid))
        self.published += 1

    def destroy_node(self) -> None:
        self._stop.set()
        self._reader.join(timeout=self.stall_timeout_s + 5.0)
        self.camera.stop()
        if self.replay is not None:
            self.replay.close()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    # a bad replay path or parameter stops the node; camera faults at run time are retried, not fatal
    return run_node(CameraNode, "viva-ros-camera", (CameraError, DatasetError), argv)

if __name__ == "__main__":
    sys.exit(main())
