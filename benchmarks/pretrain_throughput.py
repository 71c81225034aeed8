"""ICVF pretraining throughput: the batch sampler vs the training step it feeds, and the two together.

    python benchmarks/pretrain_throughput.py [--rounds 3] [--steps 5] [--e2e-steps 20]

On a synthetic 64x64 dataset loaded with RamFrames, measures (batch 256; a sample is the frames s, g, z, s'
plus rewards):
- the sampler alone (ICVFSampler as `pretrain` builds it: default goal distribution, crop_pad 4);
- the training step alone on one pre-drawn batch (small encoder, monolithic head: icvf_loss, backward, Adam,
  Polyak update), eager (the baseline, measured in the same run) and with the encoders compiled;
- the two together: `pretrain`'s prefetch thread feeding the compiled step, and the share of time the step
  waited for data.
Targets: the sampler delivers >= 10x what the step consumes; >= 300 trained samples/s on a 2-core CPU.

With CUDA, also ResNet-50 at 128x128: fp32, bf16 autocast + channels_last, bf16 + channels_last + compile,
and the prefetch thread feeding the last.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from viva_robot.value.config import PretrainConfig
from viva_robot.data.dataset import DatasetWriter, Episode, VideoDataset
from viva_robot.data.reader import RamFrames
from viva_robot.value.icvf import ICVFHyper, batch_to_tensors, icvf_step
from viva_robot.value.networks import ICVF
from viva_robot.value.pretrain import prefetch
from viva_robot.value.sampling import GoalDistribution, ICVFSampler, Source, check_episode_lengths

BATCH = 256
SEED = 0
HP = ICVFHyper()


def make_dataset(path: Path, episodes: int, frames: int, size: int) -> VideoDataset:
    rng = np.random.default_rng(0)
    w = DatasetWriter(path, source="benchmark", fps=10, resolution=(size, size))
    for k in range(episodes):
        # 8-pixel colour blocks drifting by a random walk, plus pixel noise: neighbouring frames look alike
        blocks = rng.integers(0, 248, (size // 8, size // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        shifts = np.cumsum(rng.integers(-1, 2, (frames, 2)), axis=0)
        rgb = np.stack([np.roll(blocks, tuple(s), axis=(0, 1)) for s in shifts])
        w.append(Episode(rgb=rgb + rng.integers(0, 8, rgb.shape, dtype=np.uint8), key=f"e{k}"))
    return VideoDataset(path)


def make_sampler(ds: VideoDataset) -> ICVFSampler:
    episodes = check_episode_lengths(ds, np.arange(ds.num_episodes), drop_short=False)
    return ICVFSampler([Source(ds, RamFrames(ds), episodes)], [1.0], GoalDistribution(), crop_pad=4)


def interleaved_rates(blocks: dict[str, tuple], rounds: int) -> dict[str, tuple[float, float]]:
    """{name: (best, median) samples/s} for {name: (run_block, samples per block)}, timing one block of each
    per round. Interleaving exposes every variant to the same load on a shared machine; the best block is the
    least disturbed one, the median shows how much disturbance there was."""
    rates: dict[str, list[float]] = {name: [] for name in blocks}
    for _ in range(rounds):
        for name, (run_block, samples) in blocks.items():
            start = time.perf_counter()
            run_block()
            rates[name].append(samples / (time.perf_counter() - start))
    return {name: (max(r), float(np.median(r))) for name, r in rates.items()}


def sampler_block(sampler: ICVFSampler, batches: int):
    steps = itertools.count(1)

    def block():
        for _ in range(batches):
            sampler.sample(BATCH, np.random.default_rng([SEED, 0, next(steps)]))

    return block, batches * BATCH


def build(encoder: str, image_size: int, device: torch.device, channels_last: bool):
    """Model, target and optimiser as `pretrain` makes them."""
    torch.manual_seed(SEED)
    model = ICVF(encoder, "monolithic", image_size)
    target = copy.deepcopy(model).requires_grad_(False)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model, target = (m.to(device, memory_format=layout) for m in (model, target))
    cuda = device.type == "cuda"
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4, fused=cuda, foreach=not cuda)
    return model, target, optimizer


def train_step(parts, b: dict[str, torch.Tensor], autocast) -> torch.Tensor:
    """The pretraining loop's own step (`icvf_step`), so the benchmark times what `pretrain` runs."""
    model, target, optimizer = parts
    return icvf_step(model, target, optimizer, b, HP, autocast)["loss"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warm_up(parts, b, device: torch.device, autocast) -> float:
    """Seconds for the first 2 steps (a compiled encoder compiles in the first)."""
    sync(device)
    start = time.perf_counter()
    for _ in range(2):
        train_step(parts, b, autocast)
    sync(device)
    return time.perf_counter() - start


def step_block(parts, b, steps: int, device: torch.device, autocast):
    def block():
        for _ in range(steps):
            loss = train_step(parts, b, autocast)
        sync(device)
        if not torch.isfinite(loss):
            raise RuntimeError(f"loss became {float(loss)} while benchmarking")

    return block, steps * BATCH


def end_to_end(sampler: ICVFSampler, ds: VideoDataset, parts, steps: int, device: torch.device, autocast,
               tmp: Path) -> tuple[float, float]:
    """`pretrain`'s prefetch thread feeding the (warm) step: (samples/s, fraction of time waiting for data).
    The first batch is trained on untimed, so the queue starts as `pretrain`'s does after its first step."""
    cfg = PretrainConfig(out=tmp / "run", data=(ds.path,), steps=steps + 1, batch_size=BATCH, seed=SEED)
    stop = threading.Event()
    batches = prefetch(sampler, cfg, 0, 0, device, stop)
    try:
        def next_batch():
            item = batches.get()
            if isinstance(item, BaseException):
                raise item
            return {k: v.to(device, non_blocking=True) for k, v in item.items()}

        train_step(parts, next_batch(), autocast)
        sync(device)
        waited, start = 0.0, time.perf_counter()
        for _ in range(steps):
            t0 = time.perf_counter()
            b = next_batch()
            waited += time.perf_counter() - t0
            train_step(parts, b, autocast)
        sync(device)
        elapsed = time.perf_counter() - start
    finally:
        stop.set()
    return steps * BATCH / elapsed, waited / elapsed


def cpu_section(args, tmp: Path) -> str:
    device = torch.device("cpu")
    t0 = time.perf_counter()
    ds = make_dataset(tmp / "bench64.zarr", args.episodes, args.frames, 64)
    sampler = make_sampler(ds)
    print(f"dataset: {ds.num_frames} frames 64x64 in {ds.num_episodes} episodes (built and loaded in "
          f"{time.perf_counter() - t0:.1f} s); torch {torch.__version__}, {torch.get_num_threads()} threads")

    b = batch_to_tensors(sampler.sample(BATCH, np.random.default_rng([SEED, 0, 0])), device)
    eager = build("small", 64, device, channels_last=False)
    compiled = build("small", 64, device, channels_last=False)
    for m in compiled[:2]:
        m.compile_encoder()
    warm = warm_up(compiled, b, device, nullcontext())
    warm_up(eager, b, device, nullcontext())
    print(f"compile warm-up: {warm:.1f} s for the first 2 compiled steps (not timed below)")
    r = interleaved_rates({"sampler": sampler_block(sampler, args.sampler_batches),
                           "eager": step_block(eager, b, args.eager_steps, device, nullcontext()),
                           "compiled": step_block(compiled, b, args.steps, device, nullcontext())}, args.rounds)
    (sampled, sampled_med), (eager_rate, eager_med), (step, step_med) = r["sampler"], r["eager"], r["compiled"]
    print(f"best (median) of {args.rounds} interleaved rounds, batch {BATCH}:")
    print(f"  sampler alone             : {sampled:7.0f} ({sampled_med:5.0f}) samples/s  "
          f"{BATCH / sampled * 1e3:5.1f} ms per batch")
    print(f"  step, eager (baseline)    : {eager_rate:7.0f} ({eager_med:5.0f}) samples/s  "
          f"{BATCH / eager_rate * 1e3:5.0f} ms per step")
    print(f"  step, compiled encoders   : {step:7.0f} ({step_med:5.0f}) samples/s  "
          f"{BATCH / step * 1e3:5.0f} ms per step  {step / eager_rate:.2f}x eager")
    ratio = sampled / step
    print(f"  sampler / compiled step   : {ratio:7.1f}x  (target >= 10x)")

    e2e, wait = end_to_end(sampler, ds, compiled, args.e2e_steps, device, nullcontext(), tmp)
    print(f"prefetch thread -> compiled step, {args.e2e_steps} steps: {e2e:.0f} samples/s ({e2e / step_med:.2f}x the "
          f"step's median alone), waited for data {wait:.0%} of the time")
    verdict = ">=" if step >= 300 else "< (MISSED)"
    return (f"pretrain_throughput: sampler {sampled:.0f} samples/s, step {step:.0f} samples/s (compiled; "
            f"eager {eager_rate:.0f}), ratio {ratio:.0f}x (target >= 10x), end-to-end {e2e:.0f} samples/s "
            f"(data wait {wait:.0%}), headline {step:.0f} {verdict} 300")


def gpu_section(args, tmp: Path, device: torch.device, encoder: str = "resnet50", size: int = 128) -> str:
    """ResNet-50 at 128x128; `encoder` and `size` are parameters so this path can be smoke-run on a CPU.
    Variants run one after another (a GPU is not shared like the CPU), each freed before the next."""
    t0 = time.perf_counter()
    ds = make_dataset(tmp / f"bench{size}.zarr", args.gpu_episodes, args.frames, size)
    sampler = make_sampler(ds)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"\n{encoder} at {size}x{size} on {name}, batch {BATCH}: dataset of {ds.num_frames} frames (built in "
          f"{time.perf_counter() - t0:.1f} s)")
    sampled, _ = interleaved_rates({"sampler": sampler_block(sampler, args.sampler_batches)}, 1)["sampler"]
    print(f"  sampler alone                  : {sampled:7.0f} samples/s")
    b = batch_to_tensors(sampler.sample(BATCH, np.random.default_rng([SEED, 0, 0])), device)
    bf16 = torch.autocast(device.type, dtype=torch.bfloat16)
    variants = [("fp32", False, False, nullcontext()), ("bf16 + channels_last", True, False, bf16),
                ("bf16 + channels_last + compile", True, True, bf16)][:3 if args.gpu_compile else 2]
    rates, parts = {}, None
    for label, channels_last, compile_, autocast in variants:
        parts = None  # free the previous variant before building the next
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        parts = build(encoder, size, device, channels_last)
        if compile_:
            for m in parts[:2]:
                m.compile_encoder()
        try:
            warm = warm_up(parts, b, device, autocast)
            block = step_block(parts, b, args.gpu_steps, device, autocast)
            rates[label], _ = interleaved_rates({label: block}, 1)[label]
        except torch.cuda.OutOfMemoryError as e:
            print(f"  {label:30s}: out of GPU memory ({str(e).splitlines()[0]})")
            parts = None
            continue
        peak = f", peak {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB" if device.type == "cuda" else ""
        print(f"  {label:30s}: {rates[label]:7.0f} samples/s  {BATCH / rates[label] * 1e3:5.0f} ms per step  "
              f"(warm-up {warm:.1f} s{peak})")
    last = variants[-1][0]
    if last not in rates:
        return f"pretrain_throughput_gpu: {last} did not run"
    e2e, wait = end_to_end(sampler, ds, parts, args.gpu_e2e_steps, device, bf16, tmp)
    print(f"  prefetch thread -> {last}, {args.gpu_e2e_steps} steps: {e2e:.0f} samples/s ({e2e / rates[last]:.2f}x the "
          f"step alone), waited for data {wait:.0%} of the time; sampler / step {sampled / rates[last]:.1f}x")
    return (f"pretrain_throughput_gpu: {encoder} {size}px on {name}: " +
            ", ".join(f"{k} {v:.0f}" for k, v in rates.items()) +
            f" samples/s; end-to-end {e2e:.0f} samples/s (data wait {wait:.0%})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--frames", type=int, default=100, help="frames per episode")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds on the CPU")
    ap.add_argument("--sampler-batches", type=int, default=30, help="batches per timed sampler block")
    ap.add_argument("--eager-steps", type=int, default=3, help="steps per timed eager block")
    ap.add_argument("--steps", type=int, default=5, help="steps per timed compiled block")
    ap.add_argument("--e2e-steps", type=int, default=20)
    ap.add_argument("--gpu-episodes", type=int, default=50)
    ap.add_argument("--gpu-steps", type=int, default=20)
    ap.add_argument("--gpu-e2e-steps", type=int, default=30)
    ap.add_argument("--gpu-only", action="store_true", help="skip the CPU section (benchmarks/gpu.sh on a lent GPU)")
    ap.add_argument("--gpu-device", default="cuda", help="cpu: run the GPU section's path on a CPU (a smoke run)")
    ap.add_argument("--gpu-encoder", default="resnet50", help="the GPU section's encoder (small: a smoke run)")
    ap.add_argument("--gpu-size", type=int, default=128, help="the GPU section's frame size")
    ap.add_argument("--gpu-compile", action=argparse.BooleanOptionalAction, default=True,
                    help="time the compiled variant too (its CPU compile, a smoke run's, takes ~45 s)")
    ap.add_argument("--write-dataset", type=Path, help="only write the GPU section's synthetic dataset (--gpu-episodes "
                    "x --frames at --gpu-size) to this path, for benchmarks/gpu.sh's torchrun step")
    args = ap.parse_args()
    if args.write_dataset:
        ds = make_dataset(args.write_dataset, args.gpu_episodes, args.frames, args.gpu_size)
        print(f"dataset: {ds.num_episodes} episodes, {ds.num_frames} frames {args.gpu_size}x{args.gpu_size}")
        return
    torch.set_num_threads(os.cpu_count())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        summary = "" if args.gpu_only else cpu_section(args, Path(tmp))
        if torch.cuda.is_available() or args.gpu_device != "cuda":
            gpu = gpu_section(args, Path(tmp), torch.device(args.gpu_device), args.gpu_encoder, args.gpu_size)
            summary = f"{summary}\n{gpu}".strip()
        else:
            print("\nno CUDA device: skipping the ResNet-50 128x128 GPU section")
    print(f"(total {time.perf_counter() - start:.0f} s)")
    print(summary)


if __name__ == "__main__":
    main()
