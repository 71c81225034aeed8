"""The value `make demo` ships (assets/values/): it loads as `train` loads values and reproduces the accuracy
recorded beside it on fresh video made here (the demo's collection preset, first episodes)."""

import json
from pathlib import Path

import pytest

from viva_robot.config import load_config
from viva_robot.sim.config import CollectConfig
from viva_robot.value.config import ValueCheckConfig
from viva_robot.value.guide import ValueGuide
from viva_robot.sim.collect import collect
from viva_robot.value.diagnostics import run_value_check

ROOT = Path(__file__).resolve().parents[2]
VALUE = ROOT / "assets" / "values" / "kitchen-slide-cabinet-play.pt"
RECORD = json.loads(VALUE.with_suffix(".json").read_text())


def test_shipped_value_loads_and_reproduces_its_recorded_accuracy(tmp_path):
    import torch

    guide = ValueGuide(VALUE, 64, torch.device("cpu"))  # what `train --value` does with it
    assert guide.encoder_name == RECORD["encoder"] == "small"
    check = RECORD["check"]
    cfg = load_config(CollectConfig, ROOT / check["collect_preset"], {"out": tmp_path / "fresh.zarr",
                                                                      "episodes": check["episodes"]})
    collect(cfg, progress=False)
    summary = run_value_check(ValueCheckConfig(checkpoint=VALUE, data=cfg.out, out=tmp_path / "check",
                                               episodes="all", device="cpu"))
    assert summary["accuracy_by_kind"]["scripted"] == pytest.approx(check["scripted_accuracy"], abs=0.01)
    assert summary["pixel_distance_accuracy_by_kind"]["scripted"] == pytest.approx(check["pixel_accuracy"], abs=0.01)
    assert summary["accuracy_by_kind"]["scripted"] > summary["pixel_distance_accuracy_by_kind"]["scripted"]
