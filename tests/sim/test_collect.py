"""Simulator play collection: real MuJoCo physics and EGL rendering into the Zarr dataset."""

import os
import subprocess
import sys
import time
from pathlib import Path

import mujoco
import numpy as np
import pytest

from viva_robot.sim.config import CollectConfig
from viva_robot.data.dataset import DatasetError, VideoDataset
from viva_robot.sim.collect import collect, plan_episode
from viva_robot.sim.render import CameraPose, SceneRenderer
from viva_robot.sim.tasks import TASKS, get_task, make_env, make_policy


def test_every_task_renders_its_scene():
    for name in ("door", "kitchen-microwave"):
        task = get_task(name)
        env = make_env(task)
        env.reset(seed=0)
        with SceneRenderer(env.unwrapped.model, 32, task.camera) as r:
            img = r.render(env.unwrapped.data)
        env.close()
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
        assert img.std() > 20  # a scene, not a blank frame


def test_decimated_meshes_draw_the_same_scene_and_leave_physics_alone():
    task = get_task("kitchen-slide-cabinet")
    env = make_env(task)
    env.reset(seed=0)
    model, data = env.unwrapped.model, env.unwrapped.data
    faces_before = model.mesh_facenum.copy()
    rng = np.random.default_rng(0)
    with SceneRenderer(model, 64, task.camera) as fast, SceneRenderer(model, 64, task.camera, full_detail=True) as full:
        diffs = []
        for _ in range(20):
            env.step(rng.uniform(-1, 1, 9))
            diffs.append(np.abs(fast.render(data).astype(int) - full.render(data)).mean())
        mesh_faces = fast._renderer.model.mesh_facenum
    env.close()
    np.testing.assert_array_equal(model.mesh_facenum, faces_before)  # the physics model keeps its meshes
    assert mesh_faces.max() <= 1100 and mesh_faces.sum() < faces_before.sum() / 5
    assert 0 < np.mean(diffs) < 1.5  # per pixel, of 255: measured 0.6 (random arm poses)


@pytest.mark.parametrize("name", ["kitchen-slide-cabinet", "kitchen-hinge-cabinet", "door"])
def test_geoms_left_out_of_the_scene_change_no_frame(name):
    task = get_task(name)
    env = make_env(task)
    model, data = env.unwrapped.model, env.unwrapped.data
    groups = model.geom_group.copy()
    searched = []
    with SceneRenderer(model, 64, task.camera) as culled, SceneRenderer(model, 64, task.camera, cull=False) as full:
        # the arm sweeps the scene (moving geoms in front of and behind static ones); the door's env places its frame
        # anew at every reset, which the renderer must notice
        for seed, kind in ((3, "scripted"), (4, "play"), (5, "scripted")):
            policy = make_policy(name, kind, np.random.default_rng(seed), 0.1)
            env.reset(seed=seed)
            for _ in range(40):
                env.step(policy(model, data))
                np.testing.assert_array_equal(culled.render(data), full.render(data))
            searched.append(culled._static_pose[0].copy())
        hidden = culled.hidden
        assert full.hidden == []
    env.close()
    np.testing.assert_array_equal(model.geom_group, groups)  # the physics model is not touched
    assert (model.body_weldid[model.geom_bodyid[hidden]] == 0).all()  # only geoms that never move
    if name.startswith("kitchen"):
        assert len(hidden) >= 20  # the far counters, the oven's burners, the cabinets outside the view
    else:  # the door frame moved at each reset and the search followed it
        assert not np.array_equal(searched[0], searched[1]) and not np.array_equal(searched[1], searched[2])


def test_a_geom_in_front_of_its_own_colour_stays_in_the_scene():
    """Two static matte plates of one colour filling the frame (lit by the headlight alone: the same shade at any
    distance), the nearer (searched first) covering the farther; a moving
    sphere between them. Colour alone cannot tell that the nearer plate is there; depth can: hiding it would show the
    sphere."""
    model = mujoco.MjModel.from_xml_string("""
    <mujoco><asset><material name="matte" rgba="0.5 0.5 0.5 1" specular="0" shininess="0"/></asset><worldbody>
      <geom name="near" type="box" size="10 10 0.01" pos="0 0 0.5" material="matte"/>
      <geom name="far" type="box" size="10 10 0.01" pos="0 0 0" material="matte"/>
      <body name="ball" pos="0 0 0.25"><joint type="slide" axis="1 0 0"/><geom type="sphere" size="0.1" rgba="1 0 0 1"/></body>
    </worldbody></mujoco>""")
    data = mujoco.MjData(model)
    camera = CameraPose(lookat=(0, 0, 0), distance=3.0, azimuth=90.0, elevation=-90.0)
    with SceneRenderer(model, 32, camera) as culled, SceneRenderer(model, 32, camera, cull=False) as full:
        for x in (0.0, 0.3):
            data.qpos[0] = x
            mujoco.mj_forward(model, data)
            np.testing.assert_array_equal(culled.render(data), full.render(data))
        near = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "near")
        assert near not in culled.hidden


def test_unknown_task_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown task 'kitchen-oven'; valid tasks: door, kitchen-microwave"):
        get_task("kitchen-oven")
    assert set(TASKS) >= {"door", "kitchen-microwave", "kitchen-slide-cabinet", "kitchen-hinge-cabinet"}


def test_microwave_scripted_attempt_opens_the_door_on_video(tmp_path):
    cfg = CollectConfig(env="kitchen-microwave", out=tmp_path / "m.zarr", episodes=1, size=32,
                        scripted_fraction=1.0, noise_levels=(0.0,))
    summary = collect(cfg, progress=False)
    ds = VideoDataset(cfg.out)
    assert summary["episodes_added"] == 1 and ds.num_episodes == 1
    ep = ds.load_episode(0)
    assert ep.key == "ep00000:scripted:noise=0"
    assert ds.resolution == (32, 32) and ds.fps == pytest.approx(12.5)
    assert len(ep.rgb) == len(ep.state) == len(ep.action) == len(ep.success)
    assert not ep.success[0] and ep.success[-1]  # starts closed, ends open
    first = int(np.argmax(ep.success))
    assert ep.success[first:].all() and len(ep.rgb) - 1 - first == 10  # short goal tail after success
    assert np.isnan(ep.action[-1]).all() and np.isfinite(ep.action[:-1]).all()
    assert np.abs(ep.rgb[-1].astype(int) - ep.rgb[0].astype(int)).mean() > 3  # the scene visibly changed
    assert ds.attrs["config"]["env"] == "kitchen-microwave"


def test_failure_only_collection_never_succeeds_and_says_so(tmp_path):
    # 2 scripted attempts at the slide cabinet (each would open it), 1 off-task attempt at the microwave
    cfg = CollectConfig(env="kitchen-slide-cabinet", out=tmp_path / "f.zarr", episodes=4, size=24, seed=2,
                        scripted_fraction=0.5, off_task=("kitchen-microwave",), off_task_fraction=0.5,
                        noise_levels=(0.0,), failure_only=True)
    plans = [plan_episode(cfg, k) for k in range(4)]
    collect(cfg, progress=False)
    ds = VideoDataset(cfg.out)
    assert ds.attrs["failure_only"] is True and ds.num_episodes == 4
    assert [p[0] for p in plans] == ds.episode_keys
    assert {p[1] for p in plans} == {"scripted", "offtask"} and {p[2] for p in plans} >= {"kitchen-microwave"}
    assert not ds.root["data/success"][:].any()
    full = CollectConfig(**{**cfg.model_dump(), "out": tmp_path / "full.zarr", "failure_only": False})
    collect(full, progress=False)
    ref = VideoDataset(full.out)
    short_of = []
    for k, (_, kind, _, _, _) in enumerate(plans):
        ep, whole = ds.load_episode(k), ref.load_episode(k)
        np.testing.assert_array_equal(ep.rgb, whole.rgb[: len(ep.rgb)])  # the same attempt, cut short
        assert np.isnan(ep.action[-1]).all() and np.isfinite(ep.action[:-1]).all()
        if kind == "scripted":  # the full attempt opens the cabinet; the failure-only one stops before it
            first = int(np.argmax(whole.success))
            assert whole.success.any() and 0.3 * first <= len(ep.rgb) <= first
            short_of.append(first - len(ep.rgb))
    assert max(short_of) > 0  # stopped short somewhere on the way, not only cut at the success frame
    info = subprocess.run([sys.executable, "-m", "viva_robot.cli", "dataset", "info", str(cfg.out)],
                          capture_output=True, text=True, check=True).stdout
    assert "failure-only: collected so that the task never succeeds (no episode reaches it)" in info


def test_off_task_settings_are_checked():
    with pytest.raises(ValueError, match="off_task_fraction > 0 needs off_task"):
        CollectConfig(env="kitchen-slide-cabinet", out=Path("x"), off_task_fraction=0.2)
    with pytest.raises(ValueError, match="off_task must be tasks of the kitchen-slide-cabinet scene: door"):
        CollectConfig(env="kitchen-slide-cabinet", out=Path("x"), off_task=("door",), off_task_fraction=0.2)
    with pytest.raises(ValueError, match="scripted_fraction 0.7 \\+ off_task_fraction 0.5 exceed 1"):
        CollectConfig(env="kitchen-slide-cabinet", out=Path("x"), scripted_fraction=0.7,
                      off_task=("kitchen-microwave",), off_task_fraction=0.5)


def test_episode_plan_is_a_function_of_seed_and_index():
    cfg = CollectConfig(env="door", out=Path("x"), scripted_fraction=0.5)
    keys = [plan_episode(cfg, k)[0] for k in range(40)]
    assert keys == [plan_episode(cfg, k)[0] for k in range(40)]
    kinds = [k.split(":")[1] for k in keys]
    assert 10 < kinds.count("play") < 30


def run_cli(*args, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "viva_robot.cli", "-q", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_killed_collection_resumes_to_the_uninterrupted_dataset(tmp_path):
    args = ["collect", "--env", "door", "--episodes", "5", "--size", "24", "--max-steps", "40",
            "--scripted-fraction", "0.5"]
    killed, clean = tmp_path / "killed.zarr", tmp_path / "clean.zarr"
    proc = run_cli(*args, str(killed))
    deadline = time.time() + 120
    while time.time() < deadline:
        if killed.exists() and VideoDataset(killed).num_episodes >= 2:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    partial = VideoDataset(killed).num_episodes
    assert 2 <= partial <= 5
    assert run_cli(*args, str(killed)).wait() == 0
    assert run_cli(*args, str(clean)).wait() == 0
    a, b = VideoDataset(killed), VideoDataset(clean)
    assert a.num_episodes == b.num_episodes == 5
    assert a.episode_keys == b.episode_keys and a.episode_ends.tolist() == b.episode_ends.tolist()
    np.testing.assert_array_equal(a.rgb[:], b.rgb[:])
    np.testing.assert_array_equal(a.root["data/state"][:], b.root["data/state"][:])


def test_resume_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "d.zarr"
    collect(CollectConfig(env="door", out=out, episodes=1, size=24, max_steps=5), progress=False)
    with pytest.raises(DatasetError, match=r"d\.zarr: existing dataset was collected with size=24, this run asks for size=32"):
        collect(CollectConfig(env="door", out=out, episodes=2, size=32, max_steps=5), progress=False)
    assert VideoDataset(out).num_episodes == 1
    more = collect(CollectConfig(env="door", out=out, episodes=2, size=24, max_steps=5), progress=False)
    assert more["episodes_added"] == 1 and VideoDataset(out).num_episodes == 2


def test_dataset_collected_before_the_failure_fields_still_resumes(tmp_path):
    import zarr

    out = tmp_path / "old.zarr"
    collect(CollectConfig(env="door", out=out, episodes=1, size=24, max_steps=5), progress=False)
    group = zarr.open_group(out, mode="r+")
    stored = dict(group.attrs["config"])
    for field in ("off_task", "off_task_fraction", "failure_only"):  # as datasets of 2026-11 were written
        del stored[field]
    group.attrs["config"] = stored
    more = collect(CollectConfig(env="door", out=out, episodes=2, size=24, max_steps=5), progress=False)
    assert more["episodes_added"] == 1
    with pytest.raises(DatasetError, match="collected with failure_only=False, this run asks for failure_only=True"):
        collect(CollectConfig(env="door", out=out, episodes=3, size=24, max_steps=5, failure_only=True), progress=False)


def test_episode_plan_without_off_task_is_unchanged():
    """Keys of configs/collect presets made before off-task attempts existed (seed 0, 70% scripted)."""
    cfg = CollectConfig(env="kitchen-slide-cabinet", out=Path("x"), scripted_fraction=0.7,
                        noise_levels=(0.0, 0.05, 0.1, 0.2, 0.3))
    keys = [plan_episode(cfg, k)[0] for k in range(6)]
    rng = [np.random.default_rng([0, k]) for k in range(6)]  # the old rule, spelled out
    old = []
    for k, r in enumerate(rng):
        kind = "scripted" if r.random() < 0.7 else "play"
        noise = float(r.choice(cfg.noise_levels)) if kind == "scripted" else 0.0
        old.append(f"ep{k:05d}:{kind}:noise={noise:g}")
    assert keys == old


def test_door_attempt_ends_after_the_latch_is_turned(tmp_path):
    """The door cannot be pulled open by the script; its attempts end 10 frames after the unlatching."""
    cfg = CollectConfig(env="door", out=tmp_path / "d.zarr", episodes=1, size=24, frame_skip=2,
                        scripted_fraction=1.0, noise_levels=(0.0,))
    collect(cfg, progress=False)
    ep = VideoDataset(cfg.out).load_episode(0)
    latch = ep.state[:, 27]  # AdroitHandDoor observation: [27] latch angle, [28] door hinge angle
    assert len(ep.rgb) < 101  # ended before the 200-step horizon (101 frames at frame_skip 2)
    first = int(np.argmax(latch >= 1.2))
    assert latch[first] >= 1.2 and (latch[:first] < 1.2).all()
    assert len(ep.rgb) - 1 - first in (9, 10)  # the milestone can fall between two recorded frames
    assert not ep.success.any()  # the door itself stays shut: success is the true task's, not the milestone's
