"""The real-robot side that does not need ROS: safety rules (safety.py), topic names (topics.py), the robot
config the env backend reads (config.py) and camera / hand-eye / workspace calibration (calibration.py).
The ROS 2 nodes in viva_robot/ros wrap these."""
