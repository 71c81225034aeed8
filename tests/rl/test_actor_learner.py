"""Actor and learner apart, as separate processes over ZeroMQ on loopback (the sim backend; the ROS 2 robot path
runs the same pair in tests/ros/test_ros_path.py): a run completes with every update its steps call for, a
killed and resumed learner, a stalled learner and a killed actor lose nothing, and malformed messages from a
hostile peer are refused and counted while the run goes on."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import zmq

from viva_robot.rl import wire
from viva_robot.rl.train import load_train_checkpoint
from viva_robot.rl.wire import WireError

pytestmark = pytest.mark.slow
LEARNER = ["--task", "door", "--obs", "state", "--random-steps", "50", "--max-steps", "50", "--batch-size", "16",
           "--hidden", "32", "32", "--log-every", "50", "--device", "cpu", "--threads", "1", "--actor-timeout-s", "2"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    return subprocess.Popen([sys.executable, "-m", "viva_robot.cli", "-q", *args], stdout=open(log, "a"),
                            stderr=subprocess.STDOUT, env=env)


def wait_for(pred, timeout_s: float, what: str, log: Path | None = None, alive: tuple[subprocess.Popen, ...] = ()):
    """Poll `pred` until it holds; fail with the processes' log once `timeout_s` passes or a process in `alive`
    has exited (no waiting out the timeout on a learner that died at start)."""
    deadline = time.monotonic() + timeout_s
    while not (value := pred()):
        dead = [p.args[4] for p in alive if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            reason = f"the {' and '.join(dead)} exited" if dead else f"not within {timeout_s} s"
            raise AssertionError(f"{what}: {reason}\n{tail}")
        time.sleep(0.05)
    return value


def finish(proc: subprocess.Popen, timeout_s: float, log: Path) -> None:
    try:
        assert proc.wait(timeout_s) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()


def kill(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()


def newest_checkpoint(run: Path) -> int:
    """The step of the run's newest checkpoint, 0 before the first."""
    return max((int(p.stem.removeprefix("step_")) for p in (run / "checkpoints").glob("step_*.pt")), default=0)


def final_progress(run: Path) -> tuple[dict, dict]:
    path = sorted((run / "checkpoints").glob("step_*.pt"))[-1]
    payload = load_train_checkpoint(path)
    return payload["progress"], payload


def test_a_run_completes_with_the_updates_its_steps_call_for(tmp_path):
    port, log = free_port(), tmp_path / "log.txt"
    run = tmp_path / "run"
    learner = start("learner", *LEARNER, "--steps", "200", "--checkpoint-every", "100", "--bind",
                    f"tcp://127.0.0.1:{port}", "--out", str(run), log=log)
    actor = start("actor", "--learner", f"tcp://127.0.0.1:{port}", log=log)
    finish(learner, 180, log)
    finish(actor, 30, log)
    progress, payload = final_progress(run)
    assert progress["step"] == 200 and progress["updates"] == 150  # utd 1 after 50 random steps
    assert progress["received"] == 200  # steps 1..200 of the actor, each held once, in order
    assert int(payload["replay"]["valid"].sum()) == 200
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["length"] for r in rows if r["kind"] == "episode"] == [50] * 4
    assert any(r["kind"] == "train" for r in rows)
    summary = json.loads(next(line for line in log.read_text().splitlines() if line.startswith('{"steps"')))
    assert summary["steps"] >= 200 and summary["holds"] == 0 and summary["bad_messages"] == 0


def test_a_stalled_then_killed_learner_resumes_and_nothing_the_actor_recorded_is_lost(tmp_path):
    port, log = free_port(), tmp_path / "log.txt"
    run, bind = tmp_path / "run", f"tcp://127.0.0.1:{port}"
    args = ("learner", *LEARNER, "--steps", "400", "--checkpoint-every", "100", "--bind", bind, "--out", str(run))
    learner = start(*args, log=log)
    # paced by the actor (never more than 10 steps ahead), so the learner cannot run through every checkpoint
    # between two looks at the run directory (it keeps only the newest two)
    actor = start("actor", "--learner", bind, "--learner-timeout-s", "2", "--max-ahead-steps", "10", log=log)
    try:
        first = wait_for(lambda: newest_checkpoint(run), 120, "a first checkpoint", log, (learner, actor))
        learner.send_signal(signal.SIGSTOP)  # stalled: the actor holds after 2 s and waits
        wait_for(lambda: "holding the arm" in log.read_text(), 20, "the actor holding for the stalled learner", log,
                 (actor,))
        learner.send_signal(signal.SIGCONT)
        wait_for(lambda: "the learner answers again" in log.read_text(), 20, "the actor going on", log, (actor,))
        wait_for(lambda: newest_checkpoint(run) > first, 120, "a second checkpoint", log, (learner, actor))
        learner.kill()  # killed between checkpoints: what it held after its second one is gone with it
        learner.wait()
        wait_for(lambda: log.read_text().count("holding the arm") >= 2, 20, "the actor holding for the dead learner",
                 log, (actor,))
        learner = start("learner", "--resume", str(run), log=log)
        finish(learner, 180, log)
        finish(actor, 30, log)
    finally:
        kill(learner, actor)
    progress, payload = final_progress(run)
    # the resumed learner held steps up to its checkpoint's; the actor sent the rest again, in order, none missing
    # (an episode the learner's silence cut short, if the actor was not far ahead, is kept as it was)
    step = progress["step"]
    assert step >= 400 and progress["received"] == step and int(payload["replay"]["valid"].sum()) == step
    assert progress["updates"] == step - 50
    lengths = [json.loads(line)["length"] for line in (run / "metrics.jsonl").read_text().splitlines()
               if json.loads(line)["kind"] == "episode"]
    assert sum(lengths) == step and lengths[:2] == [50, 50]


def test_a_killed_actor_is_replaced_and_the_learner_keeps_its_buffer(tmp_path):
    port, log = free_port(), tmp_path / "log.txt"
    run, bind = tmp_path / "run", f"tcp://127.0.0.1:{port}"
    learner = start("learner", *LEARNER, "--steps", "300", "--checkpoint-every", "100", "--bind", bind,
                    "--out", str(run), log=log)
    # never far ahead of the learner, so the run needs the second actor's steps
    first = start("actor", "--learner", bind, "--max-ahead-steps", "10", log=log)
    try:
        wait_for(lambda: (run / "checkpoints" / "step_00000100.pt").exists(), 120, "a first checkpoint", log,
                 (learner, first))
        first.kill()
        first.wait()
        second = start("actor", "--learner", bind, log=log)  # refused until the first has been silent for 2 s
        finish(learner, 180, log)
        finish(second, 30, log)
    finally:
        kill(learner, first)
    text = log.read_text()
    assert re.search(r"learner: actor \w+ silent for \d+\.\d s; actor \w+ takes over", text), text[-2000:]
    progress, payload = final_progress(run)
    # the killed actor's unfinished episode stays in the buffer (cut short); the run ends at an episode end
    assert progress["step"] >= 300 and int(payload["replay"]["valid"].sum()) == progress["step"]
    lengths = [json.loads(line)["length"] for line in (run / "metrics.jsonl").read_text().splitlines()
               if json.loads(line)["kind"] == "episode"]
    assert set(lengths) == {50} and 0 <= progress["step"] - sum(lengths) < 50  # that one is not an episode row


def test_an_actor_that_comes_after_the_run_has_its_steps_is_told_so_and_ends(tmp_path):
    """A replacement actor that reaches the learner only while its last updates run is answered `done` (a learner
    that only refused it would leave it waiting for a place that never frees)."""
    from viva_robot.rl.config import TrainConfig
    from viva_robot.rl.learner import Learner

    bind, log = f"tcp://127.0.0.1:{free_port()}", tmp_path / "log.txt"
    link = Learner(TrainConfig(task="door", obs="state", bind=bind, out=tmp_path / "run"))
    link.actor_id, link.heard, link.finished = "the-first", time.monotonic(), True  # it is still heard from
    actor = start("actor", "--learner", bind, log=log)
    try:
        deadline = time.monotonic() + 60
        while actor.poll() is None and time.monotonic() < deadline:
            if (msg := link.recv(50)) is not None:
                assert msg[2] == "hello" and not link.admit(msg[0], msg[1])
        finish(actor, 1, log)
    finally:
        kill(actor)
        link.close()
    text = log.read_text()
    assert "has finished its run; nothing to do" in text and "0 steps sent in 0 episodes" in text


def test_malformed_messages_from_a_hostile_peer_are_refused_and_the_run_goes_on(tmp_path):
    port, log = free_port(), tmp_path / "log.txt"
    run, bind = tmp_path / "run", f"tcp://127.0.0.1:{port}"
    learner = start("learner", *LEARNER, "--steps", "100", "--checkpoint-every", "100", "--bind", bind,
                    "--out", str(run), log=log)
    ctx = zmq.Context()
    rogue = ctx.socket(zmq.DEALER)
    rogue.connect(bind)
    time.sleep(1.0)
    rogue.send_multipart([b"\x00" * 64])
    rogue.send_multipart([b"exec", b"{}", b""])
    rogue.send_multipart([b"hello", b"[1, 2]", b""])
    rogue.send_multipart([b"step", b'{"actor": "x"}', b"not safetensors"])
    rogue.send_multipart([b"hello", b"[" * 100_000 + b"]" * 100_000, b""])  # nesting past Python's recursion limit
    actor = start("actor", "--learner", bind, log=log)
    try:
        finish(learner, 180, log)
        finish(actor, 30, log)
    finally:
        rogue.close(0)
        ctx.term()
        kill(learner, actor)
    text = log.read_text()
    assert "message has 1 frames, expected 3 (kind, JSON, safetensors)" in text
    assert "unknown message kind 'exec'; expected one of hello, step" in text
    assert "hello: JSON part is a list, expected an object" in text
    assert "hello: JSON part does not parse (RecursionError" in text
    assert "learner: 100 steps" in text and "5 malformed messages refused" in text


# -- the wire, without processes -----------------------------------------------------------------------------------
def test_wire_round_trip_and_refusals():
    arrays = {"obs/state": np.arange(5, dtype=np.float32), "action": np.ones(4, np.float32)}
    kind, meta, got = wire.unpack(wire.pack("step", {"seq": 3}, arrays), wire.ACTOR_KINDS)
    assert kind == "step" and meta == {"seq": 3} and set(got) == set(arrays)
    np.testing.assert_array_equal(got["obs/state"], arrays["obs/state"])
    with pytest.raises(WireError, match=r"^step: array 'action' is float32 \[4\], expected float32 \[3\]$"):
        wire.array(got, "action", "step", (3,), np.float32)
    bad = {"a": np.array([np.nan], np.float32)}
    with pytest.raises(WireError, match="step: array 'a' contains NaN or inf"):
        wire.array(wire.unpack(wire.pack("step", {}, bad), ("step",))[2], "a", "step", (1,), np.float32)
    with pytest.raises(WireError, match=r"step: field 'seq' is bool True"):
        wire.field({"seq": True}, "seq", "step", int)
    with pytest.raises(WireError, match=r"weights: arrays are not a safetensors buffer"):
        wire.unpack([b"weights", b"{}", b"\xff" * 16], wire.LEARNER_KINDS)


def test_weights_that_do_not_fit_the_actor_change_nothing():
    enc, act = torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)
    arrays = wire.weights_arrays(enc, act)
    other = torch.nn.Linear(3, 4)
    before = other.weight.detach().clone()
    wrong = {**arrays, "actor.weight": np.zeros((2, 5), np.float32)}
    with pytest.raises(WireError, match=r"weights: actor.weight is \[2, 5\], expected \[2, 4\], or not finite"):
        wire.load_weights(wrong, other, torch.nn.Linear(4, 2))
    assert torch.equal(other.weight, before)
    wire.load_weights(arrays, other, torch.nn.Linear(4, 2))
    assert torch.equal(other.weight, enc.weight)


def test_intervention_steps_also_fill_the_buffer_batches_draw_demonstrations_from(tmp_path):
    """An actor (the real link, driven by hand here) flags steps 10-19 of each episode as a human's: the learner
    keeps them in the replay buffer and, in addition, in its intervention buffer (HIL-SERL)."""
    from viva_robot.envs import make_env
    from viva_robot.rl.actor import LearnerLink
    from viva_robot.rl.config import TrainConfig
    from viva_robot.rl.train import agent_obs

    port, log = free_port(), tmp_path / "log.txt"
    run, bind = tmp_path / "run", f"tcp://127.0.0.1:{port}"
    learner = start("learner", *LEARNER, "--steps", "100", "--checkpoint-every", "100", "--bind", bind,
                    "--out", str(run), log=log)
    link = LearnerLink(bind, "hand")
    env = None
    try:
        cfg = TrainConfig.model_validate_json(wait_for(lambda: link.config, 60, "the run's config"))
        env = make_env(cfg, camera=False)
        link.hello_meta = {"spaces": wire.spaces_to_meta(env)}
        wait_for(lambda: link.ack, 60, "the learner taking this actor")
        rng, human = np.random.default_rng(0), []
        for episode in range(2):
            obs, _ = env.reset(seed=episode)
            first = {f"first/{k}": v for k, v in agent_obs(obs, cfg.obs).items()}
            for t in range(50):
                action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
                obs, r, terminated, truncated, info = env.step(action)
                if 10 <= t < 20:
                    human.append(action)
                link.send_step({"t": t, "r_env": float(r), "terminated": False, "truncated": t == 49,
                                "success": False, "intervention": 10 <= t < 20},
                               {**{f"obs/{k}": v for k, v in agent_obs(obs, cfg.obs).items()}, "action": action,
                                **(first if t == 0 else {})})
        finish(learner, 120, log)
    finally:
        if env is not None:
            env.close()
        link.close()
        if learner.poll() is None:
            learner.kill()
    progress, payload = final_progress(run)
    assert progress["step"] == 100 and int(payload["replay"]["valid"].sum()) == 100
    demos = payload["demos"]
    valid = demos["valid"].numpy()
    assert valid.sum() == 20
    np.testing.assert_array_equal(demos["action"].numpy()[valid], np.stack(human))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["interventions"] for r in rows if r["kind"] == "episode"] == [10, 10]
