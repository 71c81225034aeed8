"""The frozen value as a reward signal: the training reward of each guidance mode. The value itself (loading it,
V(s, g*) for one goal image) is value/guide.py's `ValueGuide`."""

from __future__ import annotations


def shaped_reward(mode: str, r_env: float, v_prev: float | None, v_next: float | None, *, alpha: float,
                  gamma: float, potential_scale: float) -> tuple[float, dict[str, float]]:
    """The training reward of a transition and its separately logged terms. Modes that do not shape the reward
    still log V(s', g*) when a value is loaded (a sparse run given --value: how far unguided agents get)."""
    match mode:
        case "sparse" | "critic-init":
            return r_env, {"env": r_env, **({"value": v_next} if v_next is not None else {})}
        case "viva" | "viva+critic-init":
            bonus = -1.0 + alpha * v_next
            return r_env + bonus, {"env": r_env, "viva": bonus, "value": v_next}
        case "potential":
            shaping = potential_scale * (gamma * v_next - v_prev)
            return r_env + shaping, {"env": r_env, "potential": shaping, "value": v_next}
    raise ValueError(f"unknown mode {mode!r}")
