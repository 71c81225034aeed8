"""The simulated Franka on the real topics: sim robot -> (value monitor) -> agent -> safety supervisor -> sim robot.

    ros2 launch viva_ros sim_robot.launch.py [value:=... goal_image:=...] [policy:=RUN_DIR]

Without policy:= no agent starts; `viva-robot train --backend ros --robot configs/robot/sim-franka.yaml ...` then
trains against it exactly as it would against the real arm.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node


def generate_launch_description():
    params = str(Path(get_package_share_directory("viva_ros")) / "config" / "sim_robot.yaml")
    arg = LaunchConfiguration
    args = [
        DeclareLaunchArgument("task", default_value="kitchen-microwave", description="kitchen task of the simulated scene"),
        DeclareLaunchArgument("limits_file", default_value="calibration/sim-franka-workspace.yaml"),
        DeclareLaunchArgument("value", default_value="", description="value checkpoint for the monitor ('' = no monitor)"),
        DeclareLaunchArgument("goal_image", default_value="", description="goal PNG"),
        DeclareLaunchArgument("policy", default_value="", description="trained run directory to run ('' = no agent)"),
        DeclareLaunchArgument("robot_config", default_value="configs/robot/sim-franka.yaml"),
    ]
    sim = Node(package="viva_ros", executable="sim_robot", name="viva_sim_robot", output="screen",
               parameters=[params, {"task": arg("task")}])
    supervisor = Node(package="viva_ros", executable="supervisor", name="viva_safety_supervisor", output="screen",
                      parameters=[params, {"limits_file": arg("limits_file")}])
    monitor = Node(package="viva_ros", executable="value_monitor", name="viva_value_monitor", output="screen",
                   parameters=[params, {"value": arg("value"), "goal_image": arg("goal_image")}],
                   condition=IfCondition(PythonExpression(["'", arg("value"), "' != ''"])))
    agent = ExecuteProcess(
        cmd=["viva-robot", "run", "--backend", "ros", "--robot", arg("robot_config"), "--policy", arg("policy"),
             "--goal-image", arg("goal_image")],
        output="screen", condition=IfCondition(PythonExpression(["'", arg("policy"), "' != ''"])))
    return LaunchDescription([*args, sim, supervisor, monitor, agent])
