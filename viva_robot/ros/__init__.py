"""The ROS 2 side of the hardware path: camera, simulated robot, safety supervisor, value monitor and the env
backend that drives a robot over topics. rclpy and the message packages are imported only inside this package,
so `viva_robot` works on machines without ROS. Every node is also a plain console script (see pyproject.toml);
the ament package in ros2_ws/src/viva_ros only wraps these entry points and adds launch files.
"""
