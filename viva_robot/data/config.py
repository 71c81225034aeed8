"""The configs of the data commands: `import ego4d|bridge|lerobot`, `dataset info|show`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from viva_robot.config import ON_ERROR_HELP, Config, OnError


class ImportEgo4DConfig(Config):
    """`viva-robot import ego4d`: Ego4D clips (mp4) -> viva dataset."""

    src: Path = Field(description="folder of Ego4D videos (*.mp4, searched recursively), e.g. <root>/v2/clips")
    out: Path = Field(description="output dataset (.zarr folder); an existing one is resumed")
    size: int = Field(128, ge=8, le=1024, description="output frames are size x size: short side resized, center-cropped")
    fps: float = Field(5.0, gt=0, le=120, description="frames per second kept from each video")
    episode_seconds: float | None = Field(
        None, gt=0, description="split each video into windows of this many seconds; unset: one episode per video"
    )
    min_frames: int = Field(2, ge=2, description="drop episodes (windows, short clips) with fewer frames than this")
    manifest: Path | None = Field(
        None, description="ego4d.json manifest (video_uid, fps, start offsets); default: SRC/ego4d.json or SRC/../ego4d.json if present"
    )
    threads: int = Field(0, ge=0, description="decoder threads per video (0: FFmpeg picks)")
    on_error: OnError = Field("stop", description=ON_ERROR_HELP)


class ImportBridgeConfig(Config):
    """`viva-robot import bridge`: BridgeData V2 (raw JPEG release or numpy release) -> viva dataset."""

    src: Path = Field(description="BridgeData V2 raw folder (…/traj_groupK/trajN/images0) or numpy release (…/out.npy)")
    out: Path = Field(description="output dataset (.zarr folder); an existing one is resumed")
    size: int = Field(128, ge=8, le=1024, description="output frames are size x size")
    camera: int = Field(0, ge=0, le=3, description="which camera folder to import (images0 .. images3)")
    resize: Literal["stretch", "crop"] = Field(
        "stretch", description="'stretch' 640x480 to a square as BridgeData's own numpy release does, or center 'crop'"
    )
    fps: float = Field(5.0, gt=0, description="recording rate stored in the dataset attributes (BridgeData V2: 5 Hz)")
    on_error: OnError = Field("stop", description=ON_ERROR_HELP)


class ImportLeRobotConfig(Config):
    """`viva-robot import lerobot`: a local LeRobotDataset (codebase v2.1 or v3.0: parquet + mp4) -> viva dataset."""

    src: Path = Field(description="LeRobot dataset folder (the one holding meta/info.json), e.g. a snapshot downloaded "
                                  "from the Hugging Face Hub")
    out: Path = Field(description="output dataset (.zarr folder); an existing one is resumed")
    camera: str | None = Field(None, description="video feature to import, e.g. observation.images.top; "
                                                 "default: the first video feature in meta/info.json")
    fps: float = Field(5.0, gt=0, le=120, description="frames per second kept from each episode (at most the source's "
                                                      "rate), chosen by timestamp")
    size: int = Field(128, ge=8, le=1024, description="output frames are size x size: short side resized, center-cropped")
    threads: int = Field(0, ge=0, description="decoder threads per video (0: FFmpeg picks)")
    on_error: OnError = Field("stop", description=ON_ERROR_HELP)


class DatasetInfoConfig(Config):
    """`viva-robot dataset info`: episodes, frames, resolution, sources and size of a dataset."""

    path: Path = Field(description="dataset (.zarr folder)")
    as_json: bool = Field(False, description="print JSON instead of a table")


class DatasetShowConfig(Config):
    """`viva-robot dataset show`: a contact sheet of one episode's frames."""

    path: Path = Field(description="dataset (.zarr folder)")
    episode: int = Field(0, ge=0, description="episode index")
    out: Path = Field(Path("episode.png"), description="output PNG")
    frames: int = Field(16, ge=1, le=256, description="number of frames on the sheet, evenly spaced over the episode")
    video: Path | None = Field(None, description="also write the whole episode as an H.264 mp4 at the dataset's fps")
    video_scale: int = Field(4, ge=1, le=16, description="upscale factor for the mp4 (64x64 frames are tiny on screen)")
