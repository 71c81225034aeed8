"""Soft actor-critic with an ensemble of critics evaluated in one batched pass (DESIGN.md §1 defaults:
lr 3e-4, gamma 0.99, tau 0.005, MLP (256, 256), target entropy -|A|/2).

Two methods, DrQ-v2 style: `act(obs, eval_mode)` and `update(batch) -> metrics`. Metrics stay tensors on the
device (no host sync per update); call `float()` on them when logging.
"""

from __future__ import annotations

import copy
import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from viva_robot.value.networks import ensemble_mlp

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class Batch(NamedTuple):
    obs: torch.Tensor  # (B, obs_dim)
    action: torch.Tensor  # (B, act_dim)
    reward: torch.Tensor  # (B,)
    next_obs: torch.Tensor  # (B, obs_dim)
    discount: torch.Tensor  # (B,) gamma * (1 - terminated): 0 where the episode really ended


class Actor(nn.Module):
    """Tanh-squashed Gaussian policy."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.net = ensemble_mlp(1, obs_dim, hidden, 2 * action_dim)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(obs[None]).squeeze(0).chunk(2, dim=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)
        return mean, log_std

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(action in [-1, 1], log-probability) with the reparameterisation trick."""
        mean, log_std = self(obs)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)
        action = torch.tanh(u)
        log_prob = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)  # tanh correction, stable form
        return action, log_prob


class Critic(nn.Module):
    """E Q-functions in one batched pass: (B, obs), (B, act) -> (E, B)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], ensemble: int):
        super().__init__()
        self.ensemble = ensemble
        self.net = ensemble_mlp(ensemble, obs_dim + action_dim, hidden, 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, action], dim=-1).expand(self.ensemble, -1, -1)
        return self.net(x).squeeze(-1)


class SAC:
    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...] = (256, 256), critics: int = 2,
                 lr: float = 3e-4, gamma: float = 0.99, tau: float = 0.005, init_temperature: float = 1.0,
                 target_entropy: float | None = None, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.gamma, self.tau = gamma, tau
        self.actor = Actor(obs_dim, action_dim, hidden).to(self.device)
        self.critic = Critic(obs_dim, action_dim, hidden, critics).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(init_temperature), device=self.device, requires_grad=True)
        self.target_entropy = -action_dim / 2 if target_entropy is None else target_entropy
        fused = {"fused": True} if self.device.type == "cuda" else {"foreach": True}
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=lr, **fused)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=lr, **fused)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=lr)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    @torch.no_grad()
    def act(self, obs: np.ndarray, eval_mode: bool = False) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None]
        action = torch.tanh(self.actor(o)[0]) if eval_mode else self.actor.sample(o)[0]
        return action[0].cpu().numpy()

    def update(self, b: Batch) -> dict[str, torch.Tensor]:
        # One actor pass serves both the critic target (a' ~ pi(s'), no gradient) and the actor loss (a ~ pi(s)).
        n = b.obs.shape[0]
        actions, logp = self.actor.sample(torch.cat([b.obs, b.next_obs]))
        metrics = self._update_critic(b, actions[n:].detach(), logp[n:].detach())
        metrics.update(self._update_actor_and_temperature(b.obs, actions[:n], logp[:n]))
        with torch.no_grad():
            torch._foreach_lerp_(list(self.critic_target.parameters()), list(self.critic.parameters()), self.tau)
        return metrics

    def _update_critic(self, b: Batch, next_action: torch.Tensor, next_logp: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            next_q = self.critic_target(b.next_obs, next_action).min(0).values - self.alpha * next_logp
            target = b.reward + b.discount * next_q
        q = self.critic(b.obs, b.action)
        loss = F.mse_loss(q, target.expand_as(q), reduction="none").mean(1).sum()
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        return {"critic_loss": loss.detach(), "q_mean": q.detach().mean()}

    def _update_actor_and_temperature(self, obs: torch.Tensor, action: torch.Tensor,
                                      logp: torch.Tensor) -> dict[str, torch.Tensor]:
        self.critic.requires_grad_(False)  # the actor loss needs dQ/da only, not gradients for the critic
        q = self.critic(obs, action).min(0).values
        self.critic.requires_grad_(True)
        actor_loss = (self.alpha.detach() * logp - q).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()
        return {"actor_loss": actor_loss.detach(), "alpha": self.alpha.detach(), "entropy": -logp.detach().mean()}

    def state_dict(self) -> dict:
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(), "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
