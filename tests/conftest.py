import os

# Headless rendering for every test (a user's own MUJOCO_GL wins).
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("EGL_PLATFORM", "surfaceless")

# pyrealsense2 2.59 bundles its own Fast DDS: imported before rclpy, a process that created a ROS node segfaults
# at exit. The whole session is one process, so rclpy goes first (viva_robot/robot/realsense.py does the same).
import rclpy  # noqa: E402,F401


# -- process helpers shared by the test folders -------------------------------------------------------------------
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def lock_holder():
    """hold(run_dir) -> pid: a second process holding the run directory's lock, as a training process does; it is
    killed when the test ends (the lock goes with it)."""
    procs = []

    def hold(run_dir) -> int:
        code = ("import sys, time; from pathlib import Path; from viva_robot.rundir import lock; "
                "h = lock(Path(sys.argv[1])); print('locked', flush=True); time.sleep(120)")
        proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc.pid

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()
