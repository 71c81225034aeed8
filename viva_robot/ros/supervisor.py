"""The safety supervisor node: the only process that publishes on the robot's command topic.

Every agent target (PoseStamped on `target_topic`) goes through `SafetyFilter` (viva_robot/robot/safety.py) and
only what it returns reaches `command_topic`. A watchdog timer at `watchdog_hz` holds the last safe pose as soon
as the newest image or end-effector pose (the robot state it anchors on) is older than `stale_after_s` (arrival times on this node's clock, not header
stamps, so a camera with a drifting clock cannot hide a stall). A `True` on the e-stop topic latches; only the
release service clears it. Another publisher on the command topic latches the e-stop too: with two writers the
arm's target is no longer the supervisor's. Every target and every robot pose must name the base frame
(`frame_id`) in its header and carry a stamp within the limits file's `max_message_age_s` (and no more than
`max_clock_skew_s` ahead of this node's ROS clock); anything else is refused before it reaches the rules (a
refused pose neither arms the filter nor counts as fresh state). Every refused, rejected or clipped command is
counted (status topic, JSON: `counts`, and the newest refusal's detail in `refused`) and written to an audit log
(JSON lines).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from geometry_msgs.msg import PoseStamped, Twist
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Float32, String
from std_srvs.srv import Trigger

from viva_robot.robot.geometry import valid_pose
from viva_robot.robot.safety import SafetyConfigError, SafetyFilter, check_header, check_teleop, load_limits
from viva_robot.robot.topics import TOPICS
from viva_robot.ros.node import run_node
from viva_robot.ros.messages import pose_from_msg, pose_to_msg, stamp_to_s

RELIABLE_DEPTH = 10
# ROS parameters and their defaults (a launch file's parameter YAML may set any of these, and nothing else).
PARAMETERS = {**TOPICS, "limits_file": "calibration/workspace.yaml", "watchdog_hz": 50.0, "status_hz": 2.0,
              "audit_log": "viva_safety_audit.jsonl", "frame_id": "base", "teleop_max_speed_m_s": 0.3}


class SupervisorNode(Node):
    def __init__(self, **overrides):
        super().__init__("viva_safety_supervisor")
        p = {name: self.declare_parameter(name, default).value for name, default in {**PARAMETERS, **overrides}.items()}
        self.p = p
        self.limits = load_limits(Path(p["limits_file"]))  # SafetyConfigError names the file and field
        self.filter: SafetyFilter | None = None  # built from the first measured pose (the arm must start inside)
        self.state = "waiting for robot state"
        self.reason = ""
        self.sent = 0
        self._audit = open(p["audit_log"], "a", buffering=1) if p["audit_log"] else None
        self._measured: tuple[np.ndarray, np.ndarray] | None = None
        self._stale_since: float | None = None
        self._state_was_stale = False
        self._estop_pending = False
        self._last_image: float | None = None
        self.refusals: Counter[str] = Counter()  # messages refused on their header, before the filter exists too
        self.refused = ""  # the newest refusal, what arrived and what was expected
        self._refusing: dict[str, str] = {}  # stream -> key of its current run of refusals (audited once)

        self.command_pub = self.create_publisher(PoseStamped, p["command_topic"], 100)  # a slow reader loses none
        self.gripper_pub = self.create_publisher(Float32, p["gripper_command_topic"], RELIABLE_DEPTH)
        self.status_pub = self.create_publisher(String, p["status_topic"], RELIABLE_DEPTH)
        self.create_subscription(Image, p["image_topic"], self._on_image, qos_profile_sensor_data)
        self.create_subscription(PoseStamped, p["ee_pose_topic"], self._on_pose, qos_profile_sensor_data)
        self.create_subscription(PoseStamped, p["target_topic"], self._on_target, RELIABLE_DEPTH)
        self.create_subscription(Float32, p["gripper_target_topic"], self._on_gripper, RELIABLE_DEPTH)
        self.create_subscription(Bool, p["estop_topic"], self._on_estop, RELIABLE_DEPTH)
        self.create_subscription(Twist, p["teleop_topic"], self._on_teleop, RELIABLE_DEPTH)
        self.create_service(Trigger, p["release_service"], self._on_release)
        self.create_timer(1.0 / p["watchdog_hz"], self._watchdog)
        self.create_timer(1.0 / p["status_hz"], self._publish_status)

    def now(self) -> float:
        """Monotonic seconds for the watchdog and the rate limit: a wall clock stepped by NTP would blind both."""
        return time.monotonic()

    # -- inputs -------------------------------------------------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        self._last_image = self.now()
        if self.filter is not None:
            self.filter.image_received(self._last_image)

    def _refuse(self, msg: PoseStamped, what: str) -> bool:
        """True (counted, audited) when the header does not fit: wrong frame, stale or future stamp."""
        now = self.get_clock().now().nanoseconds * 1e-9
        bad = check_header(msg.header.frame_id, stamp_to_s(msg.header.stamp), now, self.p["frame_id"], self.limits, what)
        if bad is None:
            return False
        self._note_refusal(what, *bad, every=what == "target")  # poses come at the robot's rate: once per run
        return True

    def _note_refusal(self, stream: str, key: str, detail: str, every: bool = False) -> None:
        """Count a refused message under its fixed key, keep its detail for the status, and audit it: every one,
        or (`every` False) the first of each run of the same refusal on this stream."""
        self.refusals[key] += 1
        if every or self._refusing.get(stream) != key:
            self._audit_write("refused", [detail], None)
        self.refused, self._refusing[stream] = detail, key

    def _on_pose(self, msg: PoseStamped) -> None:
        if self._refuse(msg, "robot pose"):
            return
        pose = valid_pose(*pose_from_msg(msg))
        if pose is None:  # a NaN or zero-quaternion pose never becomes an anchor, nor counts as fresh state
            if self.filter is not None:
                self.filter.counts["non-finite robot pose"] += 1
            return
        self._measured = pose
        self._refusing.pop("robot pose", None)
        t = self.now()
        if self.filter is None:
            try:
                self.filter = SafetyFilter(self.limits, *self._measured)
            except ValueError as e:
                if self.state != "refusing":  # once, not at the robot's state rate
                    self._set_state("refusing", f"{e}")
                return
            self.filter.state_received(t)
            if self._last_image is not None:
                self.filter.image_received(self._last_image)
            if self._estop_pending:
                self.filter.estop()
                self._set_state("estop", "e-stop topic (before arming)")
            else:
                self._set_state("ok", "armed at the measured pose")
            return
        self.filter.state_received(t)

    def _on_target(self, msg: PoseStamped) -> None:
        if self._refuse(msg, "target"):
            return
        if self.filter is None:
            self._audit_write("rejected", ["no robot state yet"], None)
            return
        if self._stale_since is not None:
            self._watchdog()  # a target arriving with the first fresh state waits for the re-anchor, never skips it
        position, orientation = pose_from_msg(msg)
        verdict = self.filter.check(position, orientation, self.now())
        if verdict.action == "hold":
            self._set_state("estop" if self.filter.estopped else "hold", verdict.reasons[0])
        elif self.state != "ok" and verdict.action in ("accepted", "clipped"):
            self._set_state("ok", "commands flowing")
        if verdict.action != "accepted":
            self._audit_write(verdict.action, verdict.reasons, (position.tolist(), orientation.tolist()))
        if verdict.position is not None:  # the command keeps the target's stamp (when its observation arrived)
            self._send(verdict.position, verdict.orientation, msg.header.stamp)

    def _on_teleop(self, msg: Twist) -> None:
        """Teleop drives the arm through the agent's env (as targets that pass the rules like any other); here
        it is only checked, so that a device out of its limits shows in this node's status. The angular part
        must be finite; its size is not limited: the env holds the orientation and uses the linear part only."""
        lin, ang = msg.linear, msg.angular
        bad = check_teleop([lin.x, lin.y, lin.z], [ang.x, ang.y, ang.z], self.p["teleop_max_speed_m_s"])
        if bad is not None:
            self._note_refusal("teleop", *bad)  # a device stuck out of its limits: audited once per run of them
        else:
            self._refusing.pop("teleop", None)

    def _on_gripper(self, msg: Float32) -> None:
        if self.filter is None or self.filter.estopped or self.state != "ok" or not np.isfinite(msg.data):
            if self.filter is not None:
                self.filter.counts["gripper command dropped"] += 1
            return
        self.gripper_pub.publish(Float32(data=float(np.clip(msg.data, 0.0, 1.0))))

    def _on_estop(self, msg: Bool) -> None:
        if not msg.data:
            return  # releasing is a deliberate service call, never a topic message
        if self.filter is None:
            self._estop_pending = True
        else:
            self.filter.estop()
            self._send(self.filter.position, self.filter.orientation)
        self._set_state("estop", "e-stop topic")

    def _on_release(self, request, response):
        if self.filter is None:
            self._estop_pending = False
            response.success, response.message = True, "e-stop released (not armed yet: waiting for a valid start pose)"
            return response
        if self._stale_since is not None:
            response.success, response.message = False, f"not released: {self.reason}"
            return response
        if self._measured is not None and not self.filter.resync(*self._measured):
            response.success = False
            response.message = "the arm is outside the workspace limits; move it inside by hand first"
            return response
        self.filter.release()
        response.success, response.message = True, "e-stop released"
        self.get_logger().warning("e-stop released by service call")
        self._set_state("ok", "e-stop released")
        return response

    # -- timers -------------------------------------------------------------------------------------------------------
    def _watchdog(self) -> None:
        if self.filter is None:
            return
        foreign = self.count_publishers(self.p["command_topic"]) - 1
        if foreign > 0 and not self.filter.estopped:
            self.filter.estop()
            self._set_state("estop", f"{foreign} other publisher(s) on {self.p['command_topic']}")
        t = self.now()
        lim = self.limits.stale_after_s
        stale = self.filter.stale(t)
        if "robot state" in stale:
            self._state_was_stale = True
        if stale and self._stale_since is None:
            self._stale_since = t
            self.filter.counts[f"stale {stale[0]}"] += 1
            self._send(self.filter.position, self.filter.orientation)  # hold: re-send the last safe pose
            self._set_state("hold", f"stale {stale[0]}: nothing for {lim} s")
        elif not stale and self._stale_since is not None:
            self._stale_since = None
            # Re-anchor at the measured pose when the robot may have moved unseen (its state was stale: a driver
            # restart, a stall) or is not where it was told to be; a camera gap alone keeps the anchor.
            moved = self._measured is not None and np.linalg.norm(self._measured[0] - self.filter.position) > \
                self.limits.max_translation_m
            if (self._state_was_stale or moved) and self._measured is not None and not self.filter.resync(*self._measured):
                self.filter.estop()  # nothing moves until the arm is back inside and the operator releases
                self._set_state("estop", "the arm is outside the workspace limits; move it inside by hand, then release")
                return
            self._state_was_stale = False
            if not self.filter.estopped:
                self._set_state("ok", "streams fresh again")

    def _publish_status(self) -> None:
        counts = {**(self.filter.counts if self.filter is not None else {}), **self.refusals}
        self.status_pub.publish(String(data=json.dumps({"state": self.state, "reason": self.reason, "sent": self.sent,
                                                        "counts": counts, "refused": self.refused, "t": time.time()})))

    # -- outputs ------------------------------------------------------------------------------------------------------
    def _send(self, position, orientation, stamp=None) -> None:
        msg = pose_to_msg(position, orientation, stamp or self.get_clock().now().to_msg(), self.p["frame_id"])
        self.command_pub.publish(msg)
        self.sent += 1

    def _set_state(self, state: str, reason: str) -> None:
        if (state, reason) != (self.state, self.reason):
            if state == "ok":  # rclpy ties one severity to each call site
                self.get_logger().info(f"{state}: {reason}")
            else:
                self.get_logger().error(f"{state}: {reason}")
            self.state, self.reason = state, reason
            self._audit_write(state, [reason], None)
            self._publish_status()

    def _audit_write(self, action: str, reasons: list[str], target) -> None:
        if self._audit is not None:
            self._audit.write(json.dumps({"t": time.time(), "action": action, "reasons": reasons, "target": target}) + "\n")


def main(argv: list[str] | None = None) -> int:
    return run_node(SupervisorNode, "viva-ros-supervisor", (SafetyConfigError,), argv)

if __name__ == "__main__":
    sys.exit(main())
