"""MuJoCo simulation: task scenes, fast offscreen rendering, scripted play and goal-reaching attempts."""

import contextlib as _contextlib
import io as _io

# gymnasium_robotics prints a notice about the Adroit *Dense* reward versions (envs we do not use) on every
# import; keep the terminal clean. Every sim module imports it after this.
with _contextlib.redirect_stdout(_io.StringIO()), _contextlib.redirect_stderr(_io.StringIO()):
    import gymnasium_robotics as _gymnasium_robotics  # noqa: F401
