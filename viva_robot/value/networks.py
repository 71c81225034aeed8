"""Networks of the intent-conditioned value V(s, g, z): one image encoder shared by s, g, z and every
ensemble head; a monolithic head (MLP over [e(s), e(g), e(z)], what the ViVa runs used) or a multilinear
head (phi(s)^T T(z) psi(g), ICVF's low-rank form).

Images enter as uint8 (B, H, W, 3); the encoder scales them to [-1, 1] itself, so callers never normalise.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn as nn
import torchvision

EncoderName = Literal["small", "resnet18", "resnet50"]
HeadName = Literal["monolithic", "multilinear"]


def _group_norm(channels: int) -> nn.GroupNorm:
    # GroupNorm, not BatchNorm: batch statistics would couple s, g and z of a batch, break the target
    # network's stop-gradient semantics, and need SyncBatchNorm under DDP (the ICVF encoder used GroupNorm too).
    return nn.GroupNorm(min(32, channels // 4), channels)


class SmallConv(nn.Module):
    """A CPU-sized conv net (DrQ style): 3x3 stride-2 convolutions and ReLUs, then a linear layer + LayerNorm.

    No normalisation between convolutions: GroupNorm doubled the CPU time of this net (measured at 64x64).
    """

    def __init__(self, image_size: int, channels: tuple[int, ...] = (16, 32, 64, 128), features: int = 256):
        super().__init__()
        layers, c_in = [], 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.ReLU(inplace=True)]
            c_in = c
        self.conv = nn.Sequential(*layers)
        side = image_size
        for _ in channels:
            side = (side + 1) // 2
        self.out = nn.Sequential(nn.Flatten(), nn.Linear(c_in * side * side, features), nn.LayerNorm(features))
        self.features = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.conv(x))


class TorchvisionResNet(nn.Module):
    """torchvision ResNet-18/50 trained from scratch, GroupNorm instead of BatchNorm, global-pooled features."""

    def __init__(self, name: Literal["resnet18", "resnet50"]):
        super().__init__()
        net = getattr(torchvision.models, name)(weights=None, norm_layer=_group_norm)
        self.features = net.fc.in_features
        net.fc = nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_encoder(name: EncoderName, image_size: int) -> nn.Module:
    match name:
        case "small":
            return SmallConv(image_size)
        case "resnet18" | "resnet50":
            return TorchvisionResNet(name)
    raise ValueError(f"unknown encoder {name!r}; valid: small, resnet18, resnet50")


def resolve_device(name: str) -> torch.device:
    """A config's device field ("auto" | "cpu" | "cuda") -> the torch device (auto: cuda when available)."""
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [-1, 1]: converted in NHWC, then permuted into an NCHW view
    with channels-last strides (no copy; the layout convolutions run fastest in)."""
    return images.float().div_(127.5).sub_(1.0).permute(0, 3, 1, 2)


class EnsembleLinear(nn.Module):
    """E independent linear layers applied in one batched matmul: (E, B, in) -> (E, B, out)."""

    def __init__(self, ensemble: int, d_in: int, d_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(ensemble, d_in, d_out))
        self.bias = nn.Parameter(torch.zeros(ensemble, 1, d_out))
        bound = d_in**-0.5
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight.shape[-1] == 1:
            # One output (a value or Q head): a multiply-and-sum. As a matmul this is a matrix-vector product, and
            # its input gradient an outer product with K = 1; both run far below matmul speed on CPU (measured here:
            # forward + backward 1.3x slower than this, the input gradient alone 2x).
            return (x * self.weight.transpose(1, 2)).sum(-1, keepdim=True) + self.bias
        return torch.baddbmm(self.bias, x, self.weight)


def ensemble_mlp(ensemble: int, d_in: int, hidden: tuple[int, ...], d_out: int,
                 activation: type[nn.Module] = nn.GELU) -> nn.Sequential:
    """Linear -> LayerNorm -> activation per hidden layer (GELU for the value, as ICVF; ReLU for SAC, as RLPD)."""
    layers, d = [], d_in
    for h in hidden:
        layers += [EnsembleLinear(ensemble, d, h), nn.LayerNorm(h), activation()]
        d = h
    layers.append(EnsembleLinear(ensemble, d, d_out))
    return nn.Sequential(*layers)


class MonolithicHead(nn.Module):
    """V_i(s, g, z) = MLP_i([e(s), e(g), e(z)]) for each ensemble member i."""

    def __init__(self, features: int, ensemble: int, hidden: tuple[int, ...]):
        super().__init__()
        self.mlp = ensemble_mlp(ensemble, 3 * features, hidden, 1)
        self.ensemble = ensemble

    def forward(self, es: torch.Tensor, eg: torch.Tensor, ez: torch.Tensor) -> torch.Tensor:
        x = torch.cat([es, eg, ez], dim=-1).expand(self.ensemble, -1, -1)
        return self.mlp(x).squeeze(-1)  # (E, B)


class MultilinearHead(nn.Module):
    """V_i(s, g, z) = phi_i(s)^T T_i(z) psi_i(g): ICVF's multilinear form with d-dimensional representations."""

    def __init__(self, features: int, ensemble: int, hidden: tuple[int, ...], rank: int = 64):
        super().__init__()
        self.phi = ensemble_mlp(ensemble, features, hidden, rank)
        self.psi = ensemble_mlp(ensemble, features, hidden, rank)
        self.T = ensemble_mlp(ensemble, features, hidden, rank * rank)
        self.ensemble, self.rank = ensemble, rank

    def forward(self, es: torch.Tensor, eg: torch.Tensor, ez: torch.Tensor) -> torch.Tensor:
        e = self.ensemble
        phi, psi = self.phi(es.expand(e, -1, -1)), self.psi(eg.expand(e, -1, -1))
        tz = self.T(ez.expand(e, -1, -1)).unflatten(-1, (self.rank, self.rank))
        return torch.einsum("ebi,ebij,ebj->eb", phi, tz, psi) / self.rank


class ICVF(nn.Module):
    """The intent-conditioned value V(s, g, z) over images, an ensemble of heads on one shared encoder."""

    def __init__(self, encoder: EncoderName = "small", head: HeadName = "monolithic", image_size: int = 64,
                 ensemble: int = 2, hidden: tuple[int, ...] = (256, 256)):
        super().__init__()
        self.encoder = make_encoder(encoder, image_size)
        d = self.encoder.features
        self.head = MonolithicHead(d, ensemble, hidden) if head == "monolithic" else MultilinearHead(d, ensemble, hidden)

    @classmethod
    def from_config(cls, cfg) -> "ICVF":
        """The network a `pretrain` config (PretrainConfig) describes; weights untrained."""
        return cls(cfg.encoder, cfg.head, cfg.image_size, cfg.ensemble, tuple(cfg.hidden))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, H, W, 3) or float (B, 3, H, W) from `to_input` -> features (B, D)."""
        x = to_input(images) if images.dtype == torch.uint8 else images
        return self.__dict__.get("_compiled_encoder", self.encoder)(x)

    def compile_encoder(self) -> None:
        """Run the encoder through torch.compile (1.07-1.15x faster steps for the small net on CPU, more on GPU).
        The compiled callable is kept outside the module tree, so state_dict keys do not change."""
        self.__dict__["_compiled_encoder"] = torch.compile(self.encoder, dynamic=False)

    def values(self, es: torch.Tensor, eg: torch.Tensor, ez: torch.Tensor) -> torch.Tensor:
        """Encoded (B, D) s, g, z -> values (E, B), always in float32: values reach -100 and consecutive frames
        differ by ~1, which bfloat16 (steps of 0.25-0.5 there) would round away under autocast."""
        with torch.autocast(es.device.type, enabled=False):
            return self.head(es.float(), eg.float(), ez.float())

    def forward(self, sgz: torch.Tensor) -> torch.Tensor:
        """Images of s, g and z stacked along the batch (3B, ...) -> values (E, B), one encoder pass."""
        es, eg, ez = self.encode(sgz).chunk(3)
        return self.values(es, eg, ez)

    @torch.no_grad()
    def value(self, states: torch.Tensor, goals: torch.Tensor) -> torch.Tensor:
        """V(s, g) = mean over heads of V(s, g, g), for uint8 images (B, H, W, 3) -> (B,)."""
        # eager encoder: evaluation batch sizes vary, and each new size would recompile a compiled one
        es, eg = self.encoder(to_input(states)), self.encoder(to_input(goals))
        return self.values(es, eg, eg).mean(0)
