"""Frames of evaluation episodes side by side: what an agent does, as the eval videos of `viva-robot train` show it
(camera frame, the goal image inset, success, and the V(s, g*) panel when the run has a value).

    python experiments/eval_frames.py RUN/eval/eval_step_00200000.mp4 OTHER_RUN/eval/eval_step_00140000.mp4 \
        --labels "RLPD, 200k" "RLPD + viva, 140k" --frames 0 20 50 99 --out docs/results/episodes.png

One row per video, one column per frame index (the env step shown in the video; a video holds one evaluation
episode, steps 0..max_steps).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_frames(path: Path, wanted: list[int]) -> list:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    missing = [i for i in wanted if i >= len(frames)]
    if missing:
        raise SystemExit(f"{path}: has {len(frames)} frames, no frame {missing[0]}")
    return [frames[i] for i in wanted]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="+", type=Path, help="eval videos (RUN/eval/eval_step_*.mp4)")
    ap.add_argument("--labels", nargs="+", help="one per video (default: the run directory and the file name)")
    ap.add_argument("--frames", nargs="+", type=int, default=[0, 20, 50, 99], help="frame indices to show")
    ap.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = ap.parse_args()
    labels = args.labels or [f"{v.parent.parent.parent.name}/{v.parent.parent.name}: {v.stem}" for v in args.videos]
    if len(labels) != len(args.videos):
        raise SystemExit(f"--labels: {len(labels)} given for {len(args.videos)} videos")
    rows = [read_frames(v, args.frames) for v in args.videos]
    h, w = rows[0][0].shape[:2]
    fig, axes = plt.subplots(len(rows), len(args.frames), squeeze=False,
                             figsize=(3.2 * len(args.frames) * w / h, 3.4 * len(rows)))
    for r, (label, frames) in enumerate(zip(labels, rows)):
        for c, (index, frame) in enumerate(zip(args.frames, frames)):
            ax = axes[r][c]
            ax.imshow(frame)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{label}: frame {index}" if c == 0 else f"frame {index}", fontsize=10, loc="left")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
