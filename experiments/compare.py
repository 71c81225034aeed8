"""Modes x seeds on one task: run `viva-robot train` for each (in parallel, one thread each), then draw success
against environment steps with a band across seeds, and print a table.

    python experiments/compare.py --config configs/train/kitchen-microwave.yaml --value runs/microwave-icvf/value.pt \
        --modes sparse viva potential --seeds 0 1 2 --out runs/compare/kitchen-microwave --plot docs/results/kitchen-microwave.png \
        -- --obs state --steps 20000 --random-steps 2000

Flags after `--` go to every `viva-robot train`. Runs already finished are kept; unfinished ones are resumed, so
the command can be re-run after an interruption. The run of mode m and seed s is OUT/m/seed{s}.

A mode is a train `--mode`, optionally prefixed `rlpd+` (RLPD: `--prior PRIOR` mixed 50/50 into every batch;
`rlpd` alone is sparse SAC with the prior) and suffixed `@ALPHA` (`--viva-alpha ALPHA`), e.g. the paper's
Kitchen comparison: `--modes sparse rlpd rlpd+viva rlpd+viva@0.006 rlpd+potential --prior data/failures.zarr`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from viva_robot import rundir
from viva_robot.rl.video import trailing_mean


def run_dir(out: Path, mode: str, seed: int) -> Path:
    return out / mode / f"seed{seed}"


def mode_flags(spec: str, prior: Path | None) -> tuple[str, list[str]]:
    """`[rlpd+]MODE[@ALPHA]` -> (train --mode, extra flags)."""
    spec, _, alpha = spec.partition("@")
    rlpd = spec == "rlpd" or spec.startswith("rlpd+")
    mode = "sparse" if spec == "rlpd" else spec.removeprefix("rlpd+")
    flags = []
    if rlpd:
        if prior is None:
            raise SystemExit(f"mode {spec!r} needs --prior DATASET (failure-only prior data with actions)")
        flags += ["--prior", str(prior)]
    if alpha:
        flags += ["--viva-alpha", alpha]
    return mode, flags


def command(args, spec: str, seed: int) -> list[str]:
    run = run_dir(args.out, spec, seed)
    if (run / "checkpoints").is_dir() and any((run / "checkpoints").iterdir()):
        return ["viva-robot", "train", "--resume", str(run), *_runtime(args.train_args), "-q"]
    mode, extra = mode_flags(spec, args.prior)
    cmd = ["viva-robot", "train", "--config", str(args.config), "--mode", mode, "--seed", str(seed), "--out", str(run),
           "--threads", "1", *extra, *args.train_args, "-q"]
    return cmd + (["--value", str(args.value)] if mode != "sparse" else [])


def _runtime(train_args: list[str]) -> list[str]:
    """The flags a resumed run accepts (more steps); the rest is in its config.json."""
    out = []
    for i, a in enumerate(train_args):
        if a == "--steps":
            out += train_args[i:i + 2]
    return out


def launch(args) -> None:
    todo = [(m, s) for s in args.seeds for m in args.modes]  # seed-major: an interrupted session leaves whole seeds
    running: list[tuple[subprocess.Popen, str]] = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    while todo or running:
        while todo and len(running) < args.jobs:
            mode, seed = todo.pop(0)
            run = run_dir(args.out, mode, seed)
            if _last_step(run) >= _target_steps(args.train_args, args.config):
                print(f"{mode} seed {seed}: done already")
                continue
            if rundir.held(run):
                print(f"{mode} seed {seed}: being trained by another process, skipped")
                continue
            run.parent.mkdir(parents=True, exist_ok=True)
            if run.exists() and _last_step(run) < 0:  # stopped before its first checkpoint: start it again
                run.rename(run.with_name(f"{run.name}.failed-{time.strftime('%Y%m%d-%H%M%S')}"))
            cmd = command(args, mode, seed)
            print(" ".join(cmd), flush=True)
            log = open(run.parent / f"seed{seed}.log", "a")
            running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), f"{mode} seed {seed}"))
        time.sleep(2)
        for p, name in list(running):
            if p.poll() is not None:
                running.remove((p, name))
                print(f"{name}: exit {p.returncode}", flush=True)


def _target_steps(train_args: list[str], preset: Path | None = None) -> int:
    """--steps N (or --steps=N) after `--`, else the preset's steps."""
    for i, a in enumerate(train_args):
        if a == "--steps":
            return int(train_args[i + 1])
        if a.startswith("--steps="):
            return int(a.split("=", 1)[1])
    import yaml

    return int((yaml.safe_load(preset.read_text()) or {}).get("steps", 20_000)) if preset else 20_000


def _last_step(run: Path) -> int:
    ckpts = sorted((run / "checkpoints").glob("step_*.pt")) if (run / "checkpoints").is_dir() else []
    return int(ckpts[-1].stem.split("_")[1]) if ckpts else -1


def load_rows(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def seeds_of(args, runs: dict[int, list[dict]]) -> list[int]:
    """The seeds drawn and summarized (`runs`: each seed's metrics rows): every one given, or with --finished-only
    those whose run has reached the preset's steps (a queue stopped mid-run leaves one seed short: its curve would
    pull the mean down)."""
    if not args.finished_only:
        return args.seeds
    target = _target_steps(args.train_args, args.config)
    return [s for s in args.seeds if max((r["step"] for r in runs[s]), default=-1) >= target]


def curves(runs: list[list[dict]], kind: str, key: str, grid: np.ndarray) -> np.ndarray:
    """(seeds, len(grid)) of `key` from rows of `kind`, one curve per run's metrics rows, step-interpolated (last
    value carried forward)."""
    out = []
    for all_rows in runs:
        rows = [r for r in all_rows if r["kind"] == kind and key in r]
        if not rows:
            continue
        steps = np.array([r["step"] for r in rows])
        vals = np.array([r[key] for r in rows], float)
        if kind == "episode":  # training episodes: success over the last 10 episodes
            vals = trailing_mean(vals, 10)
        idx = np.searchsorted(steps, grid, side="right") - 1
        out.append(np.where((idx >= 0) & (grid <= steps[-1]), vals[np.clip(idx, 0, None)], np.nan))  # not past the run
    return np.array(out)


def plot(args) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = _target_steps(args.train_args, args.config) or max(_last_step(run_dir(args.out, m, s)) for m in args.modes for s in args.seeds)
    # a grid whose spacing divides the evaluation period (5000) and the episode lengths, so no point is skipped
    spacing = next((d for d in (100, 250, 500, 1000, 2500) if steps / d <= 600), 5000)
    grid = np.arange(0, steps + spacing, spacing)
    fig, axes = plt.subplots(1, 5, figsize=(26, 4.2))
    summary = {}
    colors = dict(zip(args.modes, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for mode in args.modes:
        runs = {s: load_rows(run_dir(args.out, mode, s)) for s in args.seeds}  # each metrics file read once
        seeds = seeds_of(args, runs)
        if len(seeds) < len(args.seeds):
            print(f"{mode}: seeds {sorted(set(args.seeds) - set(seeds))} left out (not at the preset's steps)")
        drawn = [runs[s] for s in seeds]
        ret = curves(drawn, "eval", "return", grid)
        ev = curves(drawn, "eval", "success_rate", grid)
        tr = curves(drawn, "episode", "success", grid)
        val = curves(drawn, "episode", "reward/value", grid)  # empty for modes without shaping
        q = curves(drawn, "train", "q_mean", grid)
        for ax, c in zip(axes, (ret, ev, tr, val, q)):
            if c.size == 0 or np.isnan(c).all():
                continue
            with warnings.catch_warnings():  # grid points before a run's first row are NaN for every seed
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, lo, hi = np.nanmean(c, 0), np.nanmin(c, 0), np.nanmax(c, 0)
            ax.plot(grid, mean, color=colors[mode], label=f"{mode} ({len(c)} seeds)")
            ax.fill_between(grid, lo, hi, color=colors[mode], alpha=0.2)
        # one entry per seed that has started (None where it has no evaluation yet), in seed order
        started = [rows for rows in drawn if rows]
        evals = [[r for r in rows if r["kind"] == "eval"] for rows in started]
        episodes = [[r for r in rows if r["kind"] == "episode"] for rows in started]
        last = [e[-1] if e else None for e in evals]
        summary[mode] = {
            "seeds": len(started),
            "steps_reached": [max(r["step"] for r in rows) for rows in started],
            "final_eval_return": [r and r["return"] for r in last],
            "final_eval_success": [r and r["success_rate"] for r in last],
            # sample efficiency: the mean evaluation return over the run (area under the curve / steps) and the
            # first evaluation at half the best return a 100-step episode allows
            "mean_eval_return": [float(np.mean([r["return"] for r in e])) if e else None for e in evals],
            "first_step_return_50": [next((r["step"] for r in e if r["return"] >= 50), None) for e in evals],
            "train_episodes_with_success": [int(sum(r["success"] for r in eps)) for eps in episodes],
            "first_success_step": [next((r["step"] for r in eps if r["success"]), None) for eps in episodes],
        }
    titles = ("evaluation return (steps with the task achieved per episode)",
              "evaluation success rate (deterministic policy)", "training-episode success (last 10 episodes)",
              "mean V(s, g*) over training episodes", "critic: mean Q on replay batches")
    empty = ("no evaluation yet", "no evaluation yet", "no episode yet", "no mode shapes its reward with the value",
             "no update yet")
    for ax in axes[1:3]:
        ax.set_ylim(-0.03, 1.03)
    for ax, title, nothing in zip(axes, titles, empty):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, nothing, ha="center", transform=ax.transAxes)
    fig.suptitle(f"{args.out.name}: mean over seeds, band = min..max", fontsize=11)
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=100)
    return summary


def markdown_table(summary: dict) -> str:
    """One row per mode: the paper's metric (evaluation return) at the last evaluation, its mean over the run, and
    when it first reached 50 of 100; per seed, in seed order."""
    def cells(values, fmt="{:g}"):
        return ", ".join("-" if v is None else fmt.format(v) for v in values) or "-"

    rows = ["| mode | steps reached | evaluation return, last | mean evaluation return over the run | first step at "
            "return >= 50 | first training success (step) |", "| --- | --- | --- | --- | --- | --- |"]
    for mode, m in summary.items():
        rows.append(f"| `{mode}` | {cells(m['steps_reached'])} | {cells(m['final_eval_return'])} | "
                    f"{cells(m['mean_eval_return'], '{:.1f}')} | {cells(m['first_step_return_50'])} | "
                    f"{cells(m['first_success_step'])} |")
    return "\n".join(rows)


def main() -> None:
    argv = sys.argv[1:]
    train_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, required=True, help="train preset (configs/train/<task>.yaml)")
    ap.add_argument("--value", type=Path, help="value checkpoint for every mode but sparse")
    ap.add_argument("--prior", type=Path, help="prior dataset (with actions) for the rlpd modes")
    ap.add_argument("--modes", nargs="+", default=["sparse", "viva"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (one CPU thread each)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--plot", type=Path, required=True)
    ap.add_argument("--plot-only", action="store_true", help="draw from the runs there, start nothing")
    ap.add_argument("--finished-only", action="store_true",
                    help="draw and summarize only the runs that have reached the preset's steps")
    args = ap.parse_args(argv)
    args.train_args = train_args
    if not args.plot_only:
        launch(args)
    summary = plot(args)
    args.plot.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print(markdown_table(summary))
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
