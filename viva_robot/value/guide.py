"""The frozen video-trained value at inference: `load_value` builds the model a `pretrain` checkpoint holds (every
caller: RL guidance, the ROS value monitor, value-check), `ValueGuide` evaluates V(s, g*) for one goal image.

`ValueGuide` checks the value fits the task's frames, encodes the goal once and evaluates
V(s, g*) = mean over heads of V(s, g*, g*) for new frames (one encoder pass per frame; the RL loop calls it when a
transition enters the replay buffer, never per sampled batch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from viva_robot.value.config import PretrainConfig
from viva_robot.value.checkpoint import CheckpointError, load_checkpoint, load_weights
from viva_robot.value.networks import ICVF, to_input


def load_value(path: Path) -> tuple[ICVF, PretrainConfig]:
    """(the value network with its trained weights, the config it was trained with) from a checkpoint or value.pt."""
    payload = load_checkpoint(path)
    model = ICVF.from_config(payload["config"])
    load_weights(model, payload["model"], path)
    return model, payload["config"]


class ValueGuide:
    def __init__(self, path: Path, image_size: int, device: torch.device):
        self.model, vcfg = load_value(path)
        if vcfg.image_size != image_size:
            raise CheckpointError(f"{path}: the value was trained on {vcfg.image_size}x{vcfg.image_size} frames but this "
                                  f"run's camera renders {image_size}x{image_size}; set image_size: {vcfg.image_size}")
        self.path, self.encoder_name, self.device = Path(path), vcfg.encoder, device
        self.model.to(device).eval().requires_grad_(False)
        self._goal: torch.Tensor | None = None

    def set_goal(self, goal_image: np.ndarray) -> None:
        with torch.no_grad():
            self._goal = self.model.encoder(to_input(torch.as_tensor(np.array(goal_image), device=self.device)[None]))

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) or (N, H, W, 3) -> V(s, g*) as float (scalar or (N,))."""
        if self._goal is None:
            raise RuntimeError("ValueGuide: set_goal(goal_image) first")
        single = images.ndim == 3
        x = torch.as_tensor(images[None] if single else images, device=self.device)
        es = self.model.encoder(to_input(x))
        eg = self._goal.expand(es.shape[0], -1)
        v = self.model.values(es, eg, eg).mean(0).cpu().numpy()
        return float(v[0]) if single else v

    def init_encoder(self, encoder: nn.Module, name: str) -> None:
        """critic-init: copy the value's image encoder into the agent's (same architecture required)."""
        if name != self.encoder_name:
            raise CheckpointError(f"{self.path}: critic-init needs the agent's encoder to match the value's: the value "
                                  f"uses {self.encoder_name!r}, the run {name!r}; set encoder: {self.encoder_name}")
        load_weights(encoder, self.model.encoder.state_dict(), self.path, what="encoder")
