"""MuJoCo simulation: task scenes, fast offscreen rendering, scripted play and goal-reaching attempts.

Importing the package loads no simulator (gymnasium-robotics comes in through `sim.gym_robotics`, where the modules
that need it import it)."""
