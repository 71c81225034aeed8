"""Random training batches of 256 frames (64x64) from a 100k-frame dataset: readers vs naive zarr reads.

    python benchmarks/frame_reader.py [--frames 100000] [--batches 200]

Prints frames/s for naive random-index zarr reads (the baseline, measured in the same run), the RAM reader
and the streaming pool (budget: a quarter of the dataset), and the ratios. Targets: >= 20x naive, and
>= 50k frames/s from RAM.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from viva_robot.data.dataset import DatasetWriter, Episode, VideoDataset
from viva_robot.data.reader import RamFrames, StreamingFrames


def make_dataset(path: Path, frames: int, episode_len: int = 200, size: int = 64) -> VideoDataset:
    rng = np.random.default_rng(0)
    w = DatasetWriter(path, source="benchmark", fps=10, resolution=(size, size))
    # blocky images with a little pixel noise: they compress about as well as rendered frames (~2-3x)
    for k in range(frames // episode_len):
        blocks = rng.integers(0, 248, (episode_len, size // 8, size // 8, 3), dtype=np.uint8)
        rgb = blocks.repeat(8, axis=1).repeat(8, axis=2) + rng.integers(0, 8, (episode_len, size, size, 3), dtype=np.uint8)
        w.append(Episode(rgb=rgb, key=f"e{k}"))
    return VideoDataset(path)


def rate(fn, batches: int, batch: int = 256) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(batches):
        fn()
    return batches * batch / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--batches", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ds = make_dataset(Path(tmp) / "bench.zarr", args.frames)
        print(f"dataset: {ds.num_frames} frames 64x64 in {ds.num_episodes} episodes, chunks of {ds.rgb.chunks[0]} "
              f"frames, {ds.size_on_disk() / 2**20:.0f} MiB on disk (built in {time.perf_counter() - t0:.0f} s)")

        naive = rate(lambda: ds.rgb.oindex[np.sort(rng.integers(0, ds.num_frames, 256))], max(5, args.batches // 20))
        print(f"naive zarr random reads : {naive:10.0f} frames/s  (baseline)")

        t0 = time.perf_counter()
        ram = RamFrames(ds)
        load = time.perf_counter() - t0
        r = rate(lambda: ram.frames(rng.integers(0, ds.num_frames, 256)), args.batches * 10)
        print(f"RamFrames               : {r:10.0f} frames/s  {r / naive:7.1f}x naive  (load {load:.1f} s; target >= 50000/s)")
        ram = None  # free the copy before the streaming pool

        budget = ds.num_frames * 64 * 64 * 3 // 4
        pool = StreamingFrames(ds, budget, seed=0)

        def stream_batch():
            eps = pool.resident_episodes()
            ep = rng.choice(eps, 256)
            idx = ds.episode_starts[ep] + rng.integers(0, ds.episode_lengths()[ep])
            return pool.frames(idx)

        s = rate(stream_batch, args.batches)
        pool.close()
        print(f"StreamingFrames (1/4 RAM): {s:9.0f} frames/s  {s / naive:7.1f}x naive  (target >= 20x)")
        print(f"frame_reader: ram {r:.0f}/s ({r / naive:.0f}x), streaming {s:.0f}/s ({s / naive:.0f}x), naive {naive:.0f}/s")


if __name__ == "__main__":
    main()
