"""The ICVF value: goal/intent sampling, the expectile TD objective, Polyak updates and the networks.

Test frames encode where they came from: every pixel of frame t of episode k in dataset `tag` is
(k, t, tag), so a sampled image tells which dataset index it is (edge-padded crops keep constant frames).
"""

import numpy as np
import pytest
import torch

from viva_robot.data.dataset import DatasetWriter, Episode, VideoDataset
from viva_robot.data.reader import RamFrames
from viva_robot.value.diagnostics import temporal_order_pairs
from viva_robot.value.icvf import ICVFHyper, batch_to_tensors, icvf_loss, polyak_update
from viva_robot.value.networks import ICVF, EnsembleLinear, MonolithicHead, MultilinearHead, to_input
from viva_robot.value.sampling import GoalDistribution, ICVFSampler, Source, random_crop

LENGTHS = (6, 9, 12, 7, 20, 8, 10, 15)


def make_dataset(path, lengths=LENGTHS, tag: int = 0, size: int = 16) -> VideoDataset:
    w = DatasetWriter(path, source="test", fps=5, resolution=(size, size))
    for k, t in enumerate(lengths):
        rgb = np.zeros((t, size, size, 3), dtype=np.uint8)
        rgb[..., 0] = k
        rgb[..., 1] = np.arange(t)[:, None, None]
        rgb[..., 2] = tag
        w.append(Episode(rgb=rgb, key=f"ep{k}"))
    return VideoDataset(path)


def frame_index(ds: VideoDataset, images: np.ndarray) -> np.ndarray:
    """Dataset index of each encoded image (..., H, W, 3) -> (...)."""
    k, t = images[..., 0, 0, 0].astype(np.int64), images[..., 0, 0, 1].astype(np.int64)
    assert (images == images[..., :1, :1, :]).all(), "frames are constant: a crop must not change them"
    return ds.episode_starts[k] + t


def source(ds: VideoDataset, episodes=None) -> Source:
    return Source(ds, RamFrames(ds), np.arange(ds.num_episodes) if episodes is None else np.asarray(episodes))


def sample(ds, n=512, seed=0, crop_pad=0, **dist):
    sampler = ICVFSampler([source(ds)], [1.0], GoalDistribution(**dist), crop_pad)
    batch = sampler.sample(n, np.random.default_rng(seed))
    s, g, z, nxt = frame_index(ds, batch.images)
    return batch, s, g, z, nxt


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: a second OpenMP thread only adds waiting on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("value") / "d.zarr")


# -- sampler ------------------------------------------------------------------------------------------------


def test_batch_layout_next_frame_and_no_last_frame(ds):
    batch, s, _, _, nxt = sample(ds, n=2000)
    assert batch.images.shape == (4, 2000, 16, 16, 3) and batch.images.dtype == np.uint8
    for name in ("goal_reward", "goal_mask", "intent_reward", "intent_mask"):
        assert getattr(batch, name).shape == (2000,) and getattr(batch, name).dtype == np.float32
    ep = ds.episode_of(s)
    np.testing.assert_array_equal(nxt, s + 1)
    np.testing.assert_array_equal(ds.episode_of(nxt), ep)  # s' is in s's episode: s is never a last frame
    assert not np.isin(s, ds.episode_ends - 1).any()
    # every frame with a successor gets drawn, uniformly enough
    counts = np.bincount(s, minlength=ds.num_frames)
    has_next = ~np.isin(np.arange(ds.num_frames), ds.episode_ends - 1)
    assert (counts[has_next] > 0).all() and (counts[~has_next] == 0).all()


def test_p_curr_goal_is_the_frame_itself(ds):
    batch, s, g, z, _ = sample(ds, p_curr=1, p_traj=0, p_rand=0, p_samegoal=0)
    np.testing.assert_array_equal(g, s)
    np.testing.assert_array_equal(z, s)
    assert (batch.goal_reward == 0).all() and (batch.goal_mask == 0).all()
    assert (batch.intent_reward == 0).all() and (batch.intent_mask == 0).all()


def test_p_traj_goal_is_later_in_the_same_episode(ds):
    _, s, g, z, _ = sample(ds, n=3000, p_curr=0, p_traj=1, p_rand=0, p_samegoal=0)
    ep = ds.episode_of(s)
    for x in (g, z):
        np.testing.assert_array_equal(ds.episode_of(x), ep)
        assert (x >= s).all()
    # uniform over [s, end - 1]: reaches both the frame itself and the episode's last frame
    assert (g == s).any() and (g == ds.episode_ends[ep] - 1).any()
    assert (g > s).mean() > 0.7


def test_p_rand_goals_spread_over_episodes(ds):
    _, s, g, _, _ = sample(ds, n=4000, p_curr=0, p_traj=0, p_rand=1, p_samegoal=0)
    other = ds.episode_of(g) != ds.episode_of(s)
    assert other.mean() > 0.75  # the largest episode holds 20 of 87 frames
    counts = np.bincount(ds.episode_of(g), minlength=ds.num_episodes)
    expected = 4000 * ds.episode_lengths() / ds.num_frames  # uniform over frames, including last frames
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    assert np.isin(g, ds.episode_ends - 1).any()


def test_p_samegoal_one_makes_goal_the_intent(ds):
    batch, s, g, z, _ = sample(ds, p_samegoal=1.0)
    np.testing.assert_array_equal(g, z)
    np.testing.assert_array_equal(batch.goal_reward, batch.intent_reward)
    batch, _, g, z, _ = sample(ds, n=2000, p_samegoal=0.0)
    assert (g != z).mean() > 0.3


def test_rewards_and_masks_are_zero_at_the_frame_itself(ds):
    batch, s, g, z, _ = sample(ds, n=2000)  # default mixture: all three goal kinds
    assert set(np.unique(batch.goal_reward)) == {0.0, -1.0}
    np.testing.assert_array_equal(batch.goal_reward, np.where(g == s, 0.0, -1.0))
    np.testing.assert_array_equal(batch.intent_reward, np.where(z == s, 0.0, -1.0))
    np.testing.assert_array_equal(batch.goal_mask, 1.0 - (batch.goal_reward + 1.0))
    np.testing.assert_array_equal(batch.intent_mask, 1.0 - (batch.intent_reward + 1.0))


def test_intent_same_episode_is_the_frame_or_later_in_its_episode(ds):
    _, s, g, z, _ = sample(ds, n=3000, p_curr=0.2, p_traj=0.5, p_rand=0.3, p_samegoal=0,
                               intent_same_episode=True)
    np.testing.assert_array_equal(ds.episode_of(z), ds.episode_of(s))
    assert (z >= s).all()  # ICVF's intent_sametraj: current frame or a later one, never a random frame
    assert 0.15 < (z == s).mean() < 0.35  # p_curr plus the later draws that land on s
    assert (ds.episode_of(g) != ds.episode_of(s)).any()  # the goal still uses p_rand


def test_same_seed_same_batch_and_different_seed_differs(ds):
    sampler = ICVFSampler([source(ds)], [1.0], GoalDistribution(), crop_pad=2)
    a = sampler.sample(64, np.random.default_rng([0, 0, 5]))
    b = sampler.sample(64, np.random.default_rng([0, 0, 5]))
    c = sampler.sample(64, np.random.default_rng([0, 0, 6]))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.images, c.images)


def test_only_listed_episodes_are_sampled(ds):
    keep = np.array([1, 4, 6])
    sampler = ICVFSampler([source(ds, keep)], [1.0], GoalDistribution(p_curr=0, p_traj=0, p_rand=1), 0)
    batch = sampler.sample(1000, np.random.default_rng(1))
    assert set(np.unique(ds.episode_of(frame_index(ds, batch.images)))) == set(keep.tolist())


def test_random_crop_keeps_shape_and_shifts_content():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 16, 16, 3), dtype=np.uint8)
    assert random_crop(images, 0, rng) is images
    out = random_crop(images, 3, np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == np.uint8
    shifted = [not np.array_equal(o, i) for o, i in zip(out, images)]
    assert sum(shifted) >= 28  # 1 offset in 49 is (0, 0)
    # each output is the edge-padded input at some offset (dy, dx) in [-3, 3]^2
    padded = np.pad(images, ((0, 0), (3, 3), (3, 3), (0, 0)), mode="edge")
    for k in range(32):
        assert any(np.array_equal(out[k], padded[k, y : y + 16, x : x + 16]) for y in range(7) for x in range(7))
    # the same rng gives the same crop
    np.testing.assert_array_equal(out, random_crop(images, 3, np.random.default_rng(1)))


def test_multinomial_mixing_by_weights(tmp_path):
    a = make_dataset(tmp_path / "a.zarr", lengths=(5, 6, 7), tag=10)
    b = make_dataset(tmp_path / "b.zarr", lengths=(8, 9), tag=20)
    dist = GoalDistribution()
    only_a = ICVFSampler([source(a), source(b)], [1, 0], dist, 0).sample(256, np.random.default_rng(0))
    assert (only_a.images[..., 2] == 10).all()
    only_b = ICVFSampler([source(a), source(b)], [0, 3], dist, 0).sample(256, np.random.default_rng(0))
    assert (only_b.images[..., 2] == 20).all()
    mixed = ICVFSampler([source(a), source(b)], [1, 3], dist, 0).sample(4000, np.random.default_rng(0))
    tags = mixed.images[..., 0, 0, 2]  # (4, B)
    assert (tags == tags[0]).all()  # s, g, z, s' of one sample come from one dataset
    assert abs((tags[0] == 10).mean() - 0.25) < 0.03
    # per-dataset indices stay consistent: s' follows s in the right dataset
    for ds, tag in ((a, 10), (b, 20)):
        sel = tags[0] == tag
        s, g, _, nxt = frame_index(ds, mixed.images[:, sel])
        np.testing.assert_array_equal(nxt, s + 1)
        np.testing.assert_array_equal(mixed.goal_reward[sel], np.where(g == s, 0.0, -1.0))


# -- objective ----------------------------------------------------------------------------------------------


def tiny_icvf(head="monolithic", seed=0) -> ICVF:
    torch.manual_seed(seed)
    return ICVF("small", head, image_size=16, ensemble=2, hidden=(32,))


@pytest.mark.parametrize("head", ["monolithic", "multilinear"])
def test_icvf_loss_matches_the_formula(ds, head):
    model, target = tiny_icvf(head, 0), tiny_icvf(head, 1).requires_grad_(False)  # distinct target weights
    batch, *_ = sample(ds, n=48, crop_pad=2)
    b = batch_to_tensors(batch, torch.device("cpu"))
    hp = ICVFHyper(gamma=0.9, expectile=0.8)
    loss, metrics = icvf_loss(model, target, b, hp)

    S, G, Z, N = (torch.from_numpy(batch.images[k]) for k in range(4))
    with torch.no_grad():
        def V(net, x, y, w):  # (E, B), each image encoded separately
            return net.values(net.encode(x), net.encode(y), net.encode(w))

        q = b["goal_reward"] + 0.9 * b["goal_mask"] * V(target, N, G, Z)
        adv = b["intent_reward"] + 0.9 * b["intent_mask"] * V(target, N, Z, Z).min(0).values - V(target, S, Z, Z).mean(0)
        v = V(model, S, G, Z)
        w = torch.where(adv >= 0, torch.tensor(0.8), torch.tensor(0.2))
        expected = sum((w * (q[i] - v[i]) ** 2).mean() for i in range(2))
    assert q.shape == v.shape == (2, 48)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(metrics["adv_positive"], (adv >= 0).float().mean())
    torch.testing.assert_close(metrics["q_mean"], q.mean(), rtol=1e-5, atol=1e-5)
    # the gradient reaches the online net only
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert all(p.grad is None for p in target.parameters())


def test_expectile_weight_picks_tau_for_nonnegative_advantage(ds, monkeypatch):
    """With V and Vbar forced to constants the advantage sign is known, so the weight is visible in the loss."""
    batch, *_ = sample(ds, n=64, p_curr=0.3, p_traj=0.7, p_rand=0, p_samegoal=0)
    b = batch_to_tensors(batch, torch.device("cpu"))
    assert 0 < (b["intent_reward"] == 0).sum() < 64 and 0 < (b["goal_reward"] == 0).sum() < 64
    hp = ICVFHyper(gamma=0.5, expectile=0.9)
    model, target = tiny_icvf(), tiny_icvf().requires_grad_(False)

    def run(vbar: float, v: float):
        target.values = lambda es, eg, ez: torch.full((2, es.shape[0]), vbar)
        model.head.forward = lambda es, eg, ez: torch.full((2, es.shape[0]), v, requires_grad=True)
        return icvf_loss(model, target, b, hp)

    r, m = b["intent_reward"], b["intent_mask"]
    qr, qm = b["goal_reward"], b["goal_mask"]
    # Vbar = -1: A = r - 0.5 m + 1, i.e. -0.5 (weight 1 - tau) for r = -1 and 1 (weight tau) for r = 0
    loss, metrics = run(-1.0, 0.0)
    adv = r + 0.5 * m * -1.0 + 1.0
    w = torch.where(adv >= 0, 0.9, 0.1)
    q = qr + 0.5 * qm * -1.0
    torch.testing.assert_close(loss, 2 * (w * q**2).mean())
    # Vbar = -4: A = -1 - 2 + 4 = 1 >= 0 for r = -1 samples, and 0 + 4 >= 0 for r = 0: every weight is tau
    loss, metrics = run(-4.0, 0.0)
    q = qr + 0.5 * qm * -4.0
    torch.testing.assert_close(loss, 2 * (0.9 * q**2).mean())
    assert metrics["adv_positive"] == 1.0
    # Vbar = 0: A = r <= 0, zero only where the intent is s itself (A = 0 counts as >= 0)
    loss, metrics = run(0.0, -0.5)
    w = torch.where(r >= 0, 0.9, 0.1)
    torch.testing.assert_close(loss, 2 * (w * (qr + 0.5) ** 2).mean())


def test_polyak_update_moves_target_by_tau():
    model, target = tiny_icvf(seed=0), tiny_icvf(seed=1)
    before = [p.detach().clone() for p in target.parameters()]
    polyak_update(target, model, 0.25)
    for t, t0, m in zip(target.parameters(), before, model.parameters()):
        torch.testing.assert_close(t, t0 + 0.25 * (m - t0), rtol=0, atol=1e-6)
    polyak_update(target, model, 1.0)
    for t, m in zip(target.parameters(), model.parameters()):
        assert torch.equal(t, m)


# -- networks -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d_out", [1, 5])  # 1: the multiply-and-sum path of value and Q heads
def test_ensemble_linear_is_one_linear_map_per_member(d_out):
    torch.manual_seed(0)
    layer = EnsembleLinear(3, 7, d_out)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(3, 4, 7, requires_grad=True)
    y = layer(x)
    expected = torch.stack([x[e] @ layer.weight[e] + layer.bias[e] for e in range(3)])
    torch.testing.assert_close(y, expected)
    grads = torch.autograd.grad((y * torch.arange(y.numel()).view_as(y)).sum(), (x, layer.weight, layer.bias))
    ref = torch.autograd.grad((expected * torch.arange(y.numel()).view_as(y)).sum(), (x, layer.weight, layer.bias))
    for g, r in zip(grads, ref):
        torch.testing.assert_close(g, r)


@pytest.mark.parametrize("head_cls", [MonolithicHead, MultilinearHead])
def test_heads_give_one_value_per_member_and_sample(head_cls):
    torch.manual_seed(0)
    head = head_cls(features=10, ensemble=3, hidden=(16,))
    es, eg, ez = torch.randn(3, 5, 10).unbind(0)
    v = head(es, eg, ez)
    assert v.shape == (3, 5)
    assert not torch.allclose(v[0], v[1])  # independent members
    # each sample's value depends on its own row only
    v2 = head(es[:2], eg[:2], ez[:2])
    torch.testing.assert_close(v2, v[:, :2])


def test_multilinear_head_is_bilinear_in_phi_and_psi():
    torch.manual_seed(0)
    head = MultilinearHead(features=6, ensemble=2, hidden=(8,), rank=4)
    es, eg, ez = torch.randn(3, 5, 6).unbind(0)
    phi, psi = head.phi(es.expand(2, -1, -1)), head.psi(eg.expand(2, -1, -1))
    T = head.T(ez.expand(2, -1, -1)).reshape(2, 5, 4, 4)
    expected = torch.stack([torch.stack([phi[e, b] @ T[e, b] @ psi[e, b] for b in range(5)]) for e in range(2)]) / 4
    torch.testing.assert_close(head(es, eg, ez), expected)


@pytest.mark.parametrize("head", ["monolithic", "multilinear"])
def test_value_is_the_ensemble_mean_of_v_s_g_g(head):
    model = tiny_icvf(head)
    rng = np.random.default_rng(0)
    s = torch.from_numpy(rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8))
    g = torch.from_numpy(rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8))
    v = model.value(s, g)
    assert v.shape == (4,)
    with torch.no_grad():
        per_head = model(torch.cat([s, g, g]))  # forward: (E, B) from stacked s, g, z
    assert per_head.shape == (2, 4)
    torch.testing.assert_close(v, per_head.mean(0))


def test_to_input_scales_to_minus_one_one_in_nchw():
    img = torch.tensor([[[[0, 255, 51]]]], dtype=torch.uint8).expand(2, 3, 5, 3)
    x = to_input(img)
    assert x.shape == (2, 3, 3, 5)
    torch.testing.assert_close(x[:, 0], torch.full((2, 3, 5), -1.0))
    torch.testing.assert_close(x[:, 1], torch.full((2, 3, 5), 1.0))
    torch.testing.assert_close(x[:, 2], torch.full((2, 3, 5), 51 / 127.5 - 1))


@pytest.mark.parametrize("encoder,size,features", [("small", 16, 256), ("small", 24, 256), ("resnet18", 32, 512)])
def test_encoders_build_and_run(encoder, size, features):
    torch.manual_seed(0)
    model = ICVF(encoder, "monolithic", image_size=size, ensemble=2, hidden=(32,))
    images = torch.randint(0, 256, (2, size, size, 3), dtype=torch.uint8)
    e = model.encode(images)
    assert e.shape == (2, features) and torch.isfinite(e).all()
    assert model.value(images, images).shape == (2,)
    groupnorms = [m for m in model.encoder.modules() if isinstance(m, torch.nn.GroupNorm)]
    batchnorms = [m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert not batchnorms and (encoder == "small" or groupnorms)


def test_compile_encoder_keeps_state_dict_keys():
    model = tiny_icvf()
    keys = list(model.state_dict())
    model.compile_encoder()  # lazy: nothing is compiled until the encoder is called
    assert list(model.state_dict()) == keys
    assert "_compiled_encoder" in model.__dict__ and not any("compiled" in k for k in keys)
    fresh = tiny_icvf()
    fresh.load_state_dict(model.state_dict())


# -- diagnostics --------------------------------------------------------------------------------------------


def test_temporal_order_pairs():
    assert temporal_order_pairs(np.arange(6.0)) == (15, 15)
    assert temporal_order_pairs(-np.arange(6.0)) == (0, 15)
    assert temporal_order_pairs(np.array([0.0, 2.0, 1.0])) == (2, 3)
    assert temporal_order_pairs(np.ones(4)) == (0, 6)  # ties do not count as progress
