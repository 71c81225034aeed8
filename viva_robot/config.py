"""The config mechanism: frozen pydantic models (one per command, each beside its code: data/config.py,
sim/config.py, value/config.py, rl/config.py, ros/config.py, robot/config.py), YAML presets in configs/, CLI flags
override fields, resumed runs keep theirs.

`load_config` is the only place configs are built: YAML preset (optional) -> flag overrides -> validation, once.
An unknown key, a wrong type or a bad value is an error that names the file and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class ConfigError(ValueError):
    """A config file or flag is invalid; the message says which file, which field and what was expected."""


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())


C = TypeVar("C", bound=Config)
OnError = Literal["stop", "skip"]
ON_ERROR_HELP = "what to do with an unreadable source item: 'stop' (error naming the file) or 'skip' (log it and go on)"


# The one list of simulated task names (sim/tasks.py's TASKS holds each one's facts, and checks it has exactly these).
TASK_NAMES = ("door", "kitchen-microwave", "kitchen-slide-cabinet", "kitchen-hinge-cabinet", "kitchen-kettle",
              "kitchen-light-switch")
TaskName = Literal[TASK_NAMES]


def load_config(model: type[C], preset: Path | None = None, overrides: dict[str, Any] | None = None, *,
                what: str = "", hint: str = "", error: type[Exception] = ConfigError) -> C:
    """The one YAML loader (command presets, robot, calibration and workspace files): preset (optional) + overrides
    -> validated `model`. Unknown keys and bad values raise `error` naming the file and every field at fault.

    what: how messages name the file ("camera intrinsics" -> "camera intrinsics file not found"; default: a config
    named by its model); hint: how to create a missing file."""
    values: dict[str, Any] = {}
    where = "command line"
    if preset is not None:
        where = str(preset)
        if not Path(preset).is_file():
            raise error(f"{preset}: {what or 'config'} file not found" + (f" ({hint})" if hint else ""))
        try:
            loaded = yaml.safe_load(Path(preset).read_text()) or {}
        except yaml.YAMLError as e:
            raise error(f"{preset}: not valid YAML ({e})") from None
        if not isinstance(loaded, dict):
            raise error(f"{preset}: expected a mapping of field: value, got {type(loaded).__name__}")
        values.update(loaded)
        where = f"{preset} (+ command line)" if overrides else str(preset)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return model.model_validate(values)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(file)"
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown field '{field}' (valid: {', '.join(model.model_fields)})")
            else:
                problems.append(f"field '{field}': {err['msg']} (got {err.get('input')!r})")
        name = f"{what} file" if what else model.__name__
        raise error(f"{where}: invalid {name}:\n  " + "\n  ".join(problems)) from None


def resume_config(model: type[Config], run_dir: Path, overrides: dict, resumable: set[str]) -> Config:
    """The stored config of `run_dir`; only runtime fields (`resumable`, e.g. more `steps`) may be overridden."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise ConfigError(f"{run_dir}: not a run directory (no config.json)")
    stored = json.loads(path.read_text())
    try:
        changed = [k for k, v in overrides.items() if k not in resumable and k in stored
                   and json.loads(model.model_validate({**stored, k: v}).model_dump_json())[k] != stored[k]]
        if changed:
            raise ConfigError(f"{run_dir}: a resumed run keeps its config; cannot change {', '.join(changed)} "
                              f"(only {', '.join(sorted(resumable - {'resume'}))} may change)")
        # the run directory is where it is now (it may have moved, or `out` may be relative to another cwd)
        return model.model_validate({**stored, **overrides, "resume": str(run_dir), "out": str(run_dir)})
    except ValidationError as e:
        raise ConfigError(f"{run_dir}: invalid value for a resumed run: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from None


def save_config(cfg: Config, path: Path) -> None:
    """Write the resolved config as JSON (atomic: temp file then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(cfg.to_json())
    tmp.replace(path)


