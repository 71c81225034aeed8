"""Soft actor-critic with an ensemble of critics evaluated in one batched pass (DESIGN.md §1 defaults:
lr 3e-4, gamma 0.99, tau 0.005, MLP (256, 256), target entropy -|A|/2), for state and pixel observations.

Observations are dicts of tensors: "state" (B, d) float32 and/or "image" (B, H, W, 3) uint8. An `ObsEncoder`
turns them into one feature vector; with images it is DrQ-v2's layout: one conv encoder trained by the
critic loss only, images randomly shifted in every update, the actor on detached features.

Two methods: `act(obs, eval_mode)` and `update(batch) -> metrics`. Metrics stay tensors on the device
(no host sync per update); call `float()` on them when logging.
"""

from __future__ import annotations

import copy
import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from viva_robot.value.networks import ensemble_mlp, to_input

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
Obs = dict[str, torch.Tensor]


class Batch(NamedTuple):
    obs: Obs
    action: torch.Tensor  # (B, act_dim)
    reward: torch.Tensor  # (B,)
    next_obs: Obs
    discount: torch.Tensor  # (B,) gamma * (1 - terminated): 0 where the episode really ended


def random_shift(images: torch.Tensor, pad: int) -> torch.Tensor:
    """DrQ's augmentation on uint8 (B, H, W, C): shift each image by up to `pad` pixels, edges replicated
    (the same as replicate-padding by `pad` and cropping back at a random offset), in one gather."""
    if pad == 0:
        return images
    b, h, w, _ = images.shape
    shift = torch.randint(0, 2 * pad + 1, (2, b, 1), device=images.device) - pad
    rows = (torch.arange(h, device=images.device) + shift[0]).clamp_(0, h - 1)  # (B, H)
    cols = (torch.arange(w, device=images.device) + shift[1]).clamp_(0, w - 1)  # (B, W)
    return images[torch.arange(b, device=images.device)[:, None, None], rows[:, :, None], cols[:, None, :]]


class ObsEncoder(nn.Module):
    """obs dict -> features: [trunk(conv(image)), state]. `image_encoder` None: state only (no parameters)."""

    def __init__(self, image_encoder: nn.Module | None, state_dim: int, latent: int = 50, shift_pad: int = 4):
        super().__init__()
        self.image = image_encoder
        self.shift_pad, self.state_dim = shift_pad, state_dim
        if image_encoder is not None:
            self.trunk = nn.Sequential(nn.Linear(image_encoder.features, latent), nn.LayerNorm(latent), nn.Tanh())
        self.features = (latent if image_encoder is not None else 0) + state_dim

    def forward(self, obs: Obs, augment: bool = False) -> torch.Tensor:
        parts = []
        if self.image is not None:
            images = random_shift(obs["image"], self.shift_pad) if augment else obs["image"]
            parts.append(self.trunk(self.image(to_input(images))))
        if self.state_dim:
            parts.append(obs["state"])
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


class Actor(nn.Module):
    """Tanh-squashed Gaussian policy."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.net = ensemble_mlp(1, obs_dim, hidden, 2 * action_dim, activation=nn.ReLU)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(obs[None]).squeeze(0).float().chunk(2, dim=-1)  # float32 for the log-probabilities
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)
        return mean, log_std

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(action in [-1, 1], log-probability) with the reparameterisation trick."""
        mean, log_std = self(obs)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)
        action = torch.tanh(u)
        log_prob = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # tanh correction log(1 - tanh(u)^2) = 2 (log 2 - |u| - log(1 + exp(-2|u|))), stable for any u (softplus is
        # 3x slower on CPU than this log/exp)
        au = u.abs()
        log_prob = log_prob - (2 * (math.log(2) - au - torch.log(1 + torch.exp(-2 * au)))).sum(-1)
        return action, log_prob


class Critic(nn.Module):
    """E Q-functions in one batched pass: (B, obs), (B, act) -> (E, B)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], ensemble: int):
        super().__init__()
        self.ensemble = ensemble
        self.net = ensemble_mlp(ensemble, obs_dim + action_dim, hidden, 1, activation=nn.ReLU)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, action], dim=-1).expand(self.ensemble, -1, -1)
        return self.net(x).squeeze(-1).float()


class SAC:
    def __init__(self, encoder: ObsEncoder, action_dim: int, hidden: tuple[int, ...] = (256, 256), critics: int = 2,
                 lr: float = 3e-4, gamma: float = 0.99, tau: float = 0.005, init_temperature: float = 1.0,
                 target_entropy: float | None = None, device: str | torch.device = "cpu", bf16: bool = False):
        self.device = torch.device(device)
        # bfloat16 autocast of the networks' matmuls (weights, optimizer state and losses stay float32): 2x the
        # matmul rate on CPUs with AVX512-BF16/AMX and on recent GPUs; slower on CPUs without them.
        self.bf16 = bf16
        self.gamma, self.tau = gamma, tau
        self.encoder = encoder.to(self.device)
        d = encoder.features
        self.actor = Actor(d, action_dim, hidden).to(self.device)
        self.critic = Critic(d, action_dim, hidden, critics).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(init_temperature), device=self.device, requires_grad=True)
        self.target_entropy = -action_dim / 2 if target_entropy is None else target_entropy
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=lr, fused=True)
        self.critic_opt = torch.optim.Adam([*self.critic.parameters(), *self.encoder.parameters()], lr=lr, fused=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=lr, fused=True)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    @torch.no_grad()
    def act(self, obs: dict[str, np.ndarray], eval_mode: bool = False) -> np.ndarray:
        o = {k: torch.as_tensor(v, device=self.device)[None] for k, v in obs.items()}
        # float32 even with bf16 updates: for one observation, casting the weights costs more than it saves.
        features = self.encoder(o)
        action = torch.tanh(self.actor(features)[0]) if eval_mode else self.actor.sample(features)[0]
        return action[0].cpu().numpy()

    def update(self, b: Batch) -> dict[str, torch.Tensor]:
        with self._autocast():
            return self._update(b)

    def _update(self, b: Batch) -> dict[str, torch.Tensor]:
        features = self.encoder(b.obs, augment=True)  # gradients reach the encoder through the critic loss only
        with torch.no_grad():
            next_features = self.encoder(b.next_obs, augment=True)
        with torch.no_grad():
            next_action, next_logp = self.actor.sample(next_features)  # a' ~ pi(s') for the critic target
        metrics = self._update_critic(b, features, next_features, next_action, next_logp)
        metrics.update(self._update_actor_and_temperature(features.detach()))
        with torch.no_grad():
            torch._foreach_lerp_(list(self.critic_target.parameters()), list(self.critic.parameters()), self.tau)
        return metrics

    def _update_critic(self, b: Batch, features: torch.Tensor, next_features: torch.Tensor, next_action: torch.Tensor,
                       next_logp: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            next_q = self.critic_target(next_features, next_action).min(0).values - self.alpha * next_logp
            target = b.reward + b.discount * next_q
        q = self.critic(features, b.action)
        loss = F.mse_loss(q, target.expand_as(q), reduction="none").mean(1).sum()
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        return {"critic_loss": loss.detach(), "q_mean": q.detach().mean()}

    def _update_actor_and_temperature(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        action, logp = self.actor.sample(features)
        # The actor loss needs dQ/da only, not gradients for the critic. This also makes bf16 autocast cast the
        # critic's weights afresh: it caches casts of weights that require grad, and these just changed in place.
        self.critic.requires_grad_(False)
        q = self.critic(features, action).min(0).values
        self.critic.requires_grad_(True)
        actor_loss = (self.alpha.detach() * logp - q).mean()
        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        # The two losses share no parameters: one backward pass fills both gradients.
        self.actor_opt.zero_grad(set_to_none=True)
        self.alpha_opt.zero_grad(set_to_none=True)
        (actor_loss + alpha_loss).backward()
        self.actor_opt.step()
        self.alpha_opt.step()
        return {"actor_loss": actor_loss.detach(), "alpha": self.alpha.detach(), "entropy": -logp.detach().mean()}

    def state_dict(self) -> dict:
        return {
            "encoder": self.encoder.state_dict(), "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(), "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
