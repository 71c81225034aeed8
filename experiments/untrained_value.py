"""Temporal-order accuracy of an *untrained* value with a run's architecture, on the run's held-out episodes.

    python experiments/untrained_value.py RUN_DIR DATA [--seeds 3]

The reference point for `value-check`: a value that has learned nothing orders frames at chance (~0.5).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from viva_robot.value.config import PretrainConfig
from viva_robot.data.dataset import VideoDataset
from viva_robot.value.diagnostics import accuracy_by_kind, split_episodes, temporal_order_accuracy
from viva_robot.value.networks import ICVF


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    cfg = PretrainConfig.model_validate(json.loads((args.run_dir / "config.json").read_text()))
    ds = VideoDataset(args.data)
    _, held = split_episodes(ds, cfg.seed, cfg.holdout_fraction)
    held = held[ds.episode_lengths()[held] >= 2][:20]
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        model = ICVF.from_config(cfg).eval()
        acc, curves = temporal_order_accuracy(model, ds, held, torch.device("cpu"))
        kinds = ", ".join(f"{k} {v:.3f}" for k, v in accuracy_by_kind(ds, held, curves).items())
        print(f"untrained (init seed {seed}): temporal-order accuracy {acc:.3f} on {len(held)} episodes ({kinds}); "
              f"value spread {np.ptp(np.concatenate(curves)):.2e}")


if __name__ == "__main__":
    main()
