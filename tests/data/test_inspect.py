"""`dataset info` numbers and `dataset show` pictures reflect what is stored."""

import json

import av
import numpy as np
import pytest
from PIL import Image

from viva_robot.cli import main
from viva_robot.data.config import DatasetShowConfig
from viva_robot.data.dataset import DatasetError, DatasetWriter, Episode
from viva_robot.data.inspect import contact_sheet, dataset_info, episode_video, format_info


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "d.zarr"
    w = DatasetWriter(path, source="sim:test", fps=12.5, resolution=(16, 16), with_success=True)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    for k, (kind, t) in enumerate([("scripted", 5), ("play", 9), ("scripted", 7)]):
        rgb = np.empty((t, 16, 16, 3), np.uint8)
        rgb[:] = colours[k]
        w.append(Episode(rgb=rgb, key=f"ep{k:05d}:{kind}:noise=0", success=np.arange(t) >= (t - 2 if k == 0 else t),
                         language="open the microwave" if k == 2 else ""))
    return path


def test_info_counts(dataset):
    info = dataset_info(dataset)
    assert info["episodes"] == 3 and info["frames"] == 21 and info["resolution"] == [16, 16]
    assert info["episode_length"] == {"min": 5, "mean": 7.0, "max": 9}
    assert info["arrays"] == ["rgb", "success"] and info["with_language"] == 1
    assert info["episodes_reaching_success"] == 1
    assert info["by_kind"] == {"scripted": {"episodes": 2, "reaching_success": 1}, "play": {"episodes": 1, "reaching_success": 0}}
    text = format_info(info)
    assert "episodes   3" in text and "frames     21  (16x16 RGB at 12.5 fps" in text
    assert "success    1/3 episodes reach the task goal (scripted: 1/2, play: 0/1" in text


def test_info_cli_json(dataset, capsys):
    assert main(["dataset", "info", str(dataset), "--as-json"]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 21


def test_contact_sheet_shows_the_episode(dataset, tmp_path):
    out = contact_sheet(DatasetShowConfig(path=dataset, episode=1, out=tmp_path / "sheet.png", frames=4))
    img = np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3)
    green = ((img[:, 1] > 200) & (img[:, 0] < 60) & (img[:, 2] < 60)).mean()
    red = ((img[:, 0] > 200) & (img[:, 1] < 60) & (img[:, 2] < 60)).mean()
    assert green > 0.05 and red == 0  # episode 1 is green; episode 0 (red) is not on it
    assert json.loads(Image.open(out).info["Description"])["episode"] == 1


def test_episode_video_has_every_frame(dataset, tmp_path):
    out = episode_video(DatasetShowConfig(path=dataset, episode=2, video=tmp_path / "ep.mp4", video_scale=2))
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 7 and frames[0].shape == (32, 32, 3)
    assert np.abs(frames[3].astype(int) - [0, 0, 255]).mean() < 12  # blue, up to H.264 loss


def test_show_missing_episode(dataset, tmp_path):
    with pytest.raises(DatasetError, match=r"episode 3 does not exist \(the dataset has 3 episodes, 0\.\.2\)"):
        contact_sheet(DatasetShowConfig(path=dataset, episode=3, out=tmp_path / "x.png"))
    assert not (tmp_path / "x.png").exists()
