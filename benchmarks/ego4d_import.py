"""Ego4D import speed against a bare multi-threaded PyAV decode of the same files (target: import <= 1.25x decode).

    python benchmarks/ego4d_import.py [--clips 4] [--seconds 10] [--repeats 3]

Generates 30 fps 854x480 H.264 clips with textured moving content (not timed), then times (a) decoding every frame
with thread_type AUTO and no conversion and (b) `import_ego4d` at 128x128, 5 fps, into a fresh dataset.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from viva_robot.data.config import ImportEgo4DConfig
from viva_robot.data.dataset import VideoDataset
from viva_robot.data.ego4d import import_ego4d

WIDTH, HEIGHT, FPS = 854, 480, 30


def textured_frames(n: int, seed: int, width: int = WIDTH, height: int = HEIGHT):
    """n frames of textured content panning and changing over time, so the encoder produces realistic P/B frames."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (height // 4 + 80, width // 4 + 80, 3), dtype=np.uint8)
    texture = np.repeat(np.repeat(texture, 4, axis=0), 4, axis=1)  # 4x4 blocks: detail the codec must keep
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(n):
        dx, dy = (3 * i) % 256, (2 * i) % 256
        img = texture[dy : dy + height, dx : dx + width].copy()
        img[((xx - (i * 7) % width) ** 2 + (yy - height // 2) ** 2) < 60**2] = (255, (i * 5) % 256, 0)
        yield img


def make_clip(path: Path, seconds: float, seed: int) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i, img in enumerate(textured_frames(int(seconds * FPS), seed)):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def bare_decode(paths: list[Path]) -> int:
    frames = 0
    for path in paths:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                frames += 1
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3, help="alternate decode/import this many times; best kept")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ego4d_bench_"))
    try:
        src = work / "v2" / "full_scale"
        src.mkdir(parents=True)
        t = time.perf_counter()
        paths = [src / f"clip{i:02d}.mp4" for i in range(args.clips)]
        for i, path in enumerate(paths):
            make_clip(path, args.seconds, seed=i)
        print(f"generated {args.clips} x {args.seconds:g} s {WIDTH}x{HEIGHT} clips in {time.perf_counter() - t:.1f} s")

        decode_s, import_s = [], []
        for r in range(args.repeats):
            t = time.perf_counter()
            frames = bare_decode(paths)
            decode_s.append(time.perf_counter() - t)
            out = work / f"out{r}.zarr"
            cfg = ImportEgo4DConfig(src=src, out=out, size=128, fps=5.0)
            t = time.perf_counter()
            summary = import_ego4d(cfg, progress=False)
            import_s.append(time.perf_counter() - t)
            ds = VideoDataset(out)
            print(f"run {r}: bare decode {decode_s[-1]:.2f} s ({frames / decode_s[-1]:.0f} frames/s), "
                  f"import {import_s[-1]:.2f} s ({frames / import_s[-1]:.0f} source frames/s, "
                  f"{summary['frames']} frames kept, {ds.num_episodes} episodes, {ds.size_on_disk() / 1e6:.1f} MB)")
        dec, imp = min(decode_s), min(import_s)
        print(f"ego4d_import: import {imp:.2f} s, bare decode {dec:.2f} s, ratio {imp / dec:.2f}x (target <= 1.25x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
