"""SAC agent and replay buffer: shapes, the squashed-Gaussian likelihood, and learning a small task."""

import math

import numpy as np
import pytest
import torch

from viva_robot.rl.replay import ReplayBuffer, symmetric_sample
from viva_robot.rl.sac import SAC, ObsEncoder


def state_sac(obs_dim: int, action_dim: int, **kw) -> SAC:
    return SAC(ObsEncoder(None, obs_dim), action_dim, **kw)


def state_buffer(obs_dim: int, action_dim: int, capacity: int) -> ReplayBuffer:
    return ReplayBuffer({"state": ((obs_dim,), np.float32)}, action_dim, capacity)


def test_actions_are_bounded_and_log_prob_matches_a_sampled_density():
    torch.manual_seed(0)
    agent = state_sac(3, 2, hidden=(32, 32))
    obs = torch.randn(4096, 3)
    action, logp = agent.actor.sample(obs)
    assert action.shape == (4096, 2) and logp.shape == (4096,)
    assert (action.abs() <= 1).all() and torch.isfinite(logp).all()
    # log-prob of a tanh(N(mean, std)) action, computed the slow textbook way
    mean, log_std = agent.actor(obs)
    u = torch.atanh(action.clamp(-1 + 1e-6, 1 - 1e-6))
    normal = torch.distributions.Normal(mean, log_std.exp())
    slow = (normal.log_prob(u) - torch.log(1 - action.pow(2) + 1e-6)).sum(-1)
    ok = (action.abs() < 0.999).all(-1)  # away from the saturated edges where the slow form loses precision
    torch.testing.assert_close(logp[ok], slow[ok], atol=2e-3, rtol=1e-3)
    eval_action = agent.act({"state": np.zeros(3, np.float32)}, eval_mode=True)
    np.testing.assert_allclose(eval_action, torch.tanh(agent.actor(torch.zeros(1, 3))[0])[0].detach().numpy(), atol=1e-6)


def test_critic_ensemble_and_target_update():
    agent = state_sac(3, 2, hidden=(16,), critics=4, tau=0.5)
    q = agent.critic(torch.randn(7, 3), torch.rand(7, 2))
    assert q.shape == (4, 7)
    before = [p.clone() for p in agent.critic_target.parameters()]
    rng = np.random.default_rng(0)
    buf = state_buffer(3, 2, 17)
    buf.start({"state": rng.normal(size=3)})
    for _ in range(16):
        buf.add(rng.uniform(-1, 1, 2), 1.0, {"state": rng.normal(size=3)}, False)
    agent.update(buf.sample(8, rng, 0.99, torch.device("cpu")))
    for old, new, online in zip(before, agent.critic_target.parameters(), agent.critic.parameters()):
        torch.testing.assert_close(new, old + 0.5 * (online - old))


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
def test_learns_a_one_step_task(bf16):
    """Reward -(a - 0.5)^2, episodes of one step: the deterministic action must move to about 0.5, with float32
    networks and with bfloat16 autocast (weights stay float32)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    agent = state_sac(1, 1, hidden=(64, 64), lr=3e-3, init_temperature=0.1, bf16=bf16)
    buf = state_buffer(1, 1, 2000)
    for step in range(600):
        obs = {"state": np.zeros(1, np.float32)}
        action = agent.act(obs) if step >= 100 else rng.uniform(-1, 1, 1)
        buf.start(obs)
        buf.add(action, -float((action[0] - 0.5) ** 2), obs, True)
        if step >= 100:
            metrics = agent.update(buf.sample(64, rng, 0.99, torch.device("cpu")))
    best = agent.act({"state": np.zeros(1, np.float32)}, eval_mode=True)[0]
    assert abs(best - 0.5) < 0.1, best
    assert math.isfinite(float(metrics["critic_loss"])) and float(metrics["alpha"]) > 0
    assert all(p.dtype == torch.float32 for p in agent.critic.parameters()) and best.dtype == np.float32


def test_state_dict_round_trip():
    a = state_sac(2, 1, hidden=(8,))
    b = state_sac(2, 1, hidden=(8,))
    b.load_state_dict(a.state_dict())
    x = torch.randn(5, 2)
    torch.testing.assert_close(a.actor(x)[0], b.actor(x)[0])
    torch.testing.assert_close(a.critic(x, torch.zeros(5, 1)), b.critic(x, torch.zeros(5, 1)))
    assert float(a.log_alpha.detach()) == float(b.log_alpha.detach())


def _marked_buffer(mark: float, n: int) -> ReplayBuffer:
    """n transitions whose state is `mark` everywhere (which buffer a sampled row came from)."""
    buf = ReplayBuffer({"state": ((1,), np.float32)}, 1, capacity=n + 1)
    buf.start({"state": np.array([mark], np.float32)})
    for _ in range(n):
        buf.add(np.zeros(1, np.float32), 0.0, {"state": np.array([mark], np.float32)}, False)
    return buf


def test_symmetric_sample_draws_each_share_from_its_buffer():
    online, offline = _marked_buffer(1.0, 20), _marked_buffer(-1.0, 5)
    rng = np.random.default_rng(0)
    batch = symmetric_sample(online, offline, 8, 3, rng, 0.99, torch.device("cpu"))
    np.testing.assert_array_equal(batch.obs["state"][:, 0].numpy(), [1.0] * 5 + [-1.0] * 3)
    assert batch.action.shape == (8, 1) and batch.discount.shape == (8,)
    only_online = symmetric_sample(online, offline, 8, 0, rng, 0.99, torch.device("cpu"))
    assert (only_online.obs["state"] == 1.0).all() and only_online.reward.shape == (8,)
