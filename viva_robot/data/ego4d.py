"""Ego4D videos (mp4) -> viva dataset: decode with PyAV, sample by presentation time, short side + center crop.

Sampling: frame k of an episode is the first decoded frame whose time is at or after the sample time k / fps, with
time measured from the video stream's start (Ego4D streams can start after t = 0). Frame times come from the
timestamps, so variable-frame-rate files sample correctly; a time gap is not filled with duplicates.

Episodes: one per video (key = video_uid = the file stem), or windows of `episode_seconds` (key
"<uid>@<start seconds>"). Each episode is decoded whole before it is appended, so a corrupt file never leaves half
an episode (windows decoded before a failure part-way through a video are kept); resuming skips committed keys, and
a video whose windows are all committed is not decoded again. Appends run on a worker thread, overlapping decoding.

The ego4d.json manifest fills in what a file does not say (stream start, frame rate for frames without timestamps,
duration); the file's own timestamps win where both exist, since they are what the decoder returns.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from tqdm import tqdm

from viva_robot.data.config import ImportEgo4DConfig
from viva_robot.data.dataset import DatasetError, DatasetWriter, Episode, VideoDataset
from viva_robot.data.video import BackgroundWriter, VideoReadError, open_video, to_square_rgb

log = logging.getLogger(__name__)

TIME_TOLERANCE = Fraction(1, 1000)  # seconds; absorbs timestamps rounded to the container's time base
MISSING_FRAMES_ALLOWED = 0.02  # a file that decodes fewer than 98% of the frames its header lists is truncated
@dataclass(frozen=True)
class VideoInfo:
    """What the ego4d.json manifest says about one video (None where it says nothing usable)."""

    fps: float | None = None
    start_sec: float | None = None
    duration_sec: float | None = None


# -- manifest ------------------------------------------------------------------------------------------------------
def find_manifest(cfg: ImportEgo4DConfig) -> Path | None:
    if cfg.manifest is not None:
        if not cfg.manifest.is_file():
            raise DatasetError(f"{cfg.manifest}: manifest not found (expected Ego4D's ego4d.json)")
        return cfg.manifest
    for candidate in (cfg.src / "ego4d.json", cfg.src.parent / "ego4d.json"):
        if candidate.is_file():
            return candidate
    return None


def _positive(value: Any, allow_zero: bool = False) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok and (value > 0 or (allow_zero and value == 0)) else None


def load_manifest(path: Path) -> dict[str, VideoInfo]:
    """video_uid -> VideoInfo. Entries or fields of the wrong type are ignored; a file that is not JSON is an error."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: cannot read the Ego4D manifest ({e.__class__.__name__}: {e})") from None
    videos = doc.get("videos") if isinstance(doc, dict) else None
    if not isinstance(videos, list):
        raise DatasetError(f"{path}: not an Ego4D manifest (expected a JSON object with a 'videos' list)")
    infos: dict[str, VideoInfo] = {}
    for entry in videos:
        if not isinstance(entry, dict) or not isinstance(entry.get("video_uid"), str):
            continue
        meta = entry.get("video_metadata") if isinstance(entry.get("video_metadata"), dict) else {}
        infos[entry["video_uid"]] = VideoInfo(
            fps=_positive(meta.get("fps")),
            start_sec=_positive(meta.get("video_start_sec"), allow_zero=True),
            duration_sec=_positive(meta.get("video_duration_sec")) or _positive(entry.get("duration_sec")),
        )
    return infos


# -- decoding and sampling ---------------------------------------------------------------------------------------
def _stream_start(stream, info: VideoInfo) -> Fraction | None:
    """The file's own stream start time; the manifest's video_start_sec when the file does not say."""
    if stream.start_time is not None and stream.time_base is not None:
        return stream.start_time * stream.time_base
    if info.start_sec is not None:
        return Fraction(str(info.start_sec))
    return None  # the first decoded frame then defines the start


def _stream_duration(stream, container, info: VideoInfo) -> Fraction | None:
    if stream.duration is not None and stream.time_base is not None:
        return stream.duration * stream.time_base
    if container.duration is not None:
        return Fraction(container.duration, 1_000_000)
    return Fraction(str(info.duration_sec)) if info.duration_sec else None


def sample_frames(
    container, stream, info: VideoInfo, fps: Fraction, tally: dict[str, int]
) -> Iterator[tuple[int, av.VideoFrame]]:
    """(sample index k, frame): the first frame at or after each sample time k / fps from the stream start.

    Frames are yielded unconverted; the caller converts only those it keeps. Raises VideoReadError when decoding
    fails, when nothing decodes, or when the file ends well before the frame count its header gives (truncated).
    Counts decoded frames in tally["decoded_frames"].
    """
    start = _stream_start(stream, info)
    source_fps = Fraction(str(info.fps)) if info.fps else (stream.average_rate or stream.guessed_rate or fps)
    next_k, decoded = 0, 0
    try:
        for frame in container.decode(stream):
            if frame.pts is not None and stream.time_base is not None:
                t = frame.pts * stream.time_base
            else:  # no timestamp: assume the nominal rate
                t = (start or 0) + decoded / Fraction(source_fps)
            decoded += 1
            tally["decoded_frames"] += 1
            if start is None:
                start = t
            slot = (t - start + TIME_TOLERANCE) * fps
            if slot < next_k:
                continue
            k = math.floor(slot)  # a time gap is skipped, not filled with duplicates
            next_k = k + 1
            yield k, frame
    except (av.error.FFmpegError, OSError) as e:
        raise VideoReadError(f"decoding failed after {decoded} frames ({e})") from None
    if decoded == 0:
        raise VideoReadError("no decodable frames")
    listed = stream.frames or 0
    if listed and decoded < listed * (1 - MISSING_FRAMES_ALLOWED):
        raise VideoReadError(f"truncated: decoded {decoded} of the {listed} frames the file lists")


# -- episodes ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Windows:
    """How sample indices map to episodes: one window per video (seconds None) or fixed-length windows."""

    uid: str
    fps: Fraction
    seconds: Fraction | None

    def of(self, k: int) -> int:
        return 0 if self.seconds is None else math.floor(k / (self.seconds * self.fps))

    def key(self, w: int) -> str:
        return self.uid if self.seconds is None else f"{self.uid}@{float(w * self.seconds):.3f}"

    def possible_keys(self, duration: Fraction, min_frames: int) -> list[str]:
        """Keys of every window that could hold min_frames frames in a video of this duration (an overestimate)."""
        samples = math.floor((duration + TIME_TOLERANCE) * self.fps) + 1  # sample times 0 .. duration inclusive
        if self.seconds is None:
            return [self.uid] if samples >= min_frames else []
        per = self.seconds * self.fps
        keys, w = [], 0
        while math.ceil(w * per) < samples:
            if min(math.ceil((w + 1) * per), samples) - math.ceil(w * per) >= min_frames:
                keys.append(self.key(w))
            w += 1
        return keys


def video_episodes(
    samples: Iterator[tuple[int, av.VideoFrame]], windows: Windows, size: int, skip: set[str]
) -> Iterator[tuple[str, list[np.ndarray]]]:
    """(key, frames) per window, each yielded only once it is complete; frames of keys in `skip` are not converted."""
    current, frames, scaler = None, [], VideoReformatter()
    for k, frame in samples:
        w = windows.of(k)
        if w != current:
            if current is not None:
                yield windows.key(current), frames
            current, frames = w, []
        if windows.key(w) not in skip:
            frames.append(to_square_rgb(frame, size, scaler))
    if current is not None:
        yield windows.key(current), frames


# -- the import ----------------------------------------------------------------------------------------------------
def find_videos(src: Path) -> list[Path]:
    if not src.exists():
        raise DatasetError(f"{src}: source folder does not exist (expected a folder of Ego4D *.mp4 videos)")
    videos = sorted(src.rglob("*.mp4")) if src.is_dir() else ([src] if src.suffix == ".mp4" else [])
    if not videos:
        raise DatasetError(f"{src}: no *.mp4 files found (expected Ego4D videos, e.g. <root>/v2/full_scale/<uid>.mp4)")
    seen: dict[str, Path] = {}
    for path in videos:
        if path.stem in seen:
            raise DatasetError(f"{path}: video_uid {path.stem!r} also names {seen[path.stem]}; keys must be unique")
        seen[path.stem] = path
    return videos


def _check_same_windows(out: Path, cfg: ImportEgo4DConfig) -> None:
    """Resuming with another episode length would mix two key schemes (and duplicate every frame)."""
    previous = VideoDataset(out).attrs.get("config")
    if isinstance(previous, dict) and previous.get("episode_seconds", cfg.episode_seconds) != cfg.episode_seconds:
        raise DatasetError(
            f"{out}: existing dataset was imported with episode_seconds={previous.get('episode_seconds')!r}, "
            f"this run uses {cfg.episode_seconds!r}; choose another output path or the same setting"
        )


def import_video(path: Path, info: VideoInfo, cfg: ImportEgo4DConfig, writer: BackgroundWriter, stats: dict) -> None:
    fps = Fraction(str(cfg.fps))
    seconds = Fraction(str(cfg.episode_seconds)) if cfg.episode_seconds else None
    windows = Windows(path.stem, fps, seconds)
    done = writer.writer.completed_keys
    if seconds is None and windows.uid in done:
        stats["skipped"] += 1
        return
    container, stream = open_video(path, cfg.threads)
    with container:
        duration = _stream_duration(stream, container, info)
        if seconds is not None and duration is not None:
            expected = windows.possible_keys(duration, cfg.min_frames)
            if expected and all(key in done for key in expected):
                stats["skipped"] += len(expected)
                return
        for key, frames in video_episodes(sample_frames(container, stream, info, fps, stats), windows, cfg.size, done):
            if key in done:
                stats["skipped"] += 1
            elif len(frames) < cfg.min_frames:
                stats["short"] += 1
            else:
                writer.append(Episode(rgb=np.stack(frames), key=key))
                stats["episodes"] += 1
                stats["frames"] += len(frames)


def import_ego4d(cfg: ImportEgo4DConfig, progress: bool = True) -> dict:
    """Import every *.mp4 under cfg.src into the dataset at cfg.out (created or resumed). Returns a summary."""
    videos = find_videos(cfg.src)
    manifest_path = find_manifest(cfg)
    manifest = load_manifest(manifest_path) if manifest_path else {}
    resuming = cfg.out.exists()
    writer = DatasetWriter(
        cfg.out, source="ego4d", fps=cfg.fps, resolution=(cfg.size, cfg.size), attrs={"config": cfg.to_dict()}
    )
    if resuming:
        _check_same_windows(cfg.out, cfg)
    stats = {"videos": len(videos), "episodes": 0, "frames": 0, "skipped": 0, "short": 0, "failed": 0,
             "decoded_frames": 0}
    t0 = time.perf_counter()
    bar = tqdm(videos, unit="video", desc="ego4d", disable=not progress)
    background = BackgroundWriter(writer)
    try:
        for path in bar:
            try:
                import_video(path, manifest.get(path.stem, VideoInfo()), cfg, background, stats)
            except VideoReadError as e:
                if cfg.on_error == "stop":
                    background.wait()  # what was decoded before the bad file is committed
                    raise DatasetError(f"{path}: {e}") from None
                log.warning("skipping %s: %s", path, e)
                stats["failed"] += 1
            bar.set_postfix_str(f"{stats['decoded_frames'] / max(time.perf_counter() - t0, 1e-9):.0f} frames/s")
    finally:
        background.close()
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    return stats
