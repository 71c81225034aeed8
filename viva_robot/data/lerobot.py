"""LeRobotDataset (codebase v2.1 and v3.0; v2.0 has the v2.1 layout) -> viva dataset, read with pyarrow and PyAV.

No `lerobot` package is needed. The layout, as huggingface/lerobot `src/lerobot/datasets/utils.py` writes it::

    meta/info.json     codebase_version, fps, features (cameras have dtype "video"), data_path / video_path templates
    v2.x  meta/episodes.jsonl   {"episode_index", "tasks": [str], "length"} per line
          data/chunk-{episode_index // chunks_size:03d}/episode_{episode_index:06d}.parquet   one per episode
          videos/chunk-.../{camera}/episode_{episode_index:06d}.mp4                         one per episode and camera
    v3.0  meta/episodes/chunk-*/file-*.parquet  one row per episode: episode_index, tasks, length, the data file
          holding its rows (data/chunk_index, data/file_index) and, per camera, the mp4 holding its frames and the
          time range inside it (videos/{camera}/chunk_index, file_index, from_timestamp, to_timestamp); many
          episodes per data file and per mp4

Every row of an episode has `timestamp`, seconds from the episode's start; its image is the camera's frame at
from_timestamp + timestamp (from_timestamp = 0 in v2.x), which is how LeRobot's own reader looks it up.

Sampling: rows are kept at `fps` by timestamp (the first row at or after each k / fps, the Ego4D importer's rule);
each kept row's image is the decoded frame nearest its video time, which must lie within half a source frame
period, or the episode is reported (LeRobot's reader asks for 1e-4 s; half a period picks the same frame whenever
that holds and tolerates timestamps rounded by a re-mux). `observation.state` and `action`, when the dataset has
them, are the kept rows' values: below the source rate an action is the one commanded at the kept frame, not a sum
over the skipped ones. Key: "<owner>/<name>/episode_<index:06d>" (`dataset_name`: the Hub's name where the
path shows it, else the folder's parent and name), so two owners' datasets of one name stay apart; language: the
episode's tasks joined by "; ".

Everything the metadata promises is checked before anything is written (info.json totals, row counts per file, the
files themselves); an episode whose video fails to decode stops the import naming the file (or is skipped with
on_error=skip), and episodes already appended stay committed, so running the command again resumes.

Size: one module for one format's two versions, read top to bottom (metadata, checks, one episode, the import);
the versions differ only in where the index lives, so a split would repeat the rest.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from av.video.reformatter import VideoReformatter
from tqdm import tqdm

from viva_robot.data.config import ImportLeRobotConfig
from viva_robot.data.dataset import DatasetError, DatasetWriter, Episode, VideoDataset
from viva_robot.data.video import BackgroundWriter, VideoReadError, open_video, to_square_rgb

log = logging.getLogger(__name__)

VERSIONS = {"v2.0": "per-episode", "v2.1": "per-episode", "v3.0": "packed"}
STATE, ACTION = "observation.state", "action"


@dataclass(frozen=True)
class EpisodeRef:
    """Where one LeRobot episode's rows and frames are."""

    index: int
    length: int
    tasks: tuple[str, ...]
    data: Path  # parquet with its rows (v3.0: with other episodes' rows)
    video: Path  # the camera's mp4 (v3.0: with other episodes' frames)
    video_from: float  # seconds into the mp4 where the episode starts


@dataclass(frozen=True)
class LeRobotSource:
    root: Path
    name: str
    version: str
    fps: float
    camera: str
    cameras: tuple[str, ...]
    robot_type: str
    state_dim: int | None
    action_dim: int | None
    episodes: tuple[EpisodeRef, ...]

    def describe(self) -> str:
        robot = f" (robot {self.robot_type})" if self.robot_type else ""
        return f"LeRobot {self.version} dataset {self.name}{robot}, camera {self.camera} at {self.fps:g} fps"


# -- metadata ----------------------------------------------------------------------------------------------------
def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, ValueError, RecursionError) as e:  # ValueError: bad JSON, bad UTF-8, a 5000-digit integer
        raise DatasetError(f"{path}: not readable JSON ({e.__class__.__name__}: {e})") from None


def _jsonl(path: Path) -> list[dict]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: not readable ({e})") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as e:
            raise DatasetError(f"{path}: line {n} is not JSON ({e})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{path}: line {n} is not a JSON object")
        rows.append(row)
    return rows


def _field(doc: dict, key: str, kind: type | tuple[type, ...], where: Path | str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        names = "/".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DatasetError(f"{where}: field {key!r} is {value!r}, expected {names}")
    return value


_SPEC = re.compile(r"0?[1-9]?d?")  # LeRobot's templates use {name:03d} / {name:06d}, or no spec


def _fill(template: str, root: Path, where: Path, **fields: Any) -> Path:
    """A data_path / video_path template filled in: only its documented placeholders, with an integer spec of at most
    9 digits, and only paths inside root (checked on the path itself, so a Hub cache snapshot, whose files are
    symlinks into ../../blobs, is inside)."""
    try:
        parts = list(string.Formatter().parse(template)) if "\0" not in template else None
    except ValueError:
        parts = None
    if parts is None:
        raise DatasetError(f"{where}: path template {template!r} is malformed")
    names = {name for _, name, _, _ in parts if name is not None}
    if not names <= set(fields):
        raise DatasetError(f"{where}: path template {template!r} uses {sorted(names - set(fields))}, expected only "
                           f"{sorted(fields)}")
    for _, name, spec, conversion in parts:
        if name is not None and (conversion is not None or not _SPEC.fullmatch(spec or "")):
            raise DatasetError(f"{where}: path template {template!r}: placeholder {{{name}:{spec}}} is not an integer "
                               f"field like {{{name}:03d}}")
    path = Path(os.path.normpath(root.absolute() / template.format(**fields)))
    if not path.is_relative_to(Path(os.path.normpath(root.absolute()))):
        raise DatasetError(f"{where}: path template {template!r} points outside the dataset ({path})")
    return path


def _vector_dim(features: dict, name: str, where: Path) -> int | None:
    feature = features.get(name)
    if feature is None:
        return None
    shape = feature.get("shape") if isinstance(feature, dict) else None
    if (not isinstance(feature, dict) or feature.get("dtype") not in ("float32", "float64") or not isinstance(shape, list)
            or len(shape) != 1 or not isinstance(shape[0], int) or shape[0] < 1):
        raise DatasetError(f"{where}: feature {name!r} is {feature!r}, expected a float32/float64 vector "
                           f"(dtype and a one-element shape)")
    return shape[0]


def read_source(src: Path, camera: str | None) -> LeRobotSource:
    """Everything about a local LeRobot dataset that its metadata says, checked; no video is opened."""
    src = Path(src)
    if not src.is_dir():
        raise DatasetError(f"{src}: no such folder (expected a LeRobot dataset with meta/info.json)")
    info_path = src / "meta" / "info.json"
    info = _json(info_path)
    if not isinstance(info, dict):
        raise DatasetError(f"{info_path}: expected a JSON object")
    version = info.get("codebase_version")
    if version not in VERSIONS:
        raise DatasetError(f"{info_path}: codebase_version {version!r} is not supported (this importer reads "
                           f"{', '.join(VERSIONS)}; convert older datasets with LeRobot's converter)")
    fps = float(_field(info, "fps", (int, float), info_path))
    if not (math.isfinite(fps) and 0 < fps <= 1000):
        raise DatasetError(f"{info_path}: field 'fps' is {fps}, expected a frame rate in (0, 1000]")
    features = _field(info, "features", dict, info_path)
    cameras = tuple(k for k, f in features.items() if isinstance(f, dict) and f.get("dtype") == "video")
    if not cameras:
        images = [k for k, f in features.items() if isinstance(f, dict) and f.get("dtype") == "image"]
        stored = f" (its images are stored inside the parquet files: {', '.join(images)})" if images else ""
        raise DatasetError(f"{info_path}: the dataset has no video features (dtype 'video'){stored}; this importer "
                           f"reads camera video from mp4 files")
    if camera is None:
        camera = cameras[0]
    elif camera not in cameras:
        raise DatasetError(f"{info_path}: no video feature {camera!r}; the dataset has {', '.join(cameras)}")
    for key in ("data_path", "video_path"):
        _field(info, key, str, info_path)
    if VERSIONS[version] == "per-episode":
        episodes = _episodes_per_file(src, info, camera, info_path)
    else:
        episodes = _episodes_packed(src, info, camera, info_path)
    total_episodes = _field(info, "total_episodes", int, info_path)
    total_frames = _field(info, "total_frames", int, info_path)
    if total_episodes != len(episodes):
        raise DatasetError(f"{info_path}: total_episodes is {total_episodes} but the episode index lists "
                           f"{len(episodes)} episodes")
    if total_frames != sum(e.length for e in episodes):
        raise DatasetError(f"{info_path}: total_frames is {total_frames} but the episode index sums to "
                           f"{sum(e.length for e in episodes)} frames")
    robot = info.get("robot_type")
    return LeRobotSource(root=src, name=dataset_name(src), version=version, fps=fps, camera=camera, cameras=cameras,
                         robot_type=robot if isinstance(robot, str) else "",
                         state_dim=_vector_dim(features, STATE, info_path),
                         action_dim=_vector_dim(features, ACTION, info_path), episodes=tuple(episodes))


def dataset_name(src: Path) -> str:
    """"owner/name" as the Hub names the dataset: from a Hub cache snapshot (.../datasets--owner--name/snapshots/
    <revision>) or LeRobot's own cache (.../lerobot/owner/name); otherwise the folder's parent and name."""
    path = Path(os.path.normpath(src.absolute()))
    repo = path.parent.parent.name
    if path.parent.name == "snapshots" and repo.startswith("datasets--") and repo.count("--") >= 2:
        return repo.removeprefix("datasets--").replace("--", "/", 1)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _tasks(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise DatasetError(f"{where}: 'tasks' is {value!r}, expected a list of strings")
    return tuple(value)


def _episodes_per_file(src: Path, info: dict, camera: str, info_path: Path) -> list[EpisodeRef]:
    """v2.x: meta/episodes.jsonl; one parquet and one mp4 per episode, in chunk-(index // chunks_size)."""
    path = src / "meta" / "episodes.jsonl"
    chunks_size = _field(info, "chunks_size", int, info_path)
    if chunks_size < 1:
        raise DatasetError(f"{info_path}: field 'chunks_size' is {chunks_size}, expected a positive count")
    episodes = []
    for n, row in enumerate(_jsonl(path), 1):
        where = f"{path}: line {n}"
        index, length = _field(row, "episode_index", int, where), _field(row, "length", int, where)
        chunk = index // chunks_size
        episodes.append(EpisodeRef(
            index=index, length=length, tasks=_tasks(row.get("tasks"), where), video_from=0.0,
            data=_fill(info["data_path"], src, info_path, episode_chunk=chunk, episode_index=index),
            video=_fill(info["video_path"], src, info_path, episode_chunk=chunk, episode_index=index, video_key=camera),
        ))
    return _in_order(episodes, path)


def _episodes_packed(src: Path, info: dict, camera: str, info_path: Path) -> list[EpisodeRef]:
    """v3.0: meta/episodes/chunk-*/file-*.parquet; each episode names its data file, its mp4 and its time range."""
    files = sorted((src / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise DatasetError(f"{src / 'meta' / 'episodes'}: no chunk-*/file-*.parquet episode index")
    video = f"videos/{camera}/"
    columns = ["episode_index", "tasks", "length", "data/chunk_index", "data/file_index", "dataset_from_index",
               "dataset_to_index", video + "chunk_index", video + "file_index", video + "from_timestamp"]
    episodes = []
    for path in files:
        rows = _read_parquet(path, columns).to_pylist()
        for n, row in enumerate(rows):
            where = f"{path}: row {n}"
            index, length = _field(row, "episode_index", int, where), _field(row, "length", int, where)
            start, end = _field(row, "dataset_from_index", int, where), _field(row, "dataset_to_index", int, where)
            if end - start != length:
                raise DatasetError(f"{where}: episode {index} has length {length} but its rows dataset_from_index.."
                                   f"dataset_to_index ({start}..{end}) span {end - start}")
            episodes.append(EpisodeRef(
                index=index, length=length, tasks=_tasks(row["tasks"], where),
                video_from=_seconds(_field(row, video + "from_timestamp", (int, float), where),
                                    f"{where}: {video}from_timestamp"),
                data=_fill(info["data_path"], src, info_path, chunk_index=_field(row, "data/chunk_index", int, where),
                           file_index=_field(row, "data/file_index", int, where)),
                video=_fill(info["video_path"], src, info_path, video_key=camera,
                            chunk_index=_field(row, video + "chunk_index", int, where),
                            file_index=_field(row, video + "file_index", int, where)),
            ))
    return _in_order(episodes, files[0].parent.parent)


MAX_SECONDS = 1e7  # ~115 days: any longer time in a video is a corrupt index, not a recording


def _seconds(value: float, what: str) -> float:
    if not (math.isfinite(value) and 0 <= value < MAX_SECONDS):
        raise DatasetError(f"{what} is {value}, expected seconds in [0, {MAX_SECONDS:g})")
    return float(value)


def _in_order(episodes: list[EpisodeRef], where: Path) -> list[EpisodeRef]:
    episodes.sort(key=lambda e: e.index)
    seen = [e.index for e in episodes]
    if len(set(seen)) != len(seen):
        raise DatasetError(f"{where}: episode_index {next(i for i in seen if seen.count(i) > 1)} is listed twice")
    for e in episodes:
        if e.length < 1:
            raise DatasetError(f"{where}: episode {e.index} has length {e.length}, expected at least 1 frame")
    return episodes


def _read_parquet(path: Path, columns: list[str]) -> pa.Table:
    try:
        table = pq.read_table(path, columns=[c for c in columns if c in pq.read_schema(path).names])
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (pa.ArrowException, OSError) as e:
        raise DatasetError(f"{path}: not a readable parquet file ({e})") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def file_problems(source: LeRobotSource) -> dict[int, str]:
    """episode index -> what is wrong with its files (missing parquet or mp4, row counts that disagree with the index).

    Reads parquet footers only, so a whole dataset is checked in a moment before anything is decoded.
    """
    problems: dict[int, str] = {}
    by_file: dict[Path, list[EpisodeRef]] = {}
    for e in source.episodes:
        by_file.setdefault(e.data, []).append(e)
        if not e.video.is_file():
            problems[e.index] = f"{e.video}: no such file (the {source.camera} video of episode {e.index})"
    for path, episodes in by_file.items():
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except FileNotFoundError:
            rows, problem = None, f"{path}: no such file (the rows of episode {episodes[0].index})"
        except (pa.ArrowException, OSError) as e:
            rows, problem = None, f"{path}: not a readable parquet file ({e})"
        expected = sum(e.length for e in episodes)
        if rows is not None and rows != expected:
            listed = ", ".join(str(e.index) for e in episodes[:5]) + (", ..." if len(episodes) > 5 else "")
            problem = (f"{path}: {rows} rows, but the episode index gives {expected} frames for the episodes stored "
                       f"in it ({listed})")
        if rows is None or rows != expected:
            for e in episodes:
                problems.setdefault(e.index, problem)
    return problems


# -- one episode -------------------------------------------------------------------------------------------------
def _matrix(table: pa.Table, name: str, dim: int, path: Path) -> np.ndarray:
    column = table.column(name).combine_chunks()
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type) or pa.types.is_fixed_size_list(column.type):
        if not (pa.types.is_floating(column.type.value_type) or pa.types.is_integer(column.type.value_type)):
            raise DatasetError(f"{path}: column {name!r} holds lists of {column.type.value_type}, expected numbers")
        lengths = column.value_lengths().to_numpy(zero_copy_only=False)
        flat = column.flatten()
        if column.null_count or flat.null_count or not np.all(lengths == dim):
            raise DatasetError(f"{path}: column {name!r} has rows that are not {dim} values (info.json's shape) or "
                               f"missing values")
        values = flat.to_numpy(zero_copy_only=False)
    elif dim == 1 and pa.types.is_floating(column.type):
        values = column.to_numpy(zero_copy_only=False)
    else:
        raise DatasetError(f"{path}: column {name!r} has type {column.type}, expected a list of {dim} floats")
    return np.asarray(values, np.float32).reshape(len(column), dim)


class RowCache:
    """The last data file read: a v3.0 file holds many consecutive episodes, so it is read once for all of them."""

    def __init__(self, source: LeRobotSource):
        self.columns = ["episode_index", "timestamp"] + [n for n, d in ((STATE, source.state_dim),
                                                                        (ACTION, source.action_dim)) if d]
        self.path, self.table, self.episode_index = None, None, None

    def rows(self, e: EpisodeRef) -> pa.Table:
        if e.data != self.path:
            self.table = _read_parquet(e.data, self.columns)
            self.episode_index = self.table.column("episode_index").to_numpy(zero_copy_only=False)
            self.path = e.data
        rows = self.table.filter(pa.array(self.episode_index == e.index))
        if rows.num_rows != e.length:
            raise DatasetError(f"{e.data}: {rows.num_rows} rows for episode {e.index}, the episode index says {e.length}")
        return rows


def keep_rows(timestamps: np.ndarray, fps: float, source_fps: float) -> np.ndarray:
    """Indices of the rows kept at `fps`: the first row at or after each sample time k / fps (gaps not filled).
    A quarter of a source frame period of slack: LeRobot stores timestamps as float32, which puts frame i of a
    long episode a few microseconds before i / source_fps."""
    kept, next_k, slack = [], 0, 0.25 / source_fps
    for i, t in enumerate(timestamps):
        slot = (t + slack) * fps
        if slot >= next_k:
            kept.append(i)
            next_k = int(np.floor(slot)) + 1
    return np.asarray(kept, np.int64)


def decode_at(video: Path, times: np.ndarray, tolerance: float, size: int, threads: int, tally: dict) -> np.ndarray:
    """The frame nearest each of `times` (seconds, increasing) as size x size RGB; each within `tolerance`."""
    container, stream = open_video(video, threads)
    frames, scaler, j, last, best = [], VideoReformatter(), 0, None, None  # best: (distance, frame) for times[j]
    with container:
        if stream.time_base is None:
            raise VideoReadError("the video stream has no time base")
        tb = float(stream.time_base)
        try:
            if times[0] > tolerance:  # v3.0: the episode starts inside the file; land on the key frame before it
                container.seek(int((times[0] - tolerance) / tb), stream=stream, backward=True)
            for frame in container.decode(stream):
                tally["decoded_frames"] += 1
                if frame.pts is None:
                    raise VideoReadError("a frame has no timestamp")
                last = t = frame.pts * tb
                while j < len(times) and t > times[j] + tolerance:  # past times[j]'s window: take its nearest
                    if best is None:
                        raise VideoReadError(f"no frame within {tolerance * 1000:.1f} ms of t = {times[j]:.4f} s "
                                             f"(next frame at {t:.4f} s)")
                    frames.append(to_square_rgb(best[1], size, scaler))
                    j, best = j + 1, None
                if j == len(times):
                    break
                if abs(t - times[j]) <= tolerance and (best is None or abs(t - times[j]) < best[0]):
                    best = (abs(t - times[j]), frame)
        except av.error.FFmpegError as e:
            raise VideoReadError(f"decoding failed ({e})") from None
    if best is not None:  # the file ended inside times[j]'s window
        frames.append(to_square_rgb(best[1], size, scaler))
        j += 1
    if j < len(times):
        end = "no frame decoded" if last is None else f"the last frame decoded is at t = {last:.4f} s"
        raise VideoReadError(f"truncated: the episode needs a frame at t = {times[j]:.4f} s, {end}")
    return np.stack(frames)


def read_episode(source: LeRobotSource, e: EpisodeRef, cache: RowCache, cfg: ImportLeRobotConfig,
                 tally: dict) -> Episode:
    rows = cache.rows(e)
    column = rows.column("timestamp")
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)) or column.null_count:
        raise DatasetError(f"{e.data}: column 'timestamp' is {column.type} with {column.null_count} missing values, "
                           f"expected seconds as numbers")
    timestamps = column.to_numpy().astype(np.float64)
    if not (np.all(np.isfinite(timestamps)) and np.all(np.diff(timestamps) > 0) and timestamps[0] >= 0
            and timestamps[-1] < MAX_SECONDS):
        raise DatasetError(f"{e.data}: episode {e.index}: timestamps are not increasing seconds from 0 "
                           f"(first {timestamps[0]:g}, last {timestamps[-1]:g})")
    keep = keep_rows(timestamps, cfg.fps, source.fps)
    rgb = decode_at(e.video, e.video_from + timestamps[keep], 0.5 / source.fps, cfg.size, cfg.threads, tally)
    vectors = {name: _matrix(rows, column, dim, e.data)[keep] if dim else None
               for name, column, dim in (("state", STATE, source.state_dim), ("action", ACTION, source.action_dim))}
    return Episode(rgb=rgb, key=episode_key(source, e.index), language="; ".join(e.tasks), **vectors)


def episode_key(source: LeRobotSource, index: int) -> str:
    return f"{source.name}/episode_{index:06d}"


# -- the import ----------------------------------------------------------------------------------------------------
def _check_same_camera(out: Path, source: LeRobotSource) -> None:
    previous = VideoDataset(out).attrs.get("lerobot")
    if isinstance(previous, dict) and previous.get("camera") != source.camera:
        raise DatasetError(f"{out}: existing dataset was imported from camera {previous.get('camera')!r}, this run "
                           f"reads {source.camera!r}; choose another output path or the same --camera")


def import_lerobot(cfg: ImportLeRobotConfig, progress: bool = True) -> dict[str, Any]:
    """Import the LeRobot dataset at cfg.src into the viva dataset at cfg.out (created or resumed). Returns a summary."""
    source = read_source(cfg.src, cfg.camera)
    if cfg.fps > source.fps * (1 + 1e-6):
        raise DatasetError(f"{cfg.src}: --fps {cfg.fps:g} is above the dataset's {source.fps:g} fps (frames are never "
                           f"duplicated); choose --fps {source.fps:g} or lower")
    problems = file_problems(source)
    if problems and cfg.on_error == "stop":
        first = min(problems)
        more = f" (and {len(problems) - 1} more episodes)" if len(problems) > 1 else ""
        raise DatasetError(f"{problems[first]}{more}; nothing was imported")
    resuming = cfg.out.exists()
    writer = DatasetWriter(
        cfg.out, source="lerobot", fps=cfg.fps, resolution=(cfg.size, cfg.size), state_dim=source.state_dim,
        action_dim=source.action_dim,
        attrs={"config": cfg.to_dict(), "origin": source.describe(),
               "lerobot": {"codebase_version": source.version, "dataset": source.name, "camera": source.camera,
                           "robot_type": source.robot_type, "fps": source.fps}},
    )
    if resuming:
        _check_same_camera(cfg.out, source)
    stats = {"episodes": 0, "frames": 0, "skipped": 0, "failed": 0, "decoded_frames": 0, "camera": source.camera,
             "codebase_version": source.version}
    for index, problem in sorted(problems.items()):
        log.warning("skipping episode %d: %s", index, problem)
        stats["failed"] += 1
    todo = [e for e in source.episodes if e.index not in problems]
    t0, cache = time.perf_counter(), RowCache(source)
    bar = tqdm(todo, unit="episode", desc=f"lerobot {source.name}", disable=not progress)
    background = BackgroundWriter(writer)
    try:
        for e in bar:
            if episode_key(source, e.index) in writer.completed_keys:
                stats["skipped"] += 1
                continue
            try:
                episode = read_episode(source, e, cache, cfg, stats)
            except (VideoReadError, DatasetError) as err:
                message = f"{e.video}: episode {e.index}: {err}" if isinstance(err, VideoReadError) else str(err)
                if cfg.on_error == "stop":
                    background.wait()  # what was decoded before the bad episode is committed
                    raise DatasetError(message) from None
                log.warning("skipping %s", message)
                stats["failed"] += 1
                continue
            background.append(episode)
            stats["episodes"] += 1
            stats["frames"] += len(episode.rgb)
            bar.set_postfix_str(f"{stats['decoded_frames'] / max(time.perf_counter() - t0, 1e-9):.0f} frames/s")
    finally:
        background.close()
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    return stats
