"""What every env backend checks at its boundary: a policy's action and a user's goal image."""

from __future__ import annotations

import numpy as np


def checked_action(action, shape: tuple[int, ...], who: str) -> np.ndarray:
    """A user policy's action as float32, refused with a clear error when its shape is wrong or it has NaN/inf."""
    action = np.asarray(action, dtype=np.float32)
    if action.shape != shape:
        raise ValueError(f"{who}: action has shape {action.shape}, expected {shape}")
    if not np.isfinite(action).all():
        raise ValueError(f"{who}: action contains NaN or inf: {action.tolist()}")
    return action


def checked_goal_image(goal_image, size: int, who: str) -> np.ndarray:
    """A goal image as the env's camera would frame it: uint8 (size, size, 3), else a clear error."""
    goal_image = np.asarray(goal_image)
    if goal_image.dtype != np.uint8 or goal_image.shape != (size, size, 3):
        raise ValueError(f"{who}: goal image is {goal_image.dtype} {goal_image.shape}, expected "
                         f"uint8 ({size}, {size}, 3) like the env's camera frames")
    return goal_image
