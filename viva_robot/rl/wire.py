"""What actor and learner say to each other over ZeroMQ, and the checks on what arrives.

A message is three frames: its kind (ASCII), a JSON object of small fields, and the arrays as one safetensors
buffer (possibly empty). safetensors holds raw tensors and a JSON header, nothing executable: a message from
another machine is untrusted input, and no pickle is ever loaded from the network. `unpack` raises `WireError`
saying what arrived (kind, field, dtype, shape) for anything it cannot use.

actor -> learner: `hello` (heartbeat; once the actor's env exists it carries the env's spaces and goal image),
`step` (one environment step, sequence-numbered). learner -> actor: `config` (the run's TrainConfig, for an actor
that has no env yet), `welcome`/`ack` (the learner's step, the newest sequence number it holds and the newest one
a checkpoint holds), `weights` (the actor's networks), `resend` (a gap: send again after this sequence number),
`refused` (why this actor cannot join), `done` (the run reached its steps).
"""

from __future__ import annotations

import json

import numpy as np
import torch
from safetensors.numpy import load as st_load, save as st_save

ACTOR_KINDS = ("hello", "step")
LEARNER_KINDS = ("config", "welcome", "ack", "weights", "resend", "refused", "done")
MAX_META_BYTES = 1 << 20
MAX_MESSAGE_BYTES = 256 << 20  # ZMQ_MAXMSGSIZE of both sockets: a peer cannot make either side allocate more


class WireError(ValueError):
    """A message that cannot be used: not three frames, an unknown kind, bad JSON or arrays; says what arrived."""


def pack(kind: str, meta: dict, arrays: dict[str, np.ndarray] | None = None) -> list[bytes]:
    body = st_save({k: np.ascontiguousarray(v) for k, v in arrays.items()}) if arrays else b""
    return [kind.encode(), json.dumps(meta).encode(), body]


def unpack(frames: list[bytes], kinds: tuple[str, ...]) -> tuple[str, dict, dict[str, np.ndarray]]:
    if len(frames) != 3:
        raise WireError(f"message has {len(frames)} frames, expected 3 (kind, JSON, safetensors)")
    kind_b, meta_b, body = frames
    kind = kind_b.decode("ascii", errors="replace")
    if kind not in kinds:
        raise WireError(f"unknown message kind {kind[:40]!r}; expected one of {', '.join(kinds)}")
    if len(meta_b) > MAX_META_BYTES:
        raise WireError(f"{kind}: JSON part is {len(meta_b)} bytes, more than {MAX_META_BYTES}")
    try:
        meta = json.loads(meta_b)
    except (ValueError, RecursionError) as e:  # bad JSON, bad UTF-8, integers too long, nesting too deep
        raise WireError(f"{kind}: JSON part does not parse ({e.__class__.__name__}: {str(e)[:80]})") from None
    if not isinstance(meta, dict):
        raise WireError(f"{kind}: JSON part is a {type(meta).__name__}, expected an object")
    try:
        arrays = st_load(body) if body else {}
    except Exception as e:  # SafetensorError, dtypes numpy lacks (bf16, f8): anything the buffer can provoke
        raise WireError(f"{kind}: arrays are not a safetensors buffer numpy can hold ({e.__class__.__name__}: "
                        f"{str(e)[:80]})") from None
    return kind, meta, arrays


def field(meta: dict, name: str, kind: str, types: type | tuple[type, ...]):
    """meta[name], checked to be of `types` (bool is never taken for an int; numbers finite, ints within int64)."""
    types = types if isinstance(types, tuple) else (types,)
    if name not in meta:
        raise WireError(f"{kind}: field {name!r} is missing")
    v = meta[name]
    if not isinstance(v, types) or (isinstance(v, bool) and bool not in types) or (
            isinstance(v, float) and not np.isfinite(v)) or (isinstance(v, int) and abs(v) > 2**62):
        raise WireError(f"{kind}: field {name!r} is {type(v).__name__} {str(v)[:40]}, expected "
                        f"{' or '.join(t.__name__ for t in types)}")
    return v


def array(arrays: dict[str, np.ndarray], name: str, kind: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """arrays[name] with exactly this shape and dtype, finite when floating point."""
    if name not in arrays:
        raise WireError(f"{kind}: array {name!r} is missing (has {', '.join(sorted(arrays)) or 'none'})")
    a = arrays[name]
    if a.shape != tuple(shape) or a.dtype != np.dtype(dtype):
        raise WireError(f"{kind}: array {name!r} is {a.dtype} {list(a.shape)}, expected {np.dtype(dtype)} {list(shape)}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise WireError(f"{kind}: array {name!r} contains NaN or inf")
    return a


def spaces_to_meta(env) -> dict:
    """The env's observation and action spaces as JSON (what the learner needs to build the agent)."""
    obs = {k: {"shape": list(s.shape), "dtype": str(s.dtype)} for k, s in env.observation_space.spaces.items()}
    return {"observation": obs, "action_dim": int(env.action_space.shape[0])}


# -- the actor's networks -----------------------------------------------------------------------------------------
def weights_arrays(encoder: torch.nn.Module, actor: torch.nn.Module) -> dict[str, np.ndarray]:
    out = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    out.update({f"actor.{k}": v for k, v in actor.state_dict().items()})
    return {k: v.detach().cpu().numpy() for k, v in out.items()}


def load_weights(arrays: dict[str, np.ndarray], encoder: torch.nn.Module, actor: torch.nn.Module) -> None:
    """Copy received weights into the actor's networks; WireError (nothing changed) when they do not fit."""
    parts = {"encoder": encoder, "actor": actor}
    for name, module in parts.items():
        own = module.state_dict()
        got = {k[len(name) + 1:]: v for k, v in arrays.items() if k.startswith(name + ".")}
        if set(got) != set(own):
            raise WireError(f"weights: {name} has parameters {sorted(set(got) ^ set(own))[:4]} that do not match "
                            f"this actor's network (was the learner started with another config?)")
        for k, v in got.items():
            if v.shape != tuple(own[k].shape) or not np.isfinite(v).all():
                raise WireError(f"weights: {name}.{k} is {list(v.shape)}, expected {list(own[k].shape)}, or not finite")
    for name, module in parts.items():
        module.load_state_dict({k[len(name) + 1:]: torch.from_numpy(v.copy()) for k, v in arrays.items()
                                if k.startswith(name + ".")})
