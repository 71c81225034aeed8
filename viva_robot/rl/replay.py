"""A fixed-capacity replay buffer of state transitions in preallocated numpy arrays (ring buffer)."""

from __future__ import annotations

import numpy as np
import torch

from viva_robot.rl.sac import Batch


class ReplayBuffer:
    def __init__(self, obs_dim: int, action_dim: int, capacity: int):
        self.capacity, self.size, self._next = capacity, 0, 0
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.action = np.zeros((capacity, action_dim), np.float32)
        self.reward = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)

    def add(self, obs, action, reward: float, next_obs, terminated: bool) -> None:
        i = self._next
        self.obs[i], self.action[i], self.reward[i], self.next_obs[i], self.terminated[i] = \
            obs, action, reward, next_obs, float(terminated)
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator, gamma: float, device: torch.device) -> Batch:
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = rng.integers(0, self.size, batch_size)

        def t(x):
            return torch.from_numpy(x[idx]).to(device, non_blocking=True)

        return Batch(t(self.obs), t(self.action), t(self.reward), t(self.next_obs),
                     gamma * (1.0 - t(self.terminated)))
