"""MuJoCo simulation: task scenes, fast offscreen rendering, scripted play and goal-reaching attempts."""

import contextlib as _contextlib
import io as _io

# gymnasium_robotics prints a notice about the Adroit *Dense* rewards when imported; keep stdout clean
# (commands print JSON there). Every sim module imports it after this.
with _contextlib.redirect_stdout(_io.StringIO()):
    import gymnasium_robotics as _gymnasium_robotics  # noqa: F401
