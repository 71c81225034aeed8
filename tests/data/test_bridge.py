"""BridgeData V2 import: raw JPEG folders and the numpy release, built small but format-faithful in tmp_path."""

from __future__ import annotations

import collections
import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from viva_robot.data.config import ImportBridgeConfig
from viva_robot.data.bridge import import_bridge, iter_numpy_trajectories, iter_raw_trajectories, read_raw_trajectory
from viva_robot.data.dataset import DatasetError, VideoDataset
from viva_robot.data.images import to_square
from viva_robot.data.untrusted import load_npy_untrusted, safe_pickle_load, safe_pickle_loads

W, H = 64, 48  # source frames (BridgeData's are 640x480: same 4:3 aspect)
SIZE = 32


def frame(t: int, seed: int, w: int = W, h: int = H) -> np.ndarray:
    """Smooth colour gradients (JPEG-friendly) that differ per frame and per trajectory."""
    x, y = np.meshgrid(np.arange(w), np.arange(h))
    r = (x * 255 // max(w - 1, 1) + 10 * t) % 256
    g = y * 255 // max(h - 1, 1)
    b = np.full_like(x, (40 * seed + 15 * t) % 256)
    return np.stack([r, g, b], -1).astype(np.uint8)


def make_traj(
    traj_dir: Path,
    num_frames: int,
    seed: int,
    *,
    obs: bool = True,
    policy: bool = True,
    lang: str | None = "put the spoon in the pot",
    camera: int = 0,
) -> dict:
    """A raw trajectory folder as raw_saver.py writes it; returns what was written."""
    rng = np.random.default_rng(seed)
    image_dir = traj_dir / f"images{camera}"
    image_dir.mkdir(parents=True)
    frames = [frame(t, seed) for t in range(num_frames)]
    for t, f in enumerate(frames):
        Image.fromarray(f).save(image_dir / f"im_{t}.jpg", quality=95)
    state = rng.normal(size=(num_frames, 7))
    actions = rng.normal(size=(num_frames - 1, 7))
    if obs:
        obs_dict = {
            "state": state,
            "qpos": rng.normal(size=(num_frames, 6)),
            "qvel": rng.normal(size=(num_frames, 6)),
            "eef_transform": np.tile(np.eye(4), (num_frames, 1, 1)),
            "desired_state": rng.normal(size=(num_frames, 7)),
            "time_stamp": [1.65e9 + 0.2 * t for t in range(num_frames)],
            "env_done": np.zeros(num_frames, dtype=bool),
        }
        with open(traj_dir / "obs_dict.pkl", "wb") as f:
            pickle.dump(obs_dict, f)
    if policy:
        steps = [{"actions": a, "new_robot_transform": np.eye(4), "policy_type": "VRTeleopPolicy"} for a in actions]
        with open(traj_dir / "policy_out.pkl", "wb") as f:
            pickle.dump(steps, f)
    (traj_dir / "agent_data.pkl").write_bytes(pickle.dumps({"traj_ok": True}))
    if lang is not None:
        (traj_dir / "lang.txt").write_text(f"{lang}\nconfidence: 1\n")
    return {"frames": np.stack(frames), "state": state, "actions": actions, "lang": lang or ""}


DATE_A = "toykitchen1/put_spoon/2022-05-01_10-20-30"
DATE_B = "toysink2/2022-06-01_09-00-00"  # one level shallower: depth below the root varies


@pytest.fixture
def raw_root(tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    root = tmp_path / "bridge_data_v2"
    written = {}
    for n, length in enumerate([4, 5, 6]):
        key = f"{DATE_A}/raw/traj_group0/traj{n}"
        written[key] = make_traj(root / key, length, seed=n)
    key = f"{DATE_B}/raw/traj_group1/traj0"
    written[key] = make_traj(root / key, 3, seed=7, lang="open the drawer")
    (root / DATE_A / "collection_metadata.json").write_text("{}")
    return root, written


def cfg_for(src: Path, out: Path, **kw) -> ImportBridgeConfig:
    return ImportBridgeConfig(src=src, out=out, size=kw.pop("size", SIZE), **kw)


def evil_class(marker: Path) -> type:
    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    return Evil


# -- raw release --------------------------------------------------------------------------------------------
def test_raw_import_content(raw_root, tmp_path):
    root, written = raw_root
    summary = import_bridge(cfg_for(root, tmp_path / "out.zarr"), progress=True)
    assert summary["added"] == 4 and summary["skipped"] == 0 and summary["frames"] == 18
    assert summary["layout"] == "raw"

    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_keys == list(written)  # natural order, keys relative to src
    assert ds.episode_ends.tolist() == [4, 9, 15, 18]
    assert ds.resolution == (SIZE, SIZE) and ds.source == "bridge" and ds.fps == 5.0
    assert ds.attrs["camera"] == "images0" and ds.attrs["config"]["size"] == SIZE
    for k, (key, src) in enumerate(written.items()):
        ep = ds.load_episode(k)
        assert ep.key == key
        np.testing.assert_array_equal(ep.state, src["state"].astype(np.float32))
        np.testing.assert_array_equal(ep.action[:-1], src["actions"].astype(np.float32))
        assert ep.action.shape == (len(ep.rgb), 7) and np.isnan(ep.action[-1]).all()
        assert ep.language == src["lang"]
        expected = np.stack([to_square(f, SIZE, "stretch") for f in src["frames"]]).astype(float)
        assert np.abs(ep.rgb.astype(float) - expected).mean() < 3.0  # JPEG is lossy


def test_raw_crop_mode_matches_to_square(tmp_path):
    traj = tmp_path / "d/raw/traj_group0/traj0"
    src = make_traj(traj, 3, seed=1)
    ep = read_raw_trajectory(traj, camera=0, size=16, resize="crop")
    expected = np.stack([to_square(f, 16, "crop") for f in src["frames"]]).astype(float)
    assert ep.rgb.shape == (3, 16, 16, 3)
    assert np.abs(ep.rgb.astype(float) - expected).mean() < 3.0


def test_iter_raw_trajectories_finds_by_pattern(raw_root):
    root, written = raw_root
    (root / DATE_A / "raw/traj_group0/traj9/images1").mkdir(parents=True)  # no images0: not a camera-0 trajectory
    (root / DATE_A / "raw/not_a_group/traj0/images0").mkdir(parents=True)
    assert [k for k, _ in iter_raw_trajectories(root, 0)] == list(written)
    assert [k for k, _ in iter_raw_trajectories(root, 1)] == [f"{DATE_A}/raw/traj_group0/traj9"]
    one = root / f"{DATE_A}/raw/traj_group0/traj2"
    assert iter_raw_trajectories(one, 0) == [("traj2", one)]


def test_natural_order_traj10_after_traj2(tmp_path):
    for n in (10, 2):
        make_traj(tmp_path / f"d/raw/traj_group0/traj{n}", 2, seed=n)
    assert [k for k, _ in iter_raw_trajectories(tmp_path)] == ["d/raw/traj_group0/traj2", "d/raw/traj_group0/traj10"]


def test_full_state_is_preferred_over_state(tmp_path):
    """BridgeData's own numpy conversion stores obs_dict['full_state'] as the state."""
    traj = tmp_path / "d/raw/traj_group0/traj0"
    make_traj(traj, 3, seed=0)
    obs = pickle.loads((traj / "obs_dict.pkl").read_bytes())
    obs["full_state"] = obs["state"] + 100.0
    (traj / "obs_dict.pkl").write_bytes(pickle.dumps(obs))
    ep = read_raw_trajectory(traj, 0, SIZE)
    np.testing.assert_array_equal(ep.state, (obs["state"] + 100.0).astype(np.float32))


def test_policy_out_as_plain_list_of_arrays(tmp_path):
    traj = tmp_path / "d/raw/traj_group0/traj0"
    src = make_traj(traj, 4, seed=3)
    (traj / "policy_out.pkl").write_bytes(pickle.dumps([a for a in src["actions"]]))
    ep = read_raw_trajectory(traj, 0, SIZE)
    np.testing.assert_array_equal(ep.action[:3], src["actions"].astype(np.float32))
    assert np.isnan(ep.action[3]).all()


def test_single_frame_trajectory_is_kept(tmp_path):
    make_traj(tmp_path / "d/raw/traj_group0/traj0", 1, seed=0)
    make_traj(tmp_path / "d/raw/traj_group0/traj1", 3, seed=1)
    summary = import_bridge(cfg_for(tmp_path / "d", tmp_path / "out.zarr"), progress=False)
    ds = VideoDataset(tmp_path / "out.zarr")
    assert summary["added"] == 2 and ds.episode_lengths().tolist() == [1, 3]
    assert np.isnan(ds.load_episode(0).action).all()


def test_no_lang_file_gives_empty_language(tmp_path):
    traj = tmp_path / "d/raw/traj_group0/traj0"
    make_traj(traj, 2, seed=0, lang=None)
    assert read_raw_trajectory(traj, 0, SIZE).language == ""


def test_resume_adds_only_new_trajectories(raw_root, tmp_path):
    root, written = raw_root
    cfg = cfg_for(root, tmp_path / "out.zarr")
    import_bridge(cfg, progress=False)
    again = import_bridge(cfg, progress=False)
    assert again["added"] == 0 and again["existing"] == 4 and again["episodes"] == 4

    new_key = f"{DATE_B}/raw/traj_group1/traj1"
    make_traj(root / new_key, 2, seed=11)
    third = import_bridge(cfg, progress=False)
    assert third["added"] == 1 and third["existing"] == 4 and third["frames"] == 2
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_keys == [*written, new_key]
    assert ds.num_frames == 20


def test_trajectory_lacking_state_is_an_error_naming_it(raw_root, tmp_path):
    root, _ = raw_root
    late = f"{DATE_B}/raw/traj_group1/traj0"
    (root / late / "obs_dict.pkl").unlink()
    with pytest.raises(DatasetError, match=f"{late}.*no state"):
        import_bridge(cfg_for(root, tmp_path / "out.zarr"), progress=False)
    summary = import_bridge(cfg_for(root, tmp_path / "skip.zarr", on_error="skip"), progress=False)
    assert summary["added"] == 3 and summary["skipped"] == 1
    assert VideoDataset(tmp_path / "skip.zarr").has("state")


def test_first_trajectory_without_actions_means_no_action_array(raw_root, tmp_path):
    root, _ = raw_root
    (root / DATE_A / "raw/traj_group0/traj0/policy_out.pkl").unlink()
    summary = import_bridge(cfg_for(root, tmp_path / "out.zarr"), progress=False)
    ds = VideoDataset(tmp_path / "out.zarr")
    assert summary["added"] == 4 and ds.has("state") and not ds.has("action")


# -- bad inputs ---------------------------------------------------------------------------------------------
def test_malicious_pickle_is_refused_and_not_executed(raw_root, tmp_path):
    root, _ = raw_root
    marker = tmp_path / "pwned"
    bad = root / DATE_A / "raw/traj_group0/traj1/obs_dict.pkl"
    bad.write_bytes(pickle.dumps({"state": evil_class(marker)()}))
    with pytest.raises(DatasetError, match=r"obs_dict\.pkl: pickle refers to (posix|os|nt)\.system"):
        safe_pickle_load(bad)
    with pytest.raises(DatasetError, match="traj1/obs_dict.pkl"):
        import_bridge(cfg_for(root, tmp_path / "out.zarr"), progress=False)
    assert not marker.exists()


@pytest.mark.parametrize("func", [eval, exec, getattr, __import__, compile, open])
def test_builtin_functions_are_refused(func):
    class Sneaky:
        def __reduce__(self):
            return func, ("1",)

    with pytest.raises(DatasetError, match=rf"x\.pkl: pickle refers to {func.__module__}\.{func.__name__};"):
        safe_pickle_loads(pickle.dumps(Sneaky()), "x.pkl")
    # Python 2 spelling of the same global, as a hand-written protocol-0 pickle
    with pytest.raises(DatasetError, match=r"__builtin__\.getattr"):
        safe_pickle_loads(b"c__builtin__\ngetattr\n(S'x'\nS'y'\ntR.", "x.pkl")


def test_numpy_and_builtin_objects_round_trip_through_safe_unpickler():
    value = {
        "f": np.arange(6, dtype=np.float64).reshape(2, 3),
        "u8": np.zeros((2, 2, 3), np.uint8),
        "fortran": np.asfortranarray(np.arange(6).reshape(2, 3)),
        "obj": np.array([{"a": np.float32(1.5)}, [1, 2]], dtype=object),
        "structured": np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
        "scalars": (np.float64(1.5), np.int64(3), np.bool_(True), np.str_("x")),
        "dtype": np.dtype("f4"),
        "builtins": [1, 2.5, 3j, "s", b"b", bytearray(b"ba"), {1, 2}, frozenset([3]), None, True],
        "ordered": collections.OrderedDict(a=1),
    }
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        got = safe_pickle_loads(pickle.dumps(value, protocol=protocol), "x.pkl")
        assert_same(got, value)


def assert_same(got, want) -> None:
    assert type(got) is type(want), (got, want)
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape and got.flags.f_contiguous == want.flags.f_contiguous
        if want.dtype == object:
            assert_same(list(got.ravel()), list(want.ravel()))
        else:
            np.testing.assert_array_equal(got, want)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for k in want:
            assert_same(got[k], want[k])
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w)
    else:
        assert got == want


def test_numpy_1_pickles_load_under_numpy_2_names():
    """Pickles written by numpy 1 refer to numpy.core.multiarray; numpy 2 renamed it numpy._core."""
    data = pickle.dumps({"state": np.arange(14.0).reshape(2, 7), "t": np.float64(0.5)}, protocol=2)
    core = b"numpy._core" if b"numpy._core" in data else b"numpy.core"
    for name in (b"numpy.core", b"numpy._core"):
        got = safe_pickle_loads(data.replace(core, name), "old.pkl")  # protocol 2: names are newline-terminated
        np.testing.assert_array_equal(got["state"], np.arange(14.0).reshape(2, 7))
        assert got["t"] == np.float64(0.5) and type(got["t"]) is np.float64


def test_truncated_pickle(raw_root, tmp_path):
    root, _ = raw_root
    bad = root / DATE_A / "raw/traj_group0/traj1/policy_out.pkl"
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) // 2])
    with pytest.raises(DatasetError, match=r"policy_out\.pkl: truncated or corrupt pickle"):
        import_bridge(cfg_for(root, tmp_path / "out.zarr"), progress=False)


def test_missing_frame_names_folder_and_index(tmp_path):
    traj = tmp_path / "d/raw/traj_group0/traj0"
    make_traj(traj, 6, seed=0)
    (traj / "images0/im_2.jpg").unlink()
    with pytest.raises(DatasetError, match=r"traj0/images0: missing frame im_2\.jpg \(found 0-1, 3-5\)"):
        read_raw_trajectory(traj, 0, SIZE)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_jpeg_names_the_file(tmp_path, damage):
    traj = tmp_path / "d/raw/traj_group0/traj0"
    make_traj(traj, 3, seed=0)
    bad = traj / "images0/im_1.jpg"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a jpeg at all" * 10)
    with pytest.raises(DatasetError, match=r"images0/im_1\.jpg: unreadable image"):
        read_raw_trajectory(traj, 0, SIZE)


def test_mismatched_image_sizes(tmp_path):
    traj = tmp_path / "d/raw/traj_group0/traj0"
    make_traj(traj, 3, seed=0)
    Image.fromarray(frame(2, 0, w=32, h=32)).save(traj / "images0/im_2.jpg")
    with pytest.raises(DatasetError, match=r"im_2\.jpg: image is 32x32 but im_0\.jpg is 64x48"):
        read_raw_trajectory(traj, 0, SIZE)


def test_state_length_must_match_frames(tmp_path):
    traj = tmp_path / "d/raw/traj_group0/traj0"
    make_traj(traj, 4, seed=0)
    (traj / "images0/im_3.jpg").unlink()
    with pytest.raises(DatasetError, match=r"obs_dict\.pkl: 'state' has 4 steps but the trajectory has 3 frames"):
        read_raw_trajectory(traj, 0, SIZE)


def test_nonexistent_src(tmp_path):
    with pytest.raises(DatasetError, match="no such file or directory"):
        import_bridge(cfg_for(tmp_path / "nope", tmp_path / "out.zarr"), progress=False)
    assert not (tmp_path / "out.zarr").exists()


def test_no_trajectories_found_says_what_was_expected(tmp_path):
    (tmp_path / "empty/sub").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"no BridgeData V2 trajectories found.*traj_group<k>/traj<n>.*out\.npy"):
        import_bridge(cfg_for(tmp_path / "empty", tmp_path / "out.zarr"), progress=False)


def test_skip_bad_trajectory_imports_the_others(raw_root, tmp_path, caplog):
    root, written = raw_root
    bad_key = f"{DATE_A}/raw/traj_group0/traj1"
    (root / bad_key / "images0/im_2.jpg").write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="viva_robot.data.bridge"):
        summary = import_bridge(cfg_for(root, tmp_path / "out.zarr", on_error="skip"), progress=False)
    assert summary["added"] == 3 and summary["skipped"] == 1
    assert VideoDataset(tmp_path / "out.zarr").episode_keys == [k for k in written if k != bad_key]
    assert any(bad_key in r.getMessage() and "im_2.jpg" in r.getMessage() for r in caplog.records)


def test_failed_import_keeps_earlier_episodes(raw_root, tmp_path):
    root, written = raw_root
    keys = list(written)
    (root / keys[2] / "images0/im_4.jpg").unlink()
    with pytest.raises(DatasetError, match="missing frame im_4.jpg"):
        import_bridge(cfg_for(root, tmp_path / "out.zarr"), progress=False)
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_keys == keys[:2] and ds.episode_ends.tolist() == [4, 9]
    assert ds.rgb.shape[0] == 9  # nothing of the bad trajectory was written

    make_traj(root / f"{DATE_A}/raw/traj_group0/traj2_fixed", 2, seed=5)  # not traj<digits>: ignored
    (root / keys[2] / "images0/im_4.jpg").write_bytes((root / keys[2] / "images0/im_3.jpg").read_bytes())
    summary = import_bridge(cfg_for(root, tmp_path / "out.zarr"), progress=False)
    assert summary["added"] == 2 and VideoDataset(tmp_path / "out.zarr").episode_keys == keys


# -- numpy release ------------------------------------------------------------------------------------------
def numpy_traj(num_steps: int, seed: int, side: int = 24, language: list[str] | None = None) -> dict:
    """One trajectory dict as bridgedata_raw_to_numpy.py builds it (obs/next_obs shifted by one step)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(num_steps + 1, side, side, 3), dtype=np.uint8)
    state = rng.normal(size=(num_steps + 1, 7))
    steps = [{"images0": images[t], "state": state[t], "time_stamp": 0.2 * t} for t in range(num_steps + 1)]
    traj = {
        "observations": steps[:-1],
        "next_observations": steps[1:],
        "actions": [a for a in rng.normal(size=(num_steps, 7))],
        "terminals": [0] * num_steps,
    }
    if language is not None:
        traj["language"] = language
    return traj


def save_release(path: Path, trajs: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.empty(len(trajs), dtype=object)
    arr[:] = trajs
    np.save(path, arr)


@pytest.fixture
def numpy_root(tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    root = tmp_path / "bridge_numpy"
    train = [numpy_traj(3, 0, language=["pick up the cup"]), numpy_traj(5, 1, language=[])]
    val = [numpy_traj(2, 2)]
    save_release(root / "toykitchen1/put_cup/train/out.npy", train)
    save_release(root / "toykitchen1/put_cup/val/out.npy", val)
    written = {f"toykitchen1/put_cup/train/out.npy#{i}": t for i, t in enumerate(train)}
    written["toykitchen1/put_cup/val/out.npy#0"] = val[0]
    return root, written


def test_numpy_release_import_content(numpy_root, tmp_path):
    root, written = numpy_root
    summary = import_bridge(cfg_for(root, tmp_path / "out.zarr", size=24), progress=False)
    assert summary["layout"] == "numpy" and summary["added"] == 3 and summary["frames"] == 4 + 6 + 3
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_keys == list(written) and ds.episode_ends.tolist() == [4, 10, 13]
    assert ds.language == ["pick up the cup", "", ""]
    for k, traj in enumerate(written.values()):
        ep = ds.load_episode(k)
        frames = [o["images0"] for o in traj["observations"]] + [traj["next_observations"][-1]["images0"]]
        np.testing.assert_array_equal(ep.rgb, np.stack(frames))  # same size: copied exactly
        states = [o["state"] for o in traj["observations"]] + [traj["next_observations"][-1]["state"]]
        np.testing.assert_array_equal(ep.state, np.stack(states).astype(np.float32))
        np.testing.assert_array_equal(ep.action[:-1], np.stack(traj["actions"]).astype(np.float32))
        assert np.isnan(ep.action[-1]).all()
    assert import_bridge(cfg_for(root, tmp_path / "out.zarr", size=24), progress=False)["added"] == 0


def test_numpy_release_file_as_src_and_resize(numpy_root, tmp_path):
    root, written = numpy_root
    npy = root / "toykitchen1/put_cup/train/out.npy"
    import_bridge(cfg_for(npy, tmp_path / "out.zarr", size=12), progress=False)
    ds = VideoDataset(tmp_path / "out.zarr")
    assert ds.episode_keys == ["out.npy#0", "out.npy#1"]
    first = next(iter(written.values()))
    np.testing.assert_array_equal(ds.load_episode(0).rgb[0], to_square(first["observations"][0]["images0"], 12))
    items = iter_numpy_trajectories(npy, 12, key_prefix="x")
    assert [k for k, _ in items] == ["x#0", "x#1"] and len(items[1][1]().rgb) == 6


def test_numpy_release_malicious_payload_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    npy = tmp_path / "rel/train/out.npy"
    npy.parent.mkdir(parents=True)
    evil = np.empty(1, dtype=object)
    evil[0] = {"observations": [evil_class(marker)()]}
    np.save(npy, evil)
    with pytest.raises(DatasetError, match=r"out\.npy: pickle refers to (posix|os|nt)\.system"):
        load_npy_untrusted(npy)
    with pytest.raises(DatasetError, match="pickle refers to"):
        import_bridge(cfg_for(tmp_path / "rel", tmp_path / "out.zarr"), progress=False)
    assert not marker.exists()


def test_load_npy_untrusted_plain_and_truncated(tmp_path):
    np.save(tmp_path / "plain.npy", np.arange(12, dtype=np.int16).reshape(3, 4))
    np.testing.assert_array_equal(load_npy_untrusted(tmp_path / "plain.npy"), np.arange(12).reshape(3, 4))
    save_release(tmp_path / "obj.npy", [numpy_traj(2, 0)])
    data = (tmp_path / "obj.npy").read_bytes()
    (tmp_path / "obj.npy").write_bytes(data[: len(data) - 200])
    with pytest.raises(DatasetError, match=r"obj\.npy: truncated or corrupt pickle"):
        load_npy_untrusted(tmp_path / "obj.npy")
    (tmp_path / "junk.npy").write_bytes(b"hello")
    with pytest.raises(DatasetError, match=r"junk\.npy: not a valid \.npy file"):
        load_npy_untrusted(tmp_path / "junk.npy")


def test_numpy_bad_file_skipped_with_skip(numpy_root, tmp_path):
    root, written = numpy_root
    (root / "toykitchen1/put_cup/val/out.npy").write_bytes(b"\x93NUMPY garbage")
    summary = import_bridge(cfg_for(root, tmp_path / "out.zarr", size=24, on_error="skip"), progress=False)
    assert summary["added"] == 2 and summary["skipped"] == 1
    with pytest.raises(DatasetError, match=r"val/out\.npy"):
        import_bridge(cfg_for(root, tmp_path / "stop.zarr", size=24), progress=False)


def test_numpy_wrong_camera_names_trajectory(numpy_root, tmp_path):
    root, _ = numpy_root
    with pytest.raises(DatasetError, match=r"train/out\.npy#0: step 0 'images1'"):
        import_bridge(cfg_for(root, tmp_path / "out.zarr", camera=1), progress=False)
