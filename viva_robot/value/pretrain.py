"""`viva-robot pretrain`: the ICVF training loop, single process or under torchrun (DDP).

Config -> data -> model -> loop. Batch `step` is drawn from rng(seed, rank, step) by a prefetch thread, so
a resumed run sees exactly the batches an uninterrupted one would have when the frames fit in RAM
(`ram_budget_gb`); with a streaming pool the episodes in memory depend on loader timing, so batches do not. Rank 0 writes the run directory:
config.json, checkpoints/step_*.pt, metrics.jsonl, TensorBoard scalars (tb/), value-check plots.

Size: the entry point's one loop with its DDP set-up and divergence checks.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import queue
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from viva_robot import config, rundir
from viva_robot.config import ConfigError
from viva_robot.value.config import PretrainConfig
from viva_robot.data.dataset import DatasetError, VideoDataset
from viva_robot.data.reader import open_frames
from viva_robot.value.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint, load_weights, save_checkpoint
from viva_robot.value.diagnostics import accuracy_by_kind, split_episodes, temporal_order_accuracy, value_check
from viva_robot.value.icvf import ICVFHyper, icvf_step
from viva_robot.value.networks import ICVF, resolve_device
from viva_robot.value.sampling import GoalDistribution, ICVFSampler, Source, check_episode_lengths

log = logging.getLogger(__name__)

RESUMABLE = {"steps", "device", "compile", "ram_budget_gb", "log_every", "eval_every", "checkpoint_every", "resume"}
KEEP_CHECKPOINTS = 3


class TrainingDiverged(RuntimeError):
    pass


def resume_config(run_dir: Path, overrides: dict) -> PretrainConfig:
    """The stored config of a pretrain run; only runtime fields (e.g. more `steps`) may be overridden."""
    return config.resume_config(PretrainConfig, run_dir, overrides, RESUMABLE)


def open_sources(cfg: PretrainConfig, rank: int, progress: bool = False) -> tuple[list[Source], list[tuple[VideoDataset, np.ndarray]]]:
    """Datasets -> training sources and held-out episodes; checks frame sizes and episode lengths."""
    datasets = [VideoDataset(p) for p in cfg.data]
    sizes = {str(ds.path): ds.resolution for ds in datasets}
    for ds in datasets:
        if ds.resolution != (cfg.image_size, cfg.image_size) and not cfg.resize_frames:
            listing = ", ".join(f"{p}: {h}x{w}" for p, (h, w) in sizes.items())
            raise DatasetError(f"{ds.path}: frames are {ds.resolution[0]}x{ds.resolution[1]} but image_size is "
                               f"{cfg.image_size} ({listing}); set resize_frames: true or image_size to match")
    budget = int(cfg.ram_budget_gb * 2**30 / len(datasets))
    sources, heldout = [], []
    for ds in datasets:
        train, held = split_episodes(ds, cfg.seed, cfg.holdout_fraction)
        train = check_episode_lengths(ds, train, cfg.drop_short_episodes)
        if train.size == 0:
            raise DatasetError(f"{ds.path}: no training episodes left (holdout_fraction {cfg.holdout_fraction})")
        size = cfg.image_size if ds.resolution != (cfg.image_size, cfg.image_size) else None  # resize_frames
        sources.append(Source(ds, open_frames(ds, budget, progress=progress, seed=cfg.seed + rank, size=size,
                                                  episodes=train), train))
        heldout.append((ds, held[ds.episode_lengths()[held] >= 2]))
    return sources, heldout


def prefetch(sampler: ICVFSampler, cfg: PretrainConfig, rank: int, start: int, device: torch.device,
             stop: threading.Event) -> queue.Queue:
    """A thread that draws the batches of steps start.. in order into a small queue."""
    q: queue.Queue = queue.Queue(maxsize=3)

    def run():
        try:
            for step in range(start, cfg.steps):
                batch = sampler.sample(cfg.batch_size, np.random.default_rng([cfg.seed, rank, step]))
                tensors = {k: torch.from_numpy(v) for k, v in batch._asdict().items()}
                if device.type == "cuda":
                    tensors = {k: v.pin_memory() for k, v in tensors.items()}
                while not stop.is_set():
                    try:
                        q.put(tensors, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as e:  # surface sampler errors in the training thread
            q.put(e)

    threading.Thread(target=run, daemon=True, name="viva-icvf-sampler").start()
    return q


def pretrain(cfg: PretrainConfig, progress: bool = True) -> Path:
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    resume_from, resumed = _resume_point(cfg, world)  # before the process group: a rank that refuses waits on none
    device = resolve_device(cfg.device)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return _train(cfg, rank, world, device, progress and rank == 0, resume_from, resumed)
    finally:
        if world > 1:
            dist.destroy_process_group()


def _resume_point(cfg: PretrainConfig, world: int) -> tuple[Path | None, dict | None]:
    """(the checkpoint a resumed run continues from, its payload), read once and checked: it exists, the run writes to
    its own directory, has steps left, and keeps the number of processes it was trained by (older checkpoints do
    not say). (None, None) for a new run."""
    if cfg.resume is None:
        return None, None
    resume_from = latest_checkpoint(cfg.resume)
    if resume_from is None:
        raise CheckpointError(f"{cfg.resume}: no checkpoint to resume from (checkpoints/ is empty)")
    if cfg.resume.resolve() != cfg.out.resolve():
        raise ConfigError(f"{cfg.resume}: a resumed run writes to its own directory, but out is {cfg.out}; "
                          f"resume with `--resume {cfg.resume}` alone")
    resumed = load_checkpoint(resume_from)
    if resumed["step"] >= cfg.steps:
        raise ConfigError(f"{cfg.resume}: the run is already at step {resumed['step']}; pass --steps above that to "
                          f"train further")
    was = resumed.get("world_size", world)
    if was != world:
        raise ConfigError(f"{resume_from}: the run was trained by {was} process{'es' if was > 1 else ''} (WORLD_SIZE) "
                          f"and this resume has {world}: every step's batch would change (batch_size per process x "
                          f"processes) and the run would no longer continue as it started; resume it with "
                          f"{f'torchrun --nproc-per-node {was}' if was > 1 else 'a single process (no torchrun)'}")
    return resume_from, resumed


def _train(cfg: PretrainConfig, rank: int, world: int, device: torch.device, progress: bool,
           resume_from: Path | None, resumed: dict | None) -> Path:
    run_start = time.perf_counter()  # metrics' wall_s: seconds since this process started (data loading included)
    torch.manual_seed(cfg.seed)
    if cfg.resume is None:  # every rank checks (same answer everywhere), so no rank waits for one that failed
        rundir.refuse_existing(cfg.out)
    initial = load_checkpoint(cfg.init) if (cfg.init and not resumed) else None
    sources, heldout = open_sources(cfg, rank, progress)

    model = ICVF.from_config(cfg)
    if initial is not None:
        load_weights(model, initial["model"], cfg.init)
        log.info("initialised from %s (step %d of its run)", cfg.init, initial["step"])
    if resumed is not None:
        load_weights(model, resumed["model"], resume_from)
    target = copy.deepcopy(model).requires_grad_(False)
    if resumed is not None:
        load_weights(target, resumed["target"], resume_from, "target")
    if device.type == "cuda":  # convolutions run fastest channels-last; inputs already have those strides
        model, target = (m.to(device, memory_format=torch.channels_last) for m in (model, target))
    # only now: bad data or a checkpoint that does not fit leaves no run directory behind
    lock = rundir.claim(cfg.out, cfg, lambda: cfg.resume is None and (cfg.out / "config.json").exists()) \
        if rank == 0 else None
    if cfg.compile:
        model.compile_encoder()
        target.compile_encoder()
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if world > 1 else model
    if world > 1 and resumed is None:  # DDP broadcast rank 0's weights; start the target from them too
        target.load_state_dict(model.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=cfg.adam_eps,
                                 fused=device.type == "cuda", foreach=device.type != "cuda")
    if resumed is not None:
        optimizer.load_state_dict(resumed["optimizer"])
    start = resumed["step"] if resumed else 0

    hp = ICVFHyper(cfg.gamma, cfg.expectile, cfg.target_tau)
    dist_ = GoalDistribution(cfg.p_curr, cfg.p_traj, cfg.p_rand, cfg.p_samegoal, cfg.intent_same_episode)
    weights = cfg.data_weights or [float(s.dataset.episode_lengths()[s.usable].sum()) for s in sources]
    sampler = ICVFSampler(sources, list(weights), dist_, cfg.crop_pad)
    stop = threading.Event()
    batches = prefetch(sampler, cfg, rank, start, device, stop)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if (device.type == "cuda" and cfg.bf16) else nullcontext()

    metrics_file, tb = rundir.open_logs(cfg.out, start) if rank == 0 else (None, None)
    bar = tqdm(total=cfg.steps, initial=start, desc="pretrain", unit="step", disable=not progress, dynamic_ncols=True)
    last_good, last_finite = resume_from, start  # last checkpoint written; last step known to be finite
    window_start, waited, sums, n = time.perf_counter(), 0.0, {}, 0
    try:
        for step in range(start + 1, cfg.steps + 1):
            t0 = time.perf_counter()
            item = batches.get()
            waited += time.perf_counter() - t0
            if isinstance(item, BaseException):
                raise item
            b = {k: v.to(device, non_blocking=True) for k, v in item.items()}
            metrics = icvf_step(ddp, target, optimizer, b, hp, autocast, online=model)
            for k, v in metrics.items():  # accumulated on device in float32: no host sync per step
                sums[k] = sums.get(k, 0.0) + v.float()
            n += 1
            bar.update(1)

            if step % cfg.log_every == 0 or step == cfg.steps:
                if world > 1:  # every rank decides on the same (summed) numbers, so none is left waiting
                    packed = torch.stack([sums[k].float() for k in sorted(sums)])
                    dist.all_reduce(packed)
                    sums = dict(zip(sorted(sums), packed / world))
                means = {k: float(v) / n for k, v in sums.items()}
                if not math.isfinite(means["loss"]):
                    raise _diverged(f"loss became {means['loss']}", last_finite, step, last_good)
                last_finite = step
                elapsed = time.perf_counter() - window_start
                means.update(wall_s=time.perf_counter() - run_start,
                             samples_per_s=n * cfg.batch_size * world / elapsed, data_wait_fraction=waited / elapsed,
                             lr=optimizer.param_groups[0]["lr"])
                if rank == 0:
                    _log(tb, metrics_file, step, means)
                    bar.set_postfix(loss=f"{means['loss']:.3f}", samples_s=f"{means['samples_per_s']:.0f}")
                window_start, waited, sums, n = time.perf_counter(), 0.0, {}, 0

            if rank == 0 and (step % cfg.eval_every == 0 or step == cfg.steps):
                _evaluate(model, heldout, device, tb, metrics_file, step, time.perf_counter() - run_start, cfg.image_size)

            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                # the loss is this rank's; under DDP it is summed over ranks so every rank takes the same branch
                finite = torch.stack([torch.isfinite(metrics["loss"]).all()] + [torch.isfinite(p).all() for p in model.parameters()]).all()
                if world > 1:
                    flag = finite.float()
                    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
                    finite = flag > 0
                if not finite:
                    raise _diverged("loss or weights became non-finite", last_finite, step, last_good)
                last_finite = step
                if rank == 0:
                    last_good = save_checkpoint(cfg.out / "checkpoints" / f"step_{step:07d}.pt", step=step, config=cfg,
                                                model=model, target=target, optimizer=optimizer, world_size=world)
                    rundir.rotate(cfg.out / "checkpoints", KEEP_CHECKPOINTS)
    finally:
        stop.set()
        bar.close()
        if tb is not None:
            tb.close()
            metrics_file.close()

    if world > 1:
        _check_replicas(model, cfg.out, rank, world)
    if rank == 0:
        save_checkpoint(cfg.out / "value.pt", step=cfg.steps, config=cfg, model=model)
        ds, held = heldout[0]
        if held.size:
            summary = value_check(model.eval(), ds, held[:20], cfg.out / "value_check", device, cfg.image_size)
            log.info("temporal-order accuracy on %d held-out episodes of %s: %.3f", min(20, held.size), ds.path.name,
                     summary["temporal_order_accuracy"])
        lock.close()
    return cfg.out


def _log(tb, metrics_file, step: int, scalars: dict) -> None:
    for k, v in scalars.items():
        tb.add_scalar(f"train/{k}", v, step)
    metrics_file.write(json.dumps({"step": step, **scalars}) + "\n")
    metrics_file.flush()


def _diverged(what: str, last_finite: int, step: int, last_good: Path | None) -> TrainingDiverged:
    where = f"{last_good} is the last good checkpoint" if last_good else "no checkpoint was written before"
    return TrainingDiverged(f"{what} between steps {last_finite + 1} and {step}; {where}; try a lower lr")


def _evaluate(model: ICVF, heldout, device, tb, metrics_file, step: int, wall_s: float, size: int) -> None:
    model.eval()
    scalars = {}
    for ds, held in heldout:
        if held.size:
            acc, curves = temporal_order_accuracy(model, ds, held[:20], device, size)
            scalars[f"temporal_order_accuracy/{ds.path.stem}"] = acc
            kinds = accuracy_by_kind(ds, held[:20], curves)
            if len(kinds) > 1:
                scalars.update({f"temporal_order_accuracy/{ds.path.stem}/{k}": v for k, v in kinds.items()})
    model.train()
    if scalars:
        for k, v in scalars.items():
            tb.add_scalar(f"eval/{k}", v, step)
        metrics_file.write(json.dumps({"step": step, "wall_s": wall_s, **scalars}) + "\n")
        metrics_file.flush()


def _check_replicas(model: torch.nn.Module, out: Path, rank: int, world: int) -> None:
    """All ranks must hold the same weights after training (DDP's contract); rank 0 records the digests."""
    flat = torch.cat([p.detach().double().flatten().cpu() for p in model.parameters()])
    digest = torch.tensor([flat.sum().item(), flat.abs().sum().item(), (flat * torch.arange(len(flat))).sum().item()],
                          dtype=torch.float64)
    gathered = [torch.zeros_like(digest) for _ in range(world)]
    dist.all_gather(gathered, digest)
    if rank == 0:
        (out / "ddp_check.json").write_text(json.dumps({"ranks": [g.tolist() for g in gathered]}, indent=2))
    if any(not torch.equal(g, gathered[0]) for g in gathered):
        raise RuntimeError(f"DDP replicas diverged: weight digests differ across ranks ({out / 'ddp_check.json'})")
