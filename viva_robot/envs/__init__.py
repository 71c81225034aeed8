"""One Gymnasium interface for every robot backend (DESIGN.md §2): the observation carries the camera image
(uint8 H x W x 3) and the proprioceptive state (plus, in simulation only, privileged object state), `info`
carries `success`, and the task's goal image is `env.goal_image`. Backends: `sim` (MuJoCo, here) and
`ros` (a real or simulated Franka over ROS 2, viva_robot/envs/ros.py), chosen by `make_env`."""

from __future__ import annotations

import numpy as np

from viva_robot.config import ConfigError


def make_env(cfg, camera: bool = True):
    """The env a `train` config (rl/config.py TrainConfig: backend, task, image_size, max_steps, goal_image, robot)
    describes; camera=False (sim, state observations, no value) skips rendering frames nobody reads."""
    match cfg.backend:
        case "sim":
            from viva_robot.envs.sim import SimEnv

            return SimEnv(cfg.task, cfg.image_size, goal_image=load_goal_image(cfg), max_steps=cfg.max_steps, camera=camera)
        case "ros":
            from viva_robot.robot.config import load_robot_config
            from viva_robot.envs.ros import RosEnv

            robot = load_robot_config(cfg.robot, {"image_size": cfg.image_size,
                                                  **({"max_steps": cfg.max_steps} if cfg.max_steps else {})})
            return RosEnv(robot, goal_image=load_goal_image(cfg))
    raise ConfigError(f"unknown backend {cfg.backend!r}")


def load_goal_image(cfg) -> np.ndarray | None:
    """The user's goal PNG as uint8 (H, W, 3), checked against the run's image size."""
    if cfg.goal_image is None:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(cfg.goal_image) as im:
            image = np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as e:
        raise ConfigError(f"{cfg.goal_image}: cannot read the goal image ({e.__class__.__name__}: {e})") from None
    if image.shape[:2] != (cfg.image_size, cfg.image_size):
        raise ConfigError(f"{cfg.goal_image}: goal image is {image.shape[1]}x{image.shape[0]}, the camera renders "
                          f"{cfg.image_size}x{cfg.image_size} (image_size); resize it or set image_size")
    return image
