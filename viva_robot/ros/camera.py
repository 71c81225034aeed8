"""The RealSense camera node `viva_camera`: color (optionally depth aligned to color) from a librealsense pipeline,
published as realsense2_camera does (message types, default topic names), so the two swap by topic remapping.

Timestamps: a frame in librealsense's `global_time` (camera clock mapped onto the host's) or `system_time` (host
arrival) domain carries epoch milliseconds, i.e. ROS system time, and its capture time is the better stamp; the
`hardware_clock` domain counts from the camera's power-up, so such frames get their receive time. ROS time is
assumed to be wall time (no use_sim_time): a real camera lives on wall time.

QoS: sensor data (best effort, keep last 5) for images and camera info: a late frame is worth less than the next,
and a slow subscriber must not back-pressure the camera. Subscribe with sensor-data QoS (a reliable subscription does
not match a best-effort publisher); such a subscription also matches realsense2_camera's reliable publishers.

Faults: a reading thread (not the executor) waits for frames. No frame for `stall_timeout_s` is a stall: logged once
("no frame from camera <serial> for X s"), counted (`stalls`), and the pipeline is restarted every RESTART_PERIOD_S
until frames return. A frame goes out only if newer than the last one published and younger than `stall_timeout_s`,
so no old frame is ever published; holding the arm is the safety supervisor's job (its watchdog sees images stop).

Replay (`replay:=<viva dataset>`): the dataset's frames are fed, looping, at `fps` through a librealsense software
device, so the same pipeline code runs without a camera. Its camera info is a made-up pinhole, fx = fy = width,
cx = width / 2, cy = height / 2 (53 degrees horizontal field of view): a valid K for consumers, not a calibration.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy  # noqa: F401  (loaded before pyrealsense2, see below)
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

# isort: split
# After rclpy, on purpose: pyrealsense2 2.59 carries its own Fast DDS and exports its symbols; loaded before rclpy,
# a process that has created a ROS node crashes (SIGSEGV in exit handlers) when it exits.
import pyrealsense2 as rs

from viva_robot.data.dataset import DatasetError, VideoDataset
from viva_robot.robot.topics import TOPICS
from viva_robot.ros.node import run_node
from viva_robot.ros.messages import camera_info_msg, image_to_msg, s_to_stamp

REPLAY_RAM_BYTES = 1 << 30  # replayed datasets up to 1 GiB of frames are decoded once and looped from memory
RESTART_PERIOD_S = 2.0  # a USB camera needs about a second to re-enumerate; retrying faster only adds churn
HOST_CLOCK_DOMAINS = (rs.timestamp_domain.global_time, rs.timestamp_domain.system_time)
PARAMETERS = {  # ROS parameters and their defaults
    "serial": "", "width": 640, "height": 480, "fps": 30, "align_depth": False,
    "frame_id": "camera_color_optical_frame", "image_topic": TOPICS["image_topic"],
    "info_topic": "/camera/camera/color/camera_info",
    "depth_topic": "/camera/camera/aligned_depth_to_color/image_raw",
    "stall_timeout_s": 1.0, "replay": "",
}


class CameraError(RuntimeError):
    """The camera cannot be opened or read; the text names the serial and what is present."""


@dataclass(frozen=True)
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    model: str  # ROS distortion model, as realsense2_camera maps it: "equidistant" (Kannala-Brandt) or "plumb_bob"
    distortion: tuple[float, ...]


@dataclass(frozen=True)
class Frame:
    rgb: np.ndarray  # uint8 (H, W, 3)
    depth: np.ndarray | None  # uint16 (H, W) in the camera's depth units (1 mm on D400), aligned to rgb
    timestamp_s: float  # seconds since the Unix epoch (see the module docstring)
    frame_number: int


def pinhole_intrinsics(width: int, height: int) -> rs.intrinsics:
    i = rs.intrinsics()
    i.width, i.height, i.fx, i.fy, i.ppx, i.ppy = width, height, float(width), float(width), width / 2, height / 2
    i.model, i.coeffs = rs.distortion.none, [0.0] * 5
    return i


def attach_software_device(device: rs.software_device, context: rs.context) -> list:
    """Add a software device to `context` so that `rs.pipeline(context)` finds it.

    librealsense 2.59 keeps only a weak reference to a software device's info in the context: after `add_to` the
    device is announced, but `query_devices` (and so a pipeline) no longer sees it. Holding the device list the
    devices-changed callback receives keeps it visible; the callback (owned by the context) holds the list.
    """
    held: list = []
    context.set_devices_changed_callback(lambda event: held.append(event.get_new_devices()))
    device.add_to(context)
    return held


def feed_frame(sensor: rs.software_sensor, profile: rs.video_stream_profile, pixels: np.ndarray, *,
               timestamp_ms: float, frame_number: int, domain=rs.timestamp_domain.system_time) -> None:
    """Inject one frame into a software sensor. A fresh software_video_frame per call: librealsense frees its pixel
    copy when the frame is released, so reusing one double-frees."""
    pixels = np.ascontiguousarray(pixels)
    f = rs.software_video_frame()
    f.pixels, f.bpp = pixels, pixels.itemsize * (pixels.shape[2] if pixels.ndim == 3 else 1)
    f.stride = f.bpp * pixels.shape[1]
    f.timestamp, f.domain, f.frame_number, f.profile = timestamp_ms, domain, frame_number, profile
    sensor.on_video_frame(f)


class RealSenseCamera:
    """One librealsense pipeline: color rgb8 at width x height x fps, optionally z16 depth aligned to color."""

    def __init__(self, context: rs.context | None = None, serial: str = "", width: int = 640, height: int = 480,
                 fps: int = 30, align_depth: bool = False):
        self.context = context if context is not None else rs.context()
        self.serial, self.width, self.height, self.fps = serial, width, height, fps
        self.intrinsics: Intrinsics | None = None  # of the color stream, from the active profile once started
        self._align = rs.align(rs.stream.color) if align_depth else None
        self._pipeline: rs.pipeline | None = None

    @property
    def running(self) -> bool:
        return self._pipeline is not None

    def _find_device(self) -> str:
        serials = []
        for device in self.context.query_devices():
            try:
                serials.append(device.get_info(rs.camera_info.serial_number))
            except RuntimeError:  # unplugged while listing, or no serial
                pass
        if self.serial and self.serial not in serials:
            raise CameraError(f"no RealSense camera with serial {self.serial!r}; "
                              f"cameras present: {', '.join(sorted(serials)) or 'none'}")
        if not serials:
            raise CameraError("no RealSense camera found (is it plugged in? pyrealsense2 also needs libusb-1.0)")
        return self.serial or serials[0]

    def start(self) -> None:
        serial = self._find_device()
        config = rs.config()
        config.enable_device(serial)
        config.enable_stream(rs.stream.color, self.width, self.height, rs.format.rgb8, self.fps)
        if self._align is not None:  # any depth resolution: align resamples it onto the color image
            config.enable_stream(rs.stream.depth, 0, 0, rs.format.z16, self.fps)
        pipeline = rs.pipeline(self.context)
        try:
            profile = pipeline.start(config)
        except RuntimeError as e:
            raise CameraError(f"camera {serial}: cannot stream color {self.width}x{self.height} rgb8 at {self.fps} "
                              f"fps{' with depth' if self._align else ''}: {e}") from None
        i = profile.get_stream(rs.stream.color).as_video_stream_profile().get_intrinsics()
        kb = i.model == rs.distortion.kannala_brandt4
        self.intrinsics = Intrinsics(i.width, i.height, i.fx, i.fy, i.ppx, i.ppy, "equidistant" if kb else "plumb_bob",
                                     tuple(i.coeffs[:4] if kb else i.coeffs[:5]))
        self.serial, self._pipeline = serial, pipeline  # a restart reopens this camera, not whichever comes first

    def read(self, timeout_s: float) -> Frame | None:
        """The next frame, or None when none arrived within `timeout_s`."""
        if self._pipeline is None:
            raise CameraError(f"camera {self.serial or '(any)'} is not started")
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                ok, frames = self._pipeline.try_wait_for_frames(max(1, int(left * 1000)))
            except RuntimeError as e:
                raise CameraError(f"camera {self.serial}: {e}") from None
            received = time.time()
            if not ok:
                return None
            depth = None
            if self._align is not None and frames.get_depth_frame():
                frames = self._align.process(frames)
                depth = np.array(frames.get_depth_frame().get_data(), dtype=np.uint16)  # a copy: frames are pooled
            color = frames.get_color_frame()
            if not color:  # a depth-only set from the syncer
                continue
            on_host_clock = color.get_frame_timestamp_domain() in HOST_CLOCK_DOMAINS
            return Frame(rgb=np.array(color.get_data(), dtype=np.uint8), depth=depth,
                         timestamp_s=color.get_timestamp() / 1000.0 if on_host_clock else received,
                         frame_number=int(color.get_frame_number()))
        return None

    def stop(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            try:
                pipeline.stop()
            except RuntimeError:  # an unplugged camera cannot stop cleanly; the pipeline is dropped either way
                pass


class ReplayDevice:
    """A software camera playing a viva dataset's frames, looping, at `fps`, stamped with the host clock."""

    SERIAL = "replay"

    def __init__(self, path: str | Path, fps: int):
        self.dataset = VideoDataset(path)
        if self.dataset.num_frames == 0:
            raise CameraError(f"{path}: dataset has no frames to replay")
        self.height, self.width = self.dataset.resolution
        self.fps = fps
        self.context = rs.context()
        self._device = rs.software_device()
        self._device.register_info(rs.camera_info.serial_number, self.SERIAL)
        self._device.register_info(rs.camera_info.name, f"viva replay of {Path(path).name}")
        self._sensor = self._device.add_sensor("RGB Camera")
        stream = rs.video_stream()
        stream.type, stream.index, stream.uid, stream.fmt, stream.bpp = rs.stream.color, 0, 0, rs.format.rgb8, 3
        stream.width, stream.height, stream.fps = self.width, self.height, fps
        stream.intrinsics = pinhole_intrinsics(self.width, self.height)
        self._profile = self._sensor.add_video_stream(stream, True).as_video_stream_profile()
        self._keep = attach_software_device(self._device, self.context)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, name="viva-replay", daemon=True)
        self._thread.start()  # frames fed before the pipeline starts are dropped, as a camera's would be

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _feed(self) -> None:
        n, block = self.dataset.num_frames, self.dataset.rgb.chunks[0]  # whole chunks: zarr decodes them anyway
        if n * self.height * self.width * 3 <= REPLAY_RAM_BYTES:  # decoded once: a chunk decode would stall the stream
            frames = self.dataset.rgb[:]
            chunks = lambda: [frames]  # noqa: E731
        else:
            chunks = lambda: (self.dataset.rgb[a:min(a + block, n)] for a in range(0, n, block))  # noqa: E731
        next_t, number = time.monotonic(), 0
        while True:
            for chunk in chunks():
                for rgb in chunk:
                    next_t = max(next_t + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)  # late: no burst
                    if self._stop.wait(max(0.0, next_t - time.monotonic())):
                        return
                    feed_frame(self._sensor, self._profile, rgb, timestamp_ms=time.time() * 1000.0, frame_number=number)
                    number += 1


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
