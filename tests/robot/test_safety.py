"""The safety supervisor's rules (no ROS needed): every unsafe target is held, rejected or clipped, and counted."""

from pathlib import Path

import numpy as np
import pytest

from viva_robot.robot.geometry import quat_angle
from viva_robot.robot.safety import SafetyConfigError, SafetyFilter, check_header, load_limits

ROOT = Path(__file__).resolve().parents[2]
DOWN = np.array([1.0, 0.0, 0.0, 0.0])


@pytest.fixture
def sf() -> SafetyFilter:
    f = SafetyFilter(load_limits(ROOT / "calibration" / "workspace.example.yaml"), np.array([0.5, 0.0, 0.3]), DOWN)
    f.image_received(0.0)
    f.state_received(0.0)
    return f


def test_small_step_inside_the_box_passes_unchanged(sf):
    v = sf.check([0.51, 0.0, 0.3], DOWN, t=0.1)
    assert v.action == "accepted" and v.reasons == []
    np.testing.assert_allclose(v.position, [0.51, 0.0, 0.3])


def test_large_steps_are_clipped_to_the_per_command_limits(sf):
    v = sf.check([0.6, 0.0, 0.3], DOWN, t=0.1)  # 10 cm in one command
    assert v.action == "clipped" and v.reasons == ["translation step"]
    np.testing.assert_allclose(v.position, [0.53, 0.0, 0.3])
    tilted = np.array([np.cos(0.25), np.sin(0.25), 0.0, 0.0])  # 0.5 rad about x away from "down"
    v = sf.check([0.53, 0.0, 0.3], tilted, t=0.2)
    assert v.reasons == ["rotation step"] and quat_angle(DOWN, v.orientation) == pytest.approx(0.15)


def test_workspace_and_orientation_limits(sf):
    sf.position = np.array([0.74, 0.0, 0.03])
    v = sf.check([0.76, 0.0, 0.0], DOWN, t=0.1)
    assert "workspace" in v.reasons
    np.testing.assert_allclose(v.position, [0.75, 0.0, 0.02])
    sf.orientation = np.array([np.cos(0.275), 0.0, np.sin(0.275), 0.0])  # 0.55 rad from "down": inside
    far = np.array([np.cos(0.5), 0.0, np.sin(0.5), 0.0])  # 1 rad from "down"
    v = sf.check([0.75, 0.0, 0.02], far, t=0.2)
    assert v.reasons == ["orientation limit"] and quat_angle(DOWN, v.orientation) == pytest.approx(0.6)


def test_a_target_far_outside_moves_one_step_and_stays_inside(sf):
    t = 0.1
    for _ in range(30):  # 2 m outside the box, upward and tilted far away, again and again
        t += 0.05
        sf.image_received(t)
        sf.state_received(t)
        before_p, before_q = sf.position.copy(), sf.orientation.copy()
        v = sf.check([0.5, 0.0, 2.5], [0.0, 0.0, 0.0, 1.0], t=t)
        assert np.linalg.norm(v.position - before_p) <= 0.03 + 1e-9
        assert quat_angle(before_q, v.orientation) <= 0.15 + 1e-9
        assert v.position[2] <= 0.55 + 1e-9 and quat_angle(DOWN, v.orientation) <= 0.6 + 1e-9
    np.testing.assert_allclose(v.position, [0.5, 0.0, 0.55])  # reached the ceiling, no further


def test_a_start_pose_outside_the_limits_is_refused():
    limits = load_limits(ROOT / "calibration" / "workspace.example.yaml")
    with pytest.raises(ValueError, match=r"start position \[0.5, 0.0, 0.9\] is outside the workspace box"):
        SafetyFilter(limits, np.array([0.5, 0.0, 0.9]), DOWN)
    with pytest.raises(ValueError, match="start orientation is 3.142 rad from the nominal orientation"):
        SafetyFilter(limits, np.array([0.5, 0.0, 0.3]), np.array([0.0, 0.0, 0.0, 1.0]))


def test_nan_rate_watchdog_and_latched_estop(sf):
    assert sf.check([np.nan, 0, 0.3], DOWN, t=0.1).action == "rejected"
    assert sf.check([0.5, 0, 0.3], [0, 0, 0, np.inf], t=0.1).action == "rejected"
    assert sf.check([0.5, 0, 0.3], DOWN, t=0.1).action == "accepted"
    assert sf.check([0.5, 0, 0.3], DOWN, t=0.11).reasons == ["rate limit"]  # 100 Hz > 30 Hz
    hold = sf.check([0.52, 0, 0.3], DOWN, t=0.9)  # image and state are 0.9 s old
    assert hold.action == "hold" and hold.reasons == ["stale image"]
    np.testing.assert_allclose(hold.position, [0.5, 0, 0.3])  # the last safe pose
    sf.image_received(1.0)
    sf.state_received(1.0)
    sf.estop()
    assert sf.check([0.51, 0, 0.3], DOWN, t=1.1).reasons == ["estop latched"]
    sf.image_received(2.0)
    sf.state_received(2.0)
    assert sf.check([0.51, 0, 0.3], DOWN, t=2.1).action == "hold"  # fresh data does not release it
    sf.release()
    assert sf.check([0.51, 0, 0.3], DOWN, t=2.2).action == "accepted"
    assert sf.counts == {"non-finite or malformed target": 2, "rate limit": 1, "stale image": 1, "estop": 1,
                         "estop latched": 2}


def test_limits_file_errors(tmp_path):
    with pytest.raises(SafetyConfigError, match=f"{tmp_path / 'missing.yaml'}: workspace limits file not found"):
        load_limits(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("workspace_min: [0.8, 0, 0]\nworkspace_max: [0.5, 1, 1]\n")
    with pytest.raises(SafetyConfigError, match=r"bad.yaml: invalid workspace limits file:\n  field '\(file\)': Value error, workspace_min \[0.8, 0.0, 0.0\] "
                                                r"must be below workspace_max"):
        load_limits(bad)
    bad.write_text("workspace_min: [0, 0, 0]\nworkspace_max: [1, 1, 1]\nmax_speed: 3\n")
    with pytest.raises(SafetyConfigError, match=r"bad.yaml: invalid workspace limits file:\n  unknown field 'max_speed' \(valid: workspace_min"):
        load_limits(bad)


def test_fuzz_100k_random_and_adversarial_targets_never_leave_the_limits(sf):
    """Nothing the filter lets through is outside the box, beyond the tilt limit or more than one step from the
    previous pose, whatever arrives: huge, NaN/inf, zero or flipped quaternions, targets just outside a face,
    bursts above the rate limit, stale streams, e-stops and releases."""
    lim, rng = sf.limits, np.random.default_rng(0)
    lo, hi = np.array(lim.workspace_min), np.array(lim.workspace_max)
    sent_p, sent_q, passed, t = sf.position.copy(), sf.orientation.copy(), 0, 0.0
    for i in range(100_000):
        kind = rng.integers(8)
        p = {0: rng.uniform(-10, 10, 3), 1: rng.uniform(lo, hi), 2: np.where(rng.random(3) < 0.5, lo, hi) + rng.normal(0, 1e-6, 3),
             3: sent_p + rng.normal(0, 0.05, 3), 4: np.where(rng.random(3) < 0.5, np.array([np.nan, np.inf, -np.inf])[rng.integers(3, size=3)], 0.4),
             5: rng.uniform(-1e9, 1e9, 3), 6: sent_p + rng.normal(0, 1e-3, 3), 7: hi + rng.uniform(0, 1, 3)}[int(kind)]
        q = {0: rng.normal(size=4), 1: -sent_q, 2: np.zeros(4), 3: np.array([0.0, 0.0, 0.0, 1.0]),
             4: rng.normal(size=4) * 1e6, 5: sent_q + rng.normal(0, 0.01, 4), 6: rng.normal(size=4) * 1e200,
             7: np.array([1e-300, 0.0, 0.0, 0.0])}[int(rng.integers(8))]
        t += rng.choice([1.0 / lim.max_rate_hz, 0.001, 0.1])  # some bursts above the rate limit
        sf.image_received(t - (lim.stale_after_s * 2 if rng.random() < 0.01 else 0.0))
        sf.state_received(t)
        if rng.random() < 0.001:
            sf.estop()
        if sf.estopped and rng.random() < 0.01:
            sf.release()
        if rng.random() < 0.002:  # re-anchor at a measured pose: good, NaN, zero quaternion or far outside
            measured = [(sent_p + rng.normal(0, 0.005, 3), sent_q), (np.full(3, np.nan), sent_q),
                        (sent_p, np.zeros(4)), (hi + 1.0, sent_q)][int(rng.integers(4))]
            if sf.resync(*measured):
                sent_p, sent_q = sf.position.copy(), sf.orientation.copy()
        v = sf.check(p, q, t)
        if v.position is None:
            continue
        assert (v.position >= lo - 1e-9).all() and (v.position <= hi + 1e-9).all(), (i, v)
        assert np.linalg.norm(v.position - sent_p) <= lim.max_translation_m + 1e-9, (i, v)
        assert quat_angle(v.orientation, sent_q) <= lim.max_rotation_rad + 1e-6, (i, v)
        assert quat_angle(v.orientation, sf.nominal) <= lim.max_tilt_rad + 1e-6, (i, v)
        assert np.isfinite(v.position).all() and np.isfinite(v.orientation).all()
        passed += v.action in ("accepted", "clipped")
        sent_p, sent_q = v.position, v.orientation
    assert passed > 20_000  # the fuzz reached the clipping paths, not only the rejections
    assert sf.counts["workspace"] > 1000 and sf.counts["non-finite or malformed target"] > 1000
    assert sf.counts["rate limit"] > 1000 and sf.counts["estop latched"] > 0 and sf.counts["stale image"] > 0


def test_a_start_pose_just_outside_is_anchored_inside_the_box():
    """Impedance control overshoots a clipped target by millimetres: within start_margin_m the measured pose is
    taken as the anchor, clipped into the box, so every later command is still inside."""
    limits = load_limits(ROOT / "calibration" / "workspace.example.yaml")  # x <= 0.75, margin 0.02
    f = SafetyFilter(limits, np.array([0.76, 0.0, 0.3]), DOWN)
    assert f.position.tolist() == [0.75, 0.0, 0.3]
    assert f.resync(np.array([0.765, 0.0, 0.3]), DOWN) and f.position.tolist() == [0.75, 0.0, 0.3]
    assert not f.resync(np.array([0.80, 0.0, 0.3]), DOWN) and f.counts["resync refused: arm outside limits"] == 1


def test_huge_quaternions_and_non_finite_anchors_are_refused():
    """A finite quaternion whose norm overflows (1e200) must not normalise to zero and slip past the angle checks;
    a NaN or zero-quaternion measured pose never becomes the anchor."""
    limits = load_limits(ROOT / "calibration" / "workspace.example.yaml")
    f = SafetyFilter(limits, np.array([0.5, 0.0, 0.3]), DOWN)
    f.image_received(0.0)
    f.state_received(0.0)
    v = f.check(np.array([0.5, 0.0, 0.3]), np.array([1e200, 1e200, 0.0, 0.0]), 0.1)
    assert np.isfinite(v.orientation).all() and abs(np.linalg.norm(v.orientation) - 1) < 1e-9
    assert quat_angle(v.orientation, DOWN) <= limits.max_rotation_rad + 1e-9
    assert not f.resync(np.array([np.nan, 0.0, 0.3]), DOWN) and not f.resync(np.array([0.5, 0.0, 0.3]), np.zeros(4))
    assert f.counts["resync refused: measured pose not finite"] == 2 and np.isfinite(f.position).all()
    with pytest.raises(ValueError, match="is not finite or has no orientation"):
        SafetyFilter(limits, np.array([np.nan, 0.0, 0.3]), DOWN)


def test_a_message_header_must_name_the_base_frame_and_a_recent_stamp():
    limits = load_limits(ROOT / "calibration" / "workspace.example.yaml")  # 0.5 s old at most, 0.1 s ahead

    def check(frame, stamp, now=100.0):
        return check_header(frame, stamp, now, "base", limits, "target")

    assert check("base", 99.6) is None and check("base", 100.05) is None
    assert check("world", 100.0) == ("target in another frame", "target in frame 'world', expected the base frame 'base'")
    assert check("", 100.0)[0] == "target in another frame"
    assert check("base", 99.0) == ("stale target stamp", "target stamped 1.000 s ago (limit max_message_age_s 0.5 s)")
    assert check("base", 0.0) == ("stale target stamp", "target has no stamp")
    assert check("base", 100.5) == ("target stamp in the future", "target stamped 0.500 s in the future (limit "
                                    "max_clock_skew_s 0.1 s): are the clocks synchronised?")
    assert check_header("world", 100.0, 100.0, "base", limits, "robot pose")[0] == "robot pose in another frame"
