"""The configs of `viva-robot pretrain` and `viva-robot value-check`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from viva_robot.config import Config


class PretrainConfig(Config):
    """`viva-robot pretrain`: learn the intent-conditioned value V(s, g, z) (ICVF) from video datasets."""

    out: Path = Field(description="run directory (config, checkpoints, TensorBoard, plots); must not exist unless resuming")
    data: tuple[Path, ...] = Field(description="one or more viva datasets (.zarr) to learn from")
    data_weights: tuple[float, ...] | None = Field(
        None, description="sampling weight of each dataset (default: proportional to its number of frames)"
    )
    init: Path | None = Field(None, description="start from this checkpoint's weights (fine-tuning), e.g. an Ego4D run")
    resume: Path | None = Field(None, description="continue the run in this directory from its last checkpoint")
    # model
    encoder: Literal["small", "resnet18", "resnet50"] = Field("small", description="image encoder (resnet50 for GPU runs)")
    head: Literal["monolithic", "multilinear"] = Field("monolithic", description="value head form")
    ensemble: int = Field(2, ge=1, description="number of value heads on the shared encoder")
    hidden: tuple[int, ...] = Field((256, 256), description="hidden sizes of the head MLPs")
    image_size: int = Field(64, ge=16, description="frames are image_size x image_size")
    resize_frames: bool = Field(False, description="resize frames of other sizes to image_size when loading them")
    # objective
    gamma: float = Field(0.99, gt=0, lt=1, description="discount")
    expectile: float = Field(0.9, gt=0, lt=1, description="expectile tau of the advantage-weighted TD loss")
    target_tau: float = Field(0.005, gt=0, le=1, description="Polyak rate of the target network, every step")
    p_curr: float = Field(0.2, ge=0, description="goal = the current frame")
    p_traj: float = Field(0.5, ge=0, description="goal = a later frame of the same episode")
    p_rand: float = Field(0.3, ge=0, description="goal = a random frame of the dataset")
    p_samegoal: float = Field(0.5, ge=0, le=1, description="probability that the goal is the intent (g = z)")
    intent_same_episode: bool = Field(False, description="draw the intent from the frame's own episode: the frame itself with p_curr, else a later frame")
    crop_pad: int = Field(4, ge=0, description="random-crop augmentation: pad by this many pixels, crop back")
    # optimisation
    steps: int = Field(20_000, ge=1, description="gradient steps")
    batch_size: int = Field(256, ge=2, description="samples per step (per process under torchrun)")
    lr: float = Field(3e-4, gt=0, description="Adam learning rate")
    adam_eps: float = Field(1e-8, gt=0, description="Adam epsilon (the ICVF vision runs used 3.125e-4 with lr 5e-5)")
    seed: int = Field(0, description="initialisation, held-out split and every batch derive from it")
    holdout_fraction: float = Field(0.1, ge=0, lt=1, description="share of each dataset's episodes kept for evaluation")
    drop_short_episodes: bool = Field(False, description="train without episodes of fewer than 2 frames instead of failing")
    # running
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available")
    compile: bool = Field(True, description="torch.compile the encoder (a few seconds to start; ~10% faster steps on CPU, more on GPU)")
    bf16: bool = Field(True, description="bfloat16 autocast on CUDA (ignored on CPU)")
    ram_budget_gb: float = Field(8.0, gt=0, description="frames beyond this are streamed from disk in a rotating pool")
    log_every: int = Field(50, ge=1, description="steps between logged scalars")
    eval_every: int = Field(1000, ge=1, description="steps between temporal-order checks on held-out episodes")
    checkpoint_every: int = Field(1000, ge=1, description="steps between checkpoints")

    @model_validator(mode="after")
    def _check(self) -> "PretrainConfig":
        if self.data_weights is not None and len(self.data_weights) != len(self.data):
            raise ValueError(f"data_weights has {len(self.data_weights)} entries for {len(self.data)} datasets")
        if self.data_weights is not None and (min(self.data_weights) < 0 or sum(self.data_weights) <= 0):
            raise ValueError(f"data_weights must be non-negative with a positive sum, got {list(self.data_weights)}")
        if self.p_curr + self.p_traj + self.p_rand <= 0:
            raise ValueError("p_curr + p_traj + p_rand must be positive")
        return self


class ValueCheckConfig(Config):
    """`viva-robot value-check`: does the value rise toward the goal on held-out video? Plots and one number."""

    checkpoint: Path = Field(description="checkpoint (.pt) of a pretrain run")
    data: Path = Field(description="viva dataset (.zarr) to check on")
    out: Path = Field(Path("value-check"), description="folder for the plots and value_check.json")
    episodes: Literal["heldout", "all"] = Field(
        "heldout", description="heldout: the run's held-out episodes when DATA was one of its datasets, else all"
    )
    max_episodes: int = Field(50, ge=1, description="check at most this many episodes")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available")
