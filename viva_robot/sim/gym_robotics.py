"""gymnasium-robotics, imported with its import-time notice silenced (it prints one about the Adroit *Dense* reward
versions, envs we do not use, on every import). The sim modules that need it import it from here, so that the rest
of `viva_robot.sim` (its config, read by every command's CLI) imports without it: `viva-robot pretrain` or
`dataset info` loads neither MuJoCo nor gymnasium."""

import contextlib
import io

with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    import gymnasium_robotics
    from gymnasium_robotics.envs.franka_kitchen.kitchen_env import BONUS_THRESH, OBS_ELEMENT_GOALS, OBS_ELEMENT_INDICES

__all__ = ["BONUS_THRESH", "OBS_ELEMENT_GOALS", "OBS_ELEMENT_INDICES", "gymnasium_robotics"]
