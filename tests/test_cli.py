"""The CLI maps flags and YAML presets onto validated configs; errors name the file and field."""

import subprocess
import sys
from pathlib import Path

import pytest

from viva_robot.cli import build_parser, config_from_args, main
from viva_robot.config import ConfigError, load_config
from viva_robot.data.config import ImportEgo4DConfig, ImportLeRobotConfig
from viva_robot.sim.config import CollectConfig

REPO = Path(__file__).resolve().parents[1]


def parse(argv):
    return config_from_args(build_parser().parse_args(argv))


def test_flags_override_preset(tmp_path):
    cfg = parse(["collect", "--config", str(REPO / "configs/collect/door.yaml"), str(tmp_path / "o.zarr"),
                 "--episodes", "3", "--noise-levels", "0", "0.5"])
    assert isinstance(cfg, CollectConfig)
    assert cfg.env == "door" and cfg.frame_skip == 2 and cfg.episodes == 3 and cfg.noise_levels == (0.0, 0.5)
    assert cfg.out == tmp_path / "o.zarr"


def test_every_preset_validates():
    for preset in sorted((REPO / "configs/collect").glob("*.yaml")):
        assert load_config(CollectConfig, preset, {"out": "x.zarr"}).env
    cfg = load_config(ImportEgo4DConfig, REPO / "configs/import/ego4d.yaml", {"src": "a", "out": "b"})
    assert (cfg.size, cfg.fps, cfg.episode_seconds) == (128, 5.0, 10.0)
    cfg = load_config(ImportLeRobotConfig, REPO / "configs/import/lerobot.yaml", {"src": "a", "out": "b"})
    assert (cfg.size, cfg.fps, cfg.camera) == (128, 5.0, None)


def test_unknown_key_in_preset_is_an_error(tmp_path):
    preset = tmp_path / "bad.yaml"
    preset.write_text("env: door\nepisodez: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml \(\+ command line\): invalid CollectConfig:\n  unknown field 'episodez' \(valid: env, out, episodes"):
        load_config(CollectConfig, preset, {"out": "x"})


def test_bad_value_names_field(tmp_path):
    with pytest.raises(ConfigError, match=r"field 'size': Input should be greater than or equal to 16 \(got '4'\)"):
        parse(["collect", "--env", "door", str(tmp_path / "o"), "--size", "4"])
    with pytest.raises(ConfigError, match=r"missing\.yaml: config file not found"):
        load_config(CollectConfig, tmp_path / "missing.yaml")


def test_main_reports_errors_without_traceback(tmp_path, capsys):
    assert main(["dataset", "info", str(tmp_path / "nothing.zarr")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"viva-robot dataset info: error: {tmp_path / 'nothing.zarr'}: no such dataset (path does not exist)"


def test_help_has_examples():
    out = subprocess.run([sys.executable, "-m", "viva_robot.cli", "collect", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "example:" in out and "viva-robot collect --config configs/collect/kitchen-microwave.yaml" in out
    assert "--scripted-fraction" in out and "--noise-levels" in out
    top = subprocess.run(["viva-robot", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("import", "collect", "dataset"):
        assert command in top


def _commands(parser, prefix=()):
    """Every runnable command path in the parser, found by walking its subparsers (so new commands are covered)."""
    import argparse

    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix
    for action in subs:
        for name, child in action.choices.items():
            yield from _commands(child, prefix + (name,))


def test_every_command_help_works(capsys):
    commands = list(_commands(build_parser()))
    assert ("pretrain",) in commands and ("calibrate", "board") in commands and len(commands) >= 16
    for command in [()] + commands:
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--help"])
        out = capsys.readouterr().out
        assert exit_info.value.code == 0, command
        assert out.startswith("usage: viva-robot"), command
        if command:
            assert "example:\n  viva-robot " + " ".join(command) in out, command


def test_help_keeps_percent_signs_literal(capsys):
    with pytest.raises(SystemExit):
        main(["calibrate", "board", "--help"])
    out = capsys.readouterr().out
    assert "100% scale" in out and "_StoreAction" not in out
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    assert "% faster" in capsys.readouterr().out


@pytest.mark.parametrize("script", ["experiments/paper_kitchen.sh", "benchmarks/gpu.sh", "benchmarks/gpu_wheels.sh"])
def test_shell_scripts_print_their_header_for_help_and_do_nothing_else(script, tmp_path):
    path = REPO / script
    header = [line[2:] if line.startswith("# ") else line[1:] for line in
              path.read_text().split("\nset ")[0].splitlines()[1:]]
    proc = subprocess.run(["bash", str(path), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == header
    assert list(tmp_path.iterdir()) == []  # "--help" is not taken for a folder to write into
