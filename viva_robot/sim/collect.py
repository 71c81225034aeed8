"""`viva-robot collect`: film scripted goal-reaching attempts and undirected play in a MuJoCo scene.

Episode k is generated entirely from seed + k (episode kind, noise level, env reset, policy), and is keyed
by k: a killed collection resumes where it stopped and produces exactly the dataset an uninterrupted run
would have. True task success is recorded per frame for evaluation only (pretraining never reads it).
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import numpy as np
from tqdm import tqdm

from viva_robot.sim.config import CollectConfig
from viva_robot.data.dataset import DatasetError, DatasetWriter, Episode, VideoDataset
from viva_robot.sim.render import SceneRenderer
from viva_robot.sim.tasks import get_task, make_env, make_policy

log = logging.getLogger(__name__)

FRAMES_AFTER_MILESTONE = 10  # keep a short "goal reached" tail, then end the attempt
RESUMABLE_FIELDS = ("episodes",)  # the only config fields that may change when a collection is resumed


STOP_SHORT = (0.3, 1.0)  # failure_only: an attempt at the task ends this far (uniform) of the way to its success


def plan_episode(cfg: CollectConfig, k: int) -> tuple[str, str, str, float, np.random.Generator]:
    """(key, kind, attempted task, noise, rng) of episode k, a pure function of the config and k."""
    rng = np.random.default_rng([cfg.seed, k])
    draw = rng.random()
    kind = "scripted" if draw < cfg.scripted_fraction else "play"
    noise = float(rng.choice(cfg.noise_levels)) if kind == "scripted" else 0.0
    attempted = cfg.env
    if kind == "play" and draw < cfg.scripted_fraction + cfg.off_task_fraction:  # draws only when off-task is on
        kind, attempted = "offtask", cfg.off_task[int(rng.integers(len(cfg.off_task)))]
        noise = float(rng.choice(cfg.noise_levels))
    what = f"offtask={attempted}" if kind == "offtask" else kind
    return f"ep{k:05d}:{what}:noise={noise:g}", kind, attempted, noise, rng


def record_episode(env, renderer: SceneRenderer, task_name: str, kind: str, noise: float, rng, seed: int,
                   max_steps: int, frame_skip: int, key: str, attempted: str | None = None) -> Episode:
    """Run one episode and return its frames, env observations, actions (NaN after the last) and success.

    `attempted` (default: the task) is the task the scripted policy goes for: another task of the scene for
    off-task attempts; `success` is always the filmed task's. The episode ends at the horizon, or
    FRAMES_AFTER_MILESTONE frames after the attempt's milestone (kitchen: the attempted task's success; door:
    handle unlatched): a long static tail would only repeat the last frame.
    """
    model, data = env.unwrapped.model, env.unwrapped.data
    attempted = attempted or task_name
    is_success, milestone = get_task(task_name).success, get_task(attempted).milestone
    policy = make_policy(attempted, "play" if kind == "play" else "scripted", rng, noise)
    obs, _ = env.reset(seed=seed)
    frames, states, actions, success = [], [], [], []
    reached_at = None
    for t in range(max_steps + 1):
        if t % frame_skip == 0:
            frames.append(renderer.render(data))
            states.append(_flat_obs(obs))
            success.append(is_success(model, data))
        done = t == max_steps or (reached_at is not None and t - reached_at >= FRAMES_AFTER_MILESTONE * frame_skip)
        if done:
            break
        action = np.asarray(policy(model, data), dtype=np.float32)
        if t % frame_skip == 0:
            actions.append(action)
        obs, _, terminated, truncated, _ = env.step(action)
        if reached_at is None and milestone(model, data):
            reached_at = t + 1
        if terminated:  # the gymnasium env ended the episode; record the final frame and stop
            frames.append(renderer.render(data))
            states.append(_flat_obs(obs))
            success.append(is_success(model, data))
            actions.append(action)
            break
    actions = actions[: len(frames) - 1] + [np.full_like(actions[0], np.nan)]
    return Episode(
        rgb=np.stack(frames), key=key, state=np.stack(states).astype(np.float32),
        action=np.stack(actions).astype(np.float32), success=np.asarray(success, dtype=bool),
    )


def before_success(ep: Episode, kind: str, rng: np.random.Generator) -> Episode | None:
    """failure_only: the episode up to its first success frame (exclusive); an attempt at the task stops a
    random STOP_SHORT fraction of the way there (stopped short; near misses when close to 1). None if fewer
    than 2 frames remain (an attempt that succeeds at once)."""
    hits = np.flatnonzero(ep.success)
    end = int(hits[0]) if hits.size else len(ep.rgb)
    if kind == "scripted" and hits.size:
        end = int(np.ceil(end * rng.uniform(*STOP_SHORT)))
    if end < 2:
        return None
    action = ep.action[:end].copy()
    action[-1] = np.nan  # the episode's last frame takes no action
    return Episode(rgb=ep.rgb[:end], key=ep.key, state=ep.state[:end], action=action, success=ep.success[:end])


def _flat_obs(obs) -> np.ndarray:
    # a copy: the kitchen env hands out the same observation buffer every step
    return np.array(obs["observation"] if isinstance(obs, dict) else obs, dtype=np.float32).ravel()


def check_resume(cfg: CollectConfig) -> None:
    """An existing output must have been made by the same collection (only `episodes` may grow)."""
    if not cfg.out.exists():
        return
    stored = VideoDataset(cfg.out).attrs.get("config", {})
    mine = cfg.to_dict()
    for field in mine:
        if field in RESUMABLE_FIELDS or field == "out":
            continue
        default = CollectConfig.model_fields[field].default  # a field added since: it had its default then
        before = stored.get(field, list(default) if isinstance(default, tuple) else default)
        if before != mine[field]:
            raise DatasetError(
                f"{cfg.out}: existing dataset was collected with {field}={before!r}, this run asks for "
                f"{field}={mine[field]!r}; resume with the same settings or choose another output"
            )


def collect(cfg: CollectConfig, progress: bool = True) -> dict:
    task = get_task(cfg.env)
    check_resume(cfg)
    env = make_env(task)
    max_steps = cfg.max_steps or task.horizon
    state_dim = _flat_obs(env.reset(seed=cfg.seed)[0]).shape[0]
    writer = DatasetWriter(
        cfg.out, source=f"sim:{cfg.env}", fps=1.0 / (task.control_dt * cfg.frame_skip),
        resolution=(cfg.size, cfg.size), state_dim=state_dim, action_dim=env.action_space.shape[0],
        with_success=True, attrs={"config": cfg.to_dict(), "task": cfg.env, "gym_id": task.gym_id,
                                  "failure_only": cfg.failure_only,
                                  "episode_end": f"horizon, or {FRAMES_AFTER_MILESTONE} frames after the attempt's "
                                                 f"milestone ({task.milestone.__name__})"},
    )
    kinds, successes, frames = Counter(), Counter(), 0
    start = time.perf_counter()
    bar = tqdm(range(cfg.episodes), desc=f"collect {cfg.env}", unit="ep", disable=not progress)
    with SceneRenderer(env.unwrapped.model, cfg.size, task.camera) as renderer:
        for k in bar:
            key, kind, attempted, noise, rng = plan_episode(cfg, k)
            if key in writer.completed_keys:
                continue
            ep = record_episode(env, renderer, cfg.env, kind, noise, rng, cfg.seed + k, max_steps, cfg.frame_skip,
                                key, attempted)
            if cfg.failure_only:
                ep = before_success(ep, kind, rng)
                if ep is None:
                    log.info("episode %d succeeded within its first frame: not filmed (failure_only)", k)
                    continue
            writer.append(ep)
            kinds[kind] += 1
            successes[kind] += int(ep.success.any())
            frames += len(ep.rgb)
            bar.set_postfix(frames_per_s=f"{frames / (time.perf_counter() - start):.0f}",
                            success=f"{sum(successes.values())}/{sum(kinds.values())}")
    env.close()
    elapsed = time.perf_counter() - start
    return {
        "out": str(cfg.out), "episodes_added": sum(kinds.values()), "frames_added": frames,
        "frames_per_s": frames / elapsed if elapsed > 0 else 0.0,
        "by_kind": {k: {"episodes": kinds[k], "with_success": successes[k]} for k in kinds},
        "episodes_total": writer.num_episodes,
    }
