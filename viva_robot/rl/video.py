"""Pictures of a training run: evaluation videos (the camera frame, upscaled, beside a panel with the goal
image and the value curve V(s_t, g*) drawn up to the current step, so a viewer sees whether the value rises as
the policy nears the goal) and the learning curve of the run directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from viva_robot.data.inspect import write_mp4
from viva_robot.value.panel import value_panel_frames


def write_eval_video(path: Path, frames: np.ndarray, goal: np.ndarray, values: np.ndarray | None,
                     success: np.ndarray, fps: float) -> Path:
    return write_mp4(value_panel_frames(frames, goal, values, success), path, fps)


def trailing_mean(x: np.ndarray, window: int = 10) -> np.ndarray:
    """Mean of the last `window` values at each position (fewer at the start; no zero padding)."""
    x = np.asarray(x, float)
    return np.convolve(x, np.ones(window))[: len(x)] / np.minimum(np.arange(1, len(x) + 1), window)


def learning_curve(run: Path) -> Path:
    """run/learning_curve.png from run/metrics.jsonl: success (training episodes and evaluations), reward terms
    per episode, and the value along training episodes. Redrawn at every evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    episodes = [r for r in rows if r["kind"] == "episode"]
    evals = [r for r in rows if r["kind"] == "eval"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    if episodes:
        steps = np.array([r["step"] for r in episodes])
        success = np.array([r["success"] for r in episodes], float)
        axes[0].plot(steps, trailing_mean(success), label="training (mean of the last 10 episodes)")
        for key in sorted({k for r in episodes for k in r if k.startswith("reward/") and k != "reward/value"}):
            axes[1].plot(steps, [r.get(key, np.nan) for r in episodes], label=key.split("/", 1)[1])
        if "reward/value" in episodes[0]:
            axes[2].plot(steps, [r["reward/value"] for r in episodes], color="tab:red")
    if evals:
        axes[0].plot([r["step"] for r in evals], [r["success_rate"] for r in evals], "o-", label="evaluation")
    axes[0].set_ylim(-0.03, 1.03)
    for ax, title in zip(axes, ("success rate", "reward terms, summed per episode", "mean V(s, g*) per training episode")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(run.name, fontsize=10)
    fig.tight_layout()
    tmp = run / ".learning_curve.tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(run / "learning_curve.png")
    return run / "learning_curve.png"
