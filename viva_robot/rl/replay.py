"""Replay buffer for dict observations (uint8 images, float states) in preallocated numpy rings.

Each observation is stored once: a transition's next observation is the next slot, so an image costs
1 + 1/episode_length slots rather than 2. `start(obs)` opens an episode, `add(action, reward, next_obs,
terminated)` appends a step; `valid[i]` marks slots whose transition (slot i -> slot i+1) is complete.
The final observation of an episode occupies a slot of its own that starts no transition.
"""

from __future__ import annotations

import numpy as np
import torch

from viva_robot.rl.sac import Batch


class ReplayBuffer:
    def __init__(self, obs_spec: dict[str, tuple[tuple[int, ...], np.dtype]], action_dim: int, capacity: int):
        if capacity < 2:
            raise ValueError(f"replay capacity must be at least 2 slots, got {capacity}")
        self.capacity = capacity
        self.obs = {k: np.zeros((capacity, *shape), dtype) for k, (shape, dtype) in obs_spec.items()}
        self.action = np.zeros((capacity, action_dim), np.float32)
        self.reward = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.valid = np.zeros(capacity, bool)
        self.head, self.filled = -1, 0  # slot of the latest observation; slots ever written

    def __len__(self) -> int:
        return int(self.valid.sum())

    def _write(self, slot: int, obs: dict[str, np.ndarray]) -> None:
        for k, v in obs.items():
            self.obs[k][slot] = v
        self.valid[slot] = False  # whatever transition started here is gone
        self.filled = max(self.filled, slot + 1)

    def start(self, obs: dict[str, np.ndarray]) -> None:
        """First observation of an episode (in the slot after the previous episode's last observation)."""
        self.head = (self.head + 1) % self.capacity
        self.valid[(self.head - 1) % self.capacity] = False  # no transition runs across episodes
        self._write(self.head, obs)

    def add(self, action: np.ndarray, reward: float, next_obs: dict[str, np.ndarray], terminated: bool) -> None:
        if self.head < 0:
            raise RuntimeError("ReplayBuffer.add before start(obs): open an episode first")
        i = self.head
        self.action[i], self.reward[i], self.terminated[i] = action, reward, float(terminated)
        self.head = (i + 1) % self.capacity
        self._write(self.head, next_obs)
        self.valid[i] = True

    def sample(self, batch_size: int, rng: np.random.Generator, gamma: float, device: torch.device) -> Batch:
        starts = np.flatnonzero(self.valid)
        if starts.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = starts[rng.integers(0, starts.size, batch_size)]
        nxt = (idx + 1) % self.capacity

        def t(x, i):
            return torch.from_numpy(x[i]).to(device, non_blocking=True)

        return Batch({k: t(v, idx) for k, v in self.obs.items()}, t(self.action, idx), t(self.reward, idx),
                     {k: t(v, nxt) for k, v in self.obs.items()}, gamma * (1.0 - t(self.terminated, idx)))

    # -- checkpoints: only the written slots, as tensors (loadable with weights_only=True) ---------------------------
    def state_dict(self) -> dict:
        n = self.filled
        arrays = {f"obs/{k}": v[:n] for k, v in self.obs.items()}
        arrays.update(action=self.action[:n], reward=self.reward[:n], terminated=self.terminated[:n], valid=self.valid[:n])
        return {"head": self.head, "filled": n, "capacity": self.capacity,
                **{k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}}

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"replay buffer capacity {state['capacity']} in the checkpoint, {self.capacity} configured")
        n = state["filled"]
        for k, v in self.obs.items():
            v[:n] = state[f"obs/{k}"].numpy()
        for name in ("action", "reward", "terminated", "valid"):
            getattr(self, name)[:n] = state[name].numpy()
        self.head, self.filled = state["head"], n


def concat_batches(a: Batch, b: Batch) -> Batch:
    """One batch from two (online + prior data, RLPD's symmetric sampling)."""
    cat = torch.cat
    return Batch({k: cat([a.obs[k], b.obs[k]]) for k in a.obs}, cat([a.action, b.action]), cat([a.reward, b.reward]),
                 {k: cat([a.next_obs[k], b.next_obs[k]]) for k in a.next_obs}, cat([a.discount, b.discount]))


def symmetric_sample(online: ReplayBuffer, offline, batch_size: int, n_offline: int, rng: np.random.Generator,
                     gamma: float, device: torch.device) -> Batch:
    """RLPD's symmetric sampling: `batch_size - n_offline` transitions from `online`, then `n_offline` from
    `offline` (prior data, or a learner's human interventions); n_offline 0: the whole batch from `online`."""
    batch = online.sample(batch_size - n_offline, rng, gamma, device)
    return concat_batches(batch, offline.sample(n_offline, rng, gamma, device)) if n_offline else batch
