"""`viva-robot dataset info` and `dataset show`: what is in a dataset, in numbers and as a contact sheet."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

from viva_robot.data.config import DatasetShowConfig
from viva_robot.data.dataset import DatasetError, VideoDataset


def dataset_info(path: Path) -> dict:
    ds = VideoDataset(path)
    lengths = ds.episode_lengths()
    info = {
        "path": str(ds.path),
        "source": ds.source,
        "format_version": ds.attrs["format_version"],
        "episodes": ds.num_episodes,
        "frames": ds.num_frames,
        "resolution": list(ds.resolution),
        "fps": ds.fps,
        "episode_length": {"min": int(lengths.min()), "mean": float(lengths.mean()), "max": int(lengths.max())}
        if len(lengths) else None,
        "arrays": [name for name in ("rgb", "state", "action", "success") if ds.has(name)],
        "with_language": sum(bool(s) for s in ds.language),
        "size_on_disk_bytes": ds.size_on_disk(),
        "failure_only": bool(ds.attrs.get("failure_only", False)),
        "origin": ds.attrs.get("origin"),
    }
    if ds.has("success") and ds.num_episodes:
        success = ds.root["data/success"][: ds.num_frames]
        reached = np.logical_or.reduceat(success, ds.episode_starts) if len(success) else np.zeros(0, bool)
        info["episodes_reaching_success"] = int(reached.sum())
        kinds: dict[str, list[int]] = {}
        for key, hit in zip(ds.episode_keys, reached):
            kind = key.split(":")[1] if key.count(":") >= 2 else "other"
            kinds.setdefault(kind, [0, 0])
            kinds[kind][0] += 1
            kinds[kind][1] += int(hit)
        info["by_kind"] = {k: {"episodes": n, "reaching_success": s} for k, (n, s) in kinds.items()}
    return info


def format_info(info: dict) -> str:
    h, w = info["resolution"]
    lines = [
        f"{info['path']}  (viva video dataset v{info['format_version']}, source {info['source']})",
        *([f"  from       {info['origin']}"] if info["origin"] else []),
        f"  episodes   {info['episodes']}",
        f"  frames     {info['frames']}  ({h}x{w} RGB at {info['fps']:g} fps, {info['frames'] / info['fps'] / 60:.1f} min of video)",
    ]
    if info["episode_length"]:
        el = info["episode_length"]
        lines.append(f"  ep. length min {el['min']} / mean {el['mean']:.1f} / max {el['max']} frames")
    lines.append(f"  arrays     {', '.join(info['arrays'])}")
    if info["with_language"]:
        lines.append(f"  language   {info['with_language']} episodes with an instruction")
    if "by_kind" in info:
        parts = [f"{k}: {v['reaching_success']}/{v['episodes']}" for k, v in info["by_kind"].items()]
        lines.append(f"  success    {info['episodes_reaching_success']}/{info['episodes']} episodes reach the task "
                     f"goal ({', '.join(parts)}; evaluation metadata only)")
    if info["failure_only"]:
        verdict = ("no episode reaches it" if not info.get("episodes_reaching_success")
                   else f"BUT {info['episodes_reaching_success']} episodes reach it: `train --prior` refuses it")
        lines.append(f"  failures   failure-only: collected so that the task never succeeds ({verdict})")
    lines.append(f"  on disk    {info['size_on_disk_bytes'] / 2**20:.1f} MiB")
    return "\n".join(lines)


def _requested_episode(cfg: DatasetShowConfig):
    ds = VideoDataset(cfg.path)
    if cfg.episode >= ds.num_episodes:
        raise DatasetError(f"{cfg.path}: episode {cfg.episode} does not exist (the dataset has {ds.num_episodes} "
                           f"episodes, 0..{ds.num_episodes - 1})")
    return ds, ds.load_episode(cfg.episode)


def contact_sheet(cfg: DatasetShowConfig) -> Path:
    """A grid of evenly spaced frames of one episode, each labelled with its index (green: task success)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds, ep = _requested_episode(cfg)
    t = np.unique(np.linspace(0, len(ep.rgb) - 1, min(cfg.frames, len(ep.rgb))).round().astype(int))
    cols = int(np.ceil(np.sqrt(len(t) * 4 / 3)))
    rows = int(np.ceil(len(t) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2 * rows + 0.6), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), t):
        ax.imshow(ep.rgb[i], interpolation="nearest")
        hit = ep.success is not None and bool(ep.success[i])
        ax.set_title(f"t={i}" + ("  success" if hit else ""), fontsize=8, color="green" if hit else "black")
    title = f"{ds.path.name}  episode {cfg.episode} ({ep.key}), {len(ep.rgb)} frames at {ds.fps:g} fps"
    if ep.language:
        title += f"\n\"{ep.language}\""
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = cfg.out.with_name(f".{cfg.out.stem}.tmp.png")
    fig.savefig(tmp, dpi=100, metadata={"Description": json.dumps(cfg.to_dict())})
    plt.close(fig)
    tmp.replace(cfg.out)
    return cfg.out


def write_mp4(frames: np.ndarray, path: Path, fps: float) -> Path:
    """uint8 (T, H, W, 3) -> H.264 mp4 (odd sizes edge-padded for yuv420p), written to a temp file then renamed."""
    import av

    h, w = frames.shape[1:3]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = w + w % 2, h + h % 2  # yuv420p needs even sizes
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        for frame in frames:
            if (h % 2) or (w % 2):
                frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
    tmp.replace(path)
    return path


def episode_video(cfg: DatasetShowConfig) -> Path:
    """The whole episode as an H.264 mp4 at the dataset's fps (nearest-neighbour upscaled)."""
    ds, ep = _requested_episode(cfg)
    rgb = ep.rgb.repeat(cfg.video_scale, axis=1).repeat(cfg.video_scale, axis=2)
    return write_mp4(rgb, cfg.video, ds.fps)
