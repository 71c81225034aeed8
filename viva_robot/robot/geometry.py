"""Poses and rotations, shared by the safety rules and calibration: quaternions are (x, y, z, w), as
geometry_msgs/Quaternion orders them; poses are 4x4 homogeneous matrices."""

from __future__ import annotations

import numpy as np


# -- quaternions ------------------------------------------------
def normalize(q: np.ndarray) -> np.ndarray:
    return q / np.linalg.norm(q)


def valid_pose(position, orientation) -> tuple[np.ndarray, np.ndarray] | None:
    """(position, unit quaternion) when both are finite and the quaternion has a direction, else None. Scaling
    by the largest component first keeps a huge but finite quaternion (1e200) from overflowing to a zero one."""
    p, q = np.asarray(position, float), np.asarray(orientation, float)
    if p.shape != (3,) or q.shape != (4,) or not (np.isfinite(p).all() and np.isfinite(q).all()):
        return None
    scale = np.abs(q).max()
    if not scale > 0:
        return None
    q = q / scale
    q = q / np.linalg.norm(q)
    return (p, q) if np.isfinite(q).all() else None


def quat_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Rotation angle between two orientations (rad, in [0, pi])."""
    return float(2 * np.arccos(np.clip(abs(np.dot(normalize(a), normalize(b))), 0.0, 1.0)))


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    a, b = normalize(a), normalize(b)
    d = np.dot(a, b)
    if d < 0:  # the short way round
        b, d = -b, -d
    if d > 0.9995:
        return normalize(a + t * (b - a))
    theta = np.arccos(d)
    return (np.sin((1 - t) * theta) * a + np.sin(t * theta) * b) / np.sin(theta)


# -- rotation matrices --------------------------------------------------
def pose_matrix(rotation, translation) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, np.ravel(translation)
    return pose


def matrix_from_quat(q) -> np.ndarray:
    x, y, z, w = np.asarray(q, float) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def quat_from_matrix(r) -> np.ndarray:
    """Bar-Itzhack: the top eigenvector of a symmetric 4x4, stable at every angle (also for a slightly non-orthogonal r)."""
    (a, b, c), (d, e, f), (g, h, i) = np.asarray(r, float)
    k = np.array([[a - e - i, b + d, c + g, h - f], [b + d, e - a - i, f + h, c - g],
                  [c + g, f + h, i - a - e, d - b], [h - f, c - g, d - b, a + e + i]]) / 3
    q = np.linalg.eigh(k)[1][:, -1]
    return q if q[3] >= 0 else -q


def rotation_angle_deg(a, b) -> float:
    """Angle of the rotation taking a to b (3x3 matrices)."""
    return float(np.degrees(np.arccos(np.clip((np.trace(np.asarray(a).T @ b) - 1) / 2, -1.0, 1.0))))
