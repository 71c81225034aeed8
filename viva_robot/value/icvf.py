"""The ICVF objective (Ghosh et al. 2023, as in the authors' reference code; DESIGN.md §1).

For each ensemble member i:
    q_i   = r(s, g) + gamma * mask(s, g) * Vbar_i(s', g, z)                      (target net, no gradient)
    A     = r(s, z) + gamma * mask(s, z) * min_i Vbar_i(s', z, z) - mean_i Vbar_i(s, z, z)
    loss  = sum_i mean[ |tau - 1(A < 0)| * (q_i - V_i(s, g, z))^2 ]               (expectile tau)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from viva_robot.value.networks import to_input


@dataclass(frozen=True)
class ICVFHyper:
    gamma: float = 0.99
    expectile: float = 0.9
    target_tau: float = 0.005


def batch_to_tensors(batch, device: torch.device) -> dict[str, torch.Tensor]:
    non_blocking = device.type == "cuda"
    return {k: torch.from_numpy(v).to(device, non_blocking=non_blocking) for k, v in batch._asdict().items()}


def icvf_loss(model: nn.Module, target: nn.Module, b: dict[str, torch.Tensor], hp: ICVFHyper):
    """(loss, metrics) for one batch. `model` may be DDP-wrapped: it is called through forward()."""
    images = b["images"]  # uint8 (4, B, H, W, 3): s, g, z, s'
    x = to_input(images.flatten(0, 1))  # converted once, shared by both networks
    n = images.shape[1]
    with torch.no_grad():
        ts, tg, tz, tn = target.encode(x).split(n)
        q = b["goal_reward"] + hp.gamma * b["goal_mask"] * target.values(tn, tg, tz)  # (E, B)
        next_v_zz = target.values(tn, tz, tz).min(0).values
        v_zz = target.values(ts, tz, tz).mean(0)
        adv = b["intent_reward"] + hp.gamma * b["intent_mask"] * next_v_zz - v_zz
    v = model(x[: 3 * n])  # (E, B); s, g, z are the first three blocks

    weight = torch.where(adv >= 0, hp.expectile, 1.0 - hp.expectile)
    loss = (weight * (q - v).square()).mean(1).sum()
    metrics = {
        "loss": loss.detach(),
        "v_mean": v.detach().mean(),
        "v_min": v.detach().min(),
        "v_max": v.detach().max(),
        "q_mean": q.mean(),
        "adv_mean": adv.mean(),
        "adv_positive": (adv >= 0).float().mean(),
    }
    return loss, metrics


def icvf_step(model: nn.Module, target: nn.Module, optimizer: torch.optim.Optimizer, b: dict[str, torch.Tensor],
              hp: ICVFHyper, autocast, online: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """One training step: loss, backward, optimizer step, Polyak update of the target. `model` is what the
    loss calls (DDP-wrapped under torchrun); `online` the bare module the target follows (default: `model`)."""
    with autocast:
        loss, metrics = icvf_loss(model, target, b, hp)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    polyak_update(target, online if online is not None else model, hp.target_tau)
    return metrics


@torch.no_grad()
def polyak_update(target: nn.Module, model: nn.Module, tau: float) -> None:
    t_params = list(target.parameters())
    torch._foreach_lerp_(t_params, [p.detach() for p in model.parameters()], tau)
