"""Default topic names of the hardware path, in one place. Every node takes them as ROS parameters (so a launch
file or `--ros-args -p image_topic:=...` remaps them) and the env backend reads them from its robot config.

The robot-side names follow franka_ros2 (joint states; `franka_robot_state_broadcaster/current_pose` is published
best-effort, so every state subscription here uses sensor-data QoS, which also matches reliable publishers) and
realsense2_camera (`/camera/camera/color/...`); the command goes to a Cartesian impedance controller's
`target_pose` (franka_ros2 example / CRISP style). Everything viva-specific lives under /viva.
"""

TOPICS = {
    "image_topic": "/camera/camera/color/image_raw",  # sensor_msgs/Image rgb8
    "joint_states_topic": "/joint_states",  # sensor_msgs/JointState
    "ee_pose_topic": "/franka_robot_state_broadcaster/current_pose",  # geometry_msgs/PoseStamped, base frame
    "target_topic": "/viva/target_pose",  # agent -> supervisor (PoseStamped)
    "command_topic": "/target_pose",  # supervisor -> impedance controller (PoseStamped)
    "gripper_target_topic": "/viva/gripper",  # agent -> supervisor (std_msgs/Float32, 0 open .. 1 closed)
    "gripper_command_topic": "/gripper/command",  # supervisor -> gripper (std_msgs/Float32)
    "estop_topic": "/viva/estop",  # std_msgs/Bool; True latches the e-stop
    "release_service": "/viva/release_estop",  # std_srvs/Trigger: the only way to clear a latched e-stop
    "status_topic": "/viva/safety/status",  # std_msgs/String, JSON: state, counts, last reason
    "success_topic": "/viva/success",  # std_msgs/Bool from a success detector or the value monitor
    "label_topic": "/viva/operator/success",  # std_msgs/Bool True: the operator marks the current step a success
    "teleop_topic": "/viva/teleop",  # geometry_msgs/Twist (teleop_twist_keyboard, spacenav): a human takes over
    "value_topic": "/viva/value",  # std_msgs/Float32 V(s, g*)
    "value_image_topic": "/viva/value/image",  # sensor_msgs/Image: frame | goal | value trace
    "reset_service": "/viva/sim/reset",  # std_srvs/Trigger, simulated robot only: put the scene back
}
