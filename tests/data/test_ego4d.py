"""Ego4D import on real H.264 mp4s made with PyAV: sampling by time, windows, crop, resume, kills, corrupt files.

Every test video paints the frame index into its bottom half (tens left, units right of centre, as gray levels
20 apart) and a colour per second into its top half, so the frames an import kept can be read back from the dataset.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from frame_marks import frame_indices, paint_index

from viva_robot.data.config import ImportEgo4DConfig
from viva_robot.data.dataset import DatasetError, DatasetWriter, VideoDataset
from viva_robot.data.ego4d import import_ego4d

W, H, FPS = 160, 120, 30
SECOND_COLOURS = [(220, 40, 40), (40, 200, 60), (50, 60, 220), (230, 210, 40)]


def frame_image(i: int, second: int) -> np.ndarray:
    img = np.empty((H, W, 3), np.uint8)
    img[: H // 2] = SECOND_COLOURS[second % len(SECOND_COLOURS)]
    return paint_index(img, i)


def write_video(path: Path, n_frames: int = 90, times_ms: list[int] | None = None, start_frames: int = 0,
                faststart: bool = False) -> Path:
    """H.264 (libx264, yuv420p) mp4 at 30 fps, or variable frame rate with explicit `times_ms`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "+faststart"} if faststart else {}
    time_base = Fraction(1, 1000) if times_ms else Fraction(1, FPS)
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        stream.options = {"preset": "ultrafast", "crf": "8"}
        ticks = times_ms or [start_frames + i for i in range(n_frames)]
        for i, pts in enumerate(ticks):
            frame = av.VideoFrame.from_ndarray(frame_image(i, int(pts * time_base)), format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def config(src: Path, out: Path, **kw) -> ImportEgo4DConfig:
    return ImportEgo4DConfig(src=src, out=out, **{"size": 32, "fps": 5.0, **kw})


@pytest.fixture
def ego4d(tmp_path: Path) -> Path:
    """<root>/v2/full_scale with two 3 s videos and <root>/v2/ego4d.json."""
    src = tmp_path / "v2" / "full_scale"
    write_video(src / "aaa.mp4", 90)
    write_video(src / "sub" / "bbb.mp4", 90)
    manifest = {"videos": [
        {"video_uid": "aaa", "duration_sec": 3.0,
         "video_metadata": {"fps": 30.0, "num_frames": 90, "video_start_sec": 0.0, "video_duration_sec": 3.0,
                            "display_resolution_width": W, "display_resolution_height": H}},
        {"video_uid": "bbb", "video_metadata": {"fps": "thirty"}},  # a bad field is ignored
        "not an entry",
    ]}
    (tmp_path / "v2" / "ego4d.json").write_text(json.dumps(manifest))
    return src


def read_all(out: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    ds = VideoDataset(out)
    return ds.episode_keys, ds.episode_ends.copy(), ds.rgb[: ds.num_frames]


def test_one_episode_per_video_samples_by_time(ego4d: Path, tmp_path: Path):
    summary = import_ego4d(config(ego4d, tmp_path / "out.zarr"), progress=False)
    assert summary["videos"] == 2 and summary["episodes"] == 2 and summary["frames"] == 30
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_keys == ["aaa", "bbb"]  # sorted paths; key = file stem
    assert ds.episode_lengths().tolist() == [15, 15]  # 3 s at 30 fps sampled at 5 fps
    assert ds.resolution == (32, 32) and ds.fps == 5.0 and ds.source == "ego4d"
    assert ds.attrs["resolution"] == [32, 32] and ds.attrs["config"]["size"] == 32
    rgb = ds.load_episode(0).rgb
    assert frame_indices(rgb) == list(range(0, 90, 6))
    for k, frame in enumerate(rgb):  # top half: the colour of the frame's second, after resize and crop
        np.testing.assert_allclose(frame[4:12, 4:28].mean(axis=(0, 1)), SECOND_COLOURS[(6 * k) // 30], atol=12)


def test_windows_split_at_sample_times_and_drop_short_ones(tmp_path: Path):
    src = tmp_path / "clips"
    write_video(src / "vid.mp4", 120)  # 4 s -> 20 samples at 5 fps; 1.5 s windows hold 7.5 samples
    summary = import_ego4d(config(src, tmp_path / "out.zarr", episode_seconds=1.5, min_frames=6), progress=False)
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_keys == ["vid@0.000", "vid@1.500"]
    assert ds.episode_lengths().tolist() == [8, 7]  # samples 0-7 (t < 1.5 s) and 8-14; 15-19 (5 < 6) dropped
    assert summary["short"] == 1 and summary["episodes"] == 2
    assert frame_indices(ds.load_episode(0).rgb) == list(range(0, 48, 6))
    assert frame_indices(ds.load_episode(1).rgb) == list(range(48, 90, 6))


def test_stream_starting_late_and_variable_frame_rate(tmp_path: Path):
    src = tmp_path / "clips"
    write_video(src / "late.mp4", 60, start_frames=15)  # the stream starts at 0.5 s
    # frames at 0, .1, .15, .19, .21, .6, .61, 1.0 s: samples at 0, .2, .4, ... take the first frame at or after,
    # and the gap 0.21 -> 0.6 s is not filled with copies
    write_video(src / "vfr.mp4", times_ms=[0, 100, 150, 190, 210, 600, 610, 1000])
    import_ego4d(config(src, tmp_path / "out.zarr"), progress=False)
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_keys == ["late", "vfr"]
    assert frame_indices(ds.load_episode(0).rgb) == list(range(0, 60, 6))
    assert frame_indices(ds.load_episode(1).rgb) == [0, 4, 5, 7]


def test_resume_adds_nothing_then_only_new_videos(ego4d: Path, tmp_path: Path):
    out = tmp_path / "out.zarr"
    cfg = config(ego4d, out, episode_seconds=1.0)
    first = import_ego4d(cfg, progress=False)
    assert first["episodes"] == 6
    before = read_all(out)
    again = import_ego4d(cfg, progress=False)
    assert again["episodes"] == 0 and again["skipped"] == 6
    assert again["decoded_frames"] == 0  # complete videos are not decoded again
    after = read_all(out)
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and np.array_equal(before[2], after[2])
    write_video(ego4d / "ccc.mp4", 60)
    more = import_ego4d(cfg, progress=False)
    assert more["episodes"] == 2 and more["decoded_frames"] == 60
    assert VideoDataset(out).episode_keys[6:] == ["ccc@0.000", "ccc@1.000"]


def test_resume_with_other_window_length_is_refused(ego4d: Path, tmp_path: Path):
    import_ego4d(config(ego4d, tmp_path / "out.zarr", episode_seconds=1.0), progress=False)
    with pytest.raises(DatasetError, match="episode_seconds"):
        import_ego4d(config(ego4d, tmp_path / "out.zarr", episode_seconds=2.0), progress=False)


@pytest.mark.parametrize("mid_write", [False, True])
def test_killed_import_resumes_to_the_uninterrupted_result(ego4d: Path, tmp_path: Path, monkeypatch, mid_write):
    cfg = config(ego4d, tmp_path / "whole.zarr", episode_seconds=1.0)
    import_ego4d(cfg, progress=False)
    expected = read_all(cfg.out)

    killed = cfg.model_copy(update={"out": tmp_path / "killed.zarr"})
    real_append, calls = DatasetWriter.append, []

    def dying_append(self, ep):
        calls.append(ep.key)
        if len(calls) == 4:  # inside the second video
            if mid_write:  # frames written, episode not committed: what a kill during the write leaves
                rgb = self.root["data/rgb"]
                rgb.resize((self.num_frames + len(ep.rgb), *rgb.shape[1:]))
                rgb[self.num_frames :] = ep.rgb
            raise KeyboardInterrupt
        real_append(self, ep)

    monkeypatch.setattr(DatasetWriter, "append", dying_append)
    with pytest.raises(KeyboardInterrupt):
        import_ego4d(killed, progress=False)
    monkeypatch.setattr(DatasetWriter, "append", real_append)
    assert VideoDataset(killed.out).num_episodes == 3
    resumed = import_ego4d(killed, progress=False)
    assert resumed["episodes"] == 3 and resumed["skipped"] == 3
    got = read_all(killed.out)
    assert got[0] == expected[0] and np.array_equal(got[1], expected[1]) and np.array_equal(got[2], expected[2])


def _truncate(path: Path, at: int | None = None) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 if at is None else at])


def _packet_offset(path: Path, index: int) -> int:
    with av.open(str(path)) as c:
        return [p.pos for p in c.demux(video=0) if p.size][index]


@pytest.mark.parametrize("damage", ["half", "half-faststart", "packet-boundary", "garbage"])
def test_corrupt_video_stops_naming_the_file_or_is_skipped(ego4d: Path, tmp_path: Path, damage: str):
    bad = ego4d / "zzz.mp4"  # sorted last: the good videos are committed first
    if damage == "garbage":
        bad.write_bytes(b"this is not an mp4 " * 200)
    else:
        write_video(bad, 90, faststart=damage != "half")
        _truncate(bad, _packet_offset(bad, 45) if damage == "packet-boundary" else None)
    with pytest.raises(DatasetError, match="zzz.mp4"):
        import_ego4d(config(ego4d, tmp_path / "stop.zarr"), progress=False)
    assert VideoDataset(tmp_path / "stop.zarr").episode_keys == ["aaa", "bbb"]  # committed episodes stay

    summary = import_ego4d(config(ego4d, tmp_path / "skip.zarr", on_error="skip"), progress=False)
    assert summary["failed"] == 1 and summary["episodes"] == 2
    assert VideoDataset(tmp_path / "skip.zarr").episode_keys == ["aaa", "bbb"]


def test_missing_or_empty_source_and_bad_manifest(tmp_path: Path):
    with pytest.raises(DatasetError, match="does not exist"):
        import_ego4d(config(tmp_path / "nowhere", tmp_path / "out.zarr"), progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"no \*\.mp4"):
        import_ego4d(config(tmp_path / "empty", tmp_path / "out.zarr"), progress=False)
    write_video(tmp_path / "clips" / "a.mp4", 30)
    (tmp_path / "clips" / "ego4d.json").write_text("{not json")
    with pytest.raises(DatasetError, match="ego4d.json"):
        import_ego4d(config(tmp_path / "clips", tmp_path / "out.zarr"), progress=False)
    (tmp_path / "clips" / "ego4d.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match="ego4d.json"):
        import_ego4d(config(tmp_path / "clips", tmp_path / "out.zarr"), progress=False)
    with pytest.raises(DatasetError, match="other.json"):
        import_ego4d(config(tmp_path / "clips", tmp_path / "out.zarr", manifest=tmp_path / "other.json"),
                     progress=False)
    assert not (tmp_path / "out.zarr").exists()
