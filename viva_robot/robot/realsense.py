"""The RealSense driver: one librealsense pipeline (color, optionally depth aligned to color) and a software camera
that replays a viva dataset through librealsense's software device. No ROS: the camera node (ros/camera.py) and the
calibration commands both use it.

Timestamps: a frame in librealsense's `global_time` (camera clock mapped onto the host's) or `system_time` (host
arrival) domain carries epoch milliseconds, i.e. ROS system time, and its capture time is the better stamp; the
`hardware_clock` domain counts from the camera's power-up, so such frames get their receive time.

Replay: the dataset's frames are fed, looping, at `fps` through a librealsense software device, so the same
pipeline code runs without a camera. Its camera info is a made-up pinhole, fx = fy = width, cx = width / 2,
cy = height / 2 (53 degrees horizontal field of view): a valid K for consumers, not a calibration.

Import order, kept here and nowhere else: pyrealsense2 2.59 carries its own Fast DDS and exports its symbols; loaded
before rclpy, a process that has created a ROS node crashes (SIGSEGV in exit handlers) when it exits. So this module
loads rclpy first when it is installed (importing it needs no rclpy); import pyrealsense2 only through `rs` here.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    import rclpy  # noqa: F401  (before pyrealsense2: see the module docstring)
except ImportError:  # no ROS on this machine: nothing to crash
    pass
# isort: split
import pyrealsense2 as rs

from viva_robot.data.dataset import VideoDataset

REPLAY_RAM_BYTES = 1 << 30  # replayed datasets up to 1 GiB of frames are decoded once and looped from memory
HOST_CLOCK_DOMAINS = (rs.timestamp_domain.global_time, rs.timestamp_domain.system_time)


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
