"""A frame's index painted into the bottom half of a synthetic video frame, and read back from stored frames after
resize, crop and lossy coding: how the video-importer tests check which source frames were kept."""

from __future__ import annotations

import numpy as np


def paint_index(img: np.ndarray, i: int) -> np.ndarray:
    """Bottom-left quarter: grey 20 + 20 * tens; bottom-right quarter: grey 20 + 20 * units (i < 100)."""
    h, w = img.shape[:2]
    img[h // 2 :, : w // 2] = 20 + 20 * (i // 10)
    img[h // 2 :, w // 2 :] = 20 + 20 * (i % 10)
    return img


def frame_indices(rgb: np.ndarray) -> list[int]:
    """The index painted in each of (T, S, S, 3) stored frames (square, center-cropped)."""
    s = rgb.shape[1]
    rows = slice(s * 5 // 8, s * 7 // 8)
    tens = rgb[:, rows, s // 8 : s * 3 // 8].mean(axis=(1, 2, 3))
    units = rgb[:, rows, s * 5 // 8 : s * 7 // 8].mean(axis=(1, 2, 3))
    return [int(round((t - 20) / 20)) * 10 + int(round((u - 20) / 20)) for t, u in zip(tens, units)]
