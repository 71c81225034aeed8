"""Camera calibration for the real arm: the RealSense's intrinsics, the camera-to-base transform (hand-eye, from a
ChArUco board held by the gripper) and the workspace box the safety supervisor reads. Files live in calibration/.

`a_from_b` is the 4x4 that maps points in frame b to frame a (OpenCV's "target2cam" is `camera_from_board`).
OpenCV and pyrealsense2 are imported inside the functions that use them, so `import viva_robot` needs neither.

Size: at the ~300-line mark; intrinsics, board, hand-eye and workspace share the file formats and the pose conventions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

import numpy as np
import yaml
from pydantic import Field, model_validator

from viva_robot.config import Config, load_config
from viva_robot.robot.config import HandEyeMethod
from viva_robot.robot.geometry import matrix_from_quat, pose_matrix, quat_from_matrix, rotation_angle_deg
from viva_robot.robot.safety import SafetyLimits


class CalibrationError(ValueError):
    """A calibration file or sample is missing or invalid, or there is too little to calibrate from; says which."""


class CameraIntrinsics(Config):
    """Pinhole intrinsics of the color stream at one resolution; stored in calibration/intrinsics.yaml."""

    width: int = Field(gt=0, description="image width (px); intrinsics hold at this resolution only")
    height: int = Field(gt=0, description="image height (px)")
    fx: float = Field(gt=0, description="focal length along x (px)")
    fy: float = Field(gt=0, description="focal length along y (px)")
    cx: float = Field(description="principal point x (px)")
    cy: float = Field(description="principal point y (px)")
    distortion: tuple[float, ...] = Field((0.0,) * 5, description="k1, k2, p1, p2, k3 (librealsense and OpenCV order)")
    model: str = Field("brown_conrady", description="librealsense distortion model name, e.g. inverse_brown_conrady")
    serial: str | None = Field(None, description="serial number of the camera these belong to")

    def camera_matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    def opencv_distortion(self) -> np.ndarray:
        # realsense2_camera publishes the Brown-Conrady variants as ROS "plumb_bob" (OpenCV's model) too; the D400
        # color coefficients are zero or small, so how the variants differ hardly shows.
        if self.model not in ("none", "brown_conrady", "modified_brown_conrady", "inverse_brown_conrady"):
            raise CalibrationError(f"distortion model {self.model!r} is not supported (Brown-Conrady variants only)")
        return np.array(self.distortion, float)


DICTIONARY_PATTERN = r"^DICT_(4X4|5X5|6X6|7X7)_(50|100|250|1000)$"


class CharucoBoardSpec(Config):
    """The printed ChArUco board; stored in calibration/board.yaml next to the board.png it describes."""

    squares_x: int = Field(7, ge=3, description="chessboard squares along the board's width")
    squares_y: int = Field(5, ge=3, description="chessboard squares along its height")
    square_m: float = Field(0.035, gt=0, description="side of one square as printed (m): measure it after printing")
    marker_m: float = Field(0.026, gt=0, description="side of one ArUco marker as printed (m)")
    dictionary: str = Field("DICT_5X5_100", pattern=DICTIONARY_PATTERN, description="OpenCV ArUco dictionary")

    @model_validator(mode="after")
    def _fits(self) -> "CharucoBoardSpec":
        if self.marker_m >= self.square_m:
            raise ValueError(f"marker_m {self.marker_m} must be smaller than square_m {self.square_m}")
        markers, available = self.squares_x * self.squares_y // 2, int(self.dictionary.rsplit("_", 1)[1])
        if markers > available:
            raise ValueError(f"the board needs {markers} markers but {self.dictionary} has {available}")
        return self


class CameraToBase(Config):
    """Pose of the fixed camera in the robot base frame (hand-eye result); stored in calibration/camera_to_base.yaml."""

    translation: tuple[float, float, float] = Field(description="camera origin in the base frame (m)")
    quaternion: tuple[float, float, float, float] = Field(description="camera orientation in the base frame, x, y, z, w")
    samples: int = Field(ge=3, description="views the board was detected in and used")
    views: int = Field(ge=3, description="views recorded")
    method: str = Field(description="OpenCV hand-eye method")
    residual_translation_mm_mean: float = Field(description="mean spread of the per-view board-on-gripper offset (mm)")
    residual_translation_mm_max: float = Field(description="largest spread (mm)")
    residual_rotation_deg_mean: float = Field(description="mean angular spread of that offset (deg)")
    residual_rotation_deg_max: float = Field(description="largest angular spread (deg)")

    def matrix(self) -> np.ndarray:
        return pose_matrix(matrix_from_quat(self.quaternion), self.translation)


# -- files -------------------------------------------------------------------------------------------------------------
C = TypeVar("C", bound=Config)
HOW_TO_CREATE = {
    CameraIntrinsics: ("camera intrinsics", "write it with `viva-robot calibrate intrinsics`, camera plugged in"),
    CharucoBoardSpec: ("ChArUco board", "copy the repository's calibration/board.yaml and edit it"),
    CameraToBase: ("camera-to-base", "write it with `viva-robot calibrate hand-eye`"),
}


def save(cfg: Config, path: Path, comment: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    path.write_text(header + yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None))
    return path


def load(model: type[C], path: Path) -> C:
    """The file as a validated `model`; every problem is a CalibrationError naming the file (and field)."""
    what, how = HOW_TO_CREATE[model]
    return load_config(model, Path(path), what=what, hint=how, error=CalibrationError)


# -- camera ------------------------------------------------------------------------------------------------------------
def intrinsics_from_profile(video_stream_profile, serial: str | None = None) -> CameraIntrinsics:
    """The factory intrinsics of a pyrealsense2 stream profile (librealsense stores them as float32; kept as printed)."""
    i = video_stream_profile.as_video_stream_profile().get_intrinsics()
    f32 = lambda v: float(str(np.float32(v)))  # 0.1, not 0.10000000149
    return CameraIntrinsics(width=i.width, height=i.height, fx=f32(i.fx), fy=f32(i.fy), cx=f32(i.ppx), cy=f32(i.ppy),
                            distortion=tuple(f32(c) for c in i.coeffs), model=i.model.name, serial=serial)


def intrinsics_from_device(serial: str | None, width: int, height: int, fps: int) -> CameraIntrinsics:
    """Start the RealSense color stream at the robot's resolution just long enough to read its intrinsics."""
    from viva_robot.robot.realsense import rs  # the one place that orders pyrealsense2 after rclpy

    # Asking first gives a clear message at once; pipeline.start() without a camera waits ~15 s, then says less.
    found = [d.get_info(rs.camera_info.serial_number) for d in rs.context().query_devices()]
    if not found:
        raise CalibrationError("no RealSense device found (plugged into a USB 3 port? not held by another process "
                               "such as realsense2_camera?)")
    if serial is not None and serial not in found:
        raise CalibrationError(f"no RealSense device with serial {serial} (connected: {', '.join(found)})")
    serial = serial or found[0]
    config = rs.config()
    config.enable_device(serial)
    config.enable_stream(rs.stream.color, width, height, rs.format.rgb8, fps)
    pipeline = rs.pipeline()
    try:
        profile = pipeline.start(config)
    except RuntimeError as e:
        raise CalibrationError(f"RealSense {serial}: cannot stream color {width}x{height} at {fps} fps ({e})") from None
    try:
        return intrinsics_from_profile(profile.get_stream(rs.stream.color), serial)
    finally:
        pipeline.stop()


# -- board -------------------------------------------------------------------------------------------------------------
def _opencv_board(spec: CharucoBoardSpec):
    import cv2

    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, spec.dictionary))
    return cv2.aruco.CharucoBoard((spec.squares_x, spec.squares_y), spec.square_m, spec.marker_m, dictionary)


def board_image(spec: CharucoBoardSpec, px_per_square: int, margin_px: int = 0) -> np.ndarray:
    """Grey-level image of the board, `margin_px` of white paper around it."""
    size = (spec.squares_x * px_per_square + 2 * margin_px, spec.squares_y * px_per_square + 2 * margin_px)
    return _opencv_board(spec).generateImage(size, marginSize=margin_px)


def write_board_png(spec: CharucoBoardSpec, path: Path, dpi: int = 300) -> Path:
    """A PNG that prints at the spec's size at 100% scale (the DPI is stored in the file); half a square of margin."""
    from PIL import Image

    px = round(spec.square_m / 0.0254 * dpi)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(board_image(spec, px, px // 2)).save(path, dpi=(dpi, dpi))
    return path


def board_pose(image_rgb: np.ndarray, board: CharucoBoardSpec, intrinsics: CameraIntrinsics,
               min_corners: int = 6) -> tuple[np.ndarray, np.ndarray] | None:
    """camera_from_board as (R 3x3, t 3) from one image, or None when fewer than `min_corners` ChArUco corners are
    seen or they lie on one line (no unique pose): a view without the board is normal, not an error."""
    import cv2

    cv_board = _opencv_board(board)
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY) if image_rgb.ndim == 3 else image_rgb
    corners, ids, _, _ = cv2.aruco.CharucoDetector(cv_board).detectBoard(gray)
    if ids is None or len(ids) < min_corners or cv_board.checkCharucoCornersCollinear(ids):
        return None
    object_points, image_points = cv_board.matchImagePoints(corners, ids)
    k, dist = intrinsics.camera_matrix(), intrinsics.opencv_distortion()
    # IPPE is the planar-target solver: no bad local minimum, then Levenberg-Marquardt polishes the reprojection error
    ok, rvec, tvec = cv2.solvePnP(object_points, image_points, k, dist, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(object_points, image_points, k, dist, rvec, tvec)
    return cv2.Rodrigues(rvec)[0], tvec.ravel()


# -- hand-eye ----------------------------------------------------------------------------------------------------------
def hand_eye(base_from_gripper: list[np.ndarray], camera_from_board: list[np.ndarray | None],
             method: HandEyeMethod = "park", min_samples: int = 3) -> np.ndarray:
    """base_from_camera for a camera fixed in the scene watching a board held by the gripper (eye-to-hand).

    cv2.calibrateHandEye solves the eye-in-hand case, A X = X B with A, B relative motions of gripper2base and
    target2cam, for X = cam2gripper. With the camera fixed and the board on the gripper the same equation holds with
    base and gripper swapped, so this passes gripper_from_base (each robot pose inverted) as gripper2base and
    camera_from_board unchanged as target2cam; what OpenCV returns as cam2gripper is then base_from_camera.
    `camera_from_board` entries may be None (board not detected); those views are skipped."""
    import cv2

    if not hasattr(cv2, "calibrateHandEye"):  # the OpenCV 5.0.0 Python wheels lack it (opencv/opencv#29565)
        raise CalibrationError(f"OpenCV {cv2.__version__} has no calibrateHandEye; install the version viva-robot "
                               "pins: pip install 'opencv-python-headless>=4.8,<5'")
    if len(base_from_gripper) != len(camera_from_board):
        raise CalibrationError(f"{len(base_from_gripper)} robot poses for {len(camera_from_board)} views")
    pairs = [(np.linalg.inv(g), c) for g, c in zip(base_from_gripper, camera_from_board) if c is not None]
    if len(pairs) < max(min_samples, 3):
        raise CalibrationError(f"only {len(pairs)} of {len(camera_from_board)} views are usable (board detected); "
                               f"hand-eye calibration needs at least {max(min_samples, 3)}")
    rotation, translation = cv2.calibrateHandEye(
        [g[:3, :3] for g, _ in pairs], [g[:3, 3] for g, _ in pairs], [c[:3, :3] for _, c in pairs],
        [c[:3, 3] for _, c in pairs], method=getattr(cv2, f"CALIB_HAND_EYE_{method.upper()}"))
    return pose_matrix(rotation, translation)


def hand_eye_residuals(base_from_gripper: list[np.ndarray], camera_from_board: list[np.ndarray | None],
                       base_from_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How well the views agree with the solution: each gives its own gripper_from_board, which should be one rigid
    offset; returns each one's distance (mm) and angle (deg) from their mean. Large values: bad poses or detections."""
    offsets = [np.linalg.inv(g) @ base_from_camera @ c for g, c in zip(base_from_gripper, camera_from_board)
               if c is not None]
    mean_t = np.mean([o[:3, 3] for o in offsets], axis=0)
    u, _, vt = np.linalg.svd(np.sum([o[:3, :3] for o in offsets], axis=0))  # nearest rotation to the mean matrix
    mean_r = u @ np.diag([1, 1, np.linalg.det(u @ vt)]) @ vt
    return (np.array([1000 * np.linalg.norm(o[:3, 3] - mean_t) for o in offsets]),
            np.array([rotation_angle_deg(o[:3, :3], mean_r) for o in offsets]))


def load_poses(path: Path) -> list[np.ndarray]:
    """4x4 poses from JSON lines {"position": [x, y, z], "orientation": [x, y, z, w]} (m, robot base frame)."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: poses file not found (JSON lines: position and orientation per line)")
    poses = []
    for n, line in enumerate(path.read_text().rstrip().splitlines(), 1):
        try:
            record = json.loads(line)
            position, orientation = np.array(record["position"], float), np.array(record["orientation"], float)
            if position.shape != (3,) or orientation.shape != (4,):
                raise ValueError("position needs 3 numbers and orientation 4")
            if not (np.isfinite(position).all() and abs(np.linalg.norm(orientation) - 1) < 1e-3):
                raise ValueError("position must be finite and orientation a unit quaternion")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            what = f"missing key {e}" if isinstance(e, KeyError) else str(e)
            raise CalibrationError(f"{path} line {n}: {what}; expected "
                                   '{"position": [x, y, z], "orientation": [x, y, z, w]}') from None
        poses.append(pose_matrix(matrix_from_quat(orientation), position))
    if not poses:
        raise CalibrationError(f"{path}: no poses")
    return poses


def calibrate_hand_eye(samples: Path, intrinsics: CameraIntrinsics, board: CharucoBoardSpec,
                       method: HandEyeMethod = "park", min_samples: int = 8) -> CameraToBase:
    """SAMPLES/poses.jsonl line k is the gripper pose (base frame) while SAMPLES/{k:03d}.png was taken (k from 0)."""
    from PIL import Image

    if not Path(samples).is_dir():
        raise CalibrationError(f"{samples}: samples folder not found")
    poses_file = Path(samples) / "poses.jsonl"
    poses, views = load_poses(poses_file), []
    for k in range(len(poses)):
        image_file = Path(samples) / f"{k:03d}.png"
        if not image_file.is_file():
            raise CalibrationError(f"{image_file}: image missing for the pose on {poses_file} line {k + 1}")
        image = np.asarray(Image.open(image_file).convert("RGB"))
        if image.shape[:2] != (intrinsics.height, intrinsics.width):
            raise CalibrationError(f"{image_file}: {image.shape[1]}x{image.shape[0]} image, but the intrinsics are for "
                                   f"{intrinsics.width}x{intrinsics.height}")
        found = board_pose(image, board, intrinsics)
        views.append(None if found is None else pose_matrix(*found))
    base_from_camera = hand_eye(poses, views, method, min_samples)
    dist_mm, angle_deg = hand_eye_residuals(poses, views, base_from_camera)
    return CameraToBase(
        translation=tuple(base_from_camera[:3, 3]), quaternion=tuple(quat_from_matrix(base_from_camera[:3, :3])),
        samples=len(dist_mm), views=len(views), method=method,
        residual_translation_mm_mean=float(dist_mm.mean()), residual_translation_mm_max=float(dist_mm.max()),
        residual_rotation_deg_mean=float(angle_deg.mean()), residual_rotation_deg_max=float(angle_deg.max()))


# -- workspace ---------------------------------------------------------------------------------------------------------
def workspace_from_poses(positions, margin_m: float = 0.02) -> SafetyLimits:
    """The box around recorded end-effector positions (an operator jogs the arm to the corners of the safe region),
    grown by `margin_m` on every side (negative: shrunk); the other limits keep their defaults."""
    p = np.asarray(positions, float).reshape(-1, 3)
    if len(p) < 2:
        raise CalibrationError(f"{len(p)} positions recorded; the box needs at least two opposite corners")
    lo, hi = p.min(axis=0) - margin_m, p.max(axis=0) + margin_m
    for axis, a, b in zip("xyz", lo, hi):
        if a >= b:
            raise CalibrationError(f"the recorded positions span no box along {axis} with margin {margin_m} m: "
                                   f"record positions that differ in {axis}, or use a larger margin")
    return SafetyLimits(workspace_min=tuple(np.round(lo, 4)), workspace_max=tuple(np.round(hi, 4)))
