"""Frame geometry shared by every importer: resize to a square by stretching or center-cropping."""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image


def square_crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the centered square inside a width x height image."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def to_square(image: np.ndarray | Image.Image, size: int, mode: Literal["stretch", "crop"] = "crop") -> np.ndarray:
    """uint8 HxWx3 (or a PIL image) -> uint8 size x size x 3, antialiased (PIL's bilinear with support scaling)."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(image)
    if img.mode != "RGB":
        img = img.convert("RGB")
    box = square_crop_box(*img.size) if mode == "crop" else None
    return np.asarray(img.resize((size, size), Image.BILINEAR, box=box), dtype=np.uint8)
