"""How high can the temporal-order accuracy of a dataset's held-out episodes go? The check of `value-check`
(fraction of frame pairs i < j with V(s_i, g) < V(s_j, g), g = the episode's last frame) for reference
"values" that need no learning, next to the learned one, per episode kind:

    python experiments/toa_ceiling.py runs/door data/door.zarr

- pixels: V = -mean squared pixel difference to g;
- state: V = -distance to g's simulator state (every dimension scaled to unit spread over these episodes);
- time: V = t, the order itself (1.0 by construction; shown as the scale's top).

A value is a function of (s, g) alone. Where an episode revisits states it was in earlier (undirected play
wanders around the handle and stops anywhere), no such function orders its frames by time, so the state
distance, which knows where the hand and door really are, is a practical ceiling for that kind.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from viva_robot.data.dataset import VideoDataset
from viva_robot.value.diagnostics import (
    accuracy_by_kind, pixel_distance_curves, pooled_accuracy, split_episodes,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="pretrain run directory (its config picks the held-out episodes; its "
                                           "value_check/value_check.json, if there, gives the learned row)")
    ap.add_argument("data", type=Path, help="the run's dataset (collected with states)")
    args = ap.parse_args()
    cfg = json.loads((args.run / "config.json").read_text())
    ds = VideoDataset(args.data)
    if not ds.has("state"):
        raise SystemExit(f"{args.data}: no simulator states stored (collect writes them; imported video has none)")
    _, held = split_episodes(ds, cfg["seed"], cfg["holdout_fraction"])
    states = [ds.load_episode(k).state.astype(np.float64) for k in held]
    scale = np.concatenate(states).std(0) + 1e-6
    rows = {
        "pixels": pixel_distance_curves(ds, held),
        "state": [-np.linalg.norm((s - s[-1]) / scale, axis=1) for s in states],
        "time": [np.arange(len(s), dtype=float) for s in states],
    }
    learned = args.run / "value_check" / "value_check.json"
    print(f"{args.data}: {len(held)} held-out episodes of {ds.num_episodes}")
    print("| V | all | " + " | ".join(sorted(accuracy_by_kind(ds, held, rows["time"]))) + " |")
    if learned.exists():
        check = json.loads(learned.read_text())
        if check["episodes"] == [int(k) for k in held]:
            kinds = check["accuracy_by_kind"]
            print(f"| learned ({learned}) | {check['temporal_order_accuracy']:.3f} | "
                  + " | ".join(f"{kinds[k]:.3f}" for k in sorted(kinds)) + " |")
    for name, curves in rows.items():
        kinds = accuracy_by_kind(ds, held, curves)
        print(f"| {name} | {pooled_accuracy(curves):.3f} | " + " | ".join(f"{kinds[k]:.3f}" for k in sorted(kinds)) + " |")


if __name__ == "__main__":
    main()
