"""Starting a node as a console script (and as a `ros2 run` executable): init with the process's `--ros-args`,
a start-up error printed as one line with exit code 2, spin until Ctrl-C or shutdown, then a clean exit."""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


def run_node(make_node: Callable[[], Node], prog: str, errors: tuple[type[BaseException], ...] = (ValueError,),
             argv: list[str] | None = None) -> int:
    rclpy.init(args=argv if argv is not None else sys.argv)
    try:
        node = make_node()
    except errors as e:  # bad parameters or files: say which, do not start
        print(f"{prog}: error: {e}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
