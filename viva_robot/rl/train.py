"""`viva-robot train` and `viva-robot eval`: SAC on a sparse-reward task, guided by a frozen video-trained value.

Config -> env (backend chosen by a literal match) -> value guide -> agent -> one loop over episodes.
Episode e resets with a seed drawn from (seed, e); checkpoints (agent, replay buffer, RNG states) are written
at episode ends, so `--resume RUN_DIR` continues with exactly the steps an uninterrupted run would take.
A run stops at the first episode end at or after `steps`. The run directory holds config.json,
checkpoints/step_*.pt, metrics.jsonl, TensorBoard scalars (tb/) and eval/ videos.

Size: the entry point's one loop and the parts it passes in (agent, prior, evaluation, resume) that no other
command uses.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch
from pydantic import ValidationError
from tqdm import tqdm

from viva_robot import config, rundir
from viva_robot.config import ConfigError
from viva_robot.rl.config import EvalConfig, RunConfig, TrainConfig
from viva_robot.data.dataset import DatasetError, VideoDataset
from viva_robot.envs import make_env
from viva_robot.rl.guidance import shaped_reward
from viva_robot.value.guide import ValueGuide
from viva_robot.rl.replay import ReplayBuffer, symmetric_sample
from viva_robot.rl.sac import SAC, ObsEncoder
from viva_robot.rl.video import learning_curve, write_eval_video
from viva_robot.value.checkpoint import CheckpointError, latest_checkpoint, read_payload, write_payload
from viva_robot.value.networks import make_encoder, resolve_device

log = logging.getLogger(__name__)

FORMAT, VERSION = "viva-sac", 1
RESUMABLE = {"steps", "device", "threads", "eval_every", "eval_episodes", "eval_video", "checkpoint_every",
             "log_every", "resume", "bind", "weights_every_s", "actor_timeout_s"}
KEEP_CHECKPOINTS = 2
EVAL_SEED = 1_000_000  # evaluation episode k resets with (EVAL_SEED, k), in training and in `viva-robot eval`


# -- parts ---------------------------------------------------------------------------------------------------------
def agent_obs(obs: dict[str, np.ndarray], mode: str) -> dict[str, np.ndarray]:
    """The env observation -> what the agent sees (state mode uses the simulator's privileged object state)."""
    match mode:
        case "state":
            return {"state": np.concatenate([obs["state"], obs["object_state"]]).astype(np.float32)}
        case "pixels":
            return {"image": obs["image"]}
        case "pixels+state":
            return {"image": obs["image"], "state": obs["state"].astype(np.float32)}
    raise ValueError(f"unknown observation mode {mode!r}")


def obs_spec(env, mode: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    space = env.observation_space
    sample = agent_obs({k: np.zeros(s.shape, s.dtype) for k, s in space.spaces.items()}, mode)
    return {k: (v.shape, v.dtype) for k, v in sample.items()}


def build_agent(cfg: TrainConfig, env, encoder_init: ValueGuide | None, device: torch.device) -> SAC:
    """The SAC agent for this run's observations; encoder_init: the value whose image encoder the agent's starts
    from (critic-init modes), None for a fresh encoder (or one a checkpoint is about to overwrite)."""
    spec = obs_spec(env, cfg.obs)
    image_encoder = make_encoder(cfg.encoder, cfg.image_size) if "image" in spec else None
    if encoder_init is not None:
        encoder_init.init_encoder(image_encoder, cfg.encoder)
    state_dim = spec["state"][0][0] if "state" in spec else 0
    encoder = ObsEncoder(image_encoder, state_dim, cfg.latent, cfg.shift_pad)
    return SAC(encoder, env.action_space.shape[0], tuple(cfg.hidden), cfg.critics, cfg.lr, cfg.gamma, cfg.tau,
               init_temperature=cfg.init_temperature, device=device, bf16=cfg.bf16)


def episode_seed(seed: int, episode: int) -> int:
    return int(np.random.default_rng([seed, episode]).integers(2**31))


def load_prior(cfg: TrainConfig, env, guide: ValueGuide | None) -> ReplayBuffer:
    """RLPD's prior data: a viva dataset with state and actions -> a replay buffer with this run's rewards."""
    ds = VideoDataset(cfg.prior)
    if ds.source != f"sim:{cfg.task}":
        raise DatasetError(f"{cfg.prior}: prior data comes from {ds.source!r}, this run is sim:{cfg.task}; its success "
                           f"flags would reward another task")
    step_fps = 1.0 / env.task.control_dt
    if abs(ds.fps - step_fps) > 1e-6 * step_fps:
        raise DatasetError(f"{cfg.prior}: recorded at {ds.fps:g} fps but the env steps at {step_fps:g} per second "
                           f"(collected with frame_skip > 1?); each prior action must be one env step")
    for name in ("state", "action", "success"):
        if not ds.has(name):
            raise DatasetError(f"{cfg.prior}: prior data needs data/{name} (datasets from `viva-robot collect` have it)")
    if ds.attrs.get("failure_only"):
        success = ds.root["data/success"][: ds.num_frames]
        if success.any():
            frame = int(np.flatnonzero(success)[0])
            episode = int(ds.episode_of(np.array([frame]))[0])
            raise DatasetError(f"{cfg.prior}: marked failure-only, but episode {episode} ({ds.episode_keys[episode]}) "
                               f"achieves the task at frame {frame - int(ds.episode_starts[episode])}; a prior of "
                               f"failures must never succeed (re-collect it with `viva-robot collect` and "
                               f"failure_only: true, which cuts every episode before its first success)")
    if ds.resolution != (cfg.image_size, cfg.image_size):
        raise DatasetError(f"{cfg.prior}: frames are {ds.resolution[0]}x{ds.resolution[1]}, this run uses "
                           f"{cfg.image_size}x{cfg.image_size}")
    robot = env.observation_space["state"].shape[0]
    obj = env.observation_space["object_state"].shape[0]
    buf = ReplayBuffer(obs_spec(env, cfg.obs), env.action_space.shape[0], ds.num_frames + ds.num_episodes)
    for k in range(ds.num_episodes):
        ep = ds.load_episode(k)
        if ep.state.shape[1] != robot + obj:
            raise DatasetError(f"{cfg.prior}: state has {ep.state.shape[1]} dims, task {cfg.task} has {robot + obj}")
        values = guide(ep.rgb) if guide is not None else [None] * len(ep.rgb)
        obs = [agent_obs({"image": ep.rgb[t], "state": ep.state[t, :robot], "object_state": ep.state[t, robot:]}, cfg.obs)
               for t in range(len(ep.rgb))]
        buf.start(obs[0])
        for t in range(len(obs) - 1):
            r, _ = shaped_reward(cfg.mode, float(ep.success[t + 1]), values[t], values[t + 1], alpha=cfg.viva_alpha,
                                 gamma=cfg.gamma, potential_scale=cfg.potential_scale)
            buf.add(ep.action[t], r, obs[t + 1], False)
    return buf


# -- checkpoints -----------------------------------------------------------------------------------------------------
def save_train_checkpoint(path: Path, *, cfg: TrainConfig, agent: SAC, replay: ReplayBuffer, state: dict,
                          rng: np.random.Generator, extra: dict | None = None) -> Path:
    """extra: more tensors (the learner's intervention buffer)."""
    payload = {"format": FORMAT, "version": VERSION, "config": cfg.to_json(), "agent": agent.state_dict(),
               "replay": replay.state_dict(), "torch_rng": torch.get_rng_state(),
               "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
               "numpy_rng": json.dumps(rng.bit_generator.state), "progress": json.dumps(state), **(extra or {})}
    write_payload(path, payload)
    rundir.rotate(path.parent, KEEP_CHECKPOINTS)
    return path


def load_train_checkpoint(path: Path) -> dict:
    payload = read_payload(path, FORMAT, VERSION, "viva-robot train")
    payload["config"] = TrainConfig.model_validate(json.loads(payload["config"]))
    payload["progress"] = json.loads(payload["progress"])
    return payload


def resume_config(run_dir: Path, overrides: dict) -> TrainConfig:
    return config.resume_config(TrainConfig, run_dir, overrides, RESUMABLE)


# -- evaluation ------------------------------------------------------------------------------------------------------
def evaluate(agent: SAC, env, guide: ValueGuide | None, obs_mode: str, episodes: int, seed: int = EVAL_SEED,
             video: Path | None = None, blind_env=None) -> dict:
    """Deterministic policy for `episodes` episodes: success rate (task achieved at any step), mean return
    (the paper's metric: steps with the task achieved, per episode). Only the first episode's frames are
    kept (video, value curve): state agents pass `blind_env`, the same task without a camera, for the rest."""
    successes, returns, first = [], [], None
    for k in range(episodes):
        ep_env = blind_env if k > 0 and blind_env is not None else env
        obs, info = ep_env.reset(seed=episode_seed(seed, k))
        frames, flags, total, done = [obs.get("image")], [info["success"]], 0.0, False
        while not done:
            obs, r, terminated, truncated, info = ep_env.step(agent.act(agent_obs(obs, obs_mode), eval_mode=True))
            frames.append(obs.get("image"))
            flags.append(info["success"])
            total += r
            done = terminated or truncated
        successes.append(any(flags))
        returns.append(total)
        if k == 0:
            first = (np.stack(frames), np.array(flags))
    values = guide(first[0]) if guide is not None else None
    if video is not None:
        write_eval_video(video, first[0], env.goal_image, values, first[1], env.metadata["render_fps"])
    result = {"success_rate": float(np.mean(successes)), "return": float(np.mean(returns)), "episodes": episodes}
    if values is not None:
        result["value_start"], result["value_end"] = float(values[0]), float(values[-1])
    return result


def run_eval(cfg: EvalConfig | RunConfig) -> dict:
    """`viva-robot eval RUN_DIR` / `viva-robot run --policy RUN_DIR`: the run's latest (or a given) checkpoint, N
    fresh episodes; `run` may put the policy on another backend (the real arm) with its own goal image."""
    run = cfg.run if isinstance(cfg, EvalConfig) else cfg.policy
    path = cfg.checkpoint or latest_checkpoint(run)
    if path is None:
        raise CheckpointError(f"{run}: no checkpoint to evaluate (checkpoints/ is empty or missing)")
    payload = load_train_checkpoint(path)
    tcfg: TrainConfig = payload["config"]
    if isinstance(cfg, RunConfig):
        try:
            tcfg = TrainConfig.model_validate({**tcfg.to_dict(), "backend": cfg.backend, "robot": cfg.robot,
                                               "goal_image": cfg.goal_image or tcfg.goal_image})
        except ValidationError as e:
            raise ConfigError(f"run {run} on backend {cfg.backend}: {e.errors()[0]['msg']}") from None
    device = resolve_device(cfg.device)
    env = make_env(tcfg)
    guide = _guide(tcfg, env, device)
    agent = build_agent(tcfg, env, None, device)  # weights come from the checkpoint
    agent.load_state_dict(payload["agent"])
    step = payload["progress"]["step"]
    name = f"{'eval' if isinstance(cfg, EvalConfig) else 'run_' + tcfg.backend}_cmd_step_{step:08d}_seed{cfg.seed}.mp4"
    video = run / "eval" / name if cfg.video else None  # not training's
    result = evaluate(agent, env, guide, tcfg.obs, cfg.episodes, cfg.seed, video)
    env.close()
    result.update(checkpoint=str(path), step=step, video=str(video) if video else None)
    return result


# -- the loop --------------------------------------------------------------------------------------------------------
def _guide(cfg: TrainConfig, env, device: torch.device) -> ValueGuide | None:
    return guide_from_goal(cfg, env.goal_image, device)


def guide_from_goal(cfg: TrainConfig, goal_image: np.ndarray | None, device: torch.device) -> ValueGuide | None:
    if cfg.value is None:
        return None
    guide = ValueGuide(cfg.value, cfg.image_size, device)
    guide.set_goal(goal_image)
    return guide


def _prepare_run_dir(cfg: TrainConfig) -> dict | None:
    """New run: refuse an existing directory. Resume: the latest checkpoint of the run."""
    if cfg.resume is None:
        rundir.refuse_existing(cfg.out)
        return None
    path = latest_checkpoint(cfg.resume)
    if path is None:
        raise CheckpointError(f"{cfg.resume}: no checkpoint to resume from (the run stopped before its first "
                              f"checkpoint); delete the directory and start again")
    payload = load_train_checkpoint(path)
    if payload["progress"]["step"] >= cfg.steps:
        raise ConfigError(f"{cfg.resume}: the run is already at step {payload['progress']['step']}; pass --steps "
                          f"above that to train further")
    return payload


def start_run(cfg: TrainConfig) -> tuple[torch.device, dict | None, np.random.Generator]:
    """How every training loop begins: torch threads, the device, the checkpoint to resume (checked, or None for a
    new run) and the seeded RNGs."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    resumed = _prepare_run_dir(cfg)
    torch.manual_seed(cfg.seed)
    return device, resumed, np.random.default_rng(cfg.seed)


def restore(resumed: dict, agent: SAC, replay: ReplayBuffer, rng: np.random.Generator) -> dict:
    """A resumed checkpoint's agent, replay buffer and RNG states into this run's; returns its progress."""
    agent.load_state_dict(resumed["agent"])
    replay.load_state_dict(resumed["replay"])
    torch.set_rng_state(resumed["torch_rng"])
    # policy noise and image shifts draw here on a GPU (checkpoints of 2026-11-24 and before do not store it)
    if resumed.get("cuda_rng") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(resumed["cuda_rng"])
    rng.bit_generator.state = json.loads(resumed["numpy_rng"])
    return resumed["progress"]


def open_run(cfg: TrainConfig, state: dict, resumed: dict | None):
    """Lock the run directory (the first write to it; everything before only checks and reads), refuse it when
    another process wrote meanwhile, save the config, open metrics.jsonl and TensorBoard (cut back to the
    checkpoint's step on resume). Returns (lock, metrics file, TensorBoard writer)."""
    def written_meanwhile() -> bool:
        if resumed is None:
            return (cfg.out / "config.json").exists()
        newest = latest_checkpoint(cfg.out)
        return newest is not None and newest.name != f"step_{state['step']:08d}.pt"

    lock = rundir.claim(cfg.out, cfg, written_meanwhile)
    metrics_file, tb = rundir.open_logs(cfg.out, state["step"] if resumed is not None else None)
    return lock, metrics_file, tb


def recorder(metrics_file, tb, state: dict):
    """record(row, kind): one metrics.jsonl line and TensorBoard scalars at the run's current step."""
    def record(row: dict, prefix: str) -> None:
        for k, v in row.items():
            if isinstance(v, (int, float)) and k != "step":
                tb.add_scalar(f"{prefix}/{k}", v, state["step"])
        metrics_file.write(json.dumps({"step": state["step"], "kind": prefix, **row}) + "\n")
        metrics_file.flush()
    return record


def train(cfg: TrainConfig, progress: bool = True) -> Path:
    """One process: act, update, evaluate, checkpoint (the env waits for the updates). `viva-robot train --backend
    ros` runs rl/learner.py's `train_apart` instead: the robot must not wait for a learner."""
    device, resumed, rng = start_run(cfg)
    env = make_env(cfg, camera=cfg.obs != "state" or cfg.value is not None)
    guide = _guide(cfg, env, device)
    agent = build_agent(cfg, env, guide if "critic-init" in cfg.mode else None, device)
    replay = ReplayBuffer(obs_spec(env, cfg.obs), env.action_space.shape[0], cfg.replay_capacity)
    prior = load_prior(cfg, env, guide) if cfg.prior is not None else None
    n_prior = round(cfg.batch_size * cfg.prior_ratio) if prior is not None else 0
    state = {"step": 0, "episode": 0, "next_eval": cfg.eval_every, "next_checkpoint": cfg.checkpoint_every,
             "next_log": cfg.log_every, "wall_s": 0.0}
    if resumed is not None:
        state = restore(resumed, agent, replay, rng)
    lock, metrics_file, tb = open_run(cfg, state, resumed)
    eval_env = blind_env = None
    recent = deque(maxlen=20)  # success of the latest training episodes, for the progress bar
    bar = tqdm(total=cfg.steps, initial=state["step"], disable=not progress, unit="step", dynamic_ncols=True,
               desc=f"train {cfg.task or cfg.backend} {cfg.mode}")
    start, wall0 = time.perf_counter(), state["wall_s"]
    train_metrics: dict = {}
    record = recorder(metrics_file, tb, state)

    try:
        while state["step"] < cfg.steps:
            obs, info = env.reset(seed=episode_seed(cfg.seed, state["episode"]))
            a_obs = agent_obs(obs, cfg.obs)
            replay.start(a_obs)
            v_prev = guide(obs["image"]) if guide is not None else None
            terms: dict[str, float] = {}
            success, done, length = False, False, 0
            while not done:
                step = state["step"]
                if step < cfg.random_steps:
                    action = rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32)
                else:
                    action = agent.act(a_obs)
                obs, r_env, terminated, truncated, info = env.step(action)
                v_next = guide(obs["image"]) if guide is not None else None
                reward, parts = shaped_reward(cfg.mode, r_env, v_prev, v_next, alpha=cfg.viva_alpha, gamma=cfg.gamma,
                                              potential_scale=cfg.potential_scale)
                a_obs = agent_obs(obs, cfg.obs)
                replay.add(action, reward, a_obs, terminated)
                for k, v in parts.items():
                    terms[k] = terms.get(k, 0.0) + v
                v_prev, success, done, length = v_next, success or info["success"], terminated or truncated, length + 1
                if step >= cfg.random_steps:
                    for _ in range(cfg.utd):
                        batch = symmetric_sample(replay, prior, cfg.batch_size, n_prior, rng, cfg.gamma, device)
                        train_metrics = agent.update(batch)
                state["step"] += 1
                bar.update(1)
                if train_metrics and rundir.due(state, "next_log", cfg.log_every):
                    wall = wall0 + time.perf_counter() - start
                    record({**{k: float(v) for k, v in train_metrics.items()}, "wall_s": wall,
                            "steps_per_s": (state["step"]) / max(wall, 1e-9)}, "train")
            state["episode"] += 1
            recent.append(success)
            record({"episode": state["episode"], "length": length, "success": float(success),
                    **{f"reward/{k}": (v / length if k == "value" else v) for k, v in terms.items()}}, "episode")
            bar.set_postfix(episodes=state["episode"], success=f"{np.mean(recent):.2f}")
            finished = state["step"] >= cfg.steps  # the run ends at this episode end
            if rundir.due(state, "next_eval", cfg.eval_every, final=finished):
                eval_env = eval_env or make_env(cfg)
                if cfg.obs == "state" and cfg.eval_episodes > 1:
                    blind_env = blind_env or make_env(cfg, camera=False)
                video = cfg.out / "eval" / f"eval_step_{state['step']:08d}.mp4" if cfg.eval_video else None
                result = evaluate(agent, eval_env, guide, cfg.obs, cfg.eval_episodes, EVAL_SEED, video, blind_env)
                record({k: v for k, v in result.items() if k != "episodes"}, "eval")
                learning_curve(cfg.out)
                bar.write(f"step {state['step']}: eval success {result['success_rate']:.2f}, return {result['return']:.1f}")
            if rundir.due(state, "next_checkpoint", cfg.checkpoint_every, final=finished):
                state["wall_s"] = wall0 + time.perf_counter() - start
                save_train_checkpoint(cfg.out / "checkpoints" / f"step_{state['step']:08d}.pt", cfg=cfg, agent=agent,
                                      replay=replay, state=state, rng=rng)
    finally:
        bar.close()
        metrics_file.close()
        tb.close()
        env.close()
        for e in (eval_env, blind_env):
            if e is not None:
                e.close()
        lock.close()
    return cfg.out
