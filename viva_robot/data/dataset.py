"""The viva video dataset: one Zarr v3 group per dataset. This module is the only code that knows the layout.

Layout (diffusion_policy's replay-buffer convention)::

    <path>/                      attrs: format, format_version, source, fps, resolution, config
      data/rgb      uint8 (N, H, W, 3)  chunked along time only, Blosc/zstd
      data/state    float32 (N, Ds)     optional, aligned with frames
      data/action   float32 (N, Da)     optional; NaN where no action was taken (an episode's last frame)
      data/success  bool (N,)           optional; true task success per frame (evaluation only, never training)
      data/intervention bool (N,)       optional (live recordings); a human drove the arm at this step (teleop)
      data/label    bool (N,)           optional (live recordings); the operator marked this step a success
      meta/episode_ends  int64 (E,)     exclusive end index of each episode: the source of truth
      meta/episode_keys  str (E,)       where each episode came from (clip uid, trajectory folder, seed)
      meta/language      str (E,)       instruction, "" when none

Crash safety: an episode is appended by growing and writing the data arrays, then the per-episode metadata,
and `episode_ends` last. zarr's LocalStore writes every key atomically, so a writer killed at any point
leaves arrays that are at most *longer* than the committed episodes; readers only look at frames below
`episode_ends[-1]`, and the next writer trims the uncommitted tail before appending.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

FORMAT = "viva-video"
FORMAT_VERSION = 1
CHUNK_BYTES = 2 * 1024 * 1024  # ~2 MB image chunks (diffusion_policy's choice for Blosc-compressed frames)


class DatasetError(ValueError):
    """A dataset (or a file being imported into one) is not what was expected. The message names the file."""


FLAGS = ("success", "intervention", "label")  # optional bool (N,) columns
COLUMNS = ("state", "action", *FLAGS)  # optional columns beside data/rgb


@dataclass(frozen=True)
class Episode:
    """One episode as it goes into (or comes out of) a dataset."""

    rgb: np.ndarray  # uint8 (T, H, W, 3)
    key: str  # unique id of the source item; what resuming skips on
    state: np.ndarray | None = None  # float32 (T, Ds)
    action: np.ndarray | None = None  # float32 (T, Da)
    success: np.ndarray | None = None  # bool (T,)
    language: str = ""
    intervention: np.ndarray | None = None  # bool (T,): a human drove the arm (live recordings)
    label: np.ndarray | None = None  # bool (T,): the operator marked the step a success (live recordings)


def _committed_episode_ends(ends: np.ndarray, num_frames: int) -> np.ndarray:
    """The longest prefix of `ends` that is strictly increasing and within the frames actually stored.

    A writer killed while growing `episode_ends` can leave a tail of fill values (zeros); they are not episodes.
    """
    ends = np.asarray(ends, dtype=np.int64)
    ok = (ends > np.concatenate([[0], ends[:-1]])) & (ends <= num_frames)
    bad = np.flatnonzero(~ok)
    return ends if bad.size == 0 else ends[: bad[0]]


class VideoDataset:
    """Read access to a viva dataset. Frames below `num_frames` belong to complete episodes only."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise DatasetError(f"{self.path}: no such dataset (path does not exist)")
        try:
            self.root = zarr.open_group(str(self.path), mode="r")
        except Exception as e:  # zarr raises several types for "not a group"
            raise DatasetError(f"{self.path}: not a Zarr group ({e.__class__.__name__}: {e})") from None
        self.attrs = dict(self.root.attrs)
        check_format(self.path, self.attrs)
        try:
            self.rgb = self.root["data/rgb"]
            raw_ends = self.root["meta/episode_ends"][:]
        except KeyError as e:
            raise DatasetError(f"{self.path}: missing array {e} (expected data/rgb and meta/episode_ends)") from None
        self.episode_ends = _committed_episode_ends(raw_ends, self.rgb.shape[0])
        self.episode_starts = np.concatenate([[0], self.episode_ends[:-1]]).astype(np.int64)

    @property
    def num_episodes(self) -> int:
        return len(self.episode_ends)

    @property
    def num_frames(self) -> int:
        return int(self.episode_ends[-1]) if len(self.episode_ends) else 0

    @property
    def resolution(self) -> tuple[int, int]:
        return tuple(self.rgb.shape[1:3])

    @property
    def fps(self) -> float:
        return float(self.attrs["fps"])

    @property
    def source(self) -> str:
        return str(self.attrs["source"])

    def has(self, name: str) -> bool:
        return f"data/{name}" in self.root

    @property
    def episode_keys(self) -> list[str]:
        return [str(k) for k in self.root["meta/episode_keys"][: self.num_episodes]]

    @property
    def language(self) -> list[str]:
        return [str(k) for k in self.root["meta/language"][: self.num_episodes]]

    def episode_lengths(self) -> np.ndarray:
        return self.episode_ends - self.episode_starts

    def episode_of(self, frame_index: np.ndarray) -> np.ndarray:
        """Episode id of each frame index (vectorised)."""
        return np.searchsorted(self.episode_ends, frame_index, side="right")

    def load_episode(self, k: int) -> Episode:
        if not 0 <= k < self.num_episodes:
            raise DatasetError(f"{self.path}: episode {k} out of range (dataset has {self.num_episodes} episodes)")
        s, e = int(self.episode_starts[k]), int(self.episode_ends[k])
        opt = {n: self.root[f"data/{n}"][s:e] if self.has(n) else None for n in COLUMNS}
        return Episode(rgb=self.rgb[s:e], key=self.episode_keys[k], language=self.language[k], **opt)

    def size_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def check_format(path: Path, attrs: dict[str, Any]) -> None:
    if attrs.get("format") != FORMAT:
        raise DatasetError(f"{path}: not a viva dataset (attribute 'format' is {attrs.get('format')!r}, expected {FORMAT!r})")
    version = attrs.get("format_version")
    if version != FORMAT_VERSION:
        raise DatasetError(
            f"{path}: dataset format_version is {version!r}, this viva-robot reads and writes version {FORMAT_VERSION}"
        )


class DatasetWriter:
    """Appends episodes to a dataset, creating it if needed and resuming it if it exists.

    Resuming checks that the existing dataset was made with the same source, resolution and optional arrays;
    `completed_keys` tells an importer which source items to skip.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        source: str,
        fps: float,
        resolution: tuple[int, int],
        state_dim: int | None = None,
        action_dim: int | None = None,
        with_success: bool = False,
        flags: tuple[str, ...] = (),
        attrs: dict[str, Any] | None = None,
        chunk_frames: int | None = None,
    ):
        self.path = Path(path)
        h, w = resolution
        self.resolution = (int(h), int(w))
        if unknown := set(flags) - set(FLAGS):
            raise DatasetError(f"{path}: unknown per-frame flags {sorted(unknown)}; known: {', '.join(FLAGS)}")
        with_flag = {"success": with_success, **{f: True for f in flags}}
        self._dims = {"state": state_dim, "action": action_dim, **{f: 1 if with_flag.get(f) else None for f in FLAGS}}
        if not self.path.exists():
            self._create(source, fps, chunk_frames, attrs or {})
        self.root = zarr.open_group(str(self.path), mode="r+")
        existing = dict(self.root.attrs)
        check_format(self.path, existing)
        self._check_compatible(existing, source, fps)
        self._trim_uncommitted()

    # -- creation and resume checks ------------------------------------------------------------------------
    def _create(self, source: str, fps: float, chunk_frames: int | None, attrs: dict[str, Any]) -> None:
        """Build the empty dataset beside the target and rename it into place, so a crash never leaves half a layout."""
        h, w = self.resolution
        tmp = self.path.with_name(f".{self.path.name}.creating")
        shutil.rmtree(tmp, ignore_errors=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        root = zarr.open_group(str(tmp), mode="w")
        t = chunk_frames or max(1, CHUNK_BYTES // (h * w * 3))
        blosc = BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")
        root.create_array("data/rgb", shape=(0, h, w, 3), chunks=(t, h, w, 3), dtype="uint8", compressors=blosc)
        for name, dim in self._dims.items():
            if dim is None:
                continue
            shape, chunks = ((0,), (4096,)) if name in FLAGS else ((0, dim), (4096, dim))
            dtype = "bool" if name in FLAGS else "float32"
            root.create_array(f"data/{name}", shape=shape, chunks=chunks, dtype=dtype, compressors=blosc)
        root.create_array("meta/episode_ends", shape=(0,), chunks=(1024,), dtype="int64")
        root.create_array("meta/episode_keys", shape=(0,), chunks=(1024,), dtype=str)
        root.create_array("meta/language", shape=(0,), chunks=(1024,), dtype=str)
        root.attrs.update(
            {
                **json.loads(json.dumps(attrs)),  # must be JSON; fail here rather than half-way
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "source": source,
                "fps": float(fps),
                "resolution": [h, w],
            }
        )
        tmp.rename(self.path)

    def _check_compatible(self, existing: dict[str, Any], source: str, fps: float) -> None:
        want = {"source": source, "resolution": list(self.resolution), "fps": float(fps)}
        for field, value in want.items():
            if existing.get(field) != value:
                raise DatasetError(
                    f"{self.path}: existing dataset has {field}={existing.get(field)!r} but this run writes "
                    f"{field}={value!r}; choose another output path or matching settings"
                )
        for name, dim in self._dims.items():
            present = f"data/{name}" in self.root
            if present != (dim is not None):
                raise DatasetError(
                    f"{self.path}: existing dataset {'has' if present else 'lacks'} data/{name} but this run "
                    f"{'does not write' if present else 'writes'} it; choose another output path"
                )
            if present and name not in FLAGS and self.root[f"data/{name}"].shape[1] != dim:
                raise DatasetError(
                    f"{self.path}: data/{name} has width {self.root[f'data/{name}'].shape[1]}, this run writes {dim}"
                )

    def _trim_uncommitted(self) -> None:
        """Drop whatever a killed writer left past the last committed episode."""
        ends_arr = self.root["meta/episode_ends"]
        ends = _committed_episode_ends(ends_arr[:], self.root["data/rgb"].shape[0])
        n, e = (int(ends[-1]) if len(ends) else 0), len(ends)
        for name in ("rgb", *[k for k, d in self._dims.items() if d is not None]):
            arr = self.root[f"data/{name}"]
            if arr.shape[0] != n:
                arr.resize((n, *arr.shape[1:]))
        for name in ("episode_keys", "language", "episode_ends"):
            arr = self.root[f"meta/{name}"]
            if arr.shape[0] != e:
                arr.resize((e,))
        self.num_frames, self.num_episodes = n, e
        self.completed_keys = {str(k) for k in self.root["meta/episode_keys"][:e]}

    # -- appending -----------------------------------------------------------------------------------------
    def append(self, ep: Episode) -> None:
        t = self._validate(ep)
        n, e = self.num_frames, self.num_episodes
        columns = {"rgb": ep.rgb, **{name: getattr(ep, name) for name in COLUMNS}}
        for name, values in columns.items():
            if name != "rgb" and self._dims[name] is None:
                continue
            arr = self.root[f"data/{name}"]
            arr.resize((n + t, *arr.shape[1:]))
            arr[n : n + t] = values
        for name, value in (("episode_keys", ep.key), ("language", ep.language)):
            arr = self.root[f"meta/{name}"]
            arr.resize((e + 1,))
            arr[e] = value
        ends = self.root["meta/episode_ends"]
        ends.resize((e + 1,))
        ends[e] = n + t  # the commit point
        self.num_frames, self.num_episodes = n + t, e + 1
        self.completed_keys.add(ep.key)

    def _validate(self, ep: Episode) -> int:
        rgb = ep.rgb
        h, w = self.resolution
        where = f"{self.path}: episode {ep.key!r}"
        if rgb.dtype != np.uint8 or rgb.ndim != 4 or rgb.shape[1:] != (h, w, 3):
            raise DatasetError(f"{where}: frames are {rgb.dtype} {rgb.shape}, expected uint8 (T, {h}, {w}, 3)")
        t = rgb.shape[0]
        if t < 1:
            raise DatasetError(f"{where}: episode has no frames")
        if ep.key in self.completed_keys:
            raise DatasetError(f"{where}: an episode with this key is already in the dataset")
        for name in COLUMNS:
            value, dim = getattr(ep, name), self._dims[name]
            if (value is None) != (dim is None):
                raise DatasetError(f"{where}: {name} is {'missing' if value is None else 'given'} but the dataset "
                                   f"{'stores' if dim is not None else 'does not store'} it")
            if value is not None:
                want = (t,) if name in FLAGS else (t, dim)
                if value.shape != want:
                    raise DatasetError(f"{where}: {name} has shape {value.shape}, expected {want} (aligned with frames)")
        return t
