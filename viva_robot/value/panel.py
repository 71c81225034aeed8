"""The value beside the camera: a frame next to the goal thumbnail and the curve V(s_t, g*) drawn up to step t.
Used by evaluation videos (rl/video.py) and the live ROS value monitor (ros/monitor.py)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def value_panel_frames(frames: np.ndarray, goal: np.ndarray, values: np.ndarray | None, success: np.ndarray,
                       scale: int = 4) -> np.ndarray:
    """(T, H, W, 3) frames -> (T, H*scale, 2*W*scale, 3): frame | goal thumbnail + value curve + success marks."""
    return np.stack([value_panel(frames[t], goal, values, t, bool(success[t]), scale) for t in range(len(frames))])


def value_panel(frame: np.ndarray, goal: np.ndarray, values: np.ndarray | None, t: int, success: bool,
                scale: int = 4, label: str = "step") -> np.ndarray:
    """One frame beside a panel: goal thumbnail, the value curve up to index t (x axis spans all of `values`)."""
    h, w, _ = frame.shape
    side_h, side_w = h * scale, w * scale
    thumb = Image.fromarray(goal).resize((side_w // 3, side_h // 3), Image.NEAREST)
    plot = (8, side_h // 3 + 16, side_w - 8, side_h - 14)  # x0, y0, x1, y1 of the curve area
    panel = Image.new("RGB", (side_w, side_h), "white")
    panel.paste(thumb, (side_w - thumb.width - 4, 4))
    draw = ImageDraw.Draw(panel)
    draw.text((6, 4), "goal", fill="black")
    draw.text((6, 16), f"{label} {t}", fill="black")
    if success:
        draw.text((6, 28), "success", fill=(0, 140, 0))
    draw.rectangle(plot, outline=(180, 180, 180))
    if values is not None:
        lo, hi = float(np.min(values)), float(np.max(values))
        hi = hi if hi > lo else lo + 1.0
        xs = plot[0] + (plot[2] - plot[0]) * np.arange(len(values)) / max(len(values) - 1, 1)
        ys = plot[3] - (plot[3] - plot[1]) * (np.asarray(values) - lo) / (hi - lo)
        draw.text((6, plot[1] - 12), f"V(s, g*) = {values[t]:.1f}", fill="black")
        if t:
            draw.line(list(zip(xs[: t + 1], ys[: t + 1])), fill=(200, 30, 30), width=2)
        draw.ellipse((xs[t] - 2, ys[t] - 2, xs[t] + 2, ys[t] + 2), fill=(200, 30, 30))
    else:
        draw.text((6, plot[1] - 12), "no value checkpoint", fill="black")
    out = np.empty((side_h, 2 * side_w, 3), np.uint8)
    out[:, :side_w] = frame.repeat(scale, 0).repeat(scale, 1)
    out[:, side_w:] = np.asarray(panel)
    return out
