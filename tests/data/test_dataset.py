"""The Zarr video dataset: layout, round-trips, crash safety and resume, bad input."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr

from pathlib import Path

from viva_robot.data.dataset import FORMAT_VERSION, DatasetError, DatasetWriter, Episode, VideoDataset


REPO = Path(__file__).resolve().parents[2]


def episode(k: int, t: int = 7, size: int = 8, with_extras: bool = True) -> Episode:
    rng = np.random.default_rng(k)
    return Episode(
        rgb=rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8),
        key=f"ep{k}",
        state=rng.normal(size=(t, 3)).astype(np.float32) if with_extras else None,
        action=rng.normal(size=(t, 2)).astype(np.float32) if with_extras else None,
        success=(np.arange(t) >= t - 2) if with_extras else None,
        language=f"task {k}",
    )


def writer(path, **kw) -> DatasetWriter:
    args = dict(source="test", fps=10, resolution=(8, 8), state_dim=3, action_dim=2, with_success=True)
    return DatasetWriter(path, **{**args, **kw})


def test_round_trip_layout_and_boundaries(tmp_path):
    path = tmp_path / "d.zarr"
    w = writer(path, chunk_frames=4)
    eps = [episode(k, t=3 + k) for k in range(4)]
    for ep in eps:
        w.append(ep)
    ds = VideoDataset(path)
    assert ds.num_episodes == 4 and ds.num_frames == 3 + 4 + 5 + 6
    assert ds.episode_ends.tolist() == [3, 7, 12, 18] and ds.episode_starts.tolist() == [0, 3, 7, 12]
    assert ds.resolution == (8, 8) and ds.fps == 10.0 and ds.source == "test"
    assert ds.attrs["format"] == "viva-video" and ds.attrs["format_version"] == FORMAT_VERSION
    root = zarr.open_group(str(path), mode="r")
    assert root["data/rgb"].dtype == np.uint8 and root["data/rgb"].chunks == (4, 8, 8, 3)  # chunked along time only
    assert root["meta/episode_ends"].dtype == np.int64
    for k, ep in enumerate(eps):
        got = ds.load_episode(k)
        np.testing.assert_array_equal(got.rgb, ep.rgb)
        np.testing.assert_array_equal(got.state, ep.state)
        np.testing.assert_array_equal(got.action, ep.action)
        np.testing.assert_array_equal(got.success, ep.success)
        assert got.key == ep.key and got.language == ep.language
    assert ds.episode_of(np.array([0, 2, 3, 17])).tolist() == [0, 0, 1, 3]


def test_optional_arrays_absent(tmp_path):
    w = writer(tmp_path / "d.zarr", state_dim=None, action_dim=None, with_success=False)
    w.append(episode(0, with_extras=False))
    ds = VideoDataset(tmp_path / "d.zarr")
    assert not ds.has("state") and not ds.has("action") and not ds.has("success")
    assert ds.load_episode(0).state is None


def test_uncommitted_frames_are_invisible_and_trimmed_on_resume(tmp_path):
    """A writer killed after writing frames but before committing episode_ends."""
    path = tmp_path / "d.zarr"
    w = writer(path)
    w.append(episode(0))
    root = zarr.open_group(str(path), mode="r+")
    for name, width in (("rgb", None), ("state", 3), ("action", 2), ("success", None)):
        arr = root[f"data/{name}"]
        arr.resize((arr.shape[0] + 5, *arr.shape[1:]))  # grown, tail never committed
    ds = VideoDataset(path)
    assert ds.num_episodes == 1 and ds.num_frames == 7
    w2 = writer(path)
    assert w2.completed_keys == {"ep0"}
    w2.append(episode(1))
    ds = VideoDataset(path)
    assert ds.episode_ends.tolist() == [7, 14] and ds.rgb.shape[0] == 14
    np.testing.assert_array_equal(ds.load_episode(1).rgb, episode(1).rgb)


def test_episode_ends_grown_but_not_written_is_ignored(tmp_path):
    """zarr writes the new shape before the data: a kill in between leaves a fill-value (0) tail."""
    path = tmp_path / "d.zarr"
    w = writer(path)
    w.append(episode(0))
    w.append(episode(1))
    ends = zarr.open_group(str(path), mode="r+")["meta/episode_ends"]
    ends.resize((3,))
    assert ends[:].tolist() == [7, 14, 0]
    assert VideoDataset(path).num_episodes == 2
    assert writer(path).num_episodes == 2


def test_sigkilled_writer_leaves_complete_episodes_and_resumes_to_identical_dataset(tmp_path):
    script = f"""
import sys, time, numpy as np
sys.path.insert(0, {str(REPO)!r})
from viva_robot.data.dataset import DatasetWriter, Episode
w = DatasetWriter(sys.argv[1], source="test", fps=10, resolution=(64, 64), chunk_frames=16)
for k in range(12):
    if f"e{{k}}" in w.completed_keys:
        continue
    rgb = np.random.default_rng(k).integers(0, 256, (300, 64, 64, 3), dtype=np.uint8)
    w.append(Episode(rgb=rgb, key=f"e{{k}}"))
    print(k, flush=True)
"""
    killed, clean = tmp_path / "killed.zarr", tmp_path / "clean.zarr"
    proc = subprocess.Popen([sys.executable, "-c", script, str(killed)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "0"
    assert proc.stdout.readline().strip() == "1"
    time.sleep(0.05)  # somewhere inside writing episode 2 or 3
    proc.kill()
    proc.wait()
    partial = VideoDataset(killed)
    assert 2 <= partial.num_episodes < 12
    for k in range(partial.num_episodes):
        expect = np.random.default_rng(k).integers(0, 256, (300, 64, 64, 3), dtype=np.uint8)
        np.testing.assert_array_equal(partial.load_episode(k).rgb, expect)
    subprocess.run([sys.executable, "-c", script, str(killed)], check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", script, str(clean)], check=True, capture_output=True)
    a, b = VideoDataset(killed), VideoDataset(clean)
    assert a.episode_ends.tolist() == b.episode_ends.tolist() and a.episode_keys == b.episode_keys
    np.testing.assert_array_equal(a.rgb[:], b.rgb[:])


def test_bad_inputs_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match=r"nope\.zarr: no such dataset"):
        VideoDataset(tmp_path / "nope.zarr")
    plain = tmp_path / "plain.zarr"
    zarr.open_group(str(plain), mode="w").attrs["format"] = "something-else"
    with pytest.raises(DatasetError, match=r"plain\.zarr: not a viva dataset \(attribute 'format' is 'something-else'"):
        VideoDataset(plain)
    path = tmp_path / "d.zarr"
    writer(path).append(episode(0))
    with pytest.raises(DatasetError, match=r"d\.zarr: existing dataset has resolution=\[8, 8\] but this run writes resolution=\[16, 16\]"):
        writer(path, resolution=(16, 16))
    with pytest.raises(DatasetError, match=r"existing dataset has data/state but this run does not write it"):
        writer(path, state_dim=None)
    w = writer(path)
    bad = Episode(rgb=np.zeros((3, 8, 9, 3), np.uint8), key="x")
    with pytest.raises(DatasetError, match=r"episode 'x': frames are uint8 \(3, 8, 9, 3\), expected uint8 \(T, 8, 8, 3\)"):
        w.append(bad)
    with pytest.raises(DatasetError, match=r"episode 'ep0': an episode with this key is already in the dataset"):
        w.append(episode(0))
    ep = episode(5)
    with pytest.raises(DatasetError, match=r"state has shape \(6, 3\), expected \(7, 3\)"):
        w.append(Episode(rgb=ep.rgb, key="y", state=ep.state[:6], action=ep.action, success=ep.success))
    assert VideoDataset(path).num_episodes == 1  # nothing half-written by the rejected appends
    assert VideoDataset(path).rgb.shape[0] == 7


def test_other_format_version_is_refused_and_untouched(tmp_path):
    path = tmp_path / "d.zarr"
    writer(path).append(episode(0))
    meta = path / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"]["format_version"] = 99
    meta.write_text(json.dumps(doc))
    before = sorted((p.relative_to(path), p.stat().st_size) for p in path.rglob("*") if p.is_file())
    with pytest.raises(DatasetError, match=r"format_version is 99, this viva-robot reads and writes version 1"):
        writer(path)
    with pytest.raises(DatasetError, match="format_version is 99"):
        VideoDataset(path)
    after = sorted((p.relative_to(path), p.stat().st_size) for p in path.rglob("*") if p.is_file())
    assert before == after
