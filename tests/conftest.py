import os

# Headless rendering for every test (a user's own MUJOCO_GL wins).
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("EGL_PLATFORM", "surfaceless")

# pyrealsense2 2.59 bundles its own Fast DDS: imported before rclpy, a process that created a ROS node segfaults
# at exit. The whole session is one process, so rclpy goes first (viva_robot/ros/camera.py does the same).
import rclpy  # noqa: E402,F401
