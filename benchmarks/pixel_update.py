"""One pixel SAC update (the paper's pixel agent: pixels+state, batch 256, 128x128 frames) on a GPU, against the
same update on this process's CPU, in one run.

    python benchmarks/pixel_update.py [--size 128] [--encoder small] [--updates 50] [--cpu-updates 3]

The agent `viva-robot train --obs pixels+state` builds (rl/train.build_agent: DrQ-v2's layout, the image encoder
trained by the critic loss, random shifts in every update, 2 critics, MLPs (256, 256)), fed one random batch held
on the device (the replay buffer's cost is not in it). Timed: `--updates` updates after 3 warm-ups, in fp32,
in bf16 autocast (`--bf16`), and, on CUDA, fp32 and bf16 with the image encoder in channels_last. The baseline
is the fp32 update on the CPU (`--cpu-updates` of them, all cores), so the ratio says what the GPU buys per
update. `--device cpu` runs every variant on the CPU (a smoke run, what the test does).
"""

from __future__ import annotations

import argparse
import time

import torch

from viva_robot.rl.sac import SAC, Batch, ObsEncoder
from viva_robot.value.networks import make_encoder

STATE_DIM, ACTION_DIM, BATCH = 9, 9, 256  # the Franka's joint positions, its 9 joint-velocity commands


def make_agent(encoder: str, size: int, device: torch.device, bf16: bool, channels_last: bool) -> SAC:
    torch.manual_seed(0)
    image = make_encoder(encoder, size)
    if channels_last:
        image = image.to(memory_format=torch.channels_last)
    return SAC(ObsEncoder(image, STATE_DIM), ACTION_DIM, init_temperature=0.1, device=device, bf16=bf16)


def make_batch(size: int, device: torch.device) -> Batch:
    g = torch.Generator().manual_seed(0)

    def obs():
        return {"image": torch.randint(0, 256, (BATCH, size, size, 3), dtype=torch.uint8, generator=g).to(device),
                "state": torch.randn(BATCH, STATE_DIM, generator=g).to(device)}

    return Batch(obs(), torch.rand(BATCH, ACTION_DIM, generator=g).to(device) * 2 - 1,
                 torch.randn(BATCH, generator=g).to(device), obs(), torch.full((BATCH,), 0.99).to(device))


def ms_per_update(agent: SAC, batch: Batch, updates: int) -> float:
    device = agent.device
    for _ in range(3):
        metrics = agent.update(batch)
    sync(device)
    start = time.perf_counter()
    for _ in range(updates):
        metrics = agent.update(batch)
    sync(device)
    elapsed = time.perf_counter() - start
    bad = [k for k, v in metrics.items() if not torch.isfinite(v).all()]
    if bad:
        raise RuntimeError(f"non-finite {bad} after {updates} updates")
    return elapsed / updates * 1e3


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=128, help="frame size (the paper's pixel agent: 128)")
    ap.add_argument("--encoder", default="small", help="the agent's image encoder (train's --encoder)")
    ap.add_argument("--updates", type=int, default=50, help="timed updates per variant on the device")
    ap.add_argument("--cpu-updates", type=int, default=3, help="timed updates of the CPU baseline")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    cpu = torch.device("cpu")
    print(f"pixel SAC update, pixels+state {args.size}x{args.size}, encoder {args.encoder}, batch {BATCH}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""))
    base = ms_per_update(make_agent(args.encoder, args.size, cpu, False, False), make_batch(args.size, cpu),
                         args.cpu_updates)
    print(f"  cpu fp32 (baseline)            : {base:8.2f} ms per update")
    batch = make_batch(args.size, device)
    variants = [("fp32", False, False), ("bf16", True, False)]
    if device.type == "cuda":
        variants += [("fp32 + channels_last", False, True), ("bf16 + channels_last", True, True)]
    figures = {}
    for label, bf16, channels_last in variants:
        figures[label] = ms_per_update(make_agent(args.encoder, args.size, device, bf16, channels_last), batch,
                                       args.updates)
        print(f"  {device.type} {label:26s} : {figures[label]:8.2f} ms per update  {base / figures[label]:6.1f}x the cpu")
    best = min(figures, key=figures.get)
    print(f"pixel_update: {args.size}px {args.encoder} on {device.type}: "
          + ", ".join(f"{k} {v:.2f} ms" for k, v in figures.items())
          + f"; best {best} {base / figures[best]:.1f}x the cpu's fp32 {base:.0f} ms")


if __name__ == "__main__":
    main()
