"""viva_ros: ROS 2 packaging of the viva_robot nodes; the code is in viva_robot.ros."""
