"""Conversions between ROS messages and numpy, with the checks a node needs on untrusted input.

An image message from another process can carry any encoding and any size: `image_from_msg` accepts rgb8/bgr8
only and checks that the buffer matches width x height x 3, raising `MessageError` with what was received.
Times are float seconds (ROS time from `builtin_interfaces/Time`).
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import CameraInfo, Image, JointState


class MessageError(ValueError):
    """A message that cannot be used (wrong encoding, size or non-finite values); the text says what arrived."""


def stamp_to_s(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def s_to_stamp(t: float) -> Time:
    sec = int(np.floor(t))
    return Time(sec=sec, nanosec=min(int(round((t - sec) * 1e9)), 999_999_999))


def image_to_msg(rgb: np.ndarray, stamp: Time, frame_id: str) -> Image:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise MessageError(f"image to publish has shape {rgb.shape}, expected (H, W, 3)")
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0, step=rgb.shape[1] * 3)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.data = rgb.tobytes()
    return msg


def image_from_msg(msg: Image, expect_shape: tuple[int, int] | None = None) -> np.ndarray:
    """The message's pixels as uint8 (H, W, 3) RGB."""
    if msg.encoding not in ("rgb8", "bgr8"):
        raise MessageError(f"image encoding {msg.encoding!r} is not supported; expected 'rgb8' or 'bgr8' "
                           f"(set the camera driver's color format to RGB8)")
    h, w = msg.height, msg.width
    if expect_shape is not None and (h, w) != tuple(expect_shape):
        raise MessageError(f"image is {w}x{h}, expected {expect_shape[1]}x{expect_shape[0]}")
    if h == 0 or w == 0 or msg.step < w * 3 or len(msg.data) != msg.step * h:
        raise MessageError(f"image buffer has {len(msg.data)} bytes for {w}x{h} with step {msg.step}; "
                           f"expected step >= {w * 3} and {msg.step * h} bytes")
    rows = np.frombuffer(msg.data, np.uint8).reshape(h, msg.step)
    rgb = rows[:, : w * 3].reshape(h, w, 3)
    return np.ascontiguousarray(rgb[..., ::-1] if msg.encoding == "bgr8" else rgb)


def camera_info_msg(width: int, height: int, fx: float, fy: float, cx: float, cy: float,
                    distortion: list[float], model: str, stamp: Time, frame_id: str) -> CameraInfo:
    msg = CameraInfo(width=width, height=height, distortion_model=model, d=[float(x) for x in distortion])
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    return msg


def pose_to_msg(position, orientation, stamp: Time, frame_id: str) -> PoseStamped:
    """orientation is a quaternion (x, y, z, w), geometry_msgs' order."""
    msg = PoseStamped()
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    p, q = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z = (float(v) for v in position)
    q.x, q.y, q.z, q.w = (float(v) for v in orientation)
    return msg


def pose_from_msg(msg: PoseStamped) -> tuple[np.ndarray, np.ndarray]:
    p, q = msg.pose.position, msg.pose.orientation
    return np.array([p.x, p.y, p.z]), np.array([q.x, q.y, q.z, q.w])


def joint_state_msg(names: list[str], position, velocity, stamp: Time) -> JointState:
    msg = JointState(name=list(names), position=[float(v) for v in position], velocity=[float(v) for v in velocity])
    msg.header.stamp = stamp
    return msg
