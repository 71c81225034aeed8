"""Value-function checkpoints: state_dicts plus the run's validated config as JSON, nothing pickled.

Loaded with `torch.load(weights_only=True)`: a checkpoint from elsewhere can hold tensors and plain
containers only. Writes go to a temp file and are renamed into place, so a kill never leaves half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from viva_robot.value.config import PretrainConfig

FORMAT = "viva-icvf"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint cannot be used here; the message names the file and what does not fit."""


def save_checkpoint(path: Path, *, step: int, config: PretrainConfig, model: nn.Module,
                    target: nn.Module | None = None, optimizer: torch.optim.Optimizer | None = None,
                    world_size: int | None = None) -> Path:
    payload: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "step": step, "config": config.to_json(),
        "model": model.state_dict(),
    }
    if world_size is not None:  # training checkpoints: how many processes shared each step's batch
        payload["world_size"] = world_size
    if target is not None:
        payload["target"] = target.state_dict()
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    return write_payload(path, payload)


def write_payload(path: Path, payload: dict[str, Any]) -> Path:
    """torch.save to a temp file, then rename: a kill never leaves half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def read_payload(path: Path, fmt: str, version: int, what: str) -> dict[str, Any]:
    """torch.load(weights_only=True) + the format/version check every viva checkpoint kind shares."""
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refused, truncated file, not a torch file
        raise CheckpointError(f"{path}: not a readable viva checkpoint ({e.__class__.__name__}: {str(e)[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        raise CheckpointError(f"{path}: not a {what} checkpoint (expected format {fmt!r})")
    if payload.get("version") != version:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')!r}, this viva-robot reads {version}")
    return payload


def load_checkpoint(path: Path) -> dict[str, Any]:
    payload = read_payload(path, FORMAT, VERSION, "viva value")
    payload["config"] = PretrainConfig.model_validate(json.loads(payload["config"]))
    return payload


def load_weights(module: nn.Module, state: dict[str, torch.Tensor], path: Path, what: str = "model") -> None:
    """load_state_dict, but a mismatch names the parameters that differ instead of a wall of text."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        lines = ([f"missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else "")] if missing else []) + \
                ([f"unexpected {', '.join(unexpected[:5])}" + (" ..." if len(unexpected) > 5 else "")] if unexpected else []) + \
                shapes[:8]
        raise CheckpointError(f"{path}: {what} weights do not fit this architecture:\n  " + "\n  ".join(lines))
    module.load_state_dict(state)


def latest_checkpoint(run_dir: Path) -> Path | None:
    ckpts = sorted((run_dir / "checkpoints").glob("step_*.pt"))
    return ckpts[-1] if ckpts else None
