"""The `viva-robot` command. Every subcommand is one pydantic config: `--config PRESET.yaml` gives the
fields, flags override them (one flag per field, generated from the model so help and validation never
drift), the result is validated once and handed to the command's function.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import typing
from pathlib import Path

from viva_robot import __version__
from viva_robot.config import Config, ConfigError, load_config
from viva_robot.data.config import DatasetInfoConfig, DatasetShowConfig, ImportBridgeConfig, ImportEgo4DConfig, ImportLeRobotConfig
from viva_robot.rl.config import ActorConfig, EvalConfig, RunConfig, TrainConfig
from viva_robot.robot.config import CalibrateBoardConfig, CalibrateHandEyeConfig, CalibrateIntrinsicsConfig, CalibrateWorkspaceConfig
from viva_robot.ros.config import GoalCaptureConfig, RecordConfig
from viva_robot.sim.config import CollectConfig
from viva_robot.value.config import PretrainConfig, ValueCheckConfig

LEARNER_DOC = ("`viva-robot learner`: the training half of a run whose actor is another process, maybe on another "
               "machine (`viva-robot actor --learner tcp://THIS_HOST:5555`): takes the same flags as train, listens on "
               "--bind, updates, checkpoints (--resume continues it) and sends the actor its weights every "
               "--weights-every-s. No evaluation here: run `viva-robot eval` on its checkpoints.")
EXAMPLES = {
    "import ego4d": "viva-robot import ego4d ~/ego4d/v2/clips data/ego4d.zarr --size 128 --fps 5 --episode-seconds 10",
    "import bridge": "viva-robot import bridge ~/bridge_data_v2/raw data/bridge.zarr --size 128",
    "import lerobot": "viva-robot import lerobot ~/.cache/huggingface/lerobot/lerobot/aloha_static_coffee data/aloha-coffee.zarr --camera observation.images.cam_high --fps 5",
    "collect": "viva-robot collect --config configs/collect/kitchen-microwave.yaml data/microwave.zarr --episodes 40",
    "pretrain": "viva-robot pretrain --config configs/pretrain/door.yaml --data data/door.zarr --out runs/door-icvf",
    "value-check": "viva-robot value-check runs/door-icvf/value.pt data/door.zarr --out runs/door-icvf/check",
    "train": "viva-robot train --backend sim --config configs/train/kitchen-microwave.yaml --mode viva --value runs/microwave-icvf/value.pt --out runs/microwave-viva",
    "learner": "viva-robot learner --backend ros --robot configs/robot/real-franka.yaml --goal-image calibration/goal.png --bind tcp://0.0.0.0:5555 --out runs/franka-sac",
    "actor": "viva-robot actor --learner tcp://gpu-workstation:5555 --robot configs/robot/real-franka.yaml --goal-image calibration/goal.png",
    "eval": "viva-robot eval runs/microwave-viva --episodes 20 --video",
    "goal capture": "viva-robot goal capture --robot configs/robot/real-franka.yaml --out calibration/goal.png",
    "record": "viva-robot record --backend ros data/franka-play.zarr --robot configs/robot/real-franka.yaml --episodes 20 --steps 300",
    "run": "viva-robot run --backend ros --robot configs/robot/real-franka.yaml --policy runs/franka-viva --goal-image calibration/goal.png",
    "dataset info": "viva-robot dataset info data/microwave.zarr",
    "dataset show": "viva-robot dataset show data/microwave.zarr --episode 3 --out episode3.png --video episode3.mp4",
    "calibrate board": "viva-robot calibrate board --out board.png",
    "calibrate intrinsics": "viva-robot calibrate intrinsics --out calibration/intrinsics.yaml --width 640 --height 480",
    "calibrate hand-eye": "viva-robot calibrate hand-eye calibration/samples --out calibration/camera_to_base.yaml",
    "calibrate workspace": "viva-robot calibrate workspace corners.jsonl --margin 0.02 --out calibration/workspace.yaml",
}


def _flag_kwargs(annotation) -> dict:
    """argparse options for a field; values stay strings and pydantic converts and checks them."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _flag_kwargs(inner[0])
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is typing.Literal:
        return {"choices": list(args)}
    if origin in (tuple, list):
        return {"nargs": "+"}
    return {}


def _literal(text: str) -> str:
    """argparse %-formats every help string (for `%(default)s`); field descriptions say "10% faster" literally."""
    return text.replace("%", "%%")


def add_config_command(sub, name: str, model: type[Config], positional: tuple[str, ...], example: str, full_name: str = "",
                       doc: str = ""):
    doc = doc or (model.__doc__ or "").strip()
    p = sub.add_parser(name, help=_literal(doc.split(":", 1)[-1].strip()), description=doc,
                       epilog=f"example:\n  {example}\n", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, metavar="YAML", help="preset with this command's fields; flags override it")
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")
    for field_name, field in model.model_fields.items():
        default = "" if field.is_required() or field.default is None else f" (default: {field.default})"
        help_text = _literal(f"{field.description}{default}")
        if field_name in positional:
            p.add_argument(field_name, nargs="?", metavar=field_name.upper(), help=help_text)
        else:
            p.add_argument(f"--{field_name.replace('_', '-')}", dest=field_name, default=None, help=help_text,
                           **_flag_kwargs(field.annotation))
    p.set_defaults(_model=model, _command=full_name or name)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="viva-robot",
        description="ViVa: video-trained value functions that guide online RL on simulated and real robot arms.",
        epilog="examples:\n  " + "\n  ".join(EXAMPLES.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"viva-robot {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)

    imp = sub.add_parser("import", help="convert a video source (Ego4D, BridgeData V2, LeRobot) into a viva dataset",
                         description="Convert a video source into a viva dataset (Zarr). Interrupted imports resume.")
    imp_sub = imp.add_subparsers(dest="source", metavar="SOURCE", required=True)
    add_config_command(imp_sub, "ego4d", ImportEgo4DConfig, ("src", "out"), EXAMPLES["import ego4d"], "import ego4d")
    add_config_command(imp_sub, "bridge", ImportBridgeConfig, ("src", "out"), EXAMPLES["import bridge"], "import bridge")
    add_config_command(imp_sub, "lerobot", ImportLeRobotConfig, ("src", "out"), EXAMPLES["import lerobot"], "import lerobot")

    add_config_command(sub, "collect", CollectConfig, ("out",), EXAMPLES["collect"])

    add_config_command(sub, "pretrain", PretrainConfig, (), EXAMPLES["pretrain"])
    add_config_command(sub, "value-check", ValueCheckConfig, ("checkpoint", "data"), EXAMPLES["value-check"])
    add_config_command(sub, "train", TrainConfig, (), EXAMPLES["train"])
    add_config_command(sub, "learner", TrainConfig, (), EXAMPLES["learner"], doc=LEARNER_DOC)
    add_config_command(sub, "actor", ActorConfig, (), EXAMPLES["actor"])
    add_config_command(sub, "eval", EvalConfig, ("run",), EXAMPLES["eval"])
    add_config_command(sub, "run", RunConfig, (), EXAMPLES["run"])
    add_config_command(sub, "record", RecordConfig, ("out",), EXAMPLES["record"])
    goal = sub.add_parser("goal", help="the goal image of a real-robot task", description="The goal image of a real-robot task.")
    goal_sub = goal.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_config_command(goal_sub, "capture", GoalCaptureConfig, (), EXAMPLES["goal capture"], "goal capture")

    ds = sub.add_parser("dataset", help="inspect a viva dataset", description="Inspect a viva dataset.")
    ds_sub = ds.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_config_command(ds_sub, "info", DatasetInfoConfig, ("path",), EXAMPLES["dataset info"], "dataset info")
    add_config_command(ds_sub, "show", DatasetShowConfig, ("path",), EXAMPLES["dataset show"], "dataset show")

    cal = sub.add_parser("calibrate", help="camera intrinsics, camera-to-base transform and workspace box of the real arm",
                         description="Calibrate the real-robot setup; files go to calibration/ (see calibration/README.md).")
    cal_sub = cal.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, model, positional in (("board", CalibrateBoardConfig, ()), ("intrinsics", CalibrateIntrinsicsConfig, ()),
                                    ("hand-eye", CalibrateHandEyeConfig, ("samples",)),
                                    ("workspace", CalibrateWorkspaceConfig, ("poses",))):
        add_config_command(cal_sub, name, model, positional, EXAMPLES[f"calibrate {name}"], f"calibrate {name}")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    model: type[Config] = args._model
    overrides = {name: getattr(args, name) for name in model.model_fields if getattr(args, name, None) is not None}
    if model in (PretrainConfig, TrainConfig) and overrides.get("resume"):
        if model is PretrainConfig:
            from viva_robot.value.pretrain import resume_config
        else:
            from viva_robot.rl.train import resume_config
        if args.config is not None:
            raise ConfigError("--resume continues a run with its own config.json; drop --config")
        return resume_config(Path(overrides["resume"]), overrides)
    return load_config(model, args.config, overrides)


def run(cfg: Config, progress: bool, command: str = "") -> None:
    match cfg:
        case ImportEgo4DConfig():
            from viva_robot.data.ego4d import import_ego4d

            print(json.dumps(import_ego4d(cfg, progress=progress), indent=2))
        case ImportBridgeConfig():
            from viva_robot.data.bridge import import_bridge

            print(json.dumps(import_bridge(cfg, progress=progress), indent=2))
        case ImportLeRobotConfig():
            from viva_robot.data.lerobot import import_lerobot

            print(json.dumps(import_lerobot(cfg, progress=progress), indent=2))
        case CollectConfig():
            from viva_robot.sim.collect import collect

            print(json.dumps(collect(cfg, progress=progress), indent=2))
        case PretrainConfig():
            from viva_robot.value.pretrain import pretrain

            print(f"run directory: {pretrain(cfg, progress=progress)}")
        case ValueCheckConfig():
            from viva_robot.value.diagnostics import run_value_check

            summary = run_value_check(cfg)

            def by_kind(kinds: dict[str, float]) -> str:
                return "; " + ", ".join(f"{k}: {v:.3f}" for k, v in kinds.items()) if len(kinds) > 1 else ""

            print(f"temporal-order accuracy: {summary['temporal_order_accuracy']:.3f} "
                  f"({len(summary['episodes'])} episodes{by_kind(summary['accuracy_by_kind'])}; plots in {cfg.out})")
            print(f"pixel-distance baseline (V = -squared pixel difference to g): "
                  f"{summary['pixel_distance_accuracy']:.3f}{by_kind(summary['pixel_distance_accuracy_by_kind'])}")
        case TrainConfig() if command == "learner":
            from viva_robot.rl.learner import learn

            print(f"run directory: {learn(cfg, progress=progress)}")
        case TrainConfig(backend="ros"):  # the arm acts at its rate in a process of its own, the updates in this one
            from viva_robot.rl.learner import train_apart

            print(f"run directory: {train_apart(cfg, progress=progress)}")
        case TrainConfig():
            from viva_robot.rl.train import train

            print(f"run directory: {train(cfg, progress=progress)}")
        case ActorConfig():
            from viva_robot.rl.actor import act

            print(json.dumps(act(cfg, progress=progress)))
        case GoalCaptureConfig():
            from viva_robot.ros.record import capture_goal

            print(f"wrote {capture_goal(cfg)}")
        case RecordConfig():
            from viva_robot.ros.record import record

            print(json.dumps(record(cfg, progress=progress), indent=2))
        case EvalConfig() | RunConfig():
            from viva_robot.rl.train import run_eval

            print(json.dumps(run_eval(cfg), indent=2))
        case DatasetInfoConfig():
            from viva_robot.data.inspect import dataset_info, format_info

            info = dataset_info(cfg.path)
            print(json.dumps(info, indent=2) if cfg.as_json else format_info(info))
        case DatasetShowConfig():
            from viva_robot.data.inspect import contact_sheet, episode_video

            print(f"wrote {contact_sheet(cfg)}")
            if cfg.video is not None:
                print(f"wrote {episode_video(cfg)}")
        case CalibrateIntrinsicsConfig():
            from viva_robot.robot.calibration import intrinsics_from_device, save

            i = intrinsics_from_device(cfg.serial, cfg.width, cfg.height, cfg.fps)
            save(i, cfg.out, f"written by `viva-robot calibrate intrinsics` from RealSense {i.serial}")
            print(f"wrote {cfg.out}: {i.width}x{i.height}, fx {i.fx:.1f}, fy {i.fy:.1f}, cx {i.cx:.1f}, cy {i.cy:.1f}, "
                  f"{i.model} {list(i.distortion)}")
        case CalibrateBoardConfig():
            from viva_robot.robot.calibration import CharucoBoardSpec, load, write_board_png

            spec = load(CharucoBoardSpec, cfg.board)
            print(f"wrote {write_board_png(spec, cfg.out, cfg.dpi)}: {spec.squares_x}x{spec.squares_y} squares of "
                  f"{spec.square_m * 1000:g} mm; print at 100% scale, measure a square and correct square_m and "
                  f"marker_m (same ratio) in {cfg.board} if it differs")
        case CalibrateHandEyeConfig():
            from viva_robot.robot.calibration import CameraIntrinsics, CharucoBoardSpec, calibrate_hand_eye, load, save

            result = calibrate_hand_eye(cfg.samples, load(CameraIntrinsics, cfg.intrinsics),
                                        load(CharucoBoardSpec, cfg.board), cfg.method, cfg.min_samples)
            save(result, cfg.out, f"written by `viva-robot calibrate hand-eye {cfg.samples}`: base_from_camera")
            print(f"wrote {cfg.out}: camera at {[round(v, 4) for v in result.translation]} m in the base frame, "
                  f"{result.samples} of {result.views} views used; residuals: mean "
                  f"{result.residual_translation_mm_mean:.1f} mm / {result.residual_rotation_deg_mean:.2f} deg, max "
                  f"{result.residual_translation_mm_max:.1f} mm / {result.residual_rotation_deg_max:.2f} deg")
        case CalibrateWorkspaceConfig():
            from viva_robot.robot.calibration import load_poses, save, workspace_from_poses

            poses = load_poses(cfg.poses)
            limits = workspace_from_poses([p[:3, 3] for p in poses], cfg.margin)
            save(limits, cfg.out, f"written by `viva-robot calibrate workspace {cfg.poses}` from {len(poses)} poses, "
                                  f"margin {cfg.margin} m")
            print(f"wrote {cfg.out}: box {list(limits.workspace_min)} .. {list(limits.workspace_max)} m")


def _after_interrupt(command: str, cfg) -> str:
    """What a Ctrl-C leaves: a resumable run, a run with nothing to resume yet, or kept episodes."""
    if cfg is None:
        return "nothing was started"
    if not isinstance(cfg, (PretrainConfig, TrainConfig)):
        return "completed episodes are kept, run again to resume"
    from viva_robot.value.checkpoint import latest_checkpoint

    if latest_checkpoint(cfg.out) is not None:
        return f"continue from the last checkpoint with `viva-robot {command} --resume {cfg.out}`"
    return (f"no checkpoint was written yet (one every {cfg.checkpoint_every} steps), so there is nothing to "
            f"resume: delete {cfg.out} and start again")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("viva_robot").setLevel(logging.INFO)
    from viva_robot.data.dataset import DatasetError
    from viva_robot.robot.config import RobotError
    from viva_robot.robot.calibration import CalibrationError
    from viva_robot.value.checkpoint import CheckpointError
    from viva_robot.value.pretrain import TrainingDiverged

    cfg = None
    try:
        cfg = config_from_args(args)
        run(cfg, progress=not args.quiet and sys.stderr.isatty(), command=args._command)
    except (ConfigError, DatasetError, CalibrationError, CheckpointError, TrainingDiverged, FileNotFoundError,
            RobotError) as e:
        print(f"viva-robot {args._command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"viva-robot {args._command}: interrupted; {_after_interrupt(args._command, cfg)}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
