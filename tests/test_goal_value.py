"""experiments/goal_value.py: the summary of a value's check toward the task's goal image, from saved episodes."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def goal_value():
    spec = importlib.util.spec_from_file_location("goal_value", ROOT / "experiments" / "goal_value.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(kind: str, values: list[float], first_success: int | None) -> dict:
    success = [first_success is not None and t >= first_success for t in range(len(values))]
    return {"kind": kind, "noise": 0.0, "seed": 0, "values": values, "success": success,
            "temporal_order_accuracy": 0.5, "pixel_order_accuracy": 0.5}


def scripted(peak_at: int | None) -> dict:
    """80 steps rising from -8 to -1 (success from step 60, V -1 there), with V = 0 at `peak_at` if given."""
    values = list(np.linspace(-8.0, -1.0, 60)) + [-1.0] * 20
    if peak_at is not None:
        values[peak_at] = 0.0
    return run("scripted", [float(v) for v in values], 60)


def test_a_value_above_the_task_done_early_on_the_way_is_found_and_warned(goal_value, tmp_path, capsys):
    runs = [scripted(15), scripted(25), scripted(None), run("random", [-6.0, -5.0, -7.0], None)]
    s = goal_value.summarize(runs)["scripted"]
    assert s["v_at_success"] == pytest.approx(-1.0) and s["first_success_step"] == 60
    assert s["attempts_above_success"] == "2 of 3" and s["first_step_above_success"] == pytest.approx(20.0)
    assert s["v_peak_before_success"] == pytest.approx(np.mean([0.0, 0.0, np.linspace(-8, -1, 60)[39]]))
    goal_value.warn_peak(goal_value.summarize(runs))
    assert capsys.readouterr().out.startswith(
        "warning: on the way to the task V rises above its value with the task done (-1.00) in 2 of 3 scripted "
        "attempts, first at step ~20 (first success at ~60; peak -1.12)")


def test_the_frames_just_before_success_do_not_count_as_a_peak(goal_value, capsys):
    # V at 0 on step 45, 15 steps before success: the task nearly done, not a state on the way
    s = goal_value.summarize([scripted(45)])
    assert s["scripted"]["attempts_above_success"] == "0 of 1" and s["scripted"]["first_step_above_success"] is None
    goal_value.warn_peak(s)
    assert capsys.readouterr().out == ""


def test_summarize_rereads_a_saved_check_and_refuses_another_file(tmp_path):
    saved = tmp_path / "check.json"
    saved.write_text(json.dumps({"summary": {}, "episodes": [scripted(15)]}))
    script = [sys.executable, str(ROOT / "experiments" / "goal_value.py"), "--summarize"]
    out = subprocess.run([*script, str(saved)], capture_output=True, text=True, check=True).stdout
    assert '"attempts_above_success": "1 of 1"' in out and "warning: on the way to the task" in out
    old = tmp_path / "old.json"
    old.write_text(json.dumps([scripted(15)]))
    r = subprocess.run([*script, str(old)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == (
        f"{old}: not a JSON this version of goal_value.py wrote (no 'episodes' object); run the check again")


def test_peak_probe_reports_the_early_peak_the_trough_after_it_and_the_success():
    spec = importlib.util.spec_from_file_location("peak_probe", ROOT / "experiments" / "peak_probe.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    r = scripted(15)  # peak at 15, success from 60, 80 steps
    r["values"][30] = -9.0  # the grasp's dip after the peak
    r["values"][50] = 0.5  # higher than the peak, but within 20 steps of success: the task nearly done
    assert probe.probe_steps(np.asarray(r["values"]), r["success"]) == {
        "start": 0, "early peak": 15, "trough": 30, "first success": 60, "success + 5": 65, "success + 15": 75,
        "end": 79}
