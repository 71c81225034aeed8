"""`viva-robot actor`: act at the env's rate with the newest weights the learner sent, stream every step to it.

The actor asks the learner (`--learner tcp://HOST:PORT`, rl/learner.py) for the run's config, builds the env on
this machine (its own `--robot` config and `--goal-image` where the paths differ from the learner's), tells the
learner the env's spaces and goal image, and then runs episodes. The network is never in the control loop: a
thread owns the ZeroMQ socket, sends queued steps, heartbeats every 0.5 s and keeps the newest weights the
learner sent; the loop only copies weights between steps and queues each step it took.

Why ZeroMQ: weights (megabytes for a pixel encoder) and image-carrying steps are bulk binary data that ZeroMQ
moves between machines without DDS fragment tuning or generated stubs, with reconnection built in; SERL's
actor/learner (agentlace) uses it too. ROS 2 stays the robot's bus (camera, supervisor, arm).

Faults: every step keeps its sequence number until a learner checkpoint holds it, and the thread sends again
whatever the learner reports missing (a learner restarted with `--resume` reports its checkpoint's), so nothing
the actor recorded is lost. A learner silent for `learner_timeout_s` (killed, stalled): the episode ends there,
the actor stops sending targets (the arm holds its last safe pose behind the supervisor), says so, and waits;
it starts a new episode once the learner answers again. The learner's `done` ends the actor.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import numpy as np
import torch
import zmq
from pydantic import ValidationError
from tqdm import tqdm

from viva_robot.config import ConfigError
from viva_robot.envs import make_env
from viva_robot.rl import wire
from viva_robot.rl.config import ActorConfig, TrainConfig
from viva_robot.rl.train import agent_obs, build_agent, episode_seed
from viva_robot.rl.wire import WireError
from viva_robot.robot.config import RobotError
from viva_robot.value.networks import resolve_device

log = logging.getLogger(__name__)
HELLO_EVERY_S = 0.5


class LearnerLink:
    """The actor's side of the socket, in a thread of its own."""

    def __init__(self, address: str, actor_id: str):
        self.address, self.actor_id = address, actor_id
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        for opt, v in ((zmq.LINGER, 0), (zmq.IMMEDIATE, 1), (zmq.SNDHWM, 10_000), (zmq.MAXMSGSIZE, wire.MAX_MESSAGE_BYTES)):
            self.sock.setsockopt(opt, v)
        try:
            self.sock.connect(address)
        except zmq.ZMQError as e:
            self.sock.close(0)
            self.ctx.term()
            raise ConfigError(f"--learner {address}: not a ZeroMQ address ({e}); expected tcp://HOST:PORT") from None
        self.lock = threading.Lock()
        self.outbox: dict[int, list[bytes]] = {}  # seq -> frames, kept until a learner checkpoint holds the step
        self.seq = self.sent = self.durable = 0
        self.hello_meta: dict = {}
        self.hello_arrays: dict | None = None
        self.weights_version = -1  # applied by the actor loop
        self.config: str | None = None
        self.ack: dict | None = None
        self.weights: tuple[int, int, dict] | None = None  # (version, step, arrays), newest received
        self.done, self.refused, self.waiting = False, "", ""  # the learner's done; its refusal; the place waited for
        self.heard: float | None = None  # the last message from the learner other than a refusal
        self.progress_t = time.monotonic()  # when the learner last reported holding more of this actor's steps
        self.bad_messages = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True, name="viva-learner-link")
        self.thread.start()

    # -- the actor loop's side ---------------------------------------------------------------------------------------
    def send_step(self, meta: dict, arrays: dict) -> None:
        with self.lock:
            self.seq += 1
            self.outbox[self.seq] = wire.pack("step", {**meta, "actor": self.actor_id, "seq": self.seq}, arrays)

    def silent_s(self) -> float:
        """How long the learner has been of no use: silent, or (with steps waiting) taking none of them in."""
        if self.heard is None:
            return float("inf")
        now = time.monotonic()
        with self.lock:
            waiting = self.ack is not None and self.seq > self.ack["received"]
        return max(now - self.heard, now - self.progress_t if waiting else 0.0)

    def wait(self, ready, timeout_s: float, what: str):
        deadline = time.monotonic() + timeout_s
        while not (value := ready()):
            if self.refused:
                raise RobotError(f"the learner at {self.address} refused this actor: {self.refused}")
            if time.monotonic() > deadline:
                raise RobotError(f"{what} within {timeout_s} s")
            time.sleep(0.01)
        return value

    def ahead(self) -> int:
        """Steps taken that the learner does not hold yet."""
        with self.lock:
            return self.seq - (self.ack["received"] if self.ack is not None else 0)

    def pending(self) -> int:
        with self.lock:
            return len(self.outbox)

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=5.0)
        self.sock.close(0)
        self.ctx.term()

    # -- the thread --------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        next_hello = 0.0
        while not self._stop:
            now = time.monotonic()
            if now >= next_hello:
                with self.lock:
                    oldest = min(self.outbox, default=self.seq + 1)  # the learner cannot get anything older again
                meta = {**self.hello_meta, "actor": self.actor_id, "oldest": oldest,
                        "weights": self.weights[0] if self.weights is not None else -1}
                try:
                    self.sock.send_multipart(wire.pack("hello", meta, self.hello_arrays), flags=zmq.NOBLOCK)
                except zmq.Again:  # not connected yet: IMMEDIATE queues nothing for a learner that is not there
                    pass
                next_hello = now + HELLO_EVERY_S
            while self.sock.poll(10):
                self._handle(self.sock.recv_multipart())
            while True:
                with self.lock:
                    frames = self.outbox.get(self.sent + 1)
                if frames is None:
                    break
                try:
                    self.sock.send_multipart(frames, flags=zmq.NOBLOCK)
                except zmq.Again:
                    break
                self.sent += 1

    def _handle(self, frames: list[bytes]) -> None:
        try:
            kind, meta, arrays = wire.unpack(frames, wire.LEARNER_KINDS)
            if kind != "refused":  # a learner that refuses this actor is not one it can act for
                self.heard = time.monotonic()
            match kind:
                case "config":
                    self.config = wire.field(meta, "config", kind, str)
                case "ack":
                    durable = wire.field(meta, "durable", kind, int)
                    received = wire.field(meta, "received", kind, int)
                    with self.lock:
                        for s in [s for s in self.outbox if s <= durable]:
                            del self.outbox[s]
                        if received < self.durable:
                            log.error("actor: the learner holds steps up to %d only, its last checkpoint held %d: "
                                      "steps %d-%d are lost (was its checkpoint removed?)", received, self.durable,
                                      received + 1, self.durable)
                        now = time.monotonic()
                        if self.ack is None or received > self.ack["received"] or self.seq <= received:
                            self.progress_t = now
                        if received < self.sent and (
                                (self.ack is not None and received < self.ack["received"]) or now - self.progress_t > 1.0):
                            # a restarted learner, or steps lost with a dead connection (nothing newer arrives, so
                            # the learner sees no gap to ask about): send again what it does not hold
                            self.sent = max(received, self.durable)
                            self.progress_t = now
                        self.durable = max(self.durable, durable)
                        self.ack = meta
                case "resend":  # sent again from there (the learner asks once per gap)
                    received = wire.field(meta, "received", kind, int)
                    with self.lock:
                        self.sent = min(self.sent, max(received, self.durable))
                case "weights":
                    self.weights = (wire.field(meta, "version", kind, int), wire.field(meta, "step", kind, int), arrays)
                case "refused":
                    reason = wire.field(meta, "reason", kind, str)
                    if meta.get("retry") is True:  # another actor's place, free once it is silent: keep asking
                        if reason.split(",")[0] != self.waiting:
                            log.warning("actor: the learner says: %s", reason)
                        self.waiting = reason.split(",")[0]
                    else:
                        self.refused = reason
                case "done":
                    self.done = True
        except Exception as e:  # whatever a message provokes, the link thread goes on
            self.bad_messages += 1
            log.warning("actor: message from the learner refused: %s: %s", e.__class__.__name__, str(e)[:200])


def act(cfg: ActorConfig, progress: bool = True) -> dict:
    """The actor's loop (see the module docstring); returns what it did."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    link = LearnerLink(cfg.learner, uuid.uuid4().hex[:12])
    env = None
    steps = episodes = holds = 0

    def report() -> dict:
        if link.done and not link.seq:  # this actor came after the run had its steps (it replaced a killed one, say)
            log.info("actor %s: the learner at %s has finished its run; nothing to do", link.actor_id, cfg.learner)
        log.info("actor %s: %d steps sent in %d episodes, held %d time(s) for the learner", link.actor_id, link.seq,
                 episodes, holds)
        return {"steps": steps, "episodes": episodes, "holds": holds, "sent": link.seq,
                "bad_messages": link.bad_messages, "actor": link.actor_id}

    try:
        link.wait(lambda: link.config or link.done, cfg.connect_timeout_s, f"no learner answered at {cfg.learner} "
                  f"(is `viva-robot learner` running there, listening on an address this machine reaches?)")
        if link.done:
            return report()
        learner_cfg = TrainConfig.model_validate_json(link.config)
        local = {k: v for k, v in (("robot", cfg.robot), ("goal_image", cfg.goal_image)) if v is not None}
        try:
            tcfg = TrainConfig.model_validate({**learner_cfg.to_dict(), **local}) if local else learner_cfg
        except ValidationError as e:
            raise ConfigError(f"actor for the learner at {cfg.learner}: {e.errors()[0]['msg']}") from None
        env = make_env(tcfg, camera=tcfg.obs != "state" or tcfg.value is not None)
        needs_image = tcfg.value is not None
        goal = env.goal_image
        link.hello_arrays = {"goal": goal} if goal is not None else None
        link.hello_meta = {"spaces": wire.spaces_to_meta(env)}
        ack = link.wait(lambda: link.ack or link.done, cfg.connect_timeout_s, f"the learner at {cfg.learner} did "
                        f"not take this actor's env")
        if link.done:
            return report()
        agent = build_agent(tcfg, env, None, device)
        steps, episodes = wire.field(ack, "step", "ack", int), wire.field(ack, "episode", "ack", int)
        rng = np.random.default_rng([tcfg.seed, steps, 1])  # exploration noise after a (re)start
        log.info("actor %s: connected to the learner at %s (step %d)", link.actor_id, cfg.learner, steps)
        bar = tqdm(total=tcfg.steps, initial=steps, disable=not progress, unit="step", dynamic_ncols=True,
                   desc=f"actor {tcfg.task or tcfg.backend}")

        def apply_weights() -> None:
            if link.weights is not None and link.weights[0] != link.weights_version:
                version, _, arrays = link.weights
                try:
                    wire.load_weights(arrays, agent.encoder, agent.actor)
                    link.weights_version = version
                except WireError as e:
                    log.error("actor: weights refused, acting on the previous ones: %s", e)
                    link.weights_version = version

        while not link.done:
            if link.refused:
                raise RobotError(f"the learner at {cfg.learner} refused this actor: {link.refused}")
            if link.silent_s() > cfg.learner_timeout_s:
                holds += 1
                log.error("actor: no answer from the learner at %s for %.0f s: holding the arm (no targets sent); "
                          "%d steps wait to be sent; waiting for it to come back", cfg.learner, link.silent_s(),
                          link.pending())
                while link.silent_s() > 1.0 and not link.done:
                    time.sleep(0.05)
                log.info("actor: the learner answers again; next episode")
                continue
            if link.ahead() > cfg.max_ahead_steps:  # the learner has this much to take in: no new episode yet
                time.sleep(0.01)
                continue
            apply_weights()
            obs, info = env.reset(seed=episode_seed(tcfg.seed, episodes))
            a_obs = agent_obs(obs, tcfg.obs)
            first = {f"first/{k}": v for k, v in a_obs.items()}
            if needs_image:
                first["first/image"] = obs["image"]
            t, done = 0, False
            while not done and not link.done:
                apply_weights()
                if steps < tcfg.random_steps:
                    action = rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32)
                else:
                    action = agent.act(a_obs)
                obs, r_env, terminated, truncated, info = env.step(action)
                executed = np.asarray(info.get("action", action), np.float32)  # a human intervention's command
                a_obs = agent_obs(obs, tcfg.obs)
                silent = link.silent_s() > cfg.learner_timeout_s
                arrays = {**{f"obs/{k}": v for k, v in a_obs.items()}, "action": executed, **(first if t == 0 else {})}
                if needs_image:
                    arrays["image"] = obs["image"]
                done = terminated or truncated or silent
                link.send_step({"t": t, "r_env": float(r_env), "terminated": bool(terminated),
                                "truncated": bool(truncated or silent), "success": bool(info.get("success", False)),
                                "intervention": bool(info.get("intervention", False))}, arrays)
                t, steps = t + 1, steps + 1
                bar.update(1)
            episodes += 1
        bar.close()
        deadline = time.monotonic() + 5.0
        while link.pending() and link.sent < link.seq and time.monotonic() < deadline:
            time.sleep(0.05)  # the last steps on their way (the learner ignores what it no longer needs)
    finally:
        if env is not None:
            env.close()
        link.close()
    return report()
