"""`viva-robot pretrain` and `value-check` end to end on tiny datasets: run directory, resume (also after
SIGKILL), torchrun/DDP, fine-tuning from a checkpoint, and clear errors for bad input."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr

from viva_robot.cli import main
from viva_robot.config import ConfigError
from viva_robot.value.config import PretrainConfig
from viva_robot.data.dataset import DatasetError, DatasetWriter, Episode
from viva_robot.value import icvf as icvf_module
from viva_robot.value import pretrain as pretrain_module
from viva_robot.value.checkpoint import CheckpointError, load_checkpoint
from viva_robot.value.networks import ICVF
from viva_robot.value.pretrain import TrainingDiverged, pretrain

REPO = Path(__file__).resolve().parents[2]
LENGTHS = (6, 9, 12, 7, 20, 8, 10, 15, 11, 9)  # with seed 0 and holdout 0.2, episodes 1, 2, 5, 6 are held out
TINY = {"image_size": 16, "batch_size": 16, "hidden": (32,), "compile": False, "device": "cpu", "crop_pad": 2,
        "holdout_fraction": 0.2, "log_every": 5, "eval_every": 10, "checkpoint_every": 5}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny convolutions gain nothing from a second thread, and on a shared 2-core machine OpenMP threads
    waiting on each other make a step ~10x slower (measured). Subprocesses get OMP_NUM_THREADS=1 to match:
    bitwise-equal resumes need the same thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_dataset(path: Path, lengths=LENGTHS, size: int = 16, noise: bool = False, seed: int = 0) -> Path:
    """Frame t of episode k is (k, t) plus a moving bar; `noise` gives random-ish frames (an "Ego4D" stand-in)."""
    rng = np.random.default_rng(seed)
    w = DatasetWriter(path, source="test", fps=5, resolution=(size, size))
    for k, t in enumerate(lengths):
        if noise:
            rgb = rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8)
        else:
            rgb = np.zeros((t, size, size, 3), dtype=np.uint8)
            rgb[..., 0], rgb[..., 1] = k * 20, (np.arange(t) * 12)[:, None, None]
            for i in range(t):
                rgb[i, :, (i * size) // t, 2] = 255
        w.append(Episode(rgb=rgb, key=f"ep{k}"))
    return path


def config(out: Path, data, **kw) -> PretrainConfig:
    data = data if isinstance(data, (list, tuple)) else [data]
    return PretrainConfig(out=out, data=data, **{**TINY, "steps": 20, **kw})


def flags(out: Path, data, **kw) -> list[str]:
    data = data if isinstance(data, (list, tuple)) else [data]
    argv = ["pretrain", "-q", "--out", str(out), "--data", *map(str, data)]
    for k, v in {**TINY, "steps": 20, **kw}.items():
        name = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            argv.append(name if v else "--no-" + k.replace("_", "-"))
        else:
            argv += [name, *map(str, v if isinstance(v, tuple) else [v])]
    return argv


# `python -m viva_robot.cli`, with checkpoint writes logged per rank (CKPT_LOG) and a pause after each
# metrics row (LOG_PAUSE seconds) that gives a kill time to land; the numbers are untouched.
LOGGED_CLI = """
import os, sys, time
from viva_robot.value import pretrain
save, log = pretrain.save_checkpoint, pretrain._log
def logged_save(path, **kw):
    with open(os.environ["CKPT_LOG"], "a") as f:
        f.write(f"{os.environ.get('RANK', 0)} {path.name}\\n")
    return save(path, **kw)
def paused_log(*args):
    log(*args)
    time.sleep(float(os.environ["LOG_PAUSE"]))
pretrain.save_checkpoint, pretrain._log = logged_save, paused_log
from viva_robot.cli import main
sys.exit(main(sys.argv[1:]))
"""


def logged_cli(tmp_path: Path, log_pause: float = 0.0) -> tuple[list[str], dict, Path]:
    script, log = tmp_path / "logged_cli.py", tmp_path / "ckpt.log"
    script.write_text(LOGGED_CLI)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CKPT_LOG": str(log), "LOG_PAUSE": str(log_pause)}
    return [str(script)], env, log


def weights(path: Path, key: str = "model") -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)[key]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def train_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "loss" in r]


@pytest.fixture(scope="module")
def play(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "play.zarr")


@pytest.fixture(scope="module")
def reference(play, tmp_path_factory) -> Path:
    """An uninterrupted 40-step run: what every resumed run must reproduce."""
    return pretrain(config(tmp_path_factory.mktemp("ref") / "run", play, steps=40), progress=False)


# -- a run ------------------------------------------------------------------------------------------------------


def test_run_directory_contents(reference, play):
    run = reference
    stored = json.loads((run / "config.json").read_text())
    assert stored == json.loads(config(run, play, steps=40).to_json())
    assert sorted(p.name for p in (run / "checkpoints").glob("*")) == \
        ["step_0000030.pt", "step_0000035.pt", "step_0000040.pt"]  # the last three are kept
    ckpt = load_checkpoint(run / "checkpoints" / "step_0000040.pt")
    assert ckpt["step"] == 40 and ckpt["config"] == config(run, play, steps=40)
    assert {"model", "target", "optimizer"} <= ckpt.keys()
    final = torch.load(run / "value.pt", map_location="cpu", weights_only=True)
    assert final["step"] == 40 and "optimizer" not in final
    assert_same_weights(final["model"], ckpt["model"])
    # the target trails the model (Polyak 0.005)
    assert not torch.equal(ckpt["target"]["head.mlp.0.weight"], ckpt["model"]["head.mlp.0.weight"])
    rows = train_rows(run)
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert all(np.isfinite(r["loss"]) and -100 <= r["v_mean"] <= 1 for r in rows)
    evals = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "loss" not in r]
    assert [r["step"] for r in evals] == [10, 20, 30, 40]
    assert all(0 <= r["temporal_order_accuracy/play"] <= 1 for r in evals)
    check = json.loads((run / "value_check" / "value_check.json").read_text())
    assert check["episodes"] == [1, 2, 5, 6] and 0 <= check["temporal_order_accuracy"] <= 1
    assert (run / "value_check" / "value_curves.png").stat().st_size > 1000
    assert any((run / "tb").iterdir())


def test_same_config_same_weights(reference, play, tmp_path):
    again = pretrain(config(tmp_path / "again", play, steps=40), progress=False)
    assert_same_weights(weights(again / "value.pt"), weights(reference / "value.pt"))


# -- resume ----------------------------------------------------------------------------------------------------


def test_stop_and_resume_reproduces_the_uninterrupted_run(reference, play, tmp_path):
    run = tmp_path / "run"
    assert main(flags(run, play, steps=20)) == 0
    assert weights(run / "value.pt").keys() == weights(reference / "value.pt").keys()
    assert main(["pretrain", "-q", "--resume", str(run), "--steps", "40"]) == 0
    assert_same_weights(weights(run / "value.pt"), weights(reference / "value.pt"))
    assert_same_weights(weights(run / "checkpoints/step_0000040.pt", "target"),
                        weights(reference / "checkpoints/step_0000040.pt", "target"))
    assert json.loads((run / "config.json").read_text())["steps"] == 40
    rows, ref_rows = train_rows(run), train_rows(reference)
    assert [r["step"] for r in rows] == [r["step"] for r in ref_rows]  # continues, each step once
    assert [r["loss"] for r in rows] == [r["loss"] for r in ref_rows]


@pytest.mark.slow
def test_resume_after_sigkill(reference, play, tmp_path):
    """Killed between checkpoints (step 10) and logged rows (step 15): the resumed run repeats steps 11-15
    and still ends with the uninterrupted run's weights, and metrics.jsonl lists each step once."""
    run = tmp_path / "run"
    script, env, _ = logged_cli(tmp_path, log_pause=0.4)
    proc = subprocess.Popen([sys.executable, *script, *flags(run, play, steps=40, checkpoint_every=10)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    metrics, deadline = run / "metrics.jsonl", time.monotonic() + 120
    try:
        while not (metrics.is_file() and '"step": 15,' in metrics.read_text()):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_0000010.pt"]
    assert [r["step"] for r in train_rows(run)] == [5, 10, 15]
    assert not (run / "value.pt").exists()

    assert main(["pretrain", "-q", "--resume", str(run), "--checkpoint-every", "5"]) == 0
    assert_same_weights(weights(run / "value.pt"), weights(reference / "value.pt"))
    rows, ref_rows = train_rows(run), train_rows(reference)
    assert [r["step"] for r in rows] == [r["step"] for r in ref_rows]
    assert [r["loss"] for r in rows] == [r["loss"] for r in ref_rows]
    assert json.loads((run / "config.json").read_text())["checkpoint_every"] == 5  # a runtime field may change


def test_resume_refuses_a_changed_config(reference, capsys):
    before = sorted(p.name for p in (reference / "checkpoints").iterdir())
    assert main(["pretrain", "--resume", str(reference), "--lr", "1e-3", "--batch-size", "16"]) == 2
    err = capsys.readouterr().err
    assert f"{reference}: a resumed run keeps its config; cannot change lr (only checkpoint_every, compile" in err
    assert "batch_size" not in err.split("(only")[0]  # unchanged values are not complaints
    assert sorted(p.name for p in (reference / "checkpoints").iterdir()) == before
    with pytest.raises(ConfigError, match=r"cannot change lr, holdout_fraction \(only"):
        pretrain_module.resume_config(reference, {"lr": "1e-3", "holdout_fraction": 0.5, "steps": 80})


def test_resume_refuses_another_world_size(reference, monkeypatch, capsys):
    before = sorted(p.name for p in (reference / "checkpoints").iterdir())
    assert load_checkpoint(reference / "checkpoints" / before[-1])["world_size"] == 1
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun --nproc-per-node 2 would set for rank 0
    monkeypatch.setenv("RANK", "0")
    assert main(["pretrain", "--resume", str(reference), "--steps", "80"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"viva-robot pretrain: error: {reference / 'checkpoints' / before[-1]}: the run was trained by 1 process "
        f"(WORLD_SIZE) and this resume has 2: every step's batch would change (batch_size per process x processes) "
        f"and the run would no longer continue as it started; resume it with a single process (no torchrun)")
    assert sorted(p.name for p in (reference / "checkpoints").iterdir()) == before


def test_a_run_being_trained_is_not_resumed_by_a_second_process(reference, capsys, lock_holder):
    before = (reference / "metrics.jsonl").read_text()
    pid = lock_holder(reference)
    assert main(["pretrain", "-q", "--resume", str(reference), "--steps", "80"]) == 2
    assert capsys.readouterr().err.strip() == (f"viva-robot pretrain: error: {reference}: the run is being trained "
                                               f"by pid {pid}; wait for it to stop")
    assert (reference / "metrics.jsonl").read_text() == before


def test_resume_needs_a_run_directory(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["pretrain", "--resume", str(tmp_path / "empty")]) == 2
    assert f"{tmp_path / 'empty'}: not a run directory (no config.json)" in capsys.readouterr().err


# -- DDP -------------------------------------------------------------------------------------------------------



@pytest.mark.slow
def test_torchrun_ddp_on_cpu(play, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script, env, log = logged_cli(tmp_path)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(port), *script,
           *flags(run, play, steps=6, checkpoint_every=3, log_every=3)]
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = json.loads((run / "ddp_check.json").read_text())["ranks"]
    assert len(ranks) == 2 and ranks[0] == ranks[1] and all(np.isfinite(ranks[0]))
    assert sorted(log.read_text().splitlines()) == ["0 step_0000003.pt", "0 step_0000006.pt", "0 value.pt"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_0000003.pt", "step_0000006.pt"]
    assert [r["step"] for r in train_rows(run)] == [3, 6]  # one writer
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["batch_size"] == 16  # per process
    assert load_checkpoint(run / "checkpoints" / "step_0000006.pt")["world_size"] == 2  # resume refuses another


# -- fine-tuning -----------------------------------------------------------------------------------------------


def test_finetune_starts_from_the_init_checkpoint(tmp_path):
    ego = make_dataset(tmp_path / "ego.zarr", lengths=(8, 12, 10, 9, 14, 11), noise=True, seed=1)
    play = make_dataset(tmp_path / "play.zarr", lengths=(6, 9, 12, 7, 20, 8))
    a = pretrain(config(tmp_path / "a", ego, steps=10, lr=1e-3), progress=False)
    fresh = ICVF.from_config(config(tmp_path / "x", play))  # what B would start from without init
    b = pretrain(config(tmp_path / "b", play, steps=1, lr=1e-12, init=a / "value.pt"), progress=False)

    a_w, b_w = weights(a / "value.pt"), weights(b / "value.pt")
    for k in a_w:  # one Adam step of size ~lr moves nothing visibly
        torch.testing.assert_close(b_w[k], a_w[k], rtol=0, atol=1e-9)
    target = weights(b / "checkpoints/step_0000001.pt", "target")
    for k in a_w:
        torch.testing.assert_close(target[k], a_w[k], rtol=0, atol=1e-9)
    moved = [k for k, v in fresh.state_dict().items() if not torch.allclose(v, a_w[k], atol=1e-4)]
    assert "head.mlp.0.weight" in moved and "encoder.conv.0.weight" in moved  # A really trained
    assert json.loads((b / "config.json").read_text())["init"] == str(a / "value.pt")
    assert load_checkpoint(b / "value.pt")["config"].init == a / "value.pt"


# -- bad input -------------------------------------------------------------------------------------------------


def test_not_a_dataset(tmp_path, capsys):
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w").attrs["format"] = "something-else"
    run = tmp_path / "run"
    with pytest.raises(DatasetError, match=r"other\.zarr: not a viva dataset \(attribute 'format' is 'something-else'"):
        pretrain(config(run, tmp_path / "other.zarr"), progress=False)
    assert not run.exists()
    assert main(flags(run, tmp_path / "missing.zarr")) == 2
    assert f"{tmp_path / 'missing.zarr'}: no such dataset (path does not exist)" in capsys.readouterr().err
    assert not run.exists()


def test_datasets_of_different_frame_sizes(play, tmp_path):
    big = make_dataset(tmp_path / "big.zarr", lengths=(5, 6), size=24)
    run = tmp_path / "run"
    with pytest.raises(DatasetError) as e:
        pretrain(config(run, [play, big]), progress=False)
    msg = str(e.value)
    assert msg.startswith(f"{big}: frames are 24x24 but image_size is 16 ")
    assert f"{play}: 16x16" in msg and f"{big}: 24x24" in msg and "resize_frames" in msg
    assert not run.exists()
    # with resize_frames the 24x24 frames are resized on load and the two datasets train together
    pretrain(config(run, [play, big], steps=3, resize_frames=True), progress=False)
    assert (run / "value.pt").is_file()


def test_short_episode(tmp_path):
    data = make_dataset(tmp_path / "short.zarr", lengths=(6, 9, 1, 7, 8))
    run = tmp_path / "run"
    with pytest.raises(DatasetError, match=r"short\.zarr: episode 2 \('ep2'\) has 1 frame; ICVF needs at least 2 "
                                           r"frames per episode \(1 such episodes\)\. Set drop_short_episodes: true"):
        pretrain(config(run, data, holdout_fraction=0.0), progress=False)
    assert not run.exists()
    pretrain(config(run, data, holdout_fraction=0.0, steps=3, drop_short_episodes=True), progress=False)
    assert (run / "value.pt").is_file()


@pytest.fixture(scope="module")
def small_ckpt(play, tmp_path_factory) -> Path:
    return pretrain(config(tmp_path_factory.mktemp("small") / "run", play, steps=2), progress=False) / "value.pt"


def test_init_with_another_architecture(play, small_ckpt, tmp_path, capsys):
    run = tmp_path / "run"
    with pytest.raises(CheckpointError) as e:
        pretrain(config(run, play, hidden=(64,), init=small_ckpt), progress=False)
    assert str(e.value).startswith(f"{small_ckpt}: model weights do not fit this architecture:\n  ")
    assert "head.mlp.0.weight: checkpoint (2, 768, 32) vs model (2, 768, 64)" in str(e.value)
    assert not run.exists()
    assert main(flags(run, play, head="multilinear", init=small_ckpt)) == 2
    err = capsys.readouterr().err
    assert "model weights do not fit this architecture" in err
    assert "missing head.phi.0.weight" in err and "unexpected head.mlp.0.weight" in err
    assert not run.exists()


def test_garbage_checkpoint(play, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"junk\.pt: not a readable viva checkpoint"):
        pretrain(config(tmp_path / "run", play, init=junk), progress=False)
    torch.save({"model": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match=r"foreign\.pt: not a viva value checkpoint \(expected format 'viva-icvf'\)"):
        pretrain(config(tmp_path / "run", play, init=tmp_path / "foreign.pt"), progress=False)
    with pytest.raises(CheckpointError, match=r"absent\.pt: checkpoint not found"):
        pretrain(config(tmp_path / "run", play, init=tmp_path / "absent.pt"), progress=False)
    assert not (tmp_path / "run").exists()


def test_existing_out_needs_resume(play, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("keep me")
    assert main(flags(run, play)) == 2
    assert f"{run}: run directory exists; continue it with --resume {run} or choose another --out" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    (tmp_path / "empty").mkdir()  # an empty directory is fine
    pretrain(config(tmp_path / "empty", play, steps=1), progress=False)
    assert (tmp_path / "empty" / "value.pt").is_file()


def test_divergence_stops_with_the_last_good_checkpoint(play, tmp_path, monkeypatch):
    real_loss, calls = icvf_module.icvf_loss, []

    def loss_nan_from_step_7(*args):
        loss, metrics = real_loss(*args)
        calls.append(1)
        if len(calls) >= 7:
            loss = loss * float("nan")
            metrics = {**metrics, "loss": loss.detach()}
        return loss, metrics

    monkeypatch.setattr(icvf_module, "icvf_loss", loss_nan_from_step_7)  # what icvf_step calls
    run = tmp_path / "run"
    good = run / "checkpoints" / "step_0000006.pt"
    with pytest.raises(TrainingDiverged, match=rf"^loss became nan between steps 7 and 8; {good} is the last good "
                                               r"checkpoint; try a lower lr$"):
        pretrain(config(run, play, steps=20, log_every=4, checkpoint_every=3), progress=False)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_0000003.pt", "step_0000006.pt"]
    for p in (run / "checkpoints").iterdir():
        ckpt = load_checkpoint(p)
        assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
        assert all(torch.isfinite(v).all() for v in ckpt["target"].values())
    assert not (run / "value.pt").exists()

    # the checkpoint-time check (checkpoints more often than logs) names its step range too
    calls.clear()
    run2 = tmp_path / "run2"
    good = run2 / "checkpoints" / "step_0000006.pt"
    with pytest.raises(TrainingDiverged, match=rf"^loss or weights became non-finite between steps 7 and 9; {good} is "):
        pretrain(config(run2, play, steps=20, log_every=10, checkpoint_every=3), progress=False)


def test_huge_learning_rate_diverges(play, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(flags(run, play, lr=1e20, log_every=1, checkpoint_every=5)) == 2
    err = capsys.readouterr().err
    assert "viva-robot pretrain: error: loss became " in err
    assert "between steps 2 and 2; no checkpoint was written before; try a lower lr" in err
    assert not (run / "checkpoints").exists() and not (run / "value.pt").exists()


# -- value-check -----------------------------------------------------------------------------------------------


def test_value_check_cli(reference, play, tmp_path, capsys):
    out = tmp_path / "check"
    assert main(["value-check", str(reference / "value.pt"), str(play), "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "temporal-order accuracy: " in printed
    summary = json.loads((out / "value_check.json").read_text())
    assert 0 <= summary["temporal_order_accuracy"] <= 1
    # the no-learning baseline: these frames' green ramp brings every frame closer to the last in pixels
    assert summary["pixel_distance_accuracy"] == 1.0 and summary["pixel_distance_accuracy_by_kind"] == {"video": 1.0}
    assert "pixel-distance baseline (V = -squared pixel difference to g): 1.000\n" in printed
    assert summary["episodes"] == [1, 2, 5, 6]  # the run's held-out episodes of its own dataset
    assert len(summary["per_episode_accuracy"]) == 4
    for name in ("value_curves.png", "value_heatmap.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # all episodes on request
    assert main(["value-check", str(reference / "value.pt"), str(play), "--out", str(out), "--episodes", "all",
                 "--max-episodes", "3", "--device", "cpu"]) == 0
    assert json.loads((out / "value_check.json").read_text())["episodes"] == [0, 1, 2]


def test_value_check_other_frame_size(reference, tmp_path, capsys):
    big = make_dataset(tmp_path / "big.zarr", lengths=(5, 6), size=24)
    out = tmp_path / "check"
    assert main(["value-check", str(reference / "value.pt"), str(big), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{big}: frames are 24x24, the value was trained on 16x16 ({reference / 'value.pt'})" in err
    assert not out.exists()


def test_bad_data_weights(play, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(flags(run, [play, play], data_weights=(0, 0))) == 2
    assert "data_weights must be non-negative with a positive sum, got [0.0, 0.0]" in capsys.readouterr().err
    assert main(flags(run, [play, play], data_weights=(1,))) == 2
    assert "data_weights has 1 entries for 2 datasets" in capsys.readouterr().err
    assert not run.exists()


def test_resume_writes_into_the_resumed_directory_wherever_it_is_run_from(play, tmp_path, monkeypatch, capsys):
    """A run made with a relative --out, resumed from another working directory, stays one run."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert main(flags(Path("runs/x"), play, steps=10, checkpoint_every=10)) == 0
    run = tmp_path / "a" / "runs" / "x"
    monkeypatch.chdir(tmp_path / "b")
    assert main(["pretrain", "-q", "--resume", str(run), "--steps", "20"]) == 0
    assert not (tmp_path / "b" / "runs").exists()
    assert (run / "checkpoints" / "step_0000020.pt").is_file()
    assert main(["pretrain", "-q", "--resume", str(run), "--steps", "abc"]) == 2
    assert "invalid value for a resumed run" in capsys.readouterr().err
