"""The ament package in ros2_ws: `colcon build` installs the node entry points and launch files, the installed
entry points run viva_robot's nodes, and the launch files (which need a full ROS 2 install to run) are parsed and
checked against what exists: executables, node names, parameter names, launch arguments."""

import ast
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "ros2_ws/src/viva_ros"
NODE_MODULES = {"viva_camera": "camera", "viva_safety_supervisor": "supervisor", "viva_sim_robot": "sim_robot",
                "viva_value_monitor": "monitor"}


def console_scripts() -> dict[str, str]:
    tree = ast.parse((PKG / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "console_scripts" for k in node.keys):
            entries = ast.literal_eval(node.values[0])
            return dict(e.replace(" ", "").split("=") for e in entries)
    raise AssertionError("setup.py has no console_scripts")


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def kwarg(call: ast.Call, key: str):
    for k in call.keywords:
        if k.arg == key:
            return k.value.value if isinstance(k.value, ast.Constant) else k.value
    return None


@pytest.mark.parametrize("launch_file", sorted(PKG.glob("launch/*.launch.py")), ids=lambda p: p.name)
def test_launch_files_parse_and_reference_what_exists(launch_file):
    tree = ast.parse(launch_file.read_text(), filename=str(launch_file))
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    scripts = console_scripts()
    params_file = PKG / "config" / launch_file.name.replace(".launch.py", ".yaml")
    sections = yaml.safe_load(params_file.read_text())
    nodes = calls(tree, "Node")
    assert nodes
    for node in nodes:
        executable, name = kwarg(node, "executable"), kwarg(node, "name")
        assert kwarg(node, "package") == "viva_ros" and executable in scripts, executable
        module = importlib.import_module(scripts[executable].split(":")[0])
        assert NODE_MODULES[name] == module.__name__.rsplit(".", 1)[-1]
        if name in sections:  # every parameter the YAML sets is one the node declares
            unknown = set(sections[name]["ros__parameters"]) - set(module.PARAMETERS)
            assert not unknown, f"{params_file.name}: {name} does not declare {sorted(unknown)}"
        for override in ast.walk(node):  # and so is every parameter set inline
            if isinstance(override, ast.Dict):
                assert {k.value for k in override.keys} <= set(module.PARAMETERS)
    declared = {kwarg(c, "name") if kwarg(c, "name") else c.args[0].value for c in calls(tree, "DeclareLaunchArgument")}
    used = {c.args[0].value for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", None) == "arg"}
    assert used <= declared, f"undeclared launch arguments: {sorted(used - declared)}"
    assert set(sections) <= set(NODE_MODULES)


def test_colcon_build_installs_entry_points_that_run_the_nodes(tmp_path):
    colcon = shutil.which("colcon")
    assert colcon, "colcon is installed by the dev extra (colcon-common-extensions)"
    shutil.copytree(PKG, tmp_path / "src/viva_ros")
    build = subprocess.run([colcon, "build", "--base-paths", "src"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    install = tmp_path / "install/viva_ros"
    assert sorted(p.name for p in (install / "lib/viva_ros").iterdir()) == sorted(console_scripts())
    assert sorted(p.name for p in (install / "share/viva_ros/launch").iterdir()) == [
        "real_franka.launch.py", "sim_robot.launch.py"]
    assert (install / "share/viva_ros/config/real_franka.yaml").is_file()
    assert (install / "share/ament_index/resource_index/packages/viva_ros").is_file()
    # the installed entry point is the viva_robot node: a missing limits file is its error, exit 2 (the package's
    # site-packages on the path is what `source install/setup.bash` does)
    site = next(install.glob("lib/python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, str(install / "lib/viva_ros/supervisor"), "--ros-args", "-p",
                          f"limits_file:={tmp_path / 'missing.yaml'}"], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 2
    assert f"{tmp_path / 'missing.yaml'}: workspace limits file not found" in run.stderr
