import os

# Headless rendering for every test (a user's own MUJOCO_GL wins).
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("EGL_PLATFORM", "surfaceless")
