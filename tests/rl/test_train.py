"""`viva-robot train` / `eval`: the replay buffer, augmentation, rewards per mode, a real MuJoCo run with a value
checkpoint, exact resume, prior data, evaluation videos, and every bad input the issue lists."""

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from viva_robot.cli import main
from viva_robot.config import ConfigError, load_config
from viva_robot.rl.config import TrainConfig
from viva_robot.sim.config import CollectConfig
from viva_robot.value.config import PretrainConfig
from viva_robot.data.dataset import VideoDataset
from viva_robot.rl.guidance import shaped_reward
from viva_robot.value.guide import ValueGuide
from viva_robot.rl.replay import ReplayBuffer
from viva_robot.rl.sac import random_shift
from viva_robot.envs import make_env
from viva_robot.rl.train import build_agent, load_prior, load_train_checkpoint, train
from viva_robot.sim.collect import collect
from viva_robot.value.checkpoint import save_checkpoint
from viva_robot.value.networks import ICVF

SIZE = 32


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # bitwise-equal resumes need the same thread count; tiny nets gain nothing from two
    yield
    torch.set_num_threads(before)


def value_checkpoint(path: Path, size: int = SIZE, encoder: str = "small", seed: int = 0) -> Path:
    """An (untrained) value checkpoint as `pretrain` writes it: the mechanics do not depend on what it learned."""
    torch.manual_seed(seed)
    cfg = PretrainConfig(out=path.parent, data=(path.parent / "play.zarr",), image_size=size, encoder=encoder)
    return save_checkpoint(path, step=0, config=cfg, model=ICVF(encoder, image_size=size))


@pytest.fixture(scope="module")
def value(tmp_path_factory) -> Path:
    return value_checkpoint(tmp_path_factory.mktemp("value") / "value.pt")


def config(out: Path, value: Path | None = None, **kw) -> TrainConfig:
    base = dict(task="door", out=out, value=value, mode="viva+critic-init" if value else "sparse", image_size=SIZE,
                steps=60, max_steps=20, random_steps=10, batch_size=16, hidden=(32, 32), replay_capacity=200,
                eval_every=40, eval_episodes=1, eval_video=False, checkpoint_every=20, log_every=10, device="cpu")
    return TrainConfig(**{**base, **kw})


def flags(cfg: TrainConfig) -> list[str]:
    out = ["train"]
    for k, v in cfg.to_dict().items():
        if v is None or k in ("resume",):
            continue
        flag = f"--{k.replace('_', '-')}"
        if isinstance(v, bool):
            out.append(flag if v else f"--no-{k.replace('_', '-')}")
        elif isinstance(v, list):
            out += [flag, *map(str, v)]
        else:
            out += [flag, str(v)]
    return out + ["-q"]


# -- replay buffer and augmentation ----------------------------------------------------------------------------------


def test_replay_stores_each_frame_once_and_never_links_across_episodes():
    buf = ReplayBuffer({"image": ((2, 2, 3), np.uint8), "state": ((1,), np.float32)}, action_dim=1, capacity=7)
    assert set(vars(buf)) >= {"obs"} and "next_obs" not in vars(buf)  # no second copy of observations
    frame = 0

    def obs():
        return {"image": np.full((2, 2, 3), frame, np.uint8), "state": np.array([frame], np.float32)}

    for length in (3, 2, 4):  # 3 episodes = 9 transitions + 12 observations in 7 slots: wraps around
        buf.start(obs())
        for _ in range(length):
            frame += 1
            buf.add(np.array([frame], np.float32), float(frame), obs(), terminated=(length == 2))
        frame += 100  # the next episode's frames are far away
    b = buf.sample(500, np.random.default_rng(0), 0.9, torch.device("cpu"))
    s, s2 = b.obs["state"][:, 0], b.next_obs["state"][:, 0]
    torch.testing.assert_close(s2, s + 1)  # the next observation of the same episode, never another episode's
    torch.testing.assert_close(b.reward, s2)  # reward and action belong to the transition that produced s2
    torch.testing.assert_close(b.obs["image"][:, 0, 0, 0].float(), s % 256)
    # what survived in 7 slots: the last episode (5 frames 205..209, 4 transitions) and episode 2's last
    # transition 104 -> 105 (its first frame, 103, was overwritten by the wrap)
    assert sorted(set(s.tolist())) == [104.0, 205.0, 206.0, 207.0, 208.0]
    torch.testing.assert_close(b.discount, torch.where(s == 104.0, 0.0, 0.9))  # episode 2 terminated
    assert len(buf) == 5


def test_replay_state_dict_round_trip():
    spec = {"state": ((2,), np.float32)}
    a, b = ReplayBuffer(spec, 1, 10), ReplayBuffer(spec, 1, 10)
    a.start({"state": np.zeros(2, np.float32)})
    for t in range(4):
        a.add(np.array([t], np.float32), t, {"state": np.full(2, t + 1, np.float32)}, False)
    b.load_state_dict(a.state_dict())
    x = a.sample(32, np.random.default_rng(1), 0.99, torch.device("cpu"))
    y = b.sample(32, np.random.default_rng(1), 0.99, torch.device("cpu"))
    for u, v in zip(x, y):
        torch.testing.assert_close(u, v) if isinstance(u, torch.Tensor) else torch.testing.assert_close(u["state"], v["state"])
    with pytest.raises(ValueError, match="replay buffer capacity 10 in the checkpoint, 20 configured"):
        ReplayBuffer(spec, 1, 20).load_state_dict(a.state_dict())


def test_random_shift_is_a_replicate_padded_crop():
    torch.manual_seed(0)
    images = torch.randint(0, 255, (16, 9, 11, 3), dtype=torch.uint8)
    assert torch.equal(random_shift(images, 0), images)
    shifted = random_shift(images, 2)
    padded = torch.nn.functional.pad(images.permute(0, 3, 1, 2).float(), (2, 2, 2, 2), mode="replicate")
    for img, out in zip(padded, shifted):
        crops = [img[:, dy:dy + 9, dx:dx + 11].permute(1, 2, 0).to(torch.uint8) for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out, c) for c in crops)
    assert not torch.equal(shifted, images)


def test_shaped_rewards_per_mode():
    kw = dict(alpha=0.001, gamma=0.99, potential_scale=1.0)
    assert shaped_reward("sparse", 1.0, -5.0, -3.0, **kw) == (1.0, {"env": 1.0, "value": -3.0})  # logged only
    assert shaped_reward("sparse", 1.0, None, None, **kw) == (1.0, {"env": 1.0})
    assert shaped_reward("critic-init", 0.0, None, None, **kw) == (0.0, {"env": 0.0})
    r, terms = shaped_reward("viva", 0.0, -5.0, -30.0, **kw)
    assert r == pytest.approx(-1.0 - 0.03) and terms == {"env": 0.0, "viva": pytest.approx(-1.03), "value": -30.0}
    r, terms = shaped_reward("potential", 1.0, -5.0, -3.0, **kw)
    assert r == pytest.approx(1.0 + 0.99 * -3.0 + 5.0) and terms["potential"] == pytest.approx(2.03)


# -- runs ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(value, tmp_path_factory) -> Path:
    """An uninterrupted 60-step pixels+state run in viva+critic-init mode: what a resumed run must reproduce."""
    return train(config(tmp_path_factory.mktemp("ref") / "run", value), progress=False)


def test_run_directory_and_viva_rewards(reference, value):
    run = reference
    assert json.loads((run / "config.json").read_text()) == json.loads(config(run, value).to_json())
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000040.pt", "step_00000060.pt"]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    episodes = [r for r in rows if r["kind"] == "episode"]
    assert [r["step"] for r in episodes] == [20, 40, 60] and all(r["length"] == 20 for r in episodes)
    assert [r["step"] for r in rows if r["kind"] == "eval"] == [40, 60]
    assert {"critic_loss", "actor_loss", "alpha", "q_mean", "steps_per_s"} <= set(rows[-1]) | set(
        next(r for r in rows if r["kind"] == "train"))
    assert any((run / "tb").iterdir()) and (run / "learning_curve.png").stat().st_size > 10_000
    # the stored reward of every transition is r_env - 1 + alpha * V(s', g*), V from the frozen value on s'
    payload = load_train_checkpoint(run / "checkpoints" / "step_00000060.pt")
    rep = payload["replay"]
    env = make_env(payload["config"])
    guide = ValueGuide(value, SIZE, torch.device("cpu"))
    guide.set_goal(env.goal_image)
    env.close()
    valid = np.flatnonzero(rep["valid"].numpy())
    assert valid.size == 60
    next_images = rep["obs/image"].numpy()[(valid + 1) % 200]
    np.testing.assert_allclose(rep["reward"].numpy()[valid], -1.0 + 0.001 * guide(next_images), rtol=1e-5, atol=1e-6)
    viva_sum = sum(r["reward/viva"] for r in episodes)
    assert viva_sum == pytest.approx(float(rep["reward"].numpy()[valid].sum()), rel=1e-5)


def test_critic_init_copies_the_value_encoder(value):
    cfg = config(Path("unused"), value)
    env = make_env(cfg)
    guide = ValueGuide(value, SIZE, torch.device("cpu"))
    agent = build_agent(cfg, env, guide, torch.device("cpu"))
    env.close()
    for (k, a), (_, b) in zip(agent.encoder.image.state_dict().items(), guide.model.encoder.state_dict().items()):
        assert torch.equal(a, b), k
    plain = build_agent(cfg, make_env(cfg), None, torch.device("cpu"))  # no value to start from: a fresh encoder
    assert not torch.equal(plain.encoder.image.out[1].weight, guide.model.encoder.out[1].weight)


def test_resume_after_a_stop_matches_the_uninterrupted_run(reference, value, tmp_path):
    run = tmp_path / "run"
    cfg = config(run, value)
    assert main(flags(cfg.model_copy(update={"steps": 20}))) == 0
    assert main(["train", "--resume", str(run), "--steps", "60", "-q"]) == 0
    a = load_train_checkpoint(run / "checkpoints" / "step_00000060.pt")
    b = load_train_checkpoint(reference / "checkpoints" / "step_00000060.pt")
    for part in ("encoder", "actor", "critic", "critic_target"):
        for k, v in a["agent"][part].items():
            assert torch.equal(v, b["agent"][part][k]), f"{part}.{k}"
    for k, v in a["replay"].items():
        assert v == b["replay"][k] if not isinstance(v, torch.Tensor) else torch.equal(v, b["replay"][k]), k
    strip = lambda path: [{k: v for k, v in json.loads(line).items() if k not in ("wall_s", "steps_per_s")}
                          for line in path.read_text().splitlines()]
    resumed = strip(run / "metrics.jsonl")
    # the short run evaluated where it stopped (every run evaluates at its end); everything else is identical
    assert {"step": 20, "kind": "eval"}.items() <= resumed.pop(3).items()
    assert resumed == strip(reference / "metrics.jsonl")


def test_runs_checkpointed_before_the_cuda_rng_was_stored_still_resume(value, tmp_path):
    """Train checkpoints written before 2026-11-25 have no "cuda_rng": resuming them continues (on a CPU nothing
    draws from it), as the unmodified checkpoint does."""
    from viva_robot.value.checkpoint import write_payload

    runs = []
    for name in ("old", "new"):
        run = tmp_path / name
        assert main(flags(config(run, value).model_copy(update={"steps": 20}))) == 0
        if name == "old":
            path = run / "checkpoints" / "step_00000020.pt"
            payload = torch.load(path, map_location="cpu", weights_only=True)
            del payload["cuda_rng"]
            write_payload(path, payload)
        assert main(["train", "--resume", str(run), "--steps", "40", "-q"]) == 0
        runs.append(load_train_checkpoint(run / "checkpoints" / "step_00000040.pt")["agent"]["actor"])
    for k, v in runs[0].items():
        assert torch.equal(v, runs[1][k]), k


def test_eval_command_writes_a_video_with_the_value_panel(reference, capsys):
    assert main(["eval", str(reference), "--episodes", "2", "--video", "-q"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["step"] == 60 and result["episodes"] == 2 and 0.0 <= result["success_rate"] <= 1.0
    assert result["value_end"] <= 0.0 or result["value_end"] > -100  # a number from the value, per frame
    with av.open(result["video"]) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 21  # 20 steps + the first frame
    assert frames[0].shape == (4 * SIZE, 8 * SIZE, 3)  # frame | value panel
    assert frames[0][:, 4 * SIZE:].mean() > 200  # the panel is mostly white, with the goal and the curve on it


def test_state_mode_with_prior_data(tmp_path):
    data = tmp_path / "play.zarr"
    collect(CollectConfig(env="door", out=data, episodes=2, size=SIZE, max_steps=15, scripted_fraction=1.0), progress=False)
    cfg = config(tmp_path / "run", obs="state", prior=data, steps=40, eval_every=40)
    env = make_env(cfg)
    prior = load_prior(cfg, env, None)
    env.close()
    assert len(prior) == 2 * 15 and set(prior.obs) == {"state"} and prior.obs["state"].shape[1] == 39 + 0
    train(cfg, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "train" for r in rows)
    other = config(tmp_path / "run2", obs="state", prior=data, task="kitchen-slide-cabinet")
    env = make_env(other, camera=False)
    with pytest.raises(Exception, match="play.zarr: prior data comes from 'sim:door', this run is sim:kitchen-slide-cabinet"):
        load_prior(other, env, None)
    env.close()


def test_prior_marked_failure_only_that_succeeds_is_refused(tmp_path):
    import zarr

    data = tmp_path / "fails.zarr"
    collect(CollectConfig(env="kitchen-slide-cabinet", out=data, episodes=1, size=SIZE, scripted_fraction=1.0,
                          noise_levels=(0.0,)), progress=False)  # a scripted attempt: it opens the cabinet
    zarr.open_group(data, mode="r+").attrs["failure_only"] = True  # mislabelled
    cfg = config(tmp_path / "run", obs="state", prior=data, task="kitchen-slide-cabinet")
    env = make_env(cfg, camera=False)
    first = int(np.argmax(VideoDataset(data).load_episode(0).success))
    with pytest.raises(Exception, match=f"fails.zarr: marked failure-only, but episode 0 \\(ep00000:scripted:noise=0\\) "
                                        f"achieves the task at frame {first}; a prior of failures must never succeed"):
        load_prior(cfg, env, None)
    env.close()
    with pytest.raises(Exception, match="fails.zarr: marked failure-only, but episode 0"):
        train(cfg, progress=False)
    assert not cfg.out.exists()  # refused before anything was written


def test_evaluation_without_a_camera_for_later_episodes_gives_the_same_results(value):
    from viva_robot.rl.train import evaluate

    cfg = config(Path("unused"), value, mode="viva", obs="state", max_steps=15)
    env, blind = make_env(cfg), make_env(cfg, camera=False)
    guide = ValueGuide(value, SIZE, torch.device("cpu"))
    guide.set_goal(env.goal_image)
    agent = build_agent(cfg, env, None, torch.device("cpu"))
    both = evaluate(agent, env, guide, "state", 3, blind_env=blind)
    alone = evaluate(agent, env, guide, "state", 3)
    env.close()
    blind.close()
    assert both == alone and both["episodes"] == 3 and "value_end" in both


def test_prior_without_actions_is_refused(tmp_path):
    import shutil

    data = tmp_path / "video.zarr"
    collect(CollectConfig(env="door", out=data, episodes=1, size=SIZE, max_steps=5), progress=False)
    shutil.rmtree(data / "data" / "action")  # action-free video, as an importer writes it
    cfg = config(tmp_path / "run", obs="state", prior=data)
    env = make_env(cfg, camera=False)
    with pytest.raises(Exception, match="video.zarr: prior data needs data/action"):
        load_prior(cfg, env, None)
    env.close()


def test_a_run_being_trained_is_not_resumed_by_a_second_process(reference, tmp_path, lock_holder):
    import os
    import shutil

    from viva_robot.rl.train import resume_config

    run = tmp_path / "run"
    shutil.copytree(reference, run)
    before = (run / "metrics.jsonl").read_text()
    from viva_robot.rundir import held

    assert not held(run)
    pid = lock_holder(run)
    assert held(run)  # what experiments/compare.py asks before starting a run
    with pytest.raises(ConfigError, match=f"{run}: the run is being trained by pid {pid}; wait for it to stop"):
        train(resume_config(run, {"steps": 80}), progress=False)
    assert (run / "metrics.jsonl").read_text() == before  # nothing written by the refused process
    assert os.path.isfile(run / ".lock")


# -- bad input -------------------------------------------------------------------------------------------------------


def test_value_of_another_image_size_is_refused(tmp_path, capsys):
    other = value_checkpoint(tmp_path / "v48.pt", size=48)
    out = tmp_path / "run"
    assert main(flags(config(out, other))) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"viva-robot train: error: {other}: the value was trained on 48x48 frames but this run's "
                           f"camera renders {SIZE}x{SIZE}; set image_size: 48")
    assert not out.exists()


def test_critic_init_with_another_encoder_is_refused(tmp_path, capsys):
    other = value_checkpoint(tmp_path / "r18.pt", encoder="resnet18")
    assert main(flags(config(tmp_path / "run", other))) == 2
    assert (f"{other}: critic-init needs the agent's encoder to match the value's: the value uses 'resnet18', the run "
            f"'small'; set encoder: resnet18") in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_config_errors(tmp_path, capsys):
    with pytest.raises(Exception) as e:
        load_config(TrainConfig, None, {"task": "kitchen-toaster", "out": tmp_path})
    assert "'door', 'kitchen-microwave', 'kitchen-slide-cabinet', 'kitchen-hinge-cabinet'" in str(e.value)
    with pytest.raises(Exception, match="mode 'viva' needs a value checkpoint: pass --value RUN/value.pt"):
        load_config(TrainConfig, None, {"task": "door", "out": tmp_path, "mode": "viva"})
    with pytest.raises(Exception, match="mode 'critic-init' initialises the critic's image encoder; use obs pixels"):
        load_config(TrainConfig, None, {"task": "door", "out": tmp_path, "mode": "critic-init", "value": "v.pt",
                                        "obs": "state"})


def test_existing_run_is_not_overwritten_and_resume_keeps_the_config(reference, capsys):
    before = sorted(p.name for p in reference.rglob("*"))
    assert main(flags(config(reference, None))) == 2
    assert f"{reference}: run directory exists; continue it with --resume {reference}" in capsys.readouterr().err
    assert main(["train", "--resume", str(reference), "--steps", "80", "--lr", "0.01", "-q"]) == 2
    assert f"{reference}: a resumed run keeps its config; cannot change lr" in capsys.readouterr().err
    assert main(["train", "--resume", str(reference), "-q"]) == 2
    assert f"{reference}: the run is already at step 60; pass --steps above that" in capsys.readouterr().err
    assert sorted(p.name for p in reference.rglob("*")) == before


def test_ros_backend_needs_a_robot_config_and_a_goal_image(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--backend", "ros", "--out", str(out), "-q"]) == 2
    assert "backend ros needs --robot CONFIG.yaml" in capsys.readouterr().err
    robot = ["--robot", "configs/robot/sim-franka.yaml"]
    assert main(["train", "--backend", "ros", *robot, "--out", str(out), "-q"]) == 2
    assert "backend ros needs --goal-image PNG: capture one with `viva-robot goal capture`" in capsys.readouterr().err
    assert main(["train", "--backend", "ros", *robot, "--goal-image", "g.png", "--obs", "state", "--out", str(out), "-q"]) == 2
    assert "backend ros has no privileged object state or prior data yet" in capsys.readouterr().err
    assert main(["train", "--backend", "sim", "--out", str(out), "-q"]) == 2
    assert "backend sim needs a task: one of door, kitchen-microwave" in capsys.readouterr().err
    assert not out.exists()


def test_goal_image_from_a_file(tmp_path, capsys):
    from PIL import Image

    from viva_robot.envs import load_goal_image

    good, bad = tmp_path / "goal.png", tmp_path / "big.png"
    pixels = np.random.default_rng(0).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(good)
    Image.fromarray(np.zeros((48, 40, 3), np.uint8)).save(bad)
    assert np.array_equal(make_env(config(tmp_path / "a", goal_image=good), camera=False).goal_image, pixels)
    out = tmp_path / "run"
    assert main(flags(config(out, goal_image=bad))) == 2
    assert (f"viva-robot train: error: {bad}: goal image is 40x48, the camera renders {SIZE}x{SIZE} (image_size); "
            f"resize it or set image_size") in capsys.readouterr().err
    assert not out.exists()
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(Exception, match="junk.png: cannot read the goal image"):
        load_goal_image(config(out, goal_image=tmp_path / "junk.png"))


@pytest.mark.parametrize("task", ["door", "kitchen-microwave", "kitchen-slide-cabinet", "kitchen-hinge-cabinet"])
def test_every_mode_runs_on_every_task(task, value, tmp_path):
    """Each mode through a few real steps and updates (pixels+state at 32x32), with an evaluation at the end."""
    for mode in ("sparse", "viva", "critic-init", "viva+critic-init", "potential"):
        run = train(config(tmp_path / mode, value if mode != "sparse" else None, task=task, mode=mode, steps=4,
                           max_steps=4, random_steps=2, batch_size=4, hidden=(16,)), progress=False)
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        episode = next(r for r in rows if r["kind"] == "episode")
        assert episode["length"] == 4 and set(episode) >= {"reward/env"}
        assert ("reward/viva" in episode) == ("viva" in mode) and ("reward/potential" in episode) == (mode == "potential")
        assert [r["kind"] for r in rows].count("eval") == 1


@pytest.mark.parametrize("checkpoint_every", [20, 10**6])
def test_ctrl_c_says_whether_there_is_anything_to_resume(tmp_path, checkpoint_every):
    """A real SIGINT to a `viva-robot train` process: resumable once a checkpoint exists, otherwise the message says
    there is nothing to resume (instead of suggesting --resume, which would then refuse)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cfg = config(out, None, steps=10**6, obs="state", eval_every=10**6, checkpoint_every=checkpoint_every)
    proc = subprocess.Popen([sys.executable, "-m", "viva_robot.cli", *flags(cfg)], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    ready = (lambda: list((out / "checkpoints").glob("step_*.pt"))) if checkpoint_every == 20 else \
        (lambda: (out / "metrics.jsonl").exists() and (out / "metrics.jsonl").stat().st_size > 0)
    try:
        while not ready():
            assert proc.poll() is None, f"train exited with {proc.returncode}: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no progress in 120 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130
    if checkpoint_every == 20:
        assert f"interrupted; continue from the last checkpoint with `viva-robot train --resume {out}`" in err
    else:
        assert (f"interrupted; no checkpoint was written yet (one every 1000000 steps), so there is nothing to resume: "
                f"delete {out} and start again") in err
