"""`import lerobot`: LeRobotDataset v2.1 and v3.0 folders written here the way LeRobot's own writer lays them out
(huggingface/lerobot `datasets/utils.py`, `lerobot_dataset.py`, `video_utils.encode_video_frames`: AV1 via
libsvtav1, yuv420p, g=2, crf=30; vectors as fixed-size lists; v3.0 packs episodes into shared parquet and mp4
files and indexes them in meta/episodes/), and one dataset written by lerobot 0.4.4 itself (tests/data/lerobot-v3.0-real_so100; how it
was made is beside it: lerobot pins torch<2.11 and av<16, so it is not a dependency).
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from frame_marks import frame_indices, paint_index

from viva_robot.cli import main
from viva_robot.data.config import ImportLeRobotConfig
from viva_robot.data.dataset import DatasetError, DatasetWriter, VideoDataset
from viva_robot.data.lerobot import import_lerobot

W, H, FPS = 96, 72, 10
LENGTHS = [12, 7, 20]
TASKS = ["open the drawer", "pick up the cube"]
EPISODE_COLOURS = [(220, 40, 40), (40, 200, 60), (50, 60, 220)]
CAMERAS = ("observation.images.top", "observation.images.wrist")


def frame_image(episode: int, i: int, camera: int = 0) -> np.ndarray:
    """Top half: the episode's colour (inverted for the wrist camera); bottom: the frame index in two grey levels."""
    img = np.empty((H, W, 3), np.uint8)
    colour = np.array(EPISODE_COLOURS[episode % 3])
    img[: H // 2] = colour if camera == 0 else 255 - colour
    return paint_index(img, i)


def state_of(episode: int, i: int) -> list[float]:
    return [float(episode), float(i), 0.5 * i, -1.0]


def action_of(episode: int, i: int) -> list[float]:
    return [100.0 + i, float(episode)]


def encode(path: Path, images: list[np.ndarray], faststart: bool = False) -> None:
    """encode_video_frames' defaults: libsvtav1, yuv420p, g=2, crf=30 (preset 12), pts = frame number at FPS."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "+faststart"} if faststart else {}) as out:
        stream = out.add_stream("libsvtav1", rate=FPS, options={"g": "2", "crf": "30", "preset": "12"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for n, img in enumerate(images):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def features(cameras: tuple[str, ...], vectors: bool) -> dict:
    video = {"dtype": "video", "shape": [H, W, 3], "names": ["height", "width", "channels"],
             "info": {"video.height": H, "video.width": W, "video.codec": "av1", "video.pix_fmt": "yuv420p",
                      "video.is_depth_map": False, "video.fps": FPS, "video.channels": 3, "has_audio": False}}
    out = {camera: video for camera in cameras}
    if vectors:
        out["observation.state"] = {"dtype": "float32", "shape": [4], "names": ["a", "b", "c", "d"]}
        out["action"] = {"dtype": "float32", "shape": [2], "names": ["x", "y"]}
    for name, dtype in (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                        ("index", "int64"), ("task_index", "int64")):
        out[name] = {"dtype": dtype, "shape": [1], "names": None}
    return out


def rows_table(episodes: list[int], lengths: list[int], vectors: bool) -> pa.Table:
    """The per-frame table as LeRobot writes it (HF datasets schema: Sequence(length=n) -> fixed_size_list)."""
    cols: dict[str, list] = {"timestamp": [], "frame_index": [], "episode_index": [], "index": [], "task_index": []}
    state, action = [], []
    for e in episodes:
        first = sum(lengths[:e])
        for i in range(lengths[e]):
            cols["timestamp"].append(i / FPS)
            cols["frame_index"].append(i)
            cols["episode_index"].append(e)
            cols["index"].append(first + i)
            cols["task_index"].append(e % 2)
            state.append(state_of(e, i))
            action.append(action_of(e, i))
    arrays = {"timestamp": pa.array(cols["timestamp"], pa.float32())}
    arrays.update({k: pa.array(v, pa.int64()) for k, v in cols.items() if k != "timestamp"})
    if vectors:
        arrays["observation.state"] = pa.array(state, pa.list_(pa.float32(), 4))
        arrays["action"] = pa.array(action, pa.list_(pa.float32(), 2))
    return pa.table(arrays)


def write_lerobot(root: Path, version: str = "v3.0", lengths: list[int] = LENGTHS, cameras=CAMERAS[:1],
                  vectors: bool = True) -> Path:
    """A LeRobot dataset at root. v3.0: episodes 0-1 share data file-000 and mp4 file-000, the rest are in file-001."""
    n = len(lengths)
    info = {"codebase_version": version, "robot_type": "so100", "total_episodes": n, "total_frames": sum(lengths),
            "total_tasks": len(TASKS), "chunks_size": 1000, "fps": FPS, "splits": {"train": f"0:{n}"},
            "features": features(cameras, vectors)}
    (root / "meta").mkdir(parents=True)
    tasks = [[TASKS[e % 2]] for e in range(n)]
    if version.startswith("v2"):
        info.update(total_chunks=1, total_videos=n * len(cameras),
                    data_path="data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
                    video_path="videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4")
        for e in range(n):
            path = root / f"data/chunk-000/episode_{e:06d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(rows_table([e], lengths, vectors), path)
            for c, camera in enumerate(cameras):
                encode(root / f"videos/chunk-000/{camera}/episode_{e:06d}.mp4",
                       [frame_image(e, i, c) for i in range(lengths[e])])
        (root / "meta/episodes.jsonl").write_text(
            "".join(json.dumps({"episode_index": e, "tasks": tasks[e], "length": lengths[e]}) + "\n" for e in range(n)))
        (root / "meta/tasks.jsonl").write_text(
            "".join(json.dumps({"task_index": k, "task": t}) + "\n" for k, t in enumerate(TASKS)))
    else:
        info.update(data_files_size_in_mb=100, video_files_size_in_mb=200,
                    data_path="data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
                    video_path="videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4")
        files = [list(range(min(2, n))), list(range(2, n))] if n > 2 else [list(range(n))]
        episode_rows: dict[str, list] = {k: [] for k in ("episode_index", "tasks", "length", "data/chunk_index",
                                                         "data/file_index", "dataset_from_index", "dataset_to_index")}
        for f, members in enumerate(files):
            path = root / f"data/chunk-000/file-{f:03d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(rows_table(members, lengths, vectors), path)
            for c, camera in enumerate(cameras):
                encode(root / f"videos/{camera}/chunk-000/file-{f:03d}.mp4",
                       [frame_image(e, i, c) for e in members for i in range(lengths[e])], faststart=True)
            start = 0.0
            for e in members:
                for key, value in (("episode_index", e), ("tasks", tasks[e]), ("length", lengths[e]),
                                   ("data/chunk_index", 0), ("data/file_index", f),
                                   ("dataset_from_index", sum(lengths[:e])), ("dataset_to_index", sum(lengths[: e + 1]))):
                    episode_rows[key].append(value)
                for camera in cameras:
                    for key, value in (("chunk_index", 0), ("file_index", f), ("from_timestamp", start),
                                       ("to_timestamp", start + lengths[e] / FPS)):
                        episode_rows.setdefault(f"videos/{camera}/{key}", []).append(value)
                start += lengths[e] / FPS
        (root / "meta/episodes/chunk-000").mkdir(parents=True)
        pq.write_table(pa.table(episode_rows), root / "meta/episodes/chunk-000/file-000.parquet")
        pq.write_table(pa.table({"task_index": list(range(len(TASKS))), "__index_level_0__": TASKS}),
                       root / "meta/tasks.parquet")
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    return root


def config(src: Path, out: Path, **kw) -> ImportLeRobotConfig:
    return ImportLeRobotConfig(src=src, out=out, **{"size": 32, "fps": 5.0, **kw})


@pytest.fixture(scope="module", params=["v2.1", "v3.0"])
def dataset(request, tmp_path_factory) -> Path:
    return write_lerobot(tmp_path_factory.mktemp(request.param.replace(".", "")) / "so100_drawer", request.param)


def test_episodes_are_resampled_by_timestamp_with_state_action_and_language(dataset: Path, tmp_path: Path):
    summary = import_lerobot(config(dataset, tmp_path / "out.zarr"), progress=False)
    assert summary["episodes"] == 3 and summary["frames"] == 6 + 4 + 10 and summary["failed"] == 0
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.source == "lerobot" and ds.fps == 5.0 and ds.resolution == (32, 32)
    assert ds.episode_keys == [f"{dataset.parent.name}/so100_drawer/episode_{e:06d}" for e in range(3)]
    assert ds.language == ["open the drawer", "pick up the cube", "open the drawer"]
    assert ds.episode_lengths().tolist() == [6, 4, 10]  # 10 fps -> 5 fps: every other row
    for e in range(3):
        episode = ds.load_episode(e)
        kept = list(range(0, LENGTHS[e], 2))
        assert frame_indices(episode.rgb) == kept  # the picture of each kept row ...
        np.testing.assert_array_equal(episode.state, [state_of(e, i) for i in kept])  # ... beside its state
        np.testing.assert_array_equal(episode.action, [action_of(e, i) for i in kept])
        top = episode.rgb[:, 2:12, 2:30].mean(axis=(1, 2))  # v3.0: frames come from the episode's part of the file
        np.testing.assert_allclose(top, np.broadcast_to(EPISODE_COLOURS[e], top.shape), atol=14)
    version = json.loads((dataset / "meta/info.json").read_text())["codebase_version"]
    assert ds.attrs["lerobot"] == {"codebase_version": version, "dataset": f"{dataset.parent.name}/so100_drawer",
                                   "camera": "observation.images.top", "robot_type": "so100", "fps": 10.0}


def test_a_dataset_written_by_lerobot_itself(tmp_path: Path):
    src = Path(__file__).parent / "lerobot-v3.0-real_so100"
    summary = import_lerobot(config(src, tmp_path / "out.zarr"), progress=False)
    assert summary["codebase_version"] == "v3.0" and summary["episodes"] == 3
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_keys == [f"data/lerobot-v3.0-real_so100/episode_{e:06d}" for e in range(3)]
    assert ds.language == ["open the drawer", "pick up the cube", "open the drawer"]
    assert ds.episode_lengths().tolist() == [6, 4, 10]
    for e in range(3):  # all three episodes share one mp4 and one parquet file
        episode = ds.load_episode(e)
        kept = list(range(0, LENGTHS[e], 2))
        assert frame_indices(episode.rgb) == kept
        np.testing.assert_array_equal(episode.state, [state_of(e, i) for i in kept])
        np.testing.assert_array_equal(episode.action, [action_of(e, i) for i in kept])
        top = episode.rgb[:, 2:12, 2:30].mean(axis=(1, 2))
        np.testing.assert_allclose(top, np.broadcast_to(EPISODE_COLOURS[e], top.shape), atol=14)


def test_full_rate_frames_round_trip_within_codec_error(dataset: Path, tmp_path: Path):
    from PIL import Image

    import_lerobot(config(dataset, tmp_path / "out.zarr", fps=10.0, size=72), progress=False)
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_lengths().tolist() == LENGTHS
    rgb = ds.load_episode(2).rgb
    assert frame_indices(rgb) == list(range(20))
    for i in (0, 7, 19):
        crop = (W - H) // 2  # the importers' rule: short side to `size`, center crop
        want = np.asarray(Image.fromarray(frame_image(2, i)).crop((crop, 0, crop + H, H)), np.float64)
        assert np.abs(rgb[i].astype(np.float64) - want).mean() < 6.0  # AV1 at crf 30 on flat colours


def test_version_is_recorded_and_shown(dataset: Path, tmp_path: Path, capsys):
    out = tmp_path / "out.zarr"
    assert main(["import", "lerobot", str(dataset), str(out), "--size", "32", "-q"]) == 0
    summary = json.loads(capsys.readouterr().out)
    version = json.loads((dataset / "meta/info.json").read_text())["codebase_version"]
    assert summary["codebase_version"] == version and summary["camera"] == "observation.images.top"
    assert main(["dataset", "info", str(out)]) == 0
    info = capsys.readouterr().out
    assert (f"from       LeRobot {version} dataset {dataset.parent.name}/so100_drawer (robot so100), camera "
            f"observation.images.top at 10 fps") in info
    assert "language   3 episodes with an instruction" in info and "arrays     rgb, state, action" in info


def test_camera_choice_and_unknown_camera_lists_the_others(tmp_path: Path):
    src = write_lerobot(tmp_path / "two_cams", "v3.0", lengths=[6, 4], cameras=CAMERAS)
    import_lerobot(config(src, tmp_path / "wrist.zarr", camera="observation.images.wrist"), progress=False)
    rgb = VideoDataset(tmp_path / "wrist.zarr").load_episode(1).rgb
    np.testing.assert_allclose(rgb[:, 2:12, 2:30].mean(axis=(1, 2)),
                               np.broadcast_to(255 - np.array(EPISODE_COLOURS[1]), (2, 3)), atol=14)
    with pytest.raises(DatasetError) as e:
        import_lerobot(config(src, tmp_path / "x.zarr", camera="observation.images.side"), progress=False)
    assert str(e.value) == (f"{src / 'meta/info.json'}: no video feature 'observation.images.side'; the dataset has "
                            f"observation.images.top, observation.images.wrist")
    with pytest.raises(DatasetError, match="imported from camera 'observation.images.wrist', this run reads "
                                           "'observation.images.top'"):
        import_lerobot(config(src, tmp_path / "wrist.zarr"), progress=False)
    assert not (tmp_path / "x.zarr").exists()


def test_without_state_or_action(tmp_path: Path):
    src = write_lerobot(tmp_path / "video_only", "v2.1", lengths=[4], vectors=False)
    import_lerobot(config(src, tmp_path / "out.zarr"), progress=False)
    ds = VideoDataset(tmp_path / "out.zarr")
    assert not ds.has("state") and not ds.has("action") and ds.episode_lengths().tolist() == [2]


def test_vectors_as_variable_length_lists(tmp_path: Path):
    """LeRobot's v2.1 -> v3.0 converter and aggregate.py rewrite data through pandas: list<float>, not fixed-size."""
    src = write_lerobot(tmp_path / "converted", "v3.0")
    for path in (src / "data").rglob("*.parquet"):
        table = pq.read_table(path)
        for name in ("observation.state", "action"):
            i = table.column_names.index(name)
            table = table.set_column(i, name, table.column(name).cast(pa.list_(pa.float32())))
        pq.write_table(table, path)
    import_lerobot(config(src, tmp_path / "out.zarr"), progress=False)
    episode = VideoDataset(tmp_path / "out.zarr").load_episode(2)
    np.testing.assert_array_equal(episode.state, [state_of(2, i) for i in range(0, 20, 2)])
    table = pq.read_table(path)
    bad = pa.array([[1.0]] * table.num_rows, pa.list_(pa.float32()))
    pq.write_table(table.set_column(table.column_names.index("action"), "action", bad), path)
    with pytest.raises(DatasetError, match=f"{path}: column 'action' has rows that are not 2 values"):
        import_lerobot(config(src, tmp_path / "out2.zarr"), progress=False)


def _read(out: Path):
    ds = VideoDataset(out)
    return ds.episode_keys, ds.rgb[: ds.num_frames], ds.root["data/state"][: ds.num_frames]


def test_killed_import_resumes_to_the_uninterrupted_result(dataset: Path, tmp_path: Path, monkeypatch):
    import_lerobot(config(dataset, tmp_path / "whole.zarr"), progress=False)
    appended = []
    original = DatasetWriter.append

    def dying_append(self, ep):
        if len(appended) == 2:
            raise KeyboardInterrupt  # killed while the third episode goes in
        original(self, ep)
        appended.append(ep.key)

    monkeypatch.setattr(DatasetWriter, "append", dying_append)
    with pytest.raises(KeyboardInterrupt):
        import_lerobot(config(dataset, tmp_path / "resumed.zarr"), progress=False)
    monkeypatch.setattr(DatasetWriter, "append", original)
    assert VideoDataset(tmp_path / "resumed.zarr").num_episodes == 2
    summary = import_lerobot(config(dataset, tmp_path / "resumed.zarr"), progress=False)
    assert summary["skipped"] == 2 and summary["episodes"] == 1
    for a, b in zip(_read(tmp_path / "whole.zarr"), _read(tmp_path / "resumed.zarr")):
        np.testing.assert_array_equal(a, b)


# -- bad input -----------------------------------------------------------------------------------------------------
def _copy(dataset: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(dataset, tmp_path / dataset.name))


def _edit_info(src: Path, **changes) -> None:
    info = json.loads((src / "meta/info.json").read_text())
    info.update(changes)
    (src / "meta/info.json").write_text(json.dumps(info))


def _error(src: Path, out: Path, **kw) -> str:
    with pytest.raises(DatasetError) as e:
        import_lerobot(config(src, out, **kw), progress=False)
    return str(e.value)


def test_unknown_version_no_video_and_fps_above_the_source(dataset: Path, tmp_path: Path):
    src, out = _copy(dataset, tmp_path), tmp_path / "out.zarr"
    info = src / "meta/info.json"
    version = json.loads(info.read_text())["codebase_version"]
    assert _error(src, out, fps=12.0) == (f"{src}: --fps 12 is above the dataset's 10 fps (frames are never "
                                          f"duplicated); choose --fps 10 or lower")
    _edit_info(src, codebase_version="v1.6")
    assert _error(src, out) == (f"{info}: codebase_version 'v1.6' is not supported (this importer reads v2.0, v2.1, "
                                f"v3.0; convert older datasets with LeRobot's converter)")
    feats = features((), vectors=True)
    feats["observation.image"] = {"dtype": "image", "shape": [H, W, 3], "names": ["height", "width", "channels"]}
    _edit_info(src, codebase_version=version, features=feats)
    assert _error(src, out) == (f"{info}: the dataset has no video features (dtype 'video') (its images are stored "
                                f"inside the parquet files: observation.image); this importer reads camera video "
                                f"from mp4 files")
    _edit_info(src, features=features(CAMERAS[:1], True), video_path="../../elsewhere/{video_key}.mp4")
    assert "points outside the dataset" in _error(src, out)
    assert _error(tmp_path / "nowhere", out) == (f"{tmp_path / 'nowhere'}: no such folder (expected a LeRobot "
                                                 f"dataset with meta/info.json)")
    assert not out.exists()


def _video_files(src: Path) -> list[Path]:
    return sorted((src / "videos").rglob("*.mp4"))


def test_missing_mp4_is_named_before_anything_is_written(dataset: Path, tmp_path: Path):
    src, out = _copy(dataset, tmp_path), tmp_path / "out.zarr"
    missing = _video_files(src)[-1]
    missing.unlink()
    last = 2  # both layouts: the last file holds the last episode
    assert _error(src, out) == (f"{missing}: no such file (the observation.images.top video of episode {last}); "
                                f"nothing was imported")
    assert not out.exists()
    summary = import_lerobot(config(src, out, on_error="skip"), progress=False)
    assert summary["failed"] == 1 and summary["episodes"] == 2


def test_row_counts_that_disagree_with_the_index(dataset: Path, tmp_path: Path):
    src, out = _copy(dataset, tmp_path), tmp_path / "out.zarr"
    _edit_info(src, total_frames=sum(LENGTHS) + 1)
    assert _error(src, out) == (f"{src / 'meta/info.json'}: total_frames is {sum(LENGTHS) + 1} but the episode index "
                                f"sums to {sum(LENGTHS)} frames")
    _edit_info(src, total_frames=sum(LENGTHS))
    data = sorted((src / "data").rglob("*.parquet"))[-1]
    table = pq.read_table(data)
    pq.write_table(table.slice(0, table.num_rows - 3), data)  # three rows of the last episode gone
    assert _error(src, out) == (f"{data}: {table.num_rows - 3} rows, but the episode index gives {table.num_rows} "
                                f"frames for the episodes stored in it (2); nothing was imported")
    assert not out.exists()


def test_truncated_mp4_stops_naming_the_file_and_keeps_earlier_episodes(dataset: Path, tmp_path: Path):
    src, out = _copy(dataset, tmp_path), tmp_path / "out.zarr"
    video = _video_files(src)[-1]
    data = video.read_bytes()
    video.write_bytes(data[: len(data) * 2 // 3])
    message = _error(src, out)
    assert message.startswith(f"{video}: episode 2: ")
    # v2.1's per-episode mp4 has its index at the end (gone); v3.0's is faststart, so decoding hits the cut packet
    assert any(why in message for why in ("cannot open video", "decoding failed"))
    ds = VideoDataset(out)
    assert ds.episode_keys == [f"{src.parent.name}/so100_drawer/episode_00000{e}" for e in (0, 1)]  # committed, kept


def test_video_shorter_than_its_rows(dataset: Path, tmp_path: Path):
    src, out = _copy(dataset, tmp_path), tmp_path / "out.zarr"
    video = _video_files(src)[-1]
    # both layouts: episode 2 alone in the last mp4; it has 20 rows but its video stops after 15 frames
    encode(video, [frame_image(2, i) for i in range(15)], faststart=True)
    assert _error(src, out, fps=10.0) == (f"{video}: episode 2: truncated: the episode needs a frame at t = 1.5000 s, "
                                          f"the last frame decoded is at t = 1.4000 s")


# -- found by a second reader --------------------------------------------------------------------------------------
def test_long_episodes_keep_every_row_despite_float32_timestamps():
    from viva_robot.data.lerobot import keep_rows

    stamps = (np.arange(30000) / 30).astype(np.float32).astype(np.float64)  # 1000 s at 30 fps, stored as LeRobot does
    assert keep_rows(stamps, 30.0, 30.0).tolist() == list(range(30000))  # (1e-6 s of slack dropped 6048 rows)
    assert keep_rows(stamps, 5.0, 30.0).tolist() == list(range(0, 30000, 6))  # on time, not a frame late


def test_a_hub_cache_snapshot_of_symlinks_imports(tmp_path: Path):
    """huggingface_hub's cache: .../datasets--owner--name/snapshots/<revision>/ holds symlinks into ../../blobs."""
    built = write_lerobot(tmp_path / "built", "v2.1", lengths=[4, 6])
    repo = tmp_path / "hub" / "datasets--someone--so100_drawer"
    snapshot, blobs = repo / "snapshots" / "0123abcd", repo / "blobs"
    blobs.mkdir(parents=True)
    for n, f in enumerate(sorted(p for p in built.rglob("*") if p.is_file())):
        link = snapshot / f.relative_to(built)
        link.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, blobs / f"blob{n}")
        link.symlink_to(Path("../" * len(f.relative_to(built).parts) + "../blobs") / f"blob{n}")
    import_lerobot(config(snapshot, tmp_path / "out.zarr"), progress=False)
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_keys == ["someone/so100_drawer/episode_000000", "someone/so100_drawer/episode_000001"]
    assert frame_indices(ds.load_episode(1).rgb) == [0, 2, 4]


@pytest.mark.parametrize("template, why", [
    ("data/chunk-{episode_chunk:s}/episode_{episode_index:06d}.parquet", "is not an integer field"),
    ("data/chunk-{episode_chunk:{episode_index}}/x.parquet", "is not an integer field"),
    ("data/{episode_index:0200000000d}.parquet", "is not an integer field"),
    ("data/{episode_index!r}.parquet", "is not an integer field"),
    ("data/\0{episode_index}.parquet", "is malformed"),
    ("data/{episode_index.real}.parquet", "uses ['episode_index.real']"),
])
def test_hostile_path_templates_are_refused(tmp_path: Path, template: str, why: str):
    src = write_lerobot(tmp_path / "ds", "v2.1", lengths=[4])
    _edit_info(src, data_path=template)
    with pytest.raises(DatasetError) as e:
        import_lerobot(config(src, tmp_path / "out.zarr"), progress=False)
    assert str(e.value).startswith(f"{src / 'meta/info.json'}: path template ") and why in str(e.value)
    assert not (tmp_path / "out.zarr").exists()


def test_untrusted_numbers_and_types_get_clear_errors(tmp_path: Path):
    src, out = write_lerobot(tmp_path / "ds", "v3.0", lengths=[4, 6, 5]), tmp_path / "out.zarr"
    info = src / "meta/info.json"
    for fps in (float("inf"), 0, -5):
        _edit_info(src, fps=fps)
        assert _error(src, out) == f"{info}: field 'fps' is {float(fps)}, expected a frame rate in (0, 1000]"
    _edit_info(src, fps=FPS)
    index = src / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(index)
    column = "videos/observation.images.top/from_timestamp"
    pq.write_table(table.set_column(table.column_names.index(column), column,
                                    pa.array([0.0, float("inf"), 1.0])), index)
    assert _error(src, out) == (f"{index}: row 1: {column} is inf, expected seconds in [0, 1e+07)")
    pq.write_table(table, index)
    data = src / "data/chunk-000/file-001.parquet"  # episode 2 alone
    rows = pq.read_table(data)
    i = rows.column_names.index("timestamp")
    pq.write_table(rows.set_column(i, "timestamp", pa.array([str(t) for t in range(5)])), data)
    assert _error(src, out) == (f"{data}: column 'timestamp' is string with 0 missing values, expected seconds as "
                                f"numbers")
    pq.write_table(rows.set_column(i, "timestamp", pa.array([-1.0, -0.9, -0.8, -0.7, -0.6], pa.float32())), data)
    assert _error(src, out) == (f"{data}: episode 2: timestamps are not increasing seconds from 0 (first -1, last "
                                f"-0.6)")
    pq.write_table(rows.set_column(rows.column_names.index("observation.state"), "observation.state",
                                   pa.array([["a"] * 4] * 5)), data)
    assert _error(src, out) == f"{data}: column 'observation.state' holds lists of string, expected numbers"
    (src / "meta/info.json").write_text('{"codebase_version": "v3.0", "fps": ' + "9" * 5000 + "}")
    assert _error(src, out).startswith(f"{info}: not readable JSON (ValueError: ")
