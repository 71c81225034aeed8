"""Random training batches of frames at memory speed.

zarr decodes a whole chunk for every random read (~80-90 ms for 256 random 64x64 frames here), far too
slow to feed a model. Two readers with one interface:

- `RamFrames`: the whole `data/rgb` in one numpy array (read chunk by chunk, with a progress bar).
- `StreamingFrames`: for datasets larger than memory, a pool of whole episodes held in RAM, refreshed in the
  background: a loader thread decodes whole chunks of randomly chosen episodes and swaps them in for the
  oldest ones. Samplers draw from `resident_episodes()`, so every batch is served from memory and
  sampling inside an episode (current / later frame of the same episode) stays possible.

`open_frames` picks RAM when the frames fit the budget.
"""

from __future__ import annotations

import queue
import threading
from collections import deque

import numpy as np
from tqdm import tqdm

from viva_robot.data.dataset import VideoDataset


def resize_frames(frames: np.ndarray, size: int | None) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (T, size, size, 3), antialiased bilinear; unchanged when size is None or equal."""
    if size is None or frames.shape[1:3] == (size, size):
        return frames
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


class RamFrames:
    """Every frame of the dataset in memory (resized to `size` x `size` when given)."""

    def __init__(self, dataset: VideoDataset, progress: bool = False, size: int | None = None):
        self.dataset = dataset
        n = dataset.num_frames
        shape = (size, size, 3) if size else dataset.rgb.shape[1:]
        self.rgb = np.empty((n, *shape), dtype=np.uint8)
        step = max(dataset.rgb.chunks[0], 1) * 8
        for s in tqdm(range(0, n, step), desc=f"loading {dataset.path.name}", unit="chunk", disable=not progress):
            self.rgb[s : min(s + step, n)] = resize_frames(dataset.rgb[s : min(s + step, n)], size)

    def resident_episodes(self) -> np.ndarray:
        return np.arange(self.dataset.num_episodes)

    def frames(self, index: np.ndarray) -> np.ndarray:
        return self.rgb[index]

    def close(self) -> None:
        pass


class StreamingFrames:
    """A rotating pool of whole episodes in a fixed RAM budget, decoded by a background thread.

    The pool changes only inside `resident_episodes()` (the loader thread stages decoded episodes; the
    consumer swaps them in), so indices sampled from its result stay valid for the following `frames` calls.
    """

    def __init__(self, dataset: VideoDataset, budget_bytes: int, seed: int = 0, refill_episodes: int = 4,
                 size: int | None = None, episodes: np.ndarray | None = None):
        """`episodes`: the only episodes to hold (e.g. the training split); default all."""
        self.dataset, self.size = dataset, size
        self._lengths = dataset.episode_lengths()
        self._candidates = np.arange(dataset.num_episodes) if episodes is None else np.asarray(episodes)
        shape = (size, size, 3) if size else dataset.rgb.shape[1:]
        frame_bytes = int(np.prod(shape))
        self.capacity = int(budget_bytes // frame_bytes)
        longest = int(self._lengths[self._candidates].max())
        if self.capacity < longest:
            raise ValueError(
                f"{dataset.path}: streaming budget of {budget_bytes / 2**20:.0f} MiB holds {self.capacity} frames, "
                f"less than the longest episode ({longest} frames)"
            )
        self.pool = np.empty((self.capacity, *shape), dtype=np.uint8)
        self.offset = np.full(dataset.num_episodes, -1, dtype=np.int64)  # pool position of each resident episode
        self._resident: deque[int] = deque()  # oldest first
        self._write = 0  # ring-buffer write position
        self._rng = np.random.default_rng(seed)
        self._staged: queue.Queue = queue.Queue(maxsize=refill_episodes)
        self._stop = threading.Event()
        used = 0
        for k in self._rng.permutation(self._candidates):
            if used + self._lengths[k] > self.capacity:
                break
            self._insert(*self._load(int(k)))
            used += self._lengths[k]
        self._thread = threading.Thread(target=self._run, daemon=True, name="viva-frame-loader")
        self._thread.start()

    def _load(self, k: int) -> tuple[int, np.ndarray]:
        s, e = int(self.dataset.episode_starts[k]), int(self.dataset.episode_ends[k])
        return k, resize_frames(self.dataset.rgb[s:e], self.size)  # decodes whole chunks

    def _run(self) -> None:
        # Decoding happens here, off the training thread; the bounded queue makes the pool turn over about
        # as fast as batches are drawn, and an idle reader waits instead of spinning.
        while not self._stop.is_set():
            absent = self._candidates[self.offset[self._candidates] < 0]
            if absent.size == 0:
                return  # everything fits after all
            item = self._load(int(self._rng.choice(absent)))
            while not self._stop.is_set():
                try:
                    self._staged.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue

    def _insert(self, k: int, frames: np.ndarray) -> None:
        if self.offset[k] >= 0:
            return
        n = len(frames)
        if self._write + n > self.capacity:
            self._write = 0
        lo, hi = self._write, self._write + n
        for j in list(self._resident):  # evict what the new episode overwrites
            a = self.offset[j]
            if a < hi and lo < a + self._lengths[j]:
                self._resident.remove(j)
                self.offset[j] = -1
        self.pool[lo:hi] = frames
        self.offset[k] = lo
        self._resident.append(k)
        self._write = hi

    def resident_episodes(self) -> np.ndarray:
        """Swap in what the loader has staged, then list the episodes in memory."""
        while True:
            try:
                self._insert(*self._staged.get_nowait())
            except queue.Empty:
                break
        return np.fromiter(self._resident, dtype=np.int64)

    def frames(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index)
        ep = self.dataset.episode_of(index)
        pos = self.offset[ep]
        if (pos < 0).any():
            missing = np.unique(ep[pos < 0])[:5]
            raise KeyError(f"episodes {missing.tolist()} are not in memory; sample from resident_episodes()")
        return self.pool[pos + index - self.dataset.episode_starts[ep]]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def open_frames(dataset: VideoDataset, ram_budget_bytes: int = 8 * 2**30, progress: bool = False, seed: int = 0,
                size: int | None = None, episodes: np.ndarray | None = None):
    """RAM reader when all frames fit in `ram_budget_bytes`, else a streaming pool of that size.
    `size`: serve frames resized to size x size (for mixing datasets imported at other resolutions)."""
    frame_bytes = 3 * size * size if size else int(np.prod(dataset.rgb.shape[1:]))
    if dataset.num_frames * frame_bytes <= ram_budget_bytes:
        return RamFrames(dataset, progress=progress, size=size)
    return StreamingFrames(dataset, ram_budget_bytes, seed=seed, size=size, episodes=episodes)
