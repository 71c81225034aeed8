"""Calibration on synthetic renders where the true camera-to-base transform is known; files, errors and the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from board_render import render_board
from viva_robot.cli import main
from viva_robot.robot.calibration import (
    CalibrationError,
    CameraIntrinsics,
    CameraToBase,
    CharucoBoardSpec,
    board_pose,
    hand_eye,
    hand_eye_residuals,
    intrinsics_from_device,
    intrinsics_from_profile,
    load,
    load_poses,
    save,
    workspace_from_poses,
)
from viva_robot.robot.geometry import matrix_from_quat, pose_matrix, quat_from_matrix, rotation_angle_deg
from viva_robot.robot.safety import SafetyLimits, load_limits

ROOT = Path(__file__).resolve().parents[2]
CAMERA = CameraIntrinsics(width=1280, height=720, fx=910.0, fy=910.0, cx=640.0, cy=360.0, serial="synthetic")
BOARD = load(CharucoBoardSpec, ROOT / "calibration" / "board.yaml")


def rotation(axis, angle) -> np.ndarray:
    """Rodrigues' formula, so the scene is built without the code under test."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def look_at(eye, target, up=(0, 0, 1)) -> np.ndarray:
    """base_from_camera for a camera at `eye` looking at `target` (camera z forward, x right, y down)."""
    z = np.subtract(target, eye) / np.linalg.norm(np.subtract(target, eye))
    x = np.cross(z, up) / np.linalg.norm(np.cross(z, up))
    return pose_matrix(np.column_stack([x, np.cross(z, x), z]), eye)


# A tripod camera ~1 m from the robot looking down at the table; the board is bolted 9 cm past the flange, turned.
BASE_FROM_CAMERA = look_at(eye=(1.25, 0.35, 0.75), target=(0.45, 0.0, 0.15))
GRIPPER_FROM_BOARD = pose_matrix(rotation([0, 0, 1], 0.3) @ rotation([1, 0, 0], 0.2), [0.02, -0.03, 0.09])


def synthetic_views(n: int, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """n robot poses (base_from_gripper) that hold the board in view, and the board's true pose in the camera."""
    rng = np.random.default_rng(seed)
    center = np.array([BOARD.squares_x, BOARD.squares_y, 0]) * BOARD.square_m / 2
    grippers, boards = [], []
    for _ in range(n):
        # the board faces the camera, tilted up to 35 degrees and rolled up to 60, its centre in the middle of the image
        tilt = rotation([*rng.normal(size=2), 0], rng.uniform(0.15, 0.6))
        r = tilt @ rotation([0, 0, 1], rng.uniform(-1.0, 1.0))
        pixel = rng.uniform([400, 220], [880, 500])
        ray = np.array([(pixel[0] - CAMERA.cx) / CAMERA.fx, (pixel[1] - CAMERA.cy) / CAMERA.fy, 1.0])
        camera_from_board = pose_matrix(r, ray * rng.uniform(0.5, 0.8) - r @ center)
        boards.append(camera_from_board)
        grippers.append(BASE_FROM_CAMERA @ camera_from_board @ np.linalg.inv(GRIPPER_FROM_BOARD))
    return grippers, boards


def render(camera_from_board: np.ndarray, k: int) -> np.ndarray:
    return render_board(CAMERA, BOARD, camera_from_board, noise_std=2.0, blur_sigma_px=0.6, seed=k)


def errors(estimate: np.ndarray) -> tuple[float, float]:
    """Translation (mm) and rotation (deg) error of a base_from_camera estimate."""
    return (1000 * float(np.linalg.norm(estimate[:3, 3] - BASE_FROM_CAMERA[:3, 3])),
            rotation_angle_deg(estimate[:3, :3], BASE_FROM_CAMERA[:3, :3]))


@pytest.fixture(scope="module")
def detected():
    grippers, truth = synthetic_views(15)
    found = [board_pose(render(t, k), BOARD, CAMERA) for k, t in enumerate(truth)]
    return grippers, truth, [None if f is None else pose_matrix(*f) for f in found]


def test_board_pose_matches_the_rendered_pose(detected):
    _, truth, found = detected
    assert all(f is not None for f in found)
    t_err = [1000 * np.linalg.norm(f[:3, 3] - t[:3, 3]) for f, t in zip(found, truth)]
    r_err = [rotation_angle_deg(f[:3, :3], t[:3, :3]) for f, t in zip(found, truth)]
    print(f"\nboard pose error over {len(found)} views: {np.mean(t_err):.2f} mm mean / {max(t_err):.2f} max, "
          f"{np.mean(r_err):.3f} deg mean / {max(r_err):.3f} max")
    assert max(t_err) < 3 and max(r_err) < 0.5


@pytest.mark.parametrize("method", ["park", "tsai", "horaud", "andreff", "daniilidis"])
def test_hand_eye_recovers_the_known_camera_pose(detected, method):
    grippers, _, found = detected
    estimate = hand_eye(grippers, found, method)
    t_mm, r_deg = errors(estimate)
    dist_mm, angle_deg = hand_eye_residuals(grippers, found, estimate)
    print(f"\nhand-eye {method}, 15 views: error {t_mm:.2f} mm, {r_deg:.3f} deg; "
          f"residuals max {dist_mm.max():.2f} mm, {angle_deg.max():.3f} deg")
    assert t_mm < 5 and r_deg < 0.5, (t_mm, r_deg)
    assert dist_mm.max() < 5 and angle_deg.max() < 0.5


def test_hand_eye_tolerates_robot_pose_noise(detected):
    """Reported robot poses are off by about 0.5 mm and 0.05 degree on a real arm; the result stays well inside."""
    grippers, _, found = detected
    rng = np.random.default_rng(3)
    noisy = [g @ pose_matrix(rotation(rng.normal(size=3), np.radians(0.05)), rng.normal(0, 0.0005, 3)) for g in grippers]
    t_mm, r_deg = errors(hand_eye(noisy, found))
    print(f"\nhand-eye park, 15 views, robot poses off by 0.5 mm / 0.05 deg: error {t_mm:.2f} mm, {r_deg:.3f} deg")
    assert t_mm < 5 and r_deg < 0.5, (t_mm, r_deg)


def test_too_few_usable_views_is_an_error(detected):
    grippers, _, found = detected
    views = found[:2] + [None] * 3
    with pytest.raises(CalibrationError, match=r"only 2 of 5 views are usable \(board detected\); hand-eye calibration "
                                               r"needs at least 3"):
        hand_eye(grippers[:5], views)
    with pytest.raises(CalibrationError, match="needs at least 8"):
        hand_eye(grippers, found[:7] + [None] * 8, min_samples=8)


def test_board_out_of_view_gives_none():
    away = pose_matrix(np.eye(3), [2.0, 0.0, 0.7])  # beside the image
    assert board_pose(render_board(CAMERA, BOARD, away), BOARD, CAMERA) is None
    assert board_pose(np.full((720, 1280, 3), 128, np.uint8), BOARD, CAMERA) is None
    far = pose_matrix(np.eye(3), [-0.05, -0.03, 12.0])  # a few pixels wide
    assert board_pose(render_board(CAMERA, BOARD, far), BOARD, CAMERA) is None


def test_intrinsics_from_a_software_realsense():
    rs = pytest.importorskip("pyrealsense2")
    device = rs.software_device()
    sensor = device.add_sensor("Color")
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = 848, 480, 610.25, 609.5, 421.75, 242.125
    intr.model, intr.coeffs = rs.distortion.inverse_brown_conrady, [0.1, -0.05, 0.001, 0.002, 0.01]
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid, stream.width, stream.height = rs.stream.color, 0, 1, 848, 480
    stream.fps, stream.bpp, stream.fmt, stream.intrinsics = 30, 3, rs.format.rgb8, intr
    got = intrinsics_from_profile(sensor.add_video_stream(stream), serial="sw-1")
    assert got == CameraIntrinsics(width=848, height=480, fx=610.25, fy=609.5, cx=421.75, cy=242.125,
                                   distortion=(0.1, -0.05, 0.001, 0.002, 0.01), model="inverse_brown_conrady",
                                   serial="sw-1")


def test_intrinsics_from_device_without_a_camera():
    rs = pytest.importorskip("pyrealsense2")
    if len(rs.context().query_devices()):
        pytest.skip("a RealSense is connected")
    with pytest.raises(CalibrationError, match="no RealSense device found"):
        intrinsics_from_device(None, 640, 480, 30)


def test_yaml_round_trips(tmp_path):
    assert load(CameraIntrinsics, save(CAMERA, tmp_path / "intrinsics.yaml", "a comment")) == CAMERA
    assert load(CharucoBoardSpec, save(BOARD, tmp_path / "board.yaml")) == BOARD
    result = CameraToBase(translation=tuple(BASE_FROM_CAMERA[:3, 3]), quaternion=tuple(quat_from_matrix(BASE_FROM_CAMERA[:3, :3])),
                          samples=15, views=16, method="park", residual_translation_mm_mean=0.5,
                          residual_translation_mm_max=1.0, residual_rotation_deg_mean=0.05, residual_rotation_deg_max=0.1)
    loaded = load(CameraToBase, save(result, tmp_path / "camera_to_base.yaml"))
    assert loaded == result and np.allclose(loaded.matrix(), BASE_FROM_CAMERA)


def test_quaternions_round_trip():
    rng = np.random.default_rng(1)
    for angle in (0.0, 1e-4, 1.0, np.pi - 1e-4, np.pi):
        r = rotation(rng.normal(size=3), angle)
        assert np.allclose(matrix_from_quat(quat_from_matrix(r)), r, atol=1e-9)
    assert np.allclose(quat_from_matrix(rotation([1, 0, 0], np.pi)), [1, 0, 0, 0])  # x, y, z, w


def test_missing_and_invalid_files_name_file_and_field(tmp_path):
    missing = tmp_path / "intrinsics.yaml"
    with pytest.raises(CalibrationError, match=r"intrinsics\.yaml: camera intrinsics file not found \(write it with "
                                               r"`viva-robot calibrate intrinsics`"):
        load(CameraIntrinsics, missing)
    missing.write_text("width: 640\nheight: 480\nfx: -3\nfy: 600\ncx: 320\ncy: 240\n")
    with pytest.raises(CalibrationError, match=r"intrinsics\.yaml: invalid camera intrinsics file:\n  field 'fx': "
                                               r"Input should be greater than 0"):
        load(CameraIntrinsics, missing)
    missing.write_text("width: 640\n")
    with pytest.raises(CalibrationError, match="field 'height': Field required"):
        load(CameraIntrinsics, missing)
    board = tmp_path / "board.yaml"
    board.write_text("square_m: 0.03\nmarker_m: 0.04\n")
    with pytest.raises(CalibrationError, match=r"board\.yaml: invalid ChArUco board file:\n  field '\(file\)': .*marker_m 0\.04 must be "
                                               r"smaller than square_m 0\.03"):
        load(CharucoBoardSpec, board)
    with pytest.raises(CalibrationError, match=r"camera_to_base\.yaml: camera-to-base file not found \(write it with "
                                               r"`viva-robot calibrate hand-eye`"):
        load(CameraToBase, tmp_path / "camera_to_base.yaml")


def test_workspace_file_is_accepted_by_the_supervisor(tmp_path):
    corners = [[0.3, -0.25, 0.05], [0.7, -0.25, 0.05], [0.7, 0.25, 0.45], [0.3, 0.25, 0.45], [0.5, 0.0, 0.2]]
    path = save(workspace_from_poses(corners, margin_m=0.02), tmp_path / "workspace.yaml")
    limits = load_limits(path)
    assert np.allclose(limits.workspace_min, [0.28, -0.27, 0.03]) and np.allclose(limits.workspace_max, [0.72, 0.27, 0.47])
    assert limits.max_translation_m == SafetyLimits.model_fields["max_translation_m"].default
    with pytest.raises(CalibrationError, match="span no box along z"):
        workspace_from_poses([[0.3, 0.0, 0.1], [0.6, 0.2, 0.1]], margin_m=0.0)


def write_samples(folder: Path, n: int) -> Path:
    folder.mkdir()
    grippers, truth = synthetic_views(n, seed=7)
    lines = []
    for k, (g, t) in enumerate(zip(grippers, truth)):
        Image.fromarray(render(t, k)).save(folder / f"{k:03d}.png")
        lines.append(json.dumps({"position": g[:3, 3].tolist(), "orientation": quat_from_matrix(g[:3, :3]).tolist()}))
    (folder / "poses.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_cli_hand_eye_on_synthetic_samples(tmp_path, capsys):
    samples = write_samples(tmp_path / "samples", 12)
    intrinsics = save(CAMERA, tmp_path / "intrinsics.yaml")
    out = tmp_path / "cal" / "camera_to_base.yaml"
    args = ["calibrate", "hand-eye", str(samples), "--intrinsics", str(intrinsics),
            "--board", str(ROOT / "calibration" / "board.yaml"), "--out", str(out)]
    assert main(args) == 0
    result = load(CameraToBase, out)
    t_mm, r_deg = errors(result.matrix())
    with capsys.disabled():
        print(f"\nCLI hand-eye, 12 views: error {t_mm:.2f} mm, {r_deg:.3f} deg; {capsys.readouterr().out}")
    assert result.samples == result.views == 12 and t_mm < 5 and r_deg < 0.5

    # a malformed pose names the file and the line; a missing image names the image and the pose's line
    lines = (samples / "poses.jsonl").read_text().splitlines()
    lines[3] = '{"position": [0.1, 0.2], "orientation": [0, 0, 0, 1]}'
    (samples / "poses.jsonl").write_text("\n".join(lines))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"viva-robot calibrate hand-eye: error: {samples / 'poses.jsonl'} line 4: position needs 3 numbers" in err
    lines[3] = "not json"
    (samples / "poses.jsonl").write_text("\n".join(lines + [lines[0]]))
    assert main(args) == 2
    assert f"{samples / 'poses.jsonl'} line 4: Expecting value" in capsys.readouterr().err
    lines[3] = lines[0]
    (samples / "poses.jsonl").write_text("\n".join(lines + [lines[0]]))
    assert main(args) == 2
    assert f"{samples / '012.png'}: image missing for the pose on {samples / 'poses.jsonl'} line 13" in capsys.readouterr().err
    assert main(args[:-4] + ["--board", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: ChArUco board file not found" in capsys.readouterr().err


def test_cli_board_and_workspace(tmp_path, capsys):
    assert main(["calibrate", "board", "--out", str(tmp_path / "board.png"), "--dpi", "150"]) == 0
    png = Image.open(tmp_path / "board.png")
    assert round(png.info["dpi"][0]) == 150 and png.size == (7 * 207 + 206, 5 * 207 + 206)  # 35 mm = 207 px at 150 dpi
    poses = tmp_path / "corners.jsonl"
    poses.write_text("".join(json.dumps({"position": p, "orientation": [1, 0, 0, 0]}) + "\n"
                             for p in ([0.3, -0.2, 0.05], [0.7, 0.2, 0.5])))
    out = tmp_path / "workspace.yaml"
    assert main(["calibrate", "workspace", str(poses), "--margin", "0.01", "--out", str(out)]) == 0
    assert load_limits(out).workspace_max == (0.71, 0.21, 0.51)
    assert load_poses(poses)[0][:3, 3].tolist() == [0.3, -0.2, 0.05]


def test_importing_the_package_does_not_import_opencv():
    code = ("import sys, viva_robot.cli, viva_robot.robot.calibration; "
            "assert 'cv2' not in sys.modules and 'pyrealsense2' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
