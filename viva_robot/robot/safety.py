"""The safety supervisor's rules, without ROS: every Cartesian target on its way to the arm passes `SafetyFilter`.

The ROS 2 node (issue 5) is a thin shell around this: it feeds targets, image/state arrival times, e-stop and
release events, and publishes what `SafetyFilter.check` returns. Rules, in order:
1. latched e-stop: nothing passes until `release()` is called explicitly (a service call in the node);
2. watchdog: no fresh image or robot state within `stale_after_s` -> hold the last safe pose;
3. NaN/inf anywhere in the target -> rejected;
4. command rate above `max_rate_hz` -> rejected (the previous target stays in force);
5. position outside the workspace box -> clipped into it; orientation further than `max_tilt_rad` from the
   nominal orientation -> rotated back to the limit;
6. translation toward that target above `max_translation_m` -> shortened; rotation above `max_rotation_rad` ->
   slerped back to the limit. The start pose must be inside the limits, so every pose sent is.
Every rejection and clip is counted by reason; `check` returns what happened so the node can log it.

Before any of that, `check_header` reads what a message says about itself (the node calls it on every target and
every robot pose): a frame other than the base frame the box is measured in, a stamp older than
`max_message_age_s` or ahead of the receiver's clock by more than `max_clock_skew_s` -> refused with the reason.
A position is only meaningful in its frame, and a late target was computed from a scene that has moved since.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import Field, model_validator

from viva_robot.config import Config, load_config
from viva_robot.robot.geometry import normalize, quat_angle, slerp, valid_pose


class SafetyConfigError(ValueError):
    """The workspace/limits file is missing or invalid; the message names the file and the field."""


class SafetyLimits(Config):
    """Limits the supervisor enforces; stored in calibration/workspace.yaml."""

    workspace_min: tuple[float, float, float] = Field(description="lower corner of the allowed box, robot base frame (m)")
    workspace_max: tuple[float, float, float] = Field(description="upper corner of the allowed box (m)")
    nominal_orientation: tuple[float, float, float, float] = Field(
        (1.0, 0.0, 0.0, 0.0), description="reference end-effector orientation, quaternion x, y, z, w (default: gripper down)")
    max_tilt_rad: float = Field(0.6, gt=0, le=np.pi / 2, description="largest angle away from the nominal orientation "
                                "(at most pi/2, so the allowed orientations form a convex set)")
    max_translation_m: float = Field(0.03, gt=0, description="largest position change per command")
    max_rotation_rad: float = Field(0.15, gt=0, description="largest orientation change per command")
    max_rate_hz: float = Field(30.0, gt=0, description="commands arriving faster than this are dropped")
    stale_after_s: float = Field(0.5, gt=0, description="hold when the newest image or robot state is older than this")
    start_margin_m: float = Field(0.02, ge=0, description="a measured pose up to this far outside the box is still "
                                  "accepted as the start or resync anchor, clipped into the box (tracking overshoots)")
    max_message_age_s: float = Field(0.5, gt=0, description="targets and robot poses stamped longer ago than this "
                                     "(on the receiver's ROS clock) are refused: computed from, or describing, a past scene")
    max_clock_skew_s: float = Field(0.1, ge=0, description="stamps up to this far in the receiver's future are accepted "
                                    "(clocks of two machines synchronised by chrony/PTP); further ahead is refused")

    @model_validator(mode="after")
    def _box(self) -> "SafetyLimits":
        if any(lo >= hi for lo, hi in zip(self.workspace_min, self.workspace_max)):
            raise ValueError(f"workspace_min {list(self.workspace_min)} must be below workspace_max "
                             f"{list(self.workspace_max)} on every axis")
        if abs(np.linalg.norm(self.nominal_orientation) - 1.0) > 1e-3:
            raise ValueError(f"nominal_orientation {list(self.nominal_orientation)} is not a unit quaternion")
        return self


def load_limits(path: Path) -> SafetyLimits:
    return load_config(SafetyLimits, Path(path), what="workspace limits", error=SafetyConfigError,
                       hint="write one with `viva-robot calibrate workspace`, or copy calibration/workspace.example.yaml")


def check_header(frame_id: str, stamp_s: float, now_s: float, base_frame: str, limits: SafetyLimits,
                 what: str) -> tuple[str, str] | None:
    """None when a message's header (frame, stamp in seconds) fits; else (count key, detail). The key is fixed per
    rule (a hostile publisher cycling frame names cannot grow the counts); the detail says what arrived."""
    if frame_id != base_frame:
        return f"{what} in another frame", f"{what} in frame {frame_id!r}, expected the base frame {base_frame!r}"
    age = now_s - stamp_s
    if age > limits.max_message_age_s:
        return f"stale {what} stamp", (f"{what} stamped {age:.3f} s ago (limit max_message_age_s "
                                       f"{limits.max_message_age_s} s)" if stamp_s > 0 else f"{what} has no stamp")
    if -age > limits.max_clock_skew_s:
        return f"{what} stamp in the future", (f"{what} stamped {-age:.3f} s in the future (limit max_clock_skew_s "
                                               f"{limits.max_clock_skew_s} s): are the clocks synchronised?")
    return None


def check_teleop(linear, angular, max_speed_m_s: float) -> tuple[str, str] | None:
    """None when a teleop twist (m/s, rad/s) is usable; else (count key, detail)."""
    v = np.asarray([*linear, *angular], float)
    if not np.isfinite(v).all():
        return "non-finite teleop command", f"teleop twist {v.tolist()} is not finite"
    speed = float(np.linalg.norm(v[:3]))
    if speed > max_speed_m_s:
        return "teleop command outside its limits", (f"teleop speed {speed:.3f} m/s is above teleop_max_speed_m_s "
                                                     f"{max_speed_m_s} m/s")
    return None


@dataclass
class Verdict:
    """What the supervisor did with one target: the pose to send (None: send nothing new) and why."""

    position: np.ndarray | None
    orientation: np.ndarray | None
    action: str  # "accepted", "clipped", "rejected", "hold"
    reasons: list[str] = field(default_factory=list)


class SafetyFilter:
    def __init__(self, limits: SafetyLimits, start_position: np.ndarray, start_orientation: np.ndarray):
        self.limits = limits
        self.lo, self.hi = np.array(limits.workspace_min), np.array(limits.workspace_max)
        self.nominal = normalize(np.array(limits.nominal_orientation, float))
        pose = valid_pose(start_position, start_orientation)
        if pose is None:
            raise ValueError(f"start pose {np.asarray(start_position).tolist()} {np.asarray(start_orientation).tolist()} "
                             f"is not finite or has no orientation")
        self.position, self.orientation = pose  # the last pose sent (the "last safe pose")
        # Every pose sent stays inside the limits only if the first one is: targets are clipped into the (convex)
        # workspace and tilt sets first, then the step toward them is shortened, which cannot leave the sets.
        m = limits.start_margin_m
        if ((self.position < self.lo - m) | (self.position > self.hi + m)).any():
            raise ValueError(f"start position {np.round(self.position, 3).tolist()} is outside the workspace box "
                             f"{self.lo.tolist()} .. {self.hi.tolist()}; move the arm inside it first")
        self.position = np.clip(self.position, self.lo, self.hi)
        if quat_angle(self.nominal, self.orientation) > limits.max_tilt_rad + 1e-9:
            raise ValueError(f"start orientation is {quat_angle(self.nominal, self.orientation):.3f} rad from the nominal "
                             f"orientation (limit {limits.max_tilt_rad}); rotate the arm back first")
        self.counts: Counter[str] = Counter()
        self.estopped = False
        self._last_command_t: float | None = None
        self._last_image_t: float | None = None
        self._last_state_t: float | None = None

    # -- events --------------------------------------------------------------------------------------------------------
    def image_received(self, t: float) -> None:
        self._last_image_t = t

    def state_received(self, t: float) -> None:
        self._last_state_t = t

    def estop(self) -> None:
        self.estopped = True
        self.counts["estop"] += 1

    def release(self) -> None:
        """Only an explicit call (the node's release service) clears a latched e-stop."""
        self.estopped = False

    def resync(self, position, orientation) -> bool:
        """Re-anchor the step limits at the measured pose (after the robot was stale, restarted or moved by
        hand), so the next command is one step from where the arm is, not from where it was told to be.
        The anchor is clipped into the box (a measured pose may overshoot it by up to start_margin_m); refused
        (False, counted) when the arm is further out: the supervisor keeps holding."""
        pose = valid_pose(position, orientation)
        if pose is None:
            self.counts["resync refused: measured pose not finite"] += 1
            return False
        p, q = pose
        m = self.limits.start_margin_m
        if ((p < self.lo - m) | (p > self.hi + m)).any() or quat_angle(self.nominal, q) > self.limits.max_tilt_rad + 1e-9:
            self.counts["resync refused: arm outside limits"] += 1
            return False
        self.position, self.orientation = np.clip(p, self.lo, self.hi), q
        self.counts["resync"] += 1
        return True

    # -- the rules -----------------------------------------------------------------------------------------------------
    def _hold(self, reason: str) -> Verdict:
        self.counts[reason] += 1
        return Verdict(self.position.copy(), self.orientation.copy(), "hold", [reason])

    def stale(self, t: float) -> list[str]:
        """The streams ("image", "robot state") with nothing newer than `stale_after_s` at time t."""
        return [name for name, last in (("image", self._last_image_t), ("robot state", self._last_state_t))
                if last is None or t - last > self.limits.stale_after_s]

    def check(self, position, orientation, t: float) -> Verdict:
        lim = self.limits
        if self.estopped:
            return self._hold("estop latched")
        if stale := self.stale(t):
            return self._hold(f"stale {stale[0]}")
        pose = valid_pose(position, orientation)
        if pose is None:
            self.counts["non-finite or malformed target"] += 1
            return Verdict(None, None, "rejected", ["non-finite or malformed target"])
        p, q = pose
        if self._last_command_t is not None and t - self._last_command_t < 1.0 / lim.max_rate_hz:
            self.counts["rate limit"] += 1
            return Verdict(None, None, "rejected", ["rate limit"])
        reasons = []
        if ((p < self.lo) | (p > self.hi)).any():
            p = np.clip(p, self.lo, self.hi)
            reasons.append("workspace")
        tilt = quat_angle(self.nominal, q)
        if tilt > lim.max_tilt_rad:
            q = slerp(self.nominal, q, lim.max_tilt_rad / tilt)
            reasons.append("orientation limit")
        step = p - self.position
        if np.linalg.norm(step) > lim.max_translation_m:
            p = self.position + step * (lim.max_translation_m / np.linalg.norm(step))
            reasons.append("translation step")
        angle = quat_angle(self.orientation, q)
        if angle > lim.max_rotation_rad:
            q = slerp(self.orientation, q, lim.max_rotation_rad / angle)
            reasons.append("rotation step")
        if not (np.isfinite(p).all() and np.isfinite(q).all()):  # belt and braces: nothing non-finite is ever sent
            return self._hold("non-finite result")
        for r in reasons:
            self.counts[r] += 1
        self.position, self.orientation, self._last_command_t = p, q, t
        return Verdict(p.copy(), q.copy(), "clipped" if reasons else "accepted", reasons)
