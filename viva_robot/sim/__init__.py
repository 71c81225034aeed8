"""MuJoCo simulation: task scenes, fast offscreen rendering, scripted play and goal-reaching attempts."""
