"""What the value learned, in numbers and pictures.

Temporal-order accuracy: for each held-out episode with final frame g, the fraction of frame pairs i < j
with V(s_i, g) < V(s_j, g). A value that measures progress toward g scores near 1; an untrained one ~0.5.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from viva_robot.data.dataset import VideoDataset
from viva_robot.data.reader import resize_frames
from viva_robot.value.guide import load_value
from viva_robot.value.networks import ICVF, resolve_device


def is_heldout(key: str, seed: int, fraction: float) -> bool:
    """A stable, per-episode coin flip: the split does not change when a dataset grows."""
    h = int.from_bytes(hashlib.sha1(f"{seed}:{key}".encode()).digest()[:8], "big")
    return h / 2**64 < fraction


def split_episodes(ds: VideoDataset, seed: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) episode ids."""
    held = np.array([is_heldout(k, seed, fraction) for k in ds.episode_keys], dtype=bool)
    return np.flatnonzero(~held), np.flatnonzero(held)


@torch.no_grad()
def values_to_goal(model: ICVF, frames: np.ndarray, goal: np.ndarray, device: torch.device,
                   batch: int = 512) -> np.ndarray:
    """V(s_t, g) for every frame of `frames` (T, H, W, 3) and one goal image (H, W, 3)."""
    out = []
    g = torch.from_numpy(goal).to(device)[None]
    for s in range(0, len(frames), batch):
        x = torch.from_numpy(frames[s : s + batch]).to(device)
        out.append(model.value(x, g.expand(len(x), -1, -1, -1)).float().cpu().numpy())
    return np.concatenate(out)


def temporal_order_pairs(values: np.ndarray) -> tuple[int, int]:
    """(pairs i < j with v_i < v_j, all pairs i < j)."""
    diff = values[None, :] - values[:, None]  # [i, j] = v_j - v_i
    upper = np.triu(np.ones_like(diff, dtype=bool), k=1)
    return int((diff[upper] > 0).sum()), int(upper.sum())


def episode_frames(ds: VideoDataset, k: int, size: int | None = None) -> np.ndarray:
    """Frames of episode k, resized to size x size when the value was trained at another resolution."""
    return resize_frames(ds.rgb[int(ds.episode_starts[k]) : int(ds.episode_ends[k])], size)


def temporal_order_accuracy(model: ICVF, ds: VideoDataset, episodes: np.ndarray, device: torch.device,
                            size: int | None = None) -> tuple[float, list[np.ndarray]]:
    """Pooled accuracy over `episodes` and each episode's value curve toward its last frame."""
    curves = []
    for k in episodes:
        rgb = episode_frames(ds, k, size)
        curves.append(values_to_goal(model, rgb, rgb[-1], device))
    return pooled_accuracy(curves), curves


def episode_kind(key: str) -> str:
    """`collect` keys episodes as 'ep00012:scripted:noise=0.1'; anything else (imported video) is 'video'."""
    parts = key.split(":")
    return parts[1] if len(parts) >= 3 and parts[0].startswith("ep") else "video"


def pixel_distance(frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """The no-learning baseline a value has to beat: -mean squared pixel difference of each frame to `goal`."""
    return -((frames.astype(np.float32) - goal.astype(np.float32)) ** 2).mean(axis=(1, 2, 3))


def pixel_distance_curves(ds: VideoDataset, episodes: np.ndarray, size: int | None = None) -> list[np.ndarray]:
    """`pixel_distance` to each episode's own last frame."""
    curves = []
    for k in episodes:
        rgb = episode_frames(ds, k, size)
        curves.append(pixel_distance(rgb, rgb[-1]))
    return curves


def pooled_accuracy(curves: list[np.ndarray]) -> float:
    good, total = np.sum([temporal_order_pairs(c) for c in curves], axis=0) if curves else (0, 0)
    return float(good / total) if total else float("nan")


def accuracy_by_kind(ds: VideoDataset, episodes: np.ndarray, curves: list[np.ndarray]) -> dict[str, float]:
    """Pooled temporal-order accuracy per episode kind (scripted attempts vs undirected play)."""
    groups: dict[str, list[np.ndarray]] = {}
    for k, curve in zip(episodes, curves):
        groups.setdefault(episode_kind(ds.episode_keys[k]), []).append(curve)
    return {kind: acc for kind, group in groups.items() if not np.isnan(acc := pooled_accuracy(group))}


def value_check(model: ICVF, ds: VideoDataset, episodes: np.ndarray, out: Path, device: torch.device,
                size: int | None = None) -> dict:
    """Plots (value curves, cross-episode goals, a V(s_i, g_j) heat-map) and the accuracy, written to `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    acc, curves = temporal_order_accuracy(model, ds, episodes, device, size)
    per_episode = [temporal_order_pairs(c) for c in curves]

    # 1. V(s_t, g = own last frame) against t, and against other episodes' last frames
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    shown = list(range(min(8, len(episodes))))
    for n in shown:
        t = np.linspace(0, 1, len(curves[n]))
        axes[0].plot(t, curves[n], lw=1.2, label=f"ep {episodes[n]}")
    axes[0].set(title="V(s_t, g = last frame of the same episode)", xlabel="episode progress t / T", ylabel="V")
    axes[0].legend(fontsize=7, ncol=2)
    other_means = []
    for n in shown:
        rgb = episode_frames(ds, episodes[n], size)
        other_goal = episode_frames(ds, episodes[(n + 1) % len(episodes)], size)[-1]
        v = values_to_goal(model, rgb, other_goal, device)
        other_means.append(float(v.mean()))
        axes[1].plot(np.linspace(0, 1, len(v)), v, lw=1.0, color="grey", alpha=0.7)
    axes[1].set(title="V(s_t, g = last frame of another episode)", xlabel="episode progress t / T")
    kinds = accuracy_by_kind(ds, episodes, curves)
    detail = f" ({', '.join(f'{k} {v:.3f}' for k, v in kinds.items())})" if len(kinds) > 1 else ""
    pixel = pixel_distance_curves(ds, episodes, size)
    pixel_acc = pooled_accuracy(pixel)
    fig.suptitle(f"{ds.path.name}: temporal-order accuracy {acc:.3f} on {len(episodes)} episodes{detail}; "
                 f"pixel distance {pixel_acc:.3f}")
    fig.tight_layout()
    fig.savefig(out / "value_curves.png", dpi=110)
    plt.close(fig)

    # 2. heat-map V(s_i, g_j) within one episode (subsampled to <= 48 frames)
    k = episodes[0]
    rgb = episode_frames(ds, k, size)
    idx = np.unique(np.linspace(0, len(rgb) - 1, min(48, len(rgb))).round().astype(int))
    rgb = rgb[idx]
    grid = np.stack([values_to_goal(model, rgb, rgb[j], device) for j in range(len(idx))], axis=1)  # [i, j]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    im = ax.imshow(grid, cmap="viridis", origin="lower", extent=(idx[0], idx[-1], idx[0], idx[-1]))
    ax.set(title=f"V(s_i, g_j) within episode {k}", xlabel="goal frame j", ylabel="state frame i")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(out / "value_heatmap.png", dpi=110)
    plt.close(fig)

    summary = {
        "dataset": str(ds.path), "episodes": [int(k) for k in episodes], "temporal_order_accuracy": acc,
        "accuracy_by_kind": kinds,
        # the same check for V = -(mean squared pixel difference to g): what the value adds over raw pixels
        "pixel_distance_accuracy": pixel_acc,
        "pixel_distance_accuracy_by_kind": accuracy_by_kind(ds, episodes, pixel),
        "per_episode_accuracy": [g / t if t else None for g, t in per_episode],
        "mean_value_own_goal": float(np.mean([c.mean() for c in curves[: len(shown)]])) if shown else None,
        "mean_value_other_goal": float(np.mean(other_means)) if other_means else None,
    }
    (out / "value_check.json").write_text(json.dumps(summary, indent=2))
    return summary


def run_value_check(cfg) -> dict:
    """`viva-robot value-check`: load a checkpoint, pick the episodes, write the plots, return the summary."""
    model, run = load_value(cfg.checkpoint)
    device = resolve_device(cfg.device)
    model.to(device).eval()
    ds = VideoDataset(cfg.data)
    if ds.resolution != (run.image_size, run.image_size) and not run.resize_frames:
        from viva_robot.data.dataset import DatasetError

        raise DatasetError(f"{cfg.data}: frames are {ds.resolution[0]}x{ds.resolution[1]}, the value was trained "
                           f"on {run.image_size}x{run.image_size} ({cfg.checkpoint})")
    trained_on = {Path(p).resolve() for p in run.data}
    if cfg.episodes == "heldout" and ds.path.resolve() in trained_on:
        _, episodes = split_episodes(ds, run.seed, run.holdout_fraction)
    else:
        episodes = np.arange(ds.num_episodes)
    episodes = episodes[ds.episode_lengths()[episodes] >= 2][: cfg.max_episodes]
    if episodes.size == 0:
        from viva_robot.data.dataset import DatasetError

        raise DatasetError(f"{cfg.data}: no episodes to check (the run held out none of this dataset's episodes; "
                           f"use --episodes all)")
    size = run.image_size if ds.resolution != (run.image_size, run.image_size) else None
    return value_check(model, ds, episodes, cfg.out, device, size)
