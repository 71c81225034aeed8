"""The real arm: camera -> (value monitor) -> agent -> safety supervisor -> Franka impedance controller.

    ros2 launch viva_ros real_franka.launch.py limits_file:=$PWD/calibration/workspace.yaml \
        value:=$PWD/runs/icvf/value.pt goal_image:=$PWD/calibration/goal.png [policy:=$PWD/runs/franka-viva]

launch_franka:=true includes franka_bringup (robot_ip:=...), use_realsense_driver:=true uses realsense2_camera
instead of viva's camera node (same topics). Without policy:= no agent starts: check the value first
(rqt_image_view /viva/value/image), then run the agent yourself (`viva-robot train --backend ros ...`).
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription
from launch.conditions import IfCondition, UnlessCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node


def generate_launch_description():
    params = str(Path(get_package_share_directory("viva_ros")) / "config" / "real_franka.yaml")
    arg = LaunchConfiguration
    args = [
        DeclareLaunchArgument("limits_file", description="workspace limits YAML (viva-robot calibrate workspace)"),
        DeclareLaunchArgument("value", default_value="", description="value checkpoint for the monitor ('' = no monitor)"),
        DeclareLaunchArgument("goal_image", default_value="", description="goal PNG (viva-robot goal capture)"),
        DeclareLaunchArgument("policy", default_value="", description="trained run directory to run ('' = no agent)"),
        DeclareLaunchArgument("robot_config", default_value="configs/robot/real-franka.yaml"),
        DeclareLaunchArgument("use_realsense_driver", default_value="false"),
        DeclareLaunchArgument("launch_franka", default_value="false"),
        DeclareLaunchArgument("robot_ip", default_value="172.16.0.2"),
    ]
    camera = Node(package="viva_ros", executable="camera", name="viva_camera", parameters=[params], output="screen",
                  condition=UnlessCondition(arg("use_realsense_driver")))
    realsense = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(Path(get_package_share_directory("realsense2_camera")) / "launch" / "rs_launch.py")),
        launch_arguments={"rgb_camera.color_profile": "640x480x30", "align_depth.enable": "false"}.items(),
        condition=IfCondition(arg("use_realsense_driver")))
    franka = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(Path(get_package_share_directory("franka_bringup")) / "launch" / "franka.launch.py")),
        launch_arguments={"robot_ip": arg("robot_ip")}.items(), condition=IfCondition(arg("launch_franka")))
    supervisor = Node(package="viva_ros", executable="supervisor", name="viva_safety_supervisor", output="screen",
                      parameters=[params, {"limits_file": arg("limits_file")}])
    monitor = Node(package="viva_ros", executable="value_monitor", name="viva_value_monitor", output="screen",
                   parameters=[params, {"value": arg("value"), "goal_image": arg("goal_image")}],
                   condition=IfCondition(PythonExpression(["'", arg("value"), "' != ''"])))
    agent = ExecuteProcess(
        cmd=["viva-robot", "run", "--backend", "ros", "--robot", arg("robot_config"), "--policy", arg("policy"),
             "--goal-image", arg("goal_image")],
        output="screen", condition=IfCondition(PythonExpression(["'", arg("policy"), "' != ''"])))
    return LaunchDescription([*args, realsense, franka, camera, supervisor, monitor, agent])
