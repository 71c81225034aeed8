"""experiments/compare.py: the summary and plot it draws from run directories' metrics.jsonl."""

import importlib.util
import json
import sys
from argparse import Namespace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("compare", ROOT / "experiments" / "compare.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare"] = module
    spec.loader.exec_module(module)
    return module


def write_run(run: Path, successes: list[int], value: bool) -> None:
    """Episode and evaluation rows as `viva-robot train` writes them; shaped modes log reward/value per episode."""
    run.mkdir(parents=True)
    rows = []
    for i, s in enumerate(successes):
        row = {"step": 200 * (i + 1), "kind": "episode", "episode": i, "length": 200, "success": float(s),
               "reward/env": float(s)}
        if value:
            row["reward/value"] = -10.0 + i
        rows.append(row)
    rows.append({"step": 200 * len(successes), "kind": "eval", "success_rate": 0.2 * sum(successes[-5:]),
                 "return": 0.0})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_summary_counts_successes_and_modes_without_value_rewards_plot(compare, tmp_path):
    out = tmp_path / "cmp"
    write_run(out / "sparse" / "seed0", [0, 0, 0, 0], value=False)
    write_run(out / "critic-init" / "seed0", [0, 1, 0, 1], value=False)  # a value is loaded, but not in the reward
    write_run(out / "potential" / "seed0", [0, 0, 1, 1], value=True)
    args = Namespace(out=out, modes=["sparse", "critic-init", "potential"], seeds=[0], train_args=["--steps", "800"],
                     config=None, plot=tmp_path / "plot.png", finished_only=False)
    summary = compare.plot(args)
    assert summary["sparse"]["train_episodes_with_success"] == [0]
    assert summary["critic-init"]["train_episodes_with_success"] == [2]
    assert summary["critic-init"]["first_success_step"] == [400]
    assert summary["potential"]["first_success_step"] == [600]
    assert summary["potential"]["final_eval_success"] == [pytest.approx(0.4)]
    assert summary["potential"]["mean_eval_return"] == [0.0] and summary["potential"]["first_step_return_50"] == [None]
    assert summary["potential"]["steps_reached"] == [800]
    table = compare.markdown_table(summary).splitlines()
    assert table[2] == "| `sparse` | 800 | 0 | 0.0 | - | - |" and table[4].endswith("| 800 | 0 | 0.0 | - | 600 |")
    assert args.plot.stat().st_size > 10_000


def test_finished_only_leaves_out_a_run_short_of_the_horizon(compare, tmp_path, capsys):
    out = tmp_path / "cmp"
    write_run(out / "rlpd" / "seed0", [0, 1, 1, 1], value=False)  # 800 steps: the horizon
    write_run(out / "rlpd" / "seed1", [0, 0], value=False)  # stopped at 400
    args = Namespace(out=out, modes=["rlpd"], seeds=[0, 1], train_args=["--steps", "800"], config=None,
                     plot=tmp_path / "plot.png", finished_only=True)
    summary = compare.plot(args)
    assert summary["rlpd"]["seeds"] == 1 and summary["rlpd"]["steps_reached"] == [800]
    assert capsys.readouterr().out == "rlpd: seeds [1] left out (not at the preset's steps)\n"
    args.finished_only = False
    assert compare.plot(args)["rlpd"]["steps_reached"] == [800, 400]


def test_rlpd_and_alpha_modes_map_to_train_flags(compare, tmp_path):
    prior = tmp_path / "fails.zarr"
    assert compare.mode_flags("sparse", None) == ("sparse", [])
    assert compare.mode_flags("rlpd", prior) == ("sparse", ["--prior", str(prior)])
    assert compare.mode_flags("rlpd+viva@0.006", prior) == ("viva", ["--prior", str(prior), "--viva-alpha", "0.006"])
    assert compare.mode_flags("rlpd+potential", prior) == ("potential", ["--prior", str(prior)])
    with pytest.raises(SystemExit, match="mode 'rlpd' needs --prior DATASET"):
        compare.mode_flags("rlpd", None)
    args = Namespace(out=tmp_path / "cmp", prior=prior, value=tmp_path / "value.pt", config=Path("preset.yaml"),
                     train_args=["--steps", "100"])
    cmd = compare.command(args, "rlpd+viva@0.006", 1)
    assert cmd[cmd.index("--mode") + 1] == "viva" and cmd[cmd.index("--prior") + 1] == str(prior)
    assert cmd[cmd.index("--out") + 1] == str(tmp_path / "cmp" / "rlpd+viva@0.006" / "seed1")
    assert "--value" in compare.command(args, "rlpd+viva@0.006", 1) and "--value" not in compare.command(args, "rlpd", 1)
