"""A ChArUco board as a pinhole camera would see it: synthetic calibration views for the tests (moved out of the
package: nothing but the tests renders boards)."""

from __future__ import annotations

import numpy as np

from viva_robot.robot.calibration import CameraIntrinsics, CharucoBoardSpec, board_image


def render_board(intrinsics: CameraIntrinsics, board: CharucoBoardSpec, camera_from_board: np.ndarray,
                 noise_std: float = 0.0, blur_sigma_px: float = 0.0, seed: int = 0, supersample: int = 3) -> np.ndarray:
    """The board as this camera would see it (RGB uint8, grey background), for tests and self-checks.

    The board plane maps to the image by the homography K [r1 r2 t], so one warp of the generated board image renders
    it exactly for a pinhole camera (distortion is ignored). Rendering at `supersample` times the resolution and
    averaging down anti-aliases edges as a sensor's pixels do."""
    import cv2

    size = np.array([board.squares_x, board.squares_y]) * board.square_m
    corners = [camera_from_board @ [x, y, 0, 1] for x in (0, size[0]) for y in (0, size[1])]
    if min(c[2] for c in corners) <= 0:
        raise ValueError("part of the board is behind the camera")
    px, margin, s = 100, 50, supersample
    metres_per_px = board.square_m / px
    # board-image pixel (u, v) -> board metres; pixel centres sit at (u + 1/2) px; the paper margin shifts the origin
    board_from_pixel = np.array([[metres_per_px, 0, (0.5 - margin) * metres_per_px],
                                 [0, metres_per_px, (0.5 - margin) * metres_per_px], [0, 0, 1]])
    fine_from_image = np.array([[s, 0, (s - 1) / 2], [0, s, (s - 1) / 2], [0, 0, 1]])  # supersampled pixel grid
    plane = camera_from_board[:3][:, [0, 1, 3]]
    homography = fine_from_image @ intrinsics.camera_matrix() @ plane @ board_from_pixel
    fine = cv2.warpPerspective(board_image(board, px, margin), homography, (intrinsics.width * s, intrinsics.height * s),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=128)
    image = cv2.resize(fine, (intrinsics.width, intrinsics.height), interpolation=cv2.INTER_AREA).astype(np.float32)
    if blur_sigma_px > 0:
        image = cv2.GaussianBlur(image, (0, 0), blur_sigma_px)
    if noise_std > 0:
        image += np.random.default_rng(seed).normal(0, noise_std, image.shape).astype(np.float32)
    return np.repeat(np.clip(np.rint(image), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
