"""Frame readers serve exactly the stored frames, from RAM or from a rotating pool of whole episodes."""

import time

import numpy as np
import pytest

from viva_robot.data.dataset import DatasetWriter, Episode, VideoDataset
from viva_robot.data.reader import RamFrames, StreamingFrames, open_frames


@pytest.fixture
def dataset(tmp_path):
    w = DatasetWriter(tmp_path / "d.zarr", source="test", fps=10, resolution=(8, 8), chunk_frames=5)
    for k in range(30):
        t = 5 + k % 7
        # each frame's pixels encode (episode, t) so any mix-up shows
        rgb = np.zeros((t, 8, 8, 3), np.uint8)
        rgb[..., 0] = k
        rgb[..., 1] = np.arange(t)[:, None, None]
        w.append(Episode(rgb=rgb, key=f"e{k}"))
    return VideoDataset(tmp_path / "d.zarr")


def test_ram_frames_match_zarr(dataset):
    ram = RamFrames(dataset)
    idx = np.random.default_rng(0).integers(0, dataset.num_frames, 100)
    np.testing.assert_array_equal(ram.frames(idx), dataset.rgb[:][idx])
    assert ram.resident_episodes().tolist() == list(range(30))


def test_streaming_pool_serves_correct_frames_and_rotates(dataset):
    lengths = dataset.episode_lengths()
    budget = 60 * 8 * 8 * 3  # 60 frames: about 7 of 30 episodes
    pool = StreamingFrames(dataset, budget, seed=0, refill_episodes=2)
    rng = np.random.default_rng(1)
    seen = set()
    try:
        for _ in range(200):
            eps = pool.resident_episodes()
            assert lengths[eps].sum() <= 60
            seen.update(eps.tolist())
            ep = rng.choice(eps, 64)
            t = rng.integers(0, lengths[ep])
            got = pool.frames(dataset.episode_starts[ep] + t)
            assert (got[:, 0, 0, 0] == ep).all() and (got[:, 0, 0, 1] == t).all()
            time.sleep(0.002)  # a training step; the loader decodes meanwhile
    finally:
        pool.close()
    assert len(seen) > 20  # the pool turned over


def test_streaming_rejects_non_resident_and_too_small_budget(dataset):
    with pytest.raises(ValueError, match=r"holds 3 frames, less than the longest episode \(11 frames\)"):
        StreamingFrames(dataset, 3 * 8 * 8 * 3)
    pool = StreamingFrames(dataset, 20 * 8 * 8 * 3, seed=0)
    try:
        resident = set(pool.resident_episodes().tolist())
        absent = next(k for k in range(30) if k not in resident)
        with pytest.raises(KeyError, match=rf"episodes \[{absent}\] are not in memory"):
            pool.frames(np.array([dataset.episode_starts[absent]]))
    finally:
        pool.close()


def test_open_frames_picks_by_budget(dataset):
    assert isinstance(open_frames(dataset), RamFrames)
    pool = open_frames(dataset, ram_budget_bytes=40 * 8 * 8 * 3)
    assert isinstance(pool, StreamingFrames)
    pool.close()


def test_frames_resized_on_load(dataset):
    ram = RamFrames(dataset, size=4)
    got = ram.frames(np.array([3, 5]))
    assert got.shape == (2, 4, 4, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got[0, :, :, :2], np.broadcast_to([0, 3], (4, 4, 2)))  # episode 0, t=3: flat stays flat
    np.testing.assert_array_equal(got[1, :, :, :2], np.broadcast_to([1, 0], (4, 4, 2)))  # frame 5 opens episode 1
    pool = StreamingFrames(dataset, 30 * 4 * 4 * 3, seed=0, size=4)
    try:
        ep = pool.resident_episodes()[0]
        frame = pool.frames(np.array([dataset.episode_starts[ep] + 2]))
        assert frame.shape == (1, 4, 4, 3) and (frame[..., 0] == ep).all() and (frame[..., 1] == 2).all()
    finally:
        pool.close()


def test_streaming_pool_holds_only_the_given_episodes(dataset):
    train = np.arange(0, 30, 2)  # e.g. the training split
    pool = StreamingFrames(dataset, 40 * 8 * 8 * 3, seed=0, episodes=train)
    try:
        seen = set()
        for _ in range(100):
            seen.update(pool.resident_episodes().tolist())
            time.sleep(0.002)
        assert seen and seen <= set(train.tolist())
    finally:
        pool.close()
