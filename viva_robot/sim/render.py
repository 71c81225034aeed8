"""Fast offscreen rendering of a MuJoCo scene from a fixed free camera.

gymnasium's render path re-creates state and draws shadows, reflections and the skybox; a reused
`mujoco.Renderer` with those turned off is ~4x (door) to ~11x (kitchen) faster on CPU (DESIGN.md §3).
Headless machines: MUJOCO_GL=egl with EGL_PLATFORM=surfaceless (Mesa llvmpipe); `viva_robot/__init__.py`
sets these defaults before mujoco is first imported.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np


@dataclass(frozen=True)
class CameraPose:
    """A free camera looking at `lookat` from `distance` metres at `azimuth`/`elevation` degrees."""

    lookat: tuple[float, float, float]
    distance: float
    azimuth: float
    elevation: float


class SceneRenderer:
    """Renders uint8 (size, size, 3) frames of `model`/`data` from one fixed camera, reusing one GL context."""

    def __init__(self, model: mujoco.MjModel, size: int, camera: CameraPose, msaa_samples: int = 0):
        # The offscreen framebuffer is sized from the model (the kitchen asks for 2560x1920): shrink it to
        # the frame size so clearing and reading it back costs nothing extra.
        model.vis.global_.offwidth = size
        model.vis.global_.offheight = size
        # Multisampling is the largest cost on a software rasteriser: off, a 64x64 frame renders ~3x faster
        # (door 98 -> 320 frames/s, kitchen 19 -> 50 on 2 busy cores). Training and acting use the same
        # renderer, so the value never sees a different look than it was trained on.
        model.vis.quality.offsamples = msaa_samples
        self.size = size
        try:
            self._renderer = mujoco.Renderer(model, size, size)
        except mujoco.FatalError as e:
            raise RuntimeError(
                f"cannot create an offscreen OpenGL context ({e}). On a machine without a display set "
                "MUJOCO_GL=egl (and EGL_PLATFORM=surfaceless) before mujoco is first imported, or import "
                "viva_robot before mujoco, which does that by default"
            ) from None
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX):
            self._renderer.scene.flags[flag] = 0
        self.camera = mujoco.MjvCamera()
        mujoco.mjv_defaultFreeCamera(model, self.camera)
        self.camera.lookat[:] = camera.lookat
        self.camera.distance = camera.distance
        self.camera.azimuth = camera.azimuth
        self.camera.elevation = camera.elevation

    def render(self, data: mujoco.MjData) -> np.ndarray:
        self._renderer.update_scene(data, self.camera)
        return self._renderer.render()  # a fresh array each call

    def close(self) -> None:
        # Free the GL context now; letting the interpreter do it at exit makes EGL print tracebacks.
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> "SceneRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
