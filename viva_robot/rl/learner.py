"""`viva-robot learner`: SAC updates, checkpoints and weights for an actor that runs elsewhere (rl/actor.py).

The learner binds a ZeroMQ ROUTER socket (`--bind`, default tcp://127.0.0.1:5555; tcp://0.0.0.0:5555 to let the
robot PC in) and waits for an actor. The actor's first hello gets the run's config; its second carries the env's
spaces and goal image, from which the learner builds the agent (or checks them against the resumed run). Then
one loop: take in every step the actor sent (rewards are shaped here, with the value on the learner's device),
update at `utd` updates per step received once `random_steps` have arrived, send the actor's networks every
`weights_every_s`, checkpoint at episode ends every `checkpoint_every` steps (agent, replay buffers, RNG states,
and the sequence number of the last step held), stop at the first episode end at or after `steps`.

Nothing recorded is lost: steps are numbered; the actor keeps every step newer than the last checkpoint and
sends again whatever the learner does not hold (a restarted `--resume` learner reports the checkpoint's number).
A step out of order is answered with `resend`. One actor at a time: another one is refused until the first has
been silent for `actor_timeout_s` (killed: its successor takes over, the buffer stays).

Human interventions (HIL-SERL): steps the operator drove are stored in the replay buffer like any other and,
in addition, in a buffer of their own; once it holds a batch's share (`prior_ratio` x `batch_size` transitions),
every batch draws that share from it (RLPD's symmetric sampling, with the interventions as the demonstrations).

Size: the learner's one loop and the handshake it needs (spaces from the actor, one actor at a time).
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import zmq
from gymnasium import spaces
from tqdm import tqdm

from viva_robot import rundir
from viva_robot.config import ConfigError
from viva_robot.rl import wire
from viva_robot.rl.config import TrainConfig
from viva_robot.rl.guidance import shaped_reward
from viva_robot.rl.replay import ReplayBuffer, symmetric_sample
from viva_robot.rl.train import (guide_from_goal, build_agent, obs_spec, open_run, recorder, restore,
                                 save_train_checkpoint, start_run)
from viva_robot.rl.wire import WireError
from viva_robot.robot.config import RobotError

log = logging.getLogger(__name__)


def spaces_from_meta(meta: dict) -> SimpleNamespace:
    """An env's spaces (observation_space, action_space) from a hello, checked: no env on this machine."""
    observation, action_dim = meta.get("observation"), meta.get("action_dim")
    ok = isinstance(observation, dict) and 0 < len(observation) <= 8 and type(action_dim) is int and 1 <= action_dim <= 64
    for k, v in (observation.items() if ok else ()):
        shape = v.get("shape") if isinstance(v, dict) else None
        ok = ok and isinstance(k, str) and v.get("dtype") in ("uint8", "float32", "float64") and isinstance(shape, list) \
            and 1 <= len(shape) <= 3 and all(type(d) is int and 1 <= d <= 1024 for d in shape) \
            and int(np.prod(shape)) <= 1024 * 1024 * 3
    if not ok:  # checked before anything is allocated from it
        raise WireError(f"hello: spaces {str(meta)[:200]} do not describe an env (dict of name -> shape (1-3 dims, "
                        f"each 1..1024) and dtype uint8/float32/float64, action_dim 1..64)")
    obs = {k: spaces.Box(-np.inf if v["dtype"] != "uint8" else 0, np.inf if v["dtype"] != "uint8" else 255,
                         tuple(v["shape"]), np.dtype(v["dtype"])) for k, v in observation.items()}
    return SimpleNamespace(observation_space=spaces.Dict(obs), action_space=spaces.Box(-1.0, 1.0, (action_dim,), np.float32))


class Learner:
    """The socket side of the learner: who the actor is, what it sent, what to answer."""

    def __init__(self, cfg: TrainConfig, on_bound=None):
        self.cfg = cfg
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 0)  # a message to an actor that has gone is dropped, not an error
        self.sock.setsockopt(zmq.MAXMSGSIZE, wire.MAX_MESSAGE_BYTES)
        try:
            self.sock.bind(cfg.bind)
        except zmq.ZMQError as e:
            self.close()
            raise ConfigError(f"--bind {cfg.bind}: cannot listen there ({e}); is another learner running?") from None
        self.address = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        if on_bound is not None:
            on_bound(self.address)
        self.peer: bytes | None = None
        self.actor_id = ""
        self.heard = 0.0  # time.monotonic of the current actor's last message
        self.bad_messages = 0
        self.finished = False  # the run has its steps: a newcomer is told so

    def recv(self, timeout_ms: int):
        """(peer, kind, meta, arrays) of the next message, or None; a malformed one is counted and skipped."""
        if not self.sock.poll(timeout_ms):
            return None
        peer, *frames = self.sock.recv_multipart()
        try:
            kind, meta, arrays = wire.unpack(frames, wire.ACTOR_KINDS)
            actor_id = wire.field(meta, "actor", kind, str)
        except WireError as e:
            self.bad_messages += 1
            if self.bad_messages <= 10 or self.bad_messages % 1000 == 0:
                log.warning("learner: message %d refused: %s", self.bad_messages, e)
            return None
        return peer, actor_id, kind, meta, arrays

    def admit(self, peer: bytes, actor_id: str) -> bool:
        """Whether this message's actor is (or may become) the run's actor."""
        now = time.monotonic()
        if actor_id != self.actor_id:
            if self.finished:  # a late actor (one that replaces a killed one, say): nothing left for it to do
                self.send(peer, "done")
                return False
            if self.actor_id and now - self.heard < self.cfg.actor_timeout_s:
                self.send(peer, "refused", retry=True, reason=f"another actor ({self.actor_id}) is connected, heard "
                          f"{now - self.heard:.1f} s ago; this one is taken once that one has been silent for "
                          f"{self.cfg.actor_timeout_s} s")
                return False
            if self.actor_id:
                log.warning("learner: actor %s silent for %.1f s; actor %s takes over", self.actor_id,
                            now - self.heard, actor_id)
            self.actor_id = actor_id
        self.peer, self.heard = peer, now
        return True

    def send(self, peer: bytes | None, kind: str, arrays: dict | None = None, **meta) -> None:
        if peer is not None:
            try:
                self.sock.send_multipart([peer, *wire.pack(kind, meta, arrays)], flags=zmq.NOBLOCK)
            except zmq.Again:  # the actor is not reading: it will ask again
                pass

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


def _check_step(kind: str, meta: dict, arrays: dict, spec: dict, action_dim: int, image_shape, first: bool):
    """A step message's fields and arrays, checked against the run's spaces; WireError otherwise."""
    seq, t = wire.field(meta, "seq", kind, int), wire.field(meta, "t", kind, int)
    flags = {k: wire.field(meta, k, kind, bool) for k in ("terminated", "truncated", "success", "intervention")}
    r_env = float(wire.field(meta, "r_env", kind, (int, float)))
    if not np.isfinite(r_env):
        raise WireError(f"{kind}: r_env is {r_env}")
    obs = {k: wire.array(arrays, f"obs/{k}", kind, shape, dtype) for k, (shape, dtype) in spec.items()}
    first_obs = ({k: wire.array(arrays, f"first/{k}", kind, shape, dtype) for k, (shape, dtype) in spec.items()}
                 if first else None)
    action = wire.array(arrays, "action", kind, (action_dim,), np.float32)
    image = wire.array(arrays, "image", kind, image_shape, np.uint8) if image_shape else None
    first_image = wire.array(arrays, "first/image", kind, image_shape, np.uint8) if image_shape and first else None
    return seq, t, flags, r_env, obs, first_obs, action, image, first_image


def learn(cfg: TrainConfig, progress: bool = True, on_bound=None, watch=None) -> Path:
    """The learner's loop (see the module docstring). on_bound(address) is called once the socket listens;
    watch() -> error text or None is asked while waiting (the actor process of `train --backend ros`)."""
    if cfg.prior is not None:
        raise ConfigError("prior data with a separate actor is not supported yet: run `viva-robot train --backend sim` "
                          "for RLPD, or drop --prior")
    device, resumed, rng = start_run(cfg)
    link = Learner(cfg, on_bound)
    log.info("learner: listening on %s; start the actor with `viva-robot actor --learner %s`", link.address,
             link.address.replace("0.0.0.0", "HOST"))
    # -- handshake: config to an actor without an env, then its env's spaces ---------------------------------------
    env_spec = goal = None
    while env_spec is None:
        msg = link.recv(200)
        if msg is None:
            if watch is not None and (error := watch()):
                link.close()
                raise RobotError(error)
            continue
        peer, actor_id, kind, meta, arrays = msg
        if kind != "hello" or not link.admit(peer, actor_id):
            continue
        if "spaces" not in meta:
            link.send(peer, "config", config=cfg.to_json())
            continue
        try:
            env_spec, spaces_json = spaces_from_meta(meta["spaces"]), json.dumps(meta["spaces"], sort_keys=True)
            goal = arrays.get("goal")
            if cfg.value is not None:
                wire.array(arrays, "goal", "hello", (cfg.image_size, cfg.image_size, 3), np.uint8)
        except WireError as e:
            env_spec = None
            link.send(peer, "refused", reason=str(e))
    guide = guide_from_goal(cfg, goal, device)
    agent = build_agent(cfg, env_spec, guide if "critic-init" in cfg.mode else None, device)
    spec = obs_spec(env_spec, cfg.obs)
    replay = ReplayBuffer(spec, env_spec.action_space.shape[0], cfg.replay_capacity)
    demos = ReplayBuffer(spec, env_spec.action_space.shape[0], cfg.replay_capacity)
    image_shape = tuple(env_spec.observation_space["image"].shape) if guide is not None else None
    state = {"step": 0, "episode": 0, "updates": 0, "next_checkpoint": cfg.checkpoint_every, "next_log": cfg.log_every,
             "wall_s": 0.0, "received": 0, "actor": "", "weights": 0}
    if resumed is not None:
        state = restore(resumed, agent, replay, rng)
        if "demos" in resumed:
            demos.load_state_dict(resumed["demos"])
        if state.get("spec") != spaces_json:
            link.close()
            raise ConfigError(f"{cfg.resume}: the actor's env has spaces {spaces_json}, the run was trained with "
                              f"{state.get('spec')}")
    state["spec"] = spaces_json
    lock, metrics_file, tb = open_run(cfg, state, resumed)
    record = recorder(metrics_file, tb, state)
    durable = state["received"]  # the last step a checkpoint holds
    if link.actor_id != state["actor"]:  # a new actor numbers its steps from 1
        state["actor"], state["received"] = link.actor_id, 0
        durable = 0

    sent_version = [-1]

    def send_weights(peer) -> None:
        link.send(peer, "weights", wire.weights_arrays(agent.encoder, agent.actor), version=state["updates"],
                  step=state["step"])
        sent_version[0] = state["updates"]

    def answer(peer, meta: dict) -> None:
        link.send(peer, "ack", step=state["step"], received=state["received"], durable=durable,
                  episode=state["episode"])
        if wire.field(meta, "weights", "hello", int) != sent_version[0]:  # it has none, or missed the newest
            send_weights(peer)

    answer(link.peer, {"weights": -1})
    n_demo = round(cfg.batch_size * cfg.prior_ratio)
    bar = tqdm(total=cfg.steps, initial=state["step"], disable=not progress, unit="step", dynamic_ncols=True,
               desc=f"learner {cfg.task or cfg.backend} {cfg.mode}")
    start, wall0, last_weights = time.perf_counter(), state["wall_s"], time.monotonic()
    episode = {"terms": {}, "length": 0, "success": False, "interventions": 0, "prev": None, "v_prev": None,
               "demo_open": False}
    train_metrics: dict = {}

    def checkpoint() -> None:
        nonlocal durable
        state["wall_s"] = wall0 + time.perf_counter() - start
        save_train_checkpoint(cfg.out / "checkpoints" / f"step_{state['step']:08d}.pt", cfg=cfg, agent=agent,
                              replay=replay, state=state, rng=rng, extra={"demos": demos.state_dict()})
        durable = state["received"]

    resent = {"received": -1, "t": 0.0}

    def take(msg) -> None:
        """One message from the actor: a hello answered, a step held (reward shaped, episode closed). Anything a
        peer sends that does not fit is counted and skipped; the run goes on."""
        try:
            _take(msg)
        except (WireError, ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as e:
            link.bad_messages += 1
            log.warning("learner: message refused: %s: %s", e.__class__.__name__, str(e)[:200])

    def _take(msg) -> None:
        nonlocal durable
        peer, actor_id, kind, meta, arrays = msg
        if not link.admit(peer, actor_id):
            return
        if actor_id != state["actor"]:  # a restarted actor: its steps count from 1; its old episode is over
            state["actor"], state["received"], durable = actor_id, 0, 0
            episode["prev"] = None
        oldest = wire.field(meta, "oldest", kind, int) if "oldest" in meta else None
        if oldest is not None and oldest > state["received"] + 1:  # the actor no longer has what comes next
            log.error("learner: steps %d-%d are gone (the actor dropped them after a checkpoint this learner "
                      "does not have); going on from step %d's episode start", state["received"] + 1, oldest - 1, oldest)
            state["received"], episode["prev"] = oldest - 1, None
        if kind == "hello":
            if "spaces" not in meta:
                link.send(peer, "config", config=cfg.to_json())
            elif json.dumps(meta["spaces"], sort_keys=True) != state["spec"]:
                link.send(peer, "refused", reason=f"this env's spaces {meta['spaces']} differ from the run's "
                                                  f"{state['spec']}")
            else:
                answer(peer, meta)
            return
        if link.finished:  # the run has its steps; the updates still due are being made
            return
        seq = wire.field(meta, "seq", kind, int)
        if seq <= state["received"]:
            return  # sent again after a gap or a restart: already held
        if seq != state["received"] + 1:  # a gap: ask once (again after a second), not once per step in flight
            if resent["received"] != state["received"] or time.monotonic() - resent["t"] > 1.0:
                link.send(peer, "resend", received=state["received"])
                resent.update(received=state["received"], t=time.monotonic())
            return
        first = wire.field(meta, "t", kind, int) == 0
        try:
            _, _, flags, r_env, obs, first_obs, action, image, first_image = _check_step(
                kind, meta, arrays, spec, env_spec.action_space.shape[0], image_shape, first)
        except WireError:
            state["received"], episode["prev"] = seq, None  # skipped for good: resending it would change nothing
            raise
        if first or episode["prev"] is None:
            if not first:  # the rest of an episode whose start this learner does not hold: skipped
                state["received"] = seq
                return
            replay.start(first_obs)
            episode.update(terms={}, length=0, success=False, interventions=0, prev=first_obs,
                           v_prev=guide(first_image) if guide is not None else None, demo_open=False)
        v_next = guide(image) if guide is not None else None
        reward, parts = shaped_reward(cfg.mode, r_env, episode["v_prev"], v_next, alpha=cfg.viva_alpha,
                                      gamma=cfg.gamma, potential_scale=cfg.potential_scale)
        replay.add(action, reward, obs, flags["terminated"])
        if flags["intervention"]:
            if not episode["demo_open"]:
                demos.start(episode["prev"])
            demos.add(action, reward, obs, flags["terminated"])
            episode["interventions"] += 1
        episode["demo_open"] = flags["intervention"]
        for k, v in parts.items():
            episode["terms"][k] = episode["terms"].get(k, 0.0) + v
        episode.update(prev=obs, v_prev=v_next, success=episode["success"] or flags["success"],
                       length=episode["length"] + 1)
        state["received"] = seq
        state["step"] += 1
        bar.update(1)
        if flags["terminated"] or flags["truncated"]:
            state["episode"] += 1
            n = episode["length"]
            record({"episode": state["episode"], "length": n, "success": float(episode["success"]),
                    "interventions": episode["interventions"],
                    **{f"reward/{k}": (v / n if k == "value" else v) for k, v in episode["terms"].items()}},
                   "episode")
            episode["prev"] = None
            link.finished = state["step"] >= cfg.steps
            if not link.finished and rundir.due(state, "next_checkpoint", cfg.checkpoint_every):
                checkpoint()
            link.send(peer, "ack", step=state["step"], received=state["received"], durable=durable,
                      episode=state["episode"])

    try:
        while True:
            due = state["updates"] < cfg.utd * max(0, state["step"] - cfg.random_steps)  # as the inline loop: utd per step
            # Everything waiting is taken in before the next update (a burst is bounded): heartbeats are answered
            # at once however far the updates lag, and the actor never mistakes a busy learner for a dead one.
            msg = None
            for taken in range(256):  # also once finished: hellos are answered while the last updates run
                if (msg := link.recv(0 if due or taken else 20)) is None:
                    break
                take(msg)
            if msg is None and not due and watch is not None and (error := watch()):
                raise RobotError(error)
            due = state["updates"] < cfg.utd * max(0, state["step"] - cfg.random_steps)
            if link.finished and not due:  # every update the steps call for is made, also when the actor ran ahead
                break
            if due:
                n = n_demo if len(demos) >= n_demo else 0  # once there are enough interventions for their share
                batch = symmetric_sample(replay, demos, cfg.batch_size, n, rng, cfg.gamma, device)
                train_metrics = agent.update(batch)
                state["updates"] += 1
                if train_metrics and rundir.due(state, "next_log", cfg.log_every):
                    wall = wall0 + time.perf_counter() - start
                    record({**{k: float(v) for k, v in train_metrics.items()}, "wall_s": wall, "updates": state["updates"],
                            "steps_per_s": state["step"] / max(wall, 1e-9)}, "train")
            if time.monotonic() - last_weights >= cfg.weights_every_s and state["updates"] > 0:
                send_weights(link.peer)
                last_weights = time.monotonic()
        checkpoint()
        link.send(link.peer, "done", step=state["step"])
        drain_until = time.monotonic() + 0.3  # the done message leaves; anyone asking now is told the run is over
        while time.monotonic() < drain_until:
            if (msg := link.recv(20)) is not None:
                link.send(msg[0], "done", step=state["step"])
    finally:
        bar.close()
        metrics_file.close()
        tb.close()
        link.close()
        lock.close()
    log.info("learner: %d steps, %d updates; %d malformed messages refused", state["step"], state["updates"],
             link.bad_messages)
    return cfg.out



def train_apart(cfg: TrainConfig, progress: bool = True) -> Path:
    """`viva-robot train --backend ros`: this process is the learner, a `viva-robot actor` process drives the robot
    (the config's robot and goal image paths hold on this machine)."""
    proc: list[subprocess.Popen] = []

    def start_actor(address: str) -> None:
        proc.append(subprocess.Popen([sys.executable, "-m", "viva_robot.cli", "-q", "actor", "--learner", address]))

    def watch() -> str | None:
        if proc and proc[0].poll() is not None:
            return f"the actor process exited with code {proc[0].returncode} before the run's end (its error is above)"
        return None

    try:
        out = learn(cfg, progress, on_bound=start_actor, watch=watch)
        proc[0].wait(timeout=30)
        return out
    finally:
        if proc and proc[0].poll() is None:
            proc[0].send_signal(signal.SIGINT)  # the actor closes its env: the arm stops at its last safe pose
            try:
                proc[0].wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc[0].kill()
