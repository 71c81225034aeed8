"""ament_python package: console entry points of the viva_robot nodes + launch and parameter files."""

from glob import glob

from setuptools import setup

PACKAGE = "viva_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="ViVa nodes for a real or simulated Franka (entry points into viva_robot.ros)",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "camera = viva_robot.ros.camera:main",
            "supervisor = viva_robot.ros.supervisor:main",
            "sim_robot = viva_robot.ros.sim_robot:main",
            "value_monitor = viva_robot.ros.monitor:main",
        ],
    },
)
