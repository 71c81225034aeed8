"""The run directory `pretrain` and `train` share: config.json, checkpoints/step_*.pt (the newest few kept),
metrics.jsonl and TensorBoard scalars in tb/, and a lock so that one process at a time writes to it.

A resumed run truncates what a killed process logged after its last checkpoint (metrics.jsonl rows here, tb/ by
TensorBoard's purge_step), so every step appears once. Writes are atomic (temp file, then rename).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Callable

from viva_robot.config import Config, ConfigError, save_config


def refuse_existing(run_dir: Path) -> None:
    """A new run never writes into a directory that holds anything."""
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"{run_dir}: run directory exists; continue it with --resume {run_dir} or choose another --out")


def claim(run_dir: Path, cfg: Config, written_meanwhile: Callable[[], bool]):
    """Lock the run directory (a run's first write to it; everything before only checks and reads), refuse it when
    `written_meanwhile()` says another process wrote to it while this one was loading, save the config. Returns the
    lock's handle."""
    handle = lock(run_dir)
    if written_meanwhile():
        handle.close()
        raise ConfigError(f"{run_dir}: another process wrote to the run while this one was loading; run the command "
                          f"again (with --resume {run_dir})")
    save_config(cfg, run_dir / "config.json")
    return handle


def lock(run_dir: Path):
    """Hold an exclusive lock on the run directory while training: a second process resuming the same run
    (a re-run comparison script, a second terminal) is refused instead of interleaving checkpoints."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = (run_dir / ".lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise ConfigError(f"{run_dir}: the run is being trained by {owner}; wait for it to stop") from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle  # the lock lasts as long as this handle is open


def held(run_dir: Path) -> bool:
    """True while a process holds the run directory's lock (`lock`); probing takes the lock only for an instant."""
    if not (run_dir / ".lock").is_file():
        return False
    with (run_dir / ".lock").open() as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def rotate(checkpoints: Path, keep: int) -> None:
    """Delete all but the newest `keep` step_*.pt (their names sort by step)."""
    for old in sorted(checkpoints.glob("step_*.pt"))[:-keep]:
        old.unlink()


def truncate_metrics(path: Path, start: int) -> None:
    """Keep the rows up to step `start` (what TensorBoard's purge_step does for tb/), so a resumed run's
    metrics.jsonl has each step once."""
    if not path.is_file():
        return
    rows = []
    for line in path.read_text().splitlines(keepends=True):
        try:
            if json.loads(line)["step"] <= start:
                rows.append(line if line.endswith("\n") else line + "\n")
        except (ValueError, KeyError, TypeError):  # a line cut short by the kill
            continue
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(rows))
    tmp.replace(path)


def open_logs(run_dir: Path, start: int | None):
    """(metrics.jsonl opened for appending, a TensorBoard writer on tb/); start: the step a resumed run continues
    from (rows after it are dropped), None for a new run."""
    from torch.utils.tensorboard import SummaryWriter

    if start is not None:
        truncate_metrics(run_dir / "metrics.jsonl", start)
    tb = SummaryWriter(str(run_dir / "tb"), purge_step=start + 1 if start is not None else None)
    return (run_dir / "metrics.jsonl").open("a"), tb


def due(state: dict, key: str, every: int, final: bool = False) -> bool:
    """Periodic work in a loop whose step jumps (DrQ-v2's `Every`, with the schedule kept in `state` so a resumed
    run keeps it): True when state["step"] has reached state[key] (or on the final step), which then moves to the
    next multiple of `every` after the current step."""
    if state["step"] >= state[key] or final:
        state[key] = (state["step"] // every + 1) * every
        return True
    return False
