"""State-based SAC on the Adroit door: environment steps/s of viva-robot's agent vs a plain CleanRL-style loop.

    python benchmarks/sac_throughput.py [--steps 600] [--learning-starts 100]

Both run the same loop on the same env (AdroitHandDoor-v1 state observations, no rendering): one env step,
one replay sample of 256, one SAC update (UTD 1), MLPs (256, 256). The baseline is written the way
CleanRL's `sac_continuous_action.py` is: two separate Q networks, each evaluated on its own, plain Adam, the
temperature read back with `.item()` every step. viva-robot's agent evaluates its critic ensemble in one
batched pass, runs the actor without gradients where none are needed, fills the actor's and the temperature's
gradients in one backward pass, uses fused Adam and keeps metrics on the device; `--bf16` adds bfloat16 autocast.
Target: >= 1.5x the baseline's steps/s. Reported: the median over paired rounds of (ours / baseline in that round).

Second figure (`--viva-steps`, 0 skips it): the cost of guidance. `viva-robot train` itself, pixels+state on
kitchen-microwave, in `sparse` and in `viva` mode (one frozen-value evaluation per transition on the frame the
policy also sees); wall time per learning step from the runs' metrics. Target: viva <= 1.25x sparse.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import viva_robot  # noqa: F401  (headless GL defaults before mujoco is imported)
from viva_robot.rl.replay import ReplayBuffer
from viva_robot.rl.sac import SAC, ObsEncoder
from viva_robot.sim.tasks import get_task, make_env


# -- the baseline: a straightforward single-file SAC, CleanRL style ---------------------------------------------
class SoftQ(nn.Module):
    def __init__(self, obs_dim, act_dim):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(obs_dim + act_dim, 256), nn.Linear(256, 256), nn.Linear(256, 1)

    def forward(self, x, a):
        x = torch.cat([x, a], 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class PlainActor(nn.Module):
    def __init__(self, obs_dim, act_dim):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(obs_dim, 256), nn.Linear(256, 256)
        self.mean, self.logstd = nn.Linear(256, act_dim), nn.Linear(256, act_dim)

    def get_action(self, x):
        x = F.relu(self.fc2(F.relu(self.fc1(x))))
        mean, log_std = self.mean(x), torch.tanh(self.logstd(x))
        log_std = -5 + 0.5 * 7 * (log_std + 1)
        normal = torch.distributions.Normal(mean, log_std.exp())
        x_t = normal.rsample()
        y_t = torch.tanh(x_t)
        log_prob = (normal.log_prob(x_t) - torch.log(1 - y_t.pow(2) + 1e-6)).sum(1, keepdim=True)
        return y_t, log_prob


class PlainSAC:
    def __init__(self, obs_dim, act_dim, gamma=0.99, tau=0.005):
        self.actor = PlainActor(obs_dim, act_dim)
        self.qf1, self.qf2 = SoftQ(obs_dim, act_dim), SoftQ(obs_dim, act_dim)
        self.qf1_t, self.qf2_t = SoftQ(obs_dim, act_dim), SoftQ(obs_dim, act_dim)
        self.qf1_t.load_state_dict(self.qf1.state_dict())
        self.qf2_t.load_state_dict(self.qf2.state_dict())
        self.q_opt = torch.optim.Adam(list(self.qf1.parameters()) + list(self.qf2.parameters()), lr=3e-4)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=3e-4)
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.alpha = self.log_alpha.exp().item()
        self.a_opt = torch.optim.Adam([self.log_alpha], lr=3e-4)
        self.target_entropy = -act_dim / 2
        self.gamma, self.tau = gamma, tau

    def act(self, obs):
        with torch.no_grad():
            return self.actor.get_action(torch.as_tensor(obs["state"], dtype=torch.float32)[None])[0][0].numpy()

    def update(self, b):
        with torch.no_grad():
            na, nlogp = self.actor.get_action(b.next_obs)
            q_next = torch.min(self.qf1_t(b.next_obs, na), self.qf2_t(b.next_obs, na)) - self.alpha * nlogp
            target = b.reward.flatten() + b.discount.flatten() * q_next.view(-1)
        q1, q2 = self.qf1(b.obs, b.action).view(-1), self.qf2(b.obs, b.action).view(-1)
        q_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.q_opt.zero_grad()
        q_loss.backward()
        self.q_opt.step()
        pi, logp = self.actor.get_action(b.obs)
        actor_loss = ((self.alpha * logp) - torch.min(self.qf1(b.obs, pi), self.qf2(b.obs, pi))).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
        with torch.no_grad():
            _, logp = self.actor.get_action(b.obs)
        alpha_loss = (-self.log_alpha.exp() * (logp + self.target_entropy)).mean()
        self.a_opt.zero_grad()
        alpha_loss.backward()
        self.a_opt.step()
        self.alpha = self.log_alpha.exp().item()  # a host sync every step, as in the reference
        for p, tp in zip(list(self.qf1.parameters()) + list(self.qf2.parameters()),
                         list(self.qf1_t.parameters()) + list(self.qf2_t.parameters())):
            tp.data.copy_(self.tau * p.data + (1 - self.tau) * tp.data)
        return {"q_loss": q_loss.item(), "actor_loss": actor_loss.item()}  # logged every step


def run(agent, steps: int, learning_starts: int, seed: int) -> float:
    """Environment steps/s of the learning phase (after `learning_starts` random steps)."""
    env = make_env(get_task("door"))
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    buf = ReplayBuffer({"state": ((obs_dim,), np.float32)}, act_dim, 2 * steps + 2)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    buf.start({"state": obs})
    start = None
    for step in range(steps):
        if step == learning_starts:
            start = time.perf_counter()
        o = {"state": obs.astype(np.float32)}
        action = rng.uniform(-1, 1, act_dim) if step < learning_starts else agent.act(o)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buf.add(action, reward, {"state": next_obs}, terminated)
        obs = next_obs
        if terminated or truncated:
            obs = env.reset()[0]
            buf.start({"state": obs})
        if step >= learning_starts:
            b = buf.sample(256, rng, 0.99, torch.device("cpu"))
            agent.update(b if isinstance(agent, SAC) else b._replace(obs=b.obs["state"], next_obs=b.next_obs["state"]))
    env.close()
    return (steps - learning_starts) / (time.perf_counter() - start)


def _cpu_has_bf16() -> bool:
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--learning-starts", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=6, help="paired rounds (a multiple of 3 puts each agent first equally often)")
    ap.add_argument("--viva-steps", type=int, default=40, help="learning steps per guidance-cost run (0: skip)")
    args = ap.parse_args()
    env = make_env(get_task("door"))
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    agents = {
        "baseline": lambda: PlainSAC(obs_dim, act_dim),
        "fp32": lambda: SAC(ObsEncoder(None, obs_dim), act_dim),
        "bf16": lambda: SAC(ObsEncoder(None, obs_dim), act_dim, bf16=True),
    }
    rates = {name: [] for name in agents}
    names = list(agents)
    for r in range(args.rounds):
        # Paired rounds: the three runs of a round share the machine's load of the moment (this machine is a shared
        # VM whose speed drifts by +-20% within a minute); the order rotates so no agent always runs first.
        for name in names[r % 3:] + names[:r % 3]:
            torch.manual_seed(r)
            rates[name].append(run(agents[name](), args.steps, args.learning_starts, r))
        print(f"round {r}: baseline {rates['baseline'][-1]:.0f} steps/s, viva-robot {rates['fp32'][-1]:.0f} steps/s fp32 "
              f"({rates['fp32'][-1] / rates['baseline'][-1]:.2f}x), {rates['bf16'][-1]:.0f} steps/s --bf16 "
              f"({rates['bf16'][-1] / rates['baseline'][-1]:.2f}x)")
    ratio = {name: float(np.median(np.array(rates[name]) / np.array(rates["baseline"]))) for name in ("fp32", "bf16")}
    med = {name: float(np.median(v)) for name, v in rates.items()}
    print(f"sac_throughput: door state SAC, UTD 1, batch 256 (medians over {args.rounds} paired rounds): CleanRL-style "
          f"baseline {med['baseline']:.0f} steps/s; viva-robot {med['fp32']:.0f} steps/s fp32 ({ratio['fp32']:.2f}x), "
          f"{med['bf16']:.0f} steps/s with --bf16 ({ratio['bf16']:.2f}x) (target >= 1.5x; bf16 autocast needs "
          f"AVX512-BF16/AMX on a CPU: {'present' if _cpu_has_bf16() else 'absent here'})")
    if args.viva_steps:
        guidance_cost(args.viva_steps, args.rounds)


def guidance_cost(steps: int, rounds: int) -> None:
    """Seconds per learning step of `viva-robot train` (pixels+state, kitchen-microwave) in sparse vs viva mode."""
    import json
    import tempfile
    from pathlib import Path

    from viva_robot.rl.config import TrainConfig
    from viva_robot.value.config import PretrainConfig
    from viva_robot.rl.train import train
    from viva_robot.value.checkpoint import save_checkpoint
    from viva_robot.value.networks import ICVF

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        value = save_checkpoint(tmp / "value.pt", step=0, config=PretrainConfig(out=tmp, data=(tmp,), image_size=64),
                                model=ICVF("small", image_size=64))
        times = {"sparse": [], "viva": []}
        for r in range(rounds):
            for mode in times:
                out = tmp / f"{mode}{r}"
                cfg = TrainConfig(task="kitchen-microwave", out=out, mode=mode, value=value if mode == "viva" else None,
                                  obs="pixels+state", steps=20 + steps, random_steps=20, max_steps=20 + steps, log_every=1,
                                  eval_every=10**6, eval_episodes=1, eval_video=False, checkpoint_every=10**6,
                                  device="cpu", seed=r)  # one episode; the run ends with one evaluation episode
                train(cfg, progress=False)
                rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
                walls = [x["wall_s"] for x in rows if x["kind"] == "train"]
                times[mode].append((walls[-1] - walls[0]) / (len(walls) - 1))
                print(f"round {r}: {mode} {1000 * times[mode][-1]:.0f} ms per step")
    s, v = min(times["sparse"]), min(times["viva"])
    print(f"sac_throughput: pixels+state kitchen-microwave, batch 256: sparse {1000 * s:.0f} ms/step, viva {1000 * v:.0f} "
          f"ms/step, viva/sparse {v / s:.2f}x (target <= 1.25x)")


if __name__ == "__main__":
    main()
