"""viva-robot: video-trained value functions (ViVa) guiding online RL on simulated and real robot arms."""

import os as _os

# MuJoCo picks its GL backend when it is first imported: default to headless EGL (Mesa's surfaceless
# platform when there is no display) before any submodule imports mujoco. A user's own choice wins.
_os.environ.setdefault("MUJOCO_GL", "egl")
if _os.environ["MUJOCO_GL"] == "egl" and "DISPLAY" not in _os.environ:
    _os.environ.setdefault("EGL_PLATFORM", "surfaceless")
if _os.environ["MUJOCO_GL"] in ("egl", "osmesa"):
    _os.environ.setdefault("PYOPENGL_PLATFORM", _os.environ["MUJOCO_GL"])

__version__ = "0.1.0"
