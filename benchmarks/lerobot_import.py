"""LeRobot import speed against a bare multi-threaded PyAV decode of the same videos (target: import <= 1.25x decode).

    python benchmarks/lerobot_import.py [--episodes 8] [--seconds 10] [--repeats 3] [--version v3.0]

Writes a LeRobotDataset of the given version (not timed) the way LeRobot records one: 640x480 at 30 fps, AV1 by
libsvtav1 (encode_video_frames' defaults: yuv420p, g=2, crf=30), textured content that moves, observation.state and
action per frame; v3.0 packs 4 episodes per mp4/parquet file. Then times (a) decoding every frame of every mp4 with
thread_type AUTO and no conversion and (b) `import_lerobot` at 128x128, 5 fps, into a fresh dataset.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ego4d_import import bare_decode, textured_frames  # benchmarks/ is the script's folder: its sys.path[0]
from viva_robot.data.config import ImportLeRobotConfig
from viva_robot.data.dataset import VideoDataset
from viva_robot.data.lerobot import import_lerobot

WIDTH, HEIGHT, FPS, PER_FILE = 640, 480, 30, 4


def encode(path: Path, episodes: list[int], seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libsvtav1", rate=FPS, options={"g": "2", "crf": "30", "preset": "12"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        n = 0
        for e in episodes:
            for img in textured_frames(int(seconds * FPS), e, WIDTH, HEIGHT):
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts, frame.time_base = n, Fraction(1, FPS)
                out.mux(stream.encode(frame))
                n += 1
        out.mux(stream.encode(None))


def rows(episodes: list[int], length: int) -> pa.Table:
    n = len(episodes) * length
    rng = np.random.default_rng(0)
    return pa.table({
        "observation.state": pa.FixedSizeListArray.from_arrays(pa.array(rng.normal(size=n * 6), pa.float32()), 6),
        "action": pa.FixedSizeListArray.from_arrays(pa.array(rng.normal(size=n * 6), pa.float32()), 6),
        "timestamp": pa.array(np.tile(np.arange(length) / FPS, len(episodes)), pa.float32()),
        "frame_index": pa.array(np.tile(np.arange(length), len(episodes))),
        "episode_index": pa.array(np.repeat(episodes, length)),
        "index": pa.array(np.arange(episodes[0] * length, episodes[0] * length + n)),
        "task_index": pa.array(np.zeros(n, np.int64)),
    })


def write_dataset(root: Path, version: str, n: int, seconds: float) -> list[Path]:
    """A LeRobot dataset at root; returns its mp4 files."""
    length, camera = int(seconds * FPS), "observation.images.front"
    vector = {"dtype": "float32", "shape": [6], "names": None}
    info = {"codebase_version": version, "robot_type": "so100", "total_episodes": n, "total_frames": n * length,
            "total_tasks": 1, "chunks_size": 1000, "fps": FPS, "splits": {"train": f"0:{n}"},
            "features": {camera: {"dtype": "video", "shape": [HEIGHT, WIDTH, 3], "names": ["height", "width", "channels"]},
                         "observation.state": vector, "action": vector,
                         **{k: {"dtype": "float32" if k == "timestamp" else "int64", "shape": [1], "names": None}
                            for k in ("timestamp", "frame_index", "episode_index", "index", "task_index")}}}
    (root / "meta").mkdir(parents=True)
    videos = []
    if version == "v3.0":
        info.update(data_path="data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
                    video_path="videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4")
        index: dict[str, list] = {}
        for f, first in enumerate(range(0, n, PER_FILE)):
            members = list(range(first, min(first + PER_FILE, n)))
            (root / "data/chunk-000").mkdir(parents=True, exist_ok=True)
            pq.write_table(rows(members, length), root / f"data/chunk-000/file-{f:03d}.parquet")
            videos.append(root / f"videos/{camera}/chunk-000/file-{f:03d}.mp4")
            encode(videos[-1], members, seconds)
            for k, e in enumerate(members):
                for key, value in (("episode_index", e), ("tasks", ["fold the towel"]), ("length", length),
                                   ("data/chunk_index", 0), ("data/file_index", f), ("dataset_from_index", e * length),
                                   ("dataset_to_index", (e + 1) * length), (f"videos/{camera}/chunk_index", 0),
                                   (f"videos/{camera}/file_index", f), (f"videos/{camera}/from_timestamp", k * seconds),
                                   (f"videos/{camera}/to_timestamp", (k + 1) * seconds)):
                    index.setdefault(key, []).append(value)
        (root / "meta/episodes/chunk-000").mkdir(parents=True)
        pq.write_table(pa.table(index), root / "meta/episodes/chunk-000/file-000.parquet")
    else:
        info.update(data_path="data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
                    video_path="videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4")
        (root / "data/chunk-000").mkdir(parents=True)
        for e in range(n):
            pq.write_table(rows([e], length), root / f"data/chunk-000/episode_{e:06d}.parquet")
            videos.append(root / f"videos/chunk-000/{camera}/episode_{e:06d}.mp4")
            encode(videos[-1], [e], seconds)
        (root / "meta/episodes.jsonl").write_text("".join(
            json.dumps({"episode_index": e, "tasks": ["fold the towel"], "length": length}) + "\n" for e in range(n)))
    (root / "meta/info.json").write_text(json.dumps(info))
    return videos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3, help="alternate decode/import this many times; best kept")
    parser.add_argument("--version", choices=["v2.1", "v3.0"], default="v3.0")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lerobot_bench_"))
    try:
        t = time.perf_counter()
        src = work / "so100_towel"
        videos = write_dataset(src, args.version, args.episodes, args.seconds)
        print(f"wrote a LeRobot {args.version} dataset: {args.episodes} x {args.seconds:g} s {WIDTH}x{HEIGHT} AV1 "
              f"episodes in {len(videos)} mp4 files, {time.perf_counter() - t:.1f} s")
        decode_s, import_s = [], []
        for r in range(args.repeats):
            t = time.perf_counter()
            decoded = bare_decode(videos)
            decode_s.append(time.perf_counter() - t)
            out = work / f"out{r}.zarr"
            t = time.perf_counter()
            summary = import_lerobot(ImportLeRobotConfig(src=src, out=out, size=128, fps=5.0), progress=False)
            import_s.append(time.perf_counter() - t)
            print(f"run {r}: bare decode {decode_s[-1]:.2f} s ({decoded / decode_s[-1]:.0f} frames/s), import "
                  f"{import_s[-1]:.2f} s ({summary['decoded_frames']} frames decoded, {summary['frames']} kept, "
                  f"{VideoDataset(out).num_episodes} episodes)")
        dec, imp = min(decode_s), min(import_s)
        print(f"lerobot_import ({args.version}): import {imp:.2f} s, bare decode {dec:.2f} s, ratio {imp / dec:.2f}x "
              f"(target <= 1.25x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
