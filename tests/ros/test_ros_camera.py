"""The RealSense camera node, for real: librealsense software devices stand in for the camera (same pipeline code),
and images cross real DDS, in-process and from the `viva-ros-camera` console script."""

import os
import signal
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from viva_robot.data.dataset import DatasetWriter, Episode
from viva_robot.robot.realsense import (  # pyrealsense2 itself only through it (it orders the import after rclpy)
    CameraError,
    RealSenseCamera,
    attach_software_device,
    feed_frame,
    pinhole_intrinsics,
    rs,
)
from viva_robot.ros.camera import CameraNode
from viva_robot.ros.messages import image_from_msg, stamp_to_s

DOMAIN_ID = 142  # this module's own DDS domain, away from other tests' traffic
W, H, FPS = 32, 24, 30


class SoftwareCamera:
    """A librealsense software device with one rgb8 color stream, added to its own context."""

    def __init__(self, serial: str, context: rs.context | None = None, intrinsics: rs.intrinsics | None = None):
        self.context = context or rs.context()
        self.device = rs.software_device()
        self.device.register_info(rs.camera_info.serial_number, serial)
        self.sensor = self.device.add_sensor("RGB Camera")
        stream = rs.video_stream()
        stream.type, stream.index, stream.uid, stream.fmt, stream.bpp = rs.stream.color, 0, 0, rs.format.rgb8, 3
        stream.width, stream.height, stream.fps = W, H, FPS
        stream.intrinsics = intrinsics or pinhole_intrinsics(W, H)
        self.profile = self.sensor.add_video_stream(stream, True).as_video_stream_profile()
        self.keep = attach_software_device(self.device, self.context)

    def feed(self, value: int, timestamp_ms: float | None = None, domain=rs.timestamp_domain.global_time) -> None:
        feed_frame(self.sensor, self.profile, np.full((H, W, 3), value, np.uint8), frame_number=value, domain=domain,
                   timestamp_ms=time.time() * 1000.0 if timestamp_ms is None else timestamp_ms)


@pytest.fixture(scope="module")
def ros():
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    yield context
    rclpy.try_shutdown(context=context)


class Listener:
    """A node subscribed to the camera topics with sensor-data QoS, spun in a background thread."""

    def __init__(self, context, *nodes):
        self.node = rclpy.create_node("camera_listener", context=context)
        self.images: list[Image] = []
        self.infos: list[CameraInfo] = []
        self.node.create_subscription(Image, "/camera/camera/color/image_raw", self.images.append,
                                      qos_profile_sensor_data)
        self.node.create_subscription(CameraInfo, "/camera/camera/color/camera_info", self.infos.append,
                                      qos_profile_sensor_data)
        self.executor = SingleThreadedExecutor(context=context)
        for n in (self.node, *nodes):
            self.executor.add_node(n)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def wait_for(self, condition, timeout_s: float, while_waiting=lambda: None) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            while_waiting()
            time.sleep(1 / FPS)
        return condition()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def test_camera_reads_fed_frames_in_order_with_pixels_stamps_and_intrinsics():
    intr = pinhole_intrinsics(W, H)
    intr.fx, intr.fy, intr.ppx, intr.ppy = 41.5, 42.5, 15.25, 11.75
    intr.model, intr.coeffs = rs.distortion.brown_conrady, [0.1, -0.05, 0.001, 0.002, 0.01]
    cam = SoftwareCamera("sw-color", intrinsics=intr)
    camera = RealSenseCamera(cam.context, serial="sw-color", width=W, height=H, fps=FPS)
    camera.start()
    try:
        i = camera.intrinsics
        assert (i.width, i.height, i.fx, i.fy, i.cx, i.cy, i.model) == (W, H, 41.5, 42.5, 15.25, 11.75, "plumb_bob")
        np.testing.assert_allclose(i.distortion, [0.1, -0.05, 0.001, 0.002, 0.01], rtol=1e-6)
        t0 = 1_700_000_000_000.0  # ms since the epoch, as a global_time (host-mapped) frame carries
        for k in range(8):
            cam.feed(k, timestamp_ms=t0 + k * 33.0)
            frame = camera.read(timeout_s=2.0)
            assert frame is not None and frame.frame_number == k
            assert frame.rgb.shape == (H, W, 3) and frame.rgb.dtype == np.uint8 and (frame.rgb == k).all()
            assert frame.timestamp_s == pytest.approx((t0 + k * 33.0) / 1000.0, abs=1e-6)
            assert frame.depth is None
        # The camera's own clock relates to no host clock: such a frame is stamped when it is received.
        cam.feed(9, timestamp_ms=1234.0, domain=rs.timestamp_domain.hardware_clock)
        frame = camera.read(timeout_s=2.0)
        assert frame is not None and abs(frame.timestamp_s - time.time()) < 1.0
        start = time.monotonic()
        assert camera.read(timeout_s=0.2) is None  # nothing fed: times out, no old frame comes back
        assert 0.15 < time.monotonic() - start < 1.0
    finally:
        camera.stop()


def test_aligned_depth_comes_with_the_color_frame():
    cam = SoftwareCamera("sw-depth")
    depth_sensor = cam.device.add_sensor("Stereo Module")
    depth_sensor.add_read_only_option(rs.option.depth_units, 0.001)
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid, stream.fmt, stream.bpp = rs.stream.depth, 0, 1, rs.format.z16, 2
    stream.width, stream.height, stream.fps, stream.intrinsics = W, H, FPS, pinhole_intrinsics(W, H)
    depth_profile = depth_sensor.add_video_stream(stream, True).as_video_stream_profile()
    identity = rs.extrinsics()
    identity.rotation, identity.translation = [1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0]
    depth_profile.register_extrinsics_to(cam.profile, identity)
    camera = RealSenseCamera(cam.context, "sw-depth", W, H, FPS, align_depth=True)
    camera.start()
    try:
        for k in range(3):
            t = time.time() * 1000.0
            cam.feed(k, timestamp_ms=t)
            feed_frame(depth_sensor, depth_profile, np.full((H, W), 500 + k, np.uint16), timestamp_ms=t,
                       frame_number=k, domain=rs.timestamp_domain.global_time)
            frame = camera.read(timeout_s=2.0)
            assert frame is not None and (frame.rgb == k).all()
            assert frame.depth.shape == (H, W) and frame.depth.dtype == np.uint16
            assert (frame.depth[H // 4: -H // 4, W // 4: -W // 4] == 500 + k).all()  # a flat wall stays flat
    finally:
        camera.stop()


def test_the_driver_needs_no_ros():
    """robot/realsense.py on a machine without rclpy: it imports, and a replayed dataset streams through it."""
    code = ("import sys; sys.modules['rclpy'] = None  # importing rclpy now raises ImportError, as without ROS\n"
            "from viva_robot.robot.realsense import RealSenseCamera, rs\n"
            "assert 'rclpy' not in [m for m, v in sys.modules.items() if v is not None]\n"
            "print(rs.context().query_devices().size())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().isdigit()


def test_wrong_serial_names_the_cameras_present():
    cam = SoftwareCamera("111")
    other = SoftwareCamera("222", context=cam.context)  # (a software device lives as long as its object)
    with pytest.raises(CameraError, match=r"no RealSense camera with serial '999'; cameras present: 111, 222"):
        RealSenseCamera(other.context, serial="999", width=W, height=H, fps=FPS).start()


def test_stall_is_logged_once_nothing_old_is_published_and_publishing_resumes(ros, capfd):
    cam = SoftwareCamera("sw-stall")
    node = CameraNode(rs_context=cam.context, context=ros, serial="sw-stall", width=W, height=H, fps=FPS,
                      stall_timeout_s=0.3)
    listener = Listener(ros, node)
    fed = iter(range(256))
    try:
        assert listener.wait_for(lambda: len(listener.images) >= 3, 8.0, lambda: cam.feed(next(fed)))
        assert node.stalls == 0

        # The camera stops sending: one error, a stall counted, nothing published meanwhile.
        assert listener.wait_for(lambda: node.stalls == 1, 3.0)
        seen = len(listener.images)
        time.sleep(1.0)
        assert len(listener.images) == seen and node.stalls == 1
        assert "no frame from camera sw-stall for 0.3 s" in node.last_error
        assert capfd.readouterr().err.count("no frame from camera sw-stall for 0.3 s") == 1

        # Frames again (after a pipeline restart, so some may be lost): publishing resumes with new frames only.
        resumed = iter(range(100, 256))
        assert listener.wait_for(lambda: image_from_msg(listener.images[-1])[0, 0, 0] >= 100, 8.0,
                                 lambda: cam.feed(next(resumed)))
        assert node.stalls == 1 and node.last_error == ""

        # A frame captured long ago (say, queued in the driver during the stall) is dropped, not published.
        dropped = node.dropped
        cam.feed(250, timestamp_ms=(time.time() - 5.0) * 1000.0)
        assert listener.wait_for(lambda: node.dropped > dropped, 2.0)
        cam.feed(next(resumed))
        time.sleep(0.3)
        values = [int(image_from_msg(m)[0, 0, 0]) for m in listener.images]
        assert 250 not in values
        assert values == sorted(values) and len(set(values)) == len(values)  # no frame twice, none out of order
        stamps = [stamp_to_s(m.header.stamp) for m in listener.images]
        assert all(b > a for a, b in pairwise(stamps))
    finally:
        listener.close()
        node.destroy_node()


def write_dataset(path: Path) -> np.ndarray:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (9, H, W, 3), dtype=np.uint8)
    writer = DatasetWriter(path, source="test", fps=FPS, resolution=(H, W), chunk_frames=4)
    writer.append(Episode(rgb=frames[:5], key="ep0"))
    writer.append(Episode(rgb=frames[5:], key="ep1"))
    return frames


def test_console_script_replays_a_dataset_across_processes_and_exits_cleanly_on_sigint(ros, tmp_path):
    frames = write_dataset(tmp_path / "replay.zarr")
    script = Path(sys.executable).with_name("viva-ros-camera")
    command = [str(script) if script.exists() else "viva-ros-camera", "--ros-args",
               "-p", f"replay:={tmp_path / 'replay.zarr'}", "-p", f"fps:={FPS}", "-p", "stall_timeout_s:=1.0"]
    proc = subprocess.Popen(command, env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    listener = Listener(ros)
    try:
        assert listener.wait_for(lambda: len(listener.images) >= 10 and listener.infos, 12.0), \
            f"{len(listener.images)} images; node output:\n{proc.stdout.read() if proc.poll() is not None else ''}"
        now = time.time()
        for msg in listener.images:
            rgb = image_from_msg(msg, expect_shape=(H, W))
            assert msg.encoding == "rgb8" and msg.header.frame_id == "camera_color_optical_frame"
            assert any((rgb == f).all() for f in frames)
        stamps = [stamp_to_s(m.header.stamp) for m in listener.images]
        assert all(b > a for a, b in pairwise(stamps)) and abs(stamps[-1] - now) < 2.0
        info = listener.infos[-1]
        assert (info.width, info.height, info.header.frame_id) == (W, H, "camera_color_optical_frame")
        np.testing.assert_allclose(info.k, [W, 0, W / 2, 0, W, H / 2, 0, 0, 1])  # the replay pinhole
        image_stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in listener.images}
        paired = [(i.header.stamp.sec, i.header.stamp.nanosec) in image_stamps for i in listener.infos]
        assert sum(paired) >= 5  # each image's CameraInfo carries the image's stamp
    finally:
        listener.close()
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, proc.stdout.read()
