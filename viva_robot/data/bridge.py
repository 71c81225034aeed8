"""BridgeData V2 -> viva dataset, from the raw JPEG release or the numpy release (`out.npy`).

Raw layout: `<subset>/.../<YYYY-MM-DD_HH-MM-SS>/raw/traj_group<k>/traj<n>/` with `images<c>/im_<t>.jpg`,
`obs_dict.pkl` (state), `policy_out.pkl` (actions) and `lang.txt`. Numpy layout: `.../{train,val}/out.npy`,
`np.save` of a list of trajectory dicts. Both hold pickles from the internet, so they are read with an
unpickler that only admits numpy arrays and builtin containers.

An episode has T+1 frames and T actions; the action row of the last frame is NaN (no action was taken there).

Size: one module for one source's two layouts (raw and numpy release), which share the episode checks and the
resume logic; split, each half would import the other's helpers.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
from PIL import Image
from tqdm import tqdm

from viva_robot.data.config import ImportBridgeConfig
from viva_robot.data.dataset import DatasetError, DatasetWriter, Episode
from viva_robot.data.images import to_square
from viva_robot.data.untrusted import load_npy_untrusted, safe_pickle_load

log = logging.getLogger(__name__)

STATE_DIM = ACTION_DIM = 7  # xyz, roll-pitch-yaw, gripper (state) and their deltas (action)

# -- the raw release ----------------------------------------------------------------------------------------
_TRAJ, _GROUP, _FRAME = re.compile(r"traj\d+"), re.compile(r"traj_group\d+"), re.compile(r"im_(\d+)\.jpg")


def _natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _find_sources(src: Path, camera: int) -> tuple[list[Path], list[Path]]:
    """(trajectory folders, out.npy files) under src, in natural order. Does not descend into trajectories."""
    if _TRAJ.fullmatch(src.name) and _GROUP.fullmatch(src.parent.name):  # src is one trajectory
        return ([src] if (src / f"images{camera}").is_dir() else []), []
    trajs, npys = [], []
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        if _GROUP.fullmatch(here.name):
            trajs += [here / d for d in dirnames if _TRAJ.fullmatch(d) and (here / d / f"images{camera}").is_dir()]
            dirnames[:] = []
        npys += [here / "out.npy"] if "out.npy" in filenames else []
    order = lambda p: _natural_key(p.relative_to(src).as_posix())  # noqa: E731
    return sorted(trajs, key=order), sorted(npys, key=order)


def _keyed(src: Path, traj_dirs: list[Path]) -> list[tuple[str, Path]]:
    return [(d.relative_to(src).as_posix() if d != src else d.name, d) for d in traj_dirs]


def iter_raw_trajectories(src: Path, camera: int = 0) -> list[tuple[str, Path]]:
    """(key, folder) of every `traj_group<k>/traj<n>` under src that has `images<camera>`; key is relative to src."""
    return _keyed(Path(src), _find_sources(Path(src), camera)[0])


def _index_ranges(indices: list[int]) -> str:
    """[0, 1, 2, 4, 5] -> '0-2, 4-5'."""
    runs, start = [], indices[0]
    for prev, cur in zip(indices, indices[1:] + [None]):
        if cur != prev + 1:
            runs.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = cur
    return ", ".join(runs)


def _frame_paths(image_dir: Path) -> list[Path]:
    if not image_dir.is_dir():
        raise DatasetError(f"{image_dir}: no such folder")
    frames = {int(m[1]): image_dir / m[0] for m in map(_FRAME.fullmatch, os.listdir(image_dir)) if m}
    if not frames:
        raise DatasetError(f"{image_dir}: no frames (expected im_0.jpg, im_1.jpg, ...)")
    found = sorted(frames)
    missing = next((t for t in range(found[-1] + 1) if t not in frames), None)
    if missing is not None:
        raise DatasetError(f"{image_dir}: missing frame im_{missing}.jpg (found {_index_ranges(found)})")
    return [frames[t] for t in found]


def _open_image(path: Path) -> Image.Image:
    img = None
    try:
        img = Image.open(path)
        img.load()  # decode now, so a truncated file fails here and is named
        return img
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        if img is not None:
            img.close()
        raise DatasetError(f"{path}: unreadable image ({e.__class__.__name__}: {e})") from None


def _read_frames(paths: list[Path], size: int, resize: Literal["stretch", "crop"]) -> np.ndarray:
    frames, first = [], None
    for path in paths:
        with _open_image(path) as img:
            if first is None:
                first = (path.name, img.size)
            elif img.size != first[1]:
                (w, h), (w0, h0) = img.size, first[1]
                raise DatasetError(
                    f"{path}: image is {w}x{h} but {first[0]} is {w0}x{h0}; "
                    f"all frames of a trajectory must have the same size"
                )
            frames.append(to_square(img, size, resize))
    return np.stack(frames)


def _float_rows(value: Any, width: int, where: str, what: str) -> np.ndarray:
    """value as float32 (n, width); an empty list is (0, width)."""
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise DatasetError(f"{where}: {what} is not a numeric array ({e})") from None
    if arr.size == 0:
        arr = arr.reshape(0, width)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise DatasetError(f"{where}: {what} has shape {arr.shape}, expected (steps, {width})")
    return arr


def _read_state(path: Path, num_frames: int) -> np.ndarray:
    obs = safe_pickle_load(path)
    if not isinstance(obs, dict):
        raise DatasetError(f"{path}: expected a dict of arrays, got {type(obs).__name__}")
    # full_state first: it is what BridgeData's own numpy conversion stores as `state`
    name = next((k for k in ("full_state", "state") if k in obs), None)
    if name is None:
        raise DatasetError(f"{path}: no 'full_state' or 'state' entry (has: {', '.join(map(str, obs))})")
    state = _float_rows(obs[name], STATE_DIM, str(path), f"'{name}'")
    if len(state) != num_frames:
        raise DatasetError(f"{path}: '{name}' has {len(state)} steps but the trajectory has {num_frames} frames")
    return state


def _with_final_nan(actions: np.ndarray) -> np.ndarray:
    return np.concatenate([actions, np.full((1, actions.shape[1]), np.nan, dtype=np.float32)])


def _read_actions(path: Path, num_frames: int) -> np.ndarray:
    steps = safe_pickle_load(path)
    if not isinstance(steps, (list, tuple, np.ndarray)):
        raise DatasetError(f"{path}: expected a list of actions, got {type(steps).__name__}")
    try:
        rows = [step["actions"] if isinstance(step, dict) else step for step in steps]
    except KeyError:
        raise DatasetError(f"{path}: a step dict has no 'actions' entry") from None
    actions = _float_rows(rows, ACTION_DIM, str(path), "actions")
    if len(actions) != num_frames - 1:
        raise DatasetError(f"{path}: {len(actions)} actions for {num_frames} frames (expected one fewer than frames)")
    return _with_final_nan(actions)


def _read_language(path: Path) -> str:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return next((s.strip() for s in lines if s.strip() and "confidence" not in s), "")


def read_raw_trajectory(
    traj_dir: Path, camera: int, size: int, resize: Literal["stretch", "crop"] = "stretch", key: str | None = None
) -> Episode:
    """A raw trajectory folder -> Episode: frames of images<camera>, state, actions (final row NaN), language."""
    traj_dir = Path(traj_dir)
    rgb = _read_frames(_frame_paths(traj_dir / f"images{camera}"), size, resize)
    obs_path, policy_path, lang_path = traj_dir / "obs_dict.pkl", traj_dir / "policy_out.pkl", traj_dir / "lang.txt"
    return Episode(
        rgb=rgb,
        key=key or str(traj_dir),
        state=_read_state(obs_path, len(rgb)) if obs_path.is_file() else None,
        action=_read_actions(policy_path, len(rgb)) if policy_path.is_file() else None,
        language=_read_language(lang_path) if lang_path.is_file() else "",
    )


# -- the numpy release --------------------------------------------------------------------------------------
def numpy_trajectory_episode(
    traj: Any, key: str, size: int, camera: int = 0, resize: Literal["stretch", "crop"] = "stretch"
) -> Episode:
    """One trajectory dict of a numpy release -> Episode: frames are observations[t] plus next_observations[-1]."""
    if not isinstance(traj, dict):
        raise DatasetError(f"{key}: expected a trajectory dict, got {type(traj).__name__}")
    obs, next_obs = traj.get("observations"), traj.get("next_observations")
    lists = isinstance(obs, (list, tuple)) and isinstance(next_obs, (list, tuple))
    if not lists or not obs or len(obs) != len(next_obs):
        raise DatasetError(f"{key}: expected equally long non-empty lists 'observations' and 'next_observations'")
    steps = [*obs, next_obs[-1]]
    if not all(isinstance(s, dict) for s in steps):
        raise DatasetError(f"{key}: observations must be dicts (images0, state, ...)")
    camera_key = f"images{camera}"
    frames = []
    for t, step in enumerate(steps):
        image = np.asarray(step.get(camera_key))
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            got = f"{image.dtype} {image.shape}" if image.dtype != object else "missing"
            raise DatasetError(f"{key}: step {t} '{camera_key}' is {got}, expected uint8 (H, W, 3)")
        frames.append(to_square(image, size, resize))
    state = None
    if "state" in steps[0]:
        if not all("state" in s for s in steps):
            raise DatasetError(f"{key}: some steps have no 'state'")
        state = _float_rows([s["state"] for s in steps], STATE_DIM, key, "state")
    action = None
    if traj.get("actions") is not None:
        action = _float_rows(traj["actions"], ACTION_DIM, key, "actions")
        if len(action) != len(obs):
            raise DatasetError(f"{key}: {len(action)} actions for {len(obs)} steps")
        action = _with_final_nan(action)
    language = traj.get("language") or []
    language = [language] if isinstance(language, str) else language
    text = next((s.strip() for s in language if isinstance(s, str) and s.strip()), "")
    return Episode(rgb=np.stack(frames), key=key, state=state, action=action, language=text)


def read_release_file(npy_path: Path) -> list[Any]:
    """The list of trajectory dicts in a numpy-release out.npy (loaded without trusting its pickle)."""
    array = load_npy_untrusted(npy_path)
    if array.dtype != object or array.ndim > 1:
        raise DatasetError(f"{npy_path}: expected a list of trajectory dicts, got a {array.dtype} array {array.shape}")
    return [array.item()] if array.ndim == 0 else list(array)


def iter_numpy_trajectories(
    npy_path: Path,
    size: int,
    camera: int = 0,
    resize: Literal["stretch", "crop"] = "stretch",
    key_prefix: str | None = None,
) -> list[tuple[str, Callable[[], Episode]]]:
    """(key, read) for each trajectory of an out.npy; the file is loaded now, each trajectory converted by read()."""
    prefix = key_prefix or Path(npy_path).name
    trajs = read_release_file(npy_path)
    keys = [f"{prefix}#{i}" for i in range(len(trajs))]
    return [(k, partial(numpy_trajectory_episode, t, k, size, camera, resize)) for k, t in zip(keys, trajs)]


# -- the importer -------------------------------------------------------------------------------------------
Items = list[tuple[str, Callable[[], Episode]]]  # (episode key, read) pairs; read() does the decoding


class _Importer:
    """Appends episodes, skipping those already present; the first episode read decides state/action presence."""

    def __init__(self, cfg: ImportBridgeConfig, bar: tqdm):
        self.cfg, self.bar = cfg, bar
        self.writer: DatasetWriter | None = None
        self.stores: dict[str, bool] = {}
        self.first_key = ""
        self.counts = {"added": 0, "skipped": 0, "existing": 0, "frames": 0}

    def _open(self, ep: Episode) -> None:
        cfg = self.cfg
        self.stores = {"state": ep.state is not None, "action": ep.action is not None}
        self.writer = DatasetWriter(
            cfg.out, source="bridge", fps=cfg.fps, resolution=(cfg.size, cfg.size),
            state_dim=STATE_DIM if self.stores["state"] else None,
            action_dim=ACTION_DIM if self.stores["action"] else None,
            attrs={"config": cfg.to_dict(), "camera": f"images{cfg.camera}"},
        )  # fmt: skip
        self.first_key = ep.key

    def _conform(self, ep: Episode) -> Episode:
        for name, stored in self.stores.items():
            if stored and getattr(ep, name) is None:
                raise DatasetError(
                    f"{ep.key}: trajectory has no {name} (obs_dict.pkl / policy_out.pkl) but the dataset stores {name} "
                    f"(decided by the first trajectory, {self.first_key}); every trajectory must provide it"
                )
            if not stored and getattr(ep, name) is not None:
                ep = replace(ep, **{name: None})
        return ep

    def add(self, key: str, read: Callable[[], Episode]) -> None:
        if self.writer is not None and key in self.writer.completed_keys:
            self.counts["existing"] += 1
        else:
            self._read_and_append(key, read)
        self.bar.update(1)

    def _read_and_append(self, key: str, read: Callable[[], Episode]) -> None:
        try:
            ep = read()
        except DatasetError as e:
            return self.fail(key, e)
        if self.writer is None:  # even when resuming: the first trajectory read decides the dataset's arrays
            self._open(ep)  # an incompatible existing dataset is fatal, whatever on_error says
            if key in self.writer.completed_keys:
                self.counts["existing"] += 1
                return
        try:
            self.writer.append(self._conform(ep))
        except DatasetError as e:
            return self.fail(key, e)
        self.counts["added"] += 1
        self.counts["frames"] += len(ep.rgb)

    def fail(self, what: str, error: DatasetError) -> None:
        if self.cfg.on_error == "stop":
            raise error
        log.warning("skipping %s: %s", what, error)
        self.counts["skipped"] += 1


def _detect(cfg: ImportBridgeConfig) -> tuple[str, list[tuple[str, Callable[[], Items]]]]:
    """('raw' | 'numpy', batches): a batch is (name, load) and load() gives its items. A numpy batch is one file."""
    src = Path(cfg.src)
    if src.is_file():
        if src.suffix != ".npy":
            raise DatasetError(f"{src}: expected a BridgeData V2 folder or a numpy-release .npy file")
        return "numpy", [(str(src), partial(iter_numpy_trajectories, src, cfg.size, cfg.camera, cfg.resize, src.name))]
    traj_dirs, npys = _find_sources(src, cfg.camera)
    trajs = _keyed(src, traj_dirs)
    if trajs and npys:
        raise DatasetError(
            f"{src}: holds both raw trajectories ({trajs[0][1]}) and numpy-release files ({npys[0]}); point src at one"
        )
    if npys:
        load = partial(iter_numpy_trajectories, size=cfg.size, camera=cfg.camera, resize=cfg.resize)
        return "numpy", [(str(p), partial(load, p, key_prefix=p.relative_to(src).as_posix())) for p in npys]
    if trajs:
        items = [(key, partial(read_raw_trajectory, d, cfg.camera, cfg.size, cfg.resize, key)) for key, d in trajs]
        return "raw", [(str(src), lambda: items)]
    raise DatasetError(
        f"{src}: no BridgeData V2 trajectories found; expected the raw release "
        f"(<subset>/.../<YYYY-MM-DD_HH-MM-SS>/raw/traj_group<k>/traj<n>/images{cfg.camera}/im_<t>.jpg) "
        f"or the numpy release (.../train/out.npy, .../val/out.npy)"
    )


def import_bridge(cfg: ImportBridgeConfig, progress: bool = True) -> dict[str, Any]:
    """Import BridgeData V2 into cfg.out (resuming it if it exists). Returns counts of what happened."""
    src = Path(cfg.src)
    if not src.exists():
        raise DatasetError(f"{src}: no such file or directory")
    layout, batches = _detect(cfg)
    with tqdm(total=0, disable=not progress, unit="traj", desc=f"bridge ({layout})") as bar:
        importer = _Importer(cfg, bar)
        for name, load in batches:
            try:
                items = load()  # a numpy-release file is loaded whole here (pickle cannot be streamed)
            except DatasetError as e:
                importer.fail(name, e)
                continue
            bar.total += len(items)
            bar.refresh()
            for key, read in items:
                importer.add(key, read)
    if importer.writer is None:
        skipped = importer.counts["skipped"]
        raise DatasetError(f"{src}: no trajectory could be read ({skipped} skipped, see the warnings above)")
    return {"out": str(cfg.out), "layout": layout, **importer.counts, "episodes": importer.writer.num_episodes}
