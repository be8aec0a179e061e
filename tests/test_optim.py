"""Optimizers, schedules, clipping and EMA against values worked out by hand in NumPy."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigen as mg
from minigen import optim
from minigen.optim import lr_scheduler

THETA0 = np.array([1.0, -2.0, 0.5])
G1 = np.array([0.5, -1.0, 2.0])
G2 = np.array([-0.3, 0.2, 1.0])


def param(values=THETA0, dtype="float64", device=None):
    return mg.tensor(np.array(values, dtype=dtype), device=device, requires_grad=True)


def two_steps(opt, p, grads=(G1, G2)):
    """Run the optimizer on given gradients; return the parameter after each step."""
    out = []
    for g in grads:
        p.grad = mg.tensor(g, dtype=p.dtype, device=p.device)
        opt.step()
        out.append(p.numpy().copy())
    return out


# ------------------------------------------------------------------------------------ SGD
def test_sgd_plain():
    p = param()
    th1, th2 = two_steps(optim.SGD([p], lr=0.1), p)
    np.testing.assert_allclose(th1, THETA0 - 0.1 * G1, rtol=1e-12)
    np.testing.assert_allclose(th2, THETA0 - 0.1 * G1 - 0.1 * G2, rtol=1e-12)


def test_sgd_momentum_with_dampening_starts_undampened():
    p = param()
    th1, th2 = two_steps(optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5), p)
    b1 = G1                                  # first buffer is the gradient itself, not (1 - tau) g
    b2 = 0.9 * b1 + 0.5 * G2
    np.testing.assert_allclose(th1, THETA0 - 0.1 * b1, rtol=1e-12)
    np.testing.assert_allclose(th2, THETA0 - 0.1 * b1 - 0.1 * b2, rtol=1e-12)


def test_sgd_nesterov_with_weight_decay():
    p = param()
    th1, th2 = two_steps(optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), p)
    g1 = G1 + 0.01 * THETA0
    b1 = g1
    exp1 = THETA0 - 0.1 * (g1 + 0.9 * b1)
    g2 = G2 + 0.01 * exp1
    b2 = 0.9 * b1 + g2
    exp2 = exp1 - 0.1 * (g2 + 0.9 * b2)
    np.testing.assert_allclose(th1, exp1, rtol=1e-12)
    np.testing.assert_allclose(th2, exp2, rtol=1e-12)


# ------------------------------------------------------------------------------------ Adam
def adam_reference(grads, lr, beta1, beta2, eps, l2=0.0, decoupled=0.0):
    """Adam / AdamW from the paper's equations, written out directly."""
    theta, m, v, out = THETA0.copy(), 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        theta = theta * (1 - lr * decoupled)
        g = g + l2 * (theta if not decoupled else 0)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def test_adam_first_step_is_lr_times_sign_by_bias_correction():
    p = param()
    (th1,) = two_steps(optim.Adam([p], lr=0.01), p, grads=(G1,))
    # m_hat_1 = g_1 and v_hat_1 = g_1^2, so the first step is lr * g / (|g| + eps)
    np.testing.assert_allclose(th1, THETA0 - 0.01 * G1 / (np.abs(G1) + 1e-8), rtol=1e-12)


def test_adam_two_steps():
    p = param()
    got = two_steps(optim.Adam([p], lr=0.1, betas=(0.8, 0.9), eps=1e-3), p)
    want = adam_reference([G1, G2], 0.1, 0.8, 0.9, 1e-3)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_adam_l2_and_adamw_decoupled_decay_match_their_equations_and_differ():
    p_adam, p_adamw = param(), param()
    adam = two_steps(optim.Adam([p_adam], lr=0.1, weight_decay=0.5), p_adam)
    adamw = two_steps(optim.AdamW([p_adamw], lr=0.1, weight_decay=0.5), p_adamw)
    want_adam = adam_reference([G1, G2], 0.1, 0.9, 0.999, 1e-8, l2=0.5)
    want_adamw = adam_reference([G1, G2], 0.1, 0.9, 0.999, 1e-8, decoupled=0.5)
    for got, want in zip(adam + adamw, want_adam + want_adamw):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.abs(adam[1] - adamw[1]).max() > 1e-2


def test_adamw_default_weight_decay_and_adam_without_decay():
    assert optim.AdamW([param()]).param_groups[0]["weight_decay"] == 1e-2
    assert optim.Adam([param()]).param_groups[0]["weight_decay"] == 0


def test_float32_stays_float32():
    p = param(dtype="float32")
    opt = optim.Adam([p], lr=0.1)
    two_steps(opt, p)
    assert p.dtype == np.float32 and opt.state[0]["m"].dtype == np.float32
    assert opt.state[0]["v"].dtype == np.float32


@pytest.mark.parametrize("cls,kwargs", [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (optim.Adam, dict(lr=0.1, weight_decay=0.1)),
    (optim.AdamW, dict(lr=0.1)),
])
def test_update_on_device_matches_cpu_and_state_dict_is_numpy(device, cls, kwargs):
    p_dev, p_cpu = param(device=device), param()
    opt_dev = cls([p_dev], **kwargs)
    got = two_steps(opt_dev, p_dev)
    want = two_steps(cls([p_cpu], **kwargs), p_cpu)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10)
    sd = opt_dev.state_dict()
    assert all(type(v) is np.ndarray for v in sd["state"]["0"].values() if hasattr(v, "shape"))
    restored = cls([param(device=device)], **kwargs)
    restored.load_state_dict(sd)
    for value in restored.state[0].values():
        if hasattr(value, "shape"):
            assert mg.backend.device_of(value) == p_dev.device


# ------------------------------------------------------------------------------------ all optimizers
ALL = [
    (optim.SGD, dict(lr=0.1)),
    (optim.SGD, dict(lr=0.05, momentum=0.9)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    (optim.Adam, dict(lr=0.1)),
    (optim.AdamW, dict(lr=0.1, weight_decay=1e-4)),
]


@pytest.mark.parametrize("cls,kwargs", ALL)
def test_converges_on_a_quadratic(cls, kwargs):
    """f(x) = sum a_i (x_i - c_i)^2 through autograd: minimum at c."""
    a = mg.tensor([1.0, 3.0, 0.5], dtype="float64")
    c = np.array([2.0, -1.0, 0.5])
    x = param(np.zeros(3))
    opt = cls([x], **kwargs)
    for _ in range(500):
        opt.zero_grad()
        (a * (x - mg.tensor(c, dtype="float64")) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(x.numpy(), c, atol=2e-2)


@pytest.mark.parametrize("cls,kwargs", ALL)
def test_state_dict_round_trip_continues_identically(cls, kwargs, tmp_path):
    rng = np.random.default_rng(1)
    grads = [[rng.standard_normal((4, 3)), rng.standard_normal(3)] for _ in range(6)]
    init = [rng.standard_normal((4, 3)), rng.standard_normal(3)]

    def run(opt, params, grads):
        for gs in grads:
            for p, g in zip(params, gs):
                p.grad = mg.tensor(g, dtype="float64")
            opt.step()

    params_a = [param(v) for v in init]
    opt_a = cls([{"params": params_a[:1]}, {"params": params_a[1:], "lr": 0.01}], **kwargs)
    run(opt_a, params_a, grads[:3])

    params_b = [param(p.numpy()) for p in params_a]
    opt_b = cls([{"params": params_b[:1]}, {"params": params_b[1:]}], **kwargs)
    opt_b.load_state_dict(npz_round_trip(opt_a.state_dict(), tmp_path))
    assert opt_b.param_groups[1]["lr"] == 0.01
    run(opt_a, params_a, grads[3:])
    run(opt_b, params_b, grads[3:])
    for pa, pb in zip(params_a, params_b):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())


def npz_round_trip(nested, tmp_path):
    """Write a nested dict to .npz (no pickle) and read it back: what a checkpoint does to it."""
    flat = {}

    def flatten(prefix, value):
        if isinstance(value, dict):
            flat[prefix + "#dict"] = np.array(sorted(value))
            for k, v in value.items():
                flatten(f"{prefix}/{k}", v)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            flat[prefix + "#list"] = np.array(len(value))
            for i, v in enumerate(value):
                flatten(f"{prefix}/{i}", v)
        else:
            assert isinstance(value, (int, float, str, bool, list, np.ndarray)), (prefix, type(value))
            flat[prefix] = np.asarray(value)

    def unflatten(prefix, files):
        if prefix + "#dict" in files:
            return {k: unflatten(f"{prefix}/{k}", files) for k in files[prefix + "#dict"].tolist()}
        if prefix + "#list" in files:
            return [unflatten(f"{prefix}/{i}", files) for i in range(int(files[prefix + "#list"]))]
        return files[prefix]

    flatten("", nested)
    np.savez(tmp_path / "state.npz", **flat)
    with np.load(tmp_path / "state.npz", allow_pickle=False) as f:
        return unflatten("", dict(f))


def test_state_dict_and_load_copy_the_arrays():
    p = param()
    opt = optim.Adam([p])
    two_steps(opt, p)
    saved = opt.state_dict()
    saved["state"]["0"]["m"][:] = 100.0
    assert opt.state[0]["m"].max() < 100
    # one dict loaded into two optimizers: they must not share (and so double-update) the moments
    p1, p2 = param(), param()
    opt1, opt2 = optim.Adam([p1]), optim.Adam([p2])
    opt1.load_state_dict(saved)
    opt2.load_state_dict(saved)
    two_steps(opt1, p1)
    two_steps(opt2, p2)
    np.testing.assert_array_equal(p1.numpy(), p2.numpy())


def test_param_groups_with_different_lr_and_momentum():
    p_fast, p_slow = param(), param()
    opt = optim.SGD([{"params": [p_fast]}, {"params": [p_slow], "lr": 0.01, "momentum": 0.5}], lr=0.1)
    for p in (p_fast, p_slow):
        p.grad = mg.tensor(G1, dtype="float64")
    opt.step()
    np.testing.assert_allclose(p_fast.numpy(), THETA0 - 0.1 * G1, rtol=1e-12)
    np.testing.assert_allclose(p_slow.numpy(), THETA0 - 0.01 * G1, rtol=1e-12)
    assert "momentum_buffer" not in opt.state[0] and "momentum_buffer" in opt.state[1]


def test_params_without_grad_are_skipped_and_zero_grad_clears():
    used, unused = param(), param()
    opt = optim.Adam([used, unused], lr=0.1)
    used.grad = mg.tensor(G1, dtype="float64")
    opt.step()
    np.testing.assert_array_equal(unused.numpy(), THETA0)
    assert 1 not in opt.state and "1" not in opt.state_dict()["state"]
    opt.zero_grad()
    assert used.grad is None


def test_broadcast_and_shared_gradients_are_read_not_written():
    """Two parameters holding one read-only gradient (a broadcast view, as a user may hand over): the
    optimizer only reads it."""
    x, y = param(), param()
    shared = mg.Tensor._make(np.broadcast_to(np.ones(1, dtype=np.float32), (3,)))
    assert not shared.data.flags.writeable
    x.grad = y.grad = shared
    opt = optim.Adam([x, y], lr=0.1, weight_decay=0.1)
    opt.step()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))
    np.testing.assert_allclose(x.numpy(), y.numpy())


def test_model_like_object_is_accepted():
    class Model:
        def __init__(self):
            self.w = param()

        def parameters(self):
            return iter([self.w])

    model = Model()
    assert optim.SGD(model.parameters(), lr=0.1).param_groups[0]["params"] == [model.w]
    assert optim.EMA(model).params == [model.w]


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("make,message", [
    (lambda p: optim.SGD([p], lr=-0.1), "lr must be a number >= 0"),
    (lambda p: optim.SGD([p], lr=float("nan")), "lr must be a number >= 0"),
    (lambda p: optim.SGD([p], lr="0.1"), "SGD: lr must be a number >= 0, got '0.1'"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=-1), "momentum must be a number >= 0"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda p: optim.SGD([p], lr=0.1, weight_decay=-1e-4), "weight_decay must be a number >= 0"),
    (lambda p: optim.Adam([p], betas=(0.9, 1.0)), r"betas\[1\] must be in \[0, 1\)"),
    (lambda p: optim.Adam([p], betas=(-0.1, 0.99)), r"betas\[0\] must be in \[0, 1\)"),
    (lambda p: optim.Adam([p], betas=0.9), "betas must be a pair"),
    (lambda p: optim.AdamW([p], eps=0), "eps must be > 0"),
    (lambda p: optim.Adam([], lr=0.1), "empty parameter list"),
    (lambda p: optim.Adam([{"params": []}]), "empty parameter list"),
    (lambda p: optim.Adam([{"params": [p], "lrr": 0.1}]), r"unknown option\(s\) \['lrr'\]"),
    (lambda p: optim.Adam([{"params": [p], "lr": -1}]), "lr must be a number >= 0"),
    (lambda p: optim.Adam([p, p]), "appears more than once"),
    (lambda p: optim.Adam([{"params": [p]}, {"params": [p]}]), "appears more than once"),
    (lambda p: optim.Adam([p * 2]), "leaf tensors"),
])
def test_bad_optimizer_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make(param())


def test_non_tensor_params_are_a_type_error():
    with pytest.raises(TypeError, match="parameter 1 is a ndarray, expected a Tensor"):
        optim.SGD([param(), np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="got int"):
        optim.SGD(3, lr=0.1)
    with pytest.raises(TypeError, match="mixes Tensors and dicts"):
        optim.SGD([param(), {"params": [param()]}], lr=0.1)


def test_load_state_dict_checks_groups_counts_shapes_and_kind():
    p = param()
    opt = optim.Adam([p], lr=0.1)
    two_steps(opt, p)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="1 parameter group"):
        optim.Adam([{"params": [param()]}, {"params": [param()]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 has 1 parameters in the saved state and 2 here"):
        optim.Adam([param(), param()]).load_state_dict(sd)
    target = optim.Adam([param(np.zeros(4))], lr=0.5)
    with pytest.raises(ValueError, match=r"shape \(3,\), the parameter has shape \(4,\)"):
        target.load_state_dict(sd)
    assert target.state == {} and target.param_groups[0]["lr"] == 0.5   # untouched by the failed load
    with pytest.raises(ValueError, match="SGD expects"):
        optim.SGD([param()], lr=0.1).load_state_dict(sd)


# ------------------------------------------------------------------------------------ schedules
def sgd(lr=0.5, groups=1):
    return optim.SGD([{"params": [param()], "lr": lr * (i + 1)} for i in range(groups)], lr=lr)


def follow(scheduler, steps):
    """The lrs the optimizer's groups hold at t = 0 .. steps - 1, checked against last_lr."""
    lrs = []
    for _ in range(steps):
        groups = [g["lr"] for g in scheduler.optimizer.param_groups]
        assert groups == scheduler.last_lr
        lrs.append(groups)
        scheduler.step()
    return np.array(lrs)


def test_step_lr():
    sched = lr_scheduler.StepLR(sgd(groups=2), step_size=3, gamma=0.5)
    got = follow(sched, 10)
    t = np.arange(10)[:, None]
    np.testing.assert_allclose(got, np.array([[0.5, 1.0]]) * 0.5 ** (t // 3), rtol=1e-12)
    assert sched.lr_at(9) == pytest.approx([0.5 / 8, 1.0 / 8])


def test_cosine_annealing_closed_form_and_hold_after_t_max():
    sched = lr_scheduler.CosineAnnealingLR(sgd(lr=1.0), T_max=10, eta_min=0.1)
    got = follow(sched, 14)[:, 0]
    t = np.minimum(np.arange(14), 10)
    np.testing.assert_allclose(got, 0.1 + 0.9 * (1 + np.cos(np.pi * t / 10)) / 2, rtol=1e-12)
    assert got[0] == 1.0 and got[5] == pytest.approx(0.55) and got[10:] == pytest.approx([0.1] * 4)


def test_linear_warmup_alone():
    got = follow(lr_scheduler.LinearWarmup(sgd(lr=1.0), warmup_steps=4), 7)[:, 0]
    np.testing.assert_allclose(got, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0])


def test_linear_warmup_then_cosine():
    opt = sgd(lr=1.0)
    sched = lr_scheduler.LinearWarmup(opt, 4, after=lr_scheduler.CosineAnnealingLR(opt, T_max=6))
    got = follow(sched, 12)[:, 0]
    cosine = (1 + np.cos(np.pi * np.minimum(np.arange(8), 6) / 6)) / 2
    np.testing.assert_allclose(got, np.r_[[0.25, 0.5, 0.75, 1.0], cosine], atol=1e-12)
    assert sched.after.last_step == 12 - 4
    assert [sched.lr_at(t)[0] for t in range(12)] == pytest.approx(got.tolist())


def test_scheduler_state_dict_resumes():
    def make():
        opt = sgd(lr=1.0, groups=2)
        return lr_scheduler.LinearWarmup(opt, 3, after=lr_scheduler.StepLR(opt, 2, gamma=0.5))

    original = make()
    follow(original, 5)
    resumed = make()
    resumed.load_state_dict(original.state_dict())
    np.testing.assert_allclose(follow(resumed, 6), follow(original, 6), rtol=0, atol=0)


@pytest.mark.parametrize("make,error,message", [
    (lambda o: lr_scheduler.StepLR(o, 0), ValueError, "step_size must be a positive integer"),
    (lambda o: lr_scheduler.StepLR(o, 2, gamma=0), ValueError, "gamma must be > 0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, 2.5), ValueError, "T_max must be a positive integer"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, 5, eta_min=-1), ValueError, "eta_min must be a number >= 0"),
    (lambda o: lr_scheduler.LinearWarmup(o, -1), ValueError, "warmup_steps must be a positive integer"),
    (lambda o: lr_scheduler.LinearWarmup(o, 5, after=lr_scheduler.StepLR(sgd(), 2)), ValueError,
     "same optimizer"),
    (lambda o: lr_scheduler.StepLR([o], 2), TypeError, "expected an Optimizer, got list"),
])
def test_bad_scheduler_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(sgd())


# ------------------------------------------------------------------------------------ clipping
def grads_of(*values, device=None):
    params = [param(np.zeros(len(v)), device=device) for v in values]
    for p, v in zip(params, values):
        p.grad = mg.tensor(np.array(v, dtype=float), dtype="float64", device=device)
    return params


def test_clip_grad_norm_known_vectors(device):
    params = grads_of([3.0, 4.0], [12.0], device=device)           # ||g||_2 = sqrt(9 + 16 + 144) = 13
    assert optim.clip_grad_norm_(params, 6.5) == pytest.approx(13.0)
    np.testing.assert_allclose(params[0].grad.numpy(), [1.5, 2.0], rtol=1e-6)
    np.testing.assert_allclose(params[1].grad.numpy(), [6.0], rtol=1e-6)

    params = grads_of([3.0, -4.0], [12.0], device=device)
    assert optim.clip_grad_norm_(params, 100.0, norm_type=1) == pytest.approx(19.0)
    assert optim.clip_grad_norm_(params, 100.0, norm_type=float("inf")) == pytest.approx(12.0)
    assert optim.clip_grad_norm_(params, 6.0, norm_type=float("inf")) == pytest.approx(12.0)
    np.testing.assert_allclose(params[0].grad.numpy(), [1.5, -2.0], rtol=1e-6)


def test_clip_below_max_norm_leaves_grads_alone_and_skips_missing_grads():
    params = grads_of([3.0, 4.0]) + [param()]
    before = params[0].grad.data
    assert optim.clip_grad_norm_(params, 5.1) == pytest.approx(5.0)
    assert params[0].grad.data is before and params[1].grad is None
    assert optim.clip_grad_norm_([param()], 1.0) == 0.0


def test_clip_returns_nan_and_inf_without_touching_grads():
    for bad in (np.nan, np.inf):
        params = grads_of([1.0, bad])
        total = optim.clip_grad_norm_(params, 1.0)
        assert math.isnan(total) if np.isnan(bad) else total == math.inf
        np.testing.assert_array_equal(params[0].grad.numpy(), [1.0, bad])


def test_clip_counts_each_parameter_and_scales_a_shared_gradient_once(device):
    x, y = param(device=device), param(device=device)
    y.grad = x.grad = mg.ones(3, device=device)     # two parameters holding one gradient tensor
    total = optim.clip_grad_norm_([x, y], 1.0)
    assert total == pytest.approx(math.sqrt(6))     # each parameter's gradient counts, as in PyTorch
    np.testing.assert_allclose(x.grad.numpy(), np.ones(3) / math.sqrt(6), rtol=1e-5)
    np.testing.assert_allclose(y.grad.numpy(), np.ones(3) / math.sqrt(6), rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=6), st.floats(0.01, 100))
def test_clip_caps_the_norm_and_keeps_the_direction(values, max_norm):
    (p,) = grads_of(values)
    g = np.array(values)
    total = optim.clip_grad_norm_([p], max_norm)
    assert total == pytest.approx(np.linalg.norm(g))
    clipped = p.grad.numpy()
    assert np.linalg.norm(clipped) <= max_norm * (1 + 1e-9) or total <= max_norm
    scale = max_norm / (total + 1e-6) if total > max_norm else 1.0
    np.testing.assert_allclose(clipped, g * scale, rtol=1e-9, atol=1e-300)


def test_clip_bad_arguments():
    with pytest.raises(ValueError, match="max_norm must be a number >= 0"):
        optim.clip_grad_norm_(grads_of([1.0]), -1.0)
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        optim.clip_grad_norm_(grads_of([1.0]), 1.0, norm_type=0)


# ------------------------------------------------------------------------------------ EMA
def test_ema_update_math():
    p = param()
    ema = optim.EMA([p], decay=0.9)
    p.data[...] = G1
    ema.update()
    np.testing.assert_allclose(ema.shadow[0], 0.9 * THETA0 + 0.1 * G1, rtol=1e-12)
    p.data[...] = G2
    ema.update()
    np.testing.assert_allclose(ema.shadow[0], 0.81 * THETA0 + 0.09 * G1 + 0.1 * G2, rtol=1e-12)


def test_ema_warmup_decay():
    ema = optim.EMA([param()], decay=0.3, warmup=True)
    decays = []
    for _ in range(4):
        decays.append(ema.current_decay())
        ema.update()
    assert decays == pytest.approx([0.1, 2 / 11, 0.25, 0.3])    # (1 + t) / (10 + t), capped at 0.3
    p = param()
    ema = optim.EMA([p], decay=0.999, warmup=True)
    p.data[...] = G1
    ema.update()
    np.testing.assert_allclose(ema.shadow[0], 0.1 * THETA0 + 0.9 * G1, rtol=1e-12)
    assert optim.EMA([param()], decay=0.999).current_decay() == 0.999


def test_ema_average_parameters_swaps_in_and_restores(device):
    p = param(device=device)
    ema = optim.EMA([p], decay=0.5)
    p.data[...] = p.device.xp.asarray(G1)
    ema.update()
    live = p.data
    with ema.average_parameters():
        np.testing.assert_allclose(p.numpy(), 0.5 * THETA0 + 0.5 * G1)
        assert p.data is live                           # written in place
    np.testing.assert_array_equal(p.numpy(), G1)
    with pytest.raises(RuntimeError, match="boom"):
        with ema.average_parameters():
            raise RuntimeError("boom")
    np.testing.assert_array_equal(p.numpy(), G1)


def test_ema_copy_to_and_state_dict(tmp_path):
    p = param()
    ema = optim.EMA([p], decay=0.9, warmup=True)
    p.data[...] = G1
    ema.update()
    other = param(np.zeros(3))
    ema.copy_to([other])
    np.testing.assert_allclose(other.numpy(), ema.shadow[0])
    restored = optim.EMA([param()], decay=0.9, warmup=True)
    restored.load_state_dict(npz_round_trip(ema.state_dict(), tmp_path))
    assert restored.num_updates == 1
    np.testing.assert_array_equal(restored.shadow[0], ema.shadow[0])
    with pytest.raises(ValueError, match=r"shape \(3,\), the parameter has shape \(2,\)"):
        ema.copy_to([param([0.0, 0.0])])
    with pytest.raises(ValueError, match="decay must be in"):
        optim.EMA([p], decay=1.5)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.EMA([])


@pytest.mark.parametrize("cls,kwargs", [(optim.Adam, dict(lr=0.01, weight_decay=0.1)),
                                        (optim.SGD, dict(lr=0.01, momentum=0.9, nesterov=True))])
def test_one_flat_update_equals_updating_each_parameter_on_any_number_of_threads(cls, kwargs):
    """A group is updated as one flat array in chunks on minigen's threads; the numbers must be those
    of updating each parameter on its own (its own group), on one thread or two."""
    from minigen.backend import parallel
    rng = np.random.default_rng(0)
    shapes = [(300, 200), (200,), (200, 200), (7,)]          # > 64K numbers: several chunks
    init = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = [rng.normal(size=s).astype(np.float32) for s in shapes]

    def run(threads, one_group):
        parallel.set_num_threads(threads)
        ps = [mg.tensor(a.copy(), requires_grad=True) for a in init]
        opt = cls(ps if one_group else [{"params": [p]} for p in ps], **kwargs)
        for _ in range(3):
            for p, g in zip(ps, grads):
                p.grad = mg.tensor(g)
            opt.step()
        return ps, opt

    before = parallel.get_num_threads()
    try:
        (flat, opt), (flat_1, _), (alone, _) = run(2, True), run(1, True), run(2, False)
    finally:
        parallel.set_num_threads(before)
    for a, b, c in zip(flat, flat_1, alone):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(a.numpy(), c.numpy())
    # the mechanism: parameters and state are views into one buffer, and state_dict shows no scratch
    assert all(p.data.base is flat[0].data.base for p in flat)
    key = "m" if cls is optim.Adam else "momentum_buffer"
    assert opt.state[0][key].base is opt.state[3][key].base
    assert all(not k.startswith("_") for s in opt.state_dict()["state"].values() for k in s)


def test_a_replaced_parameter_array_is_taken_back_into_the_flat_update():
    p, q = param(), param()
    opt = optim.SGD([p, q], lr=0.5)
    p.grad = q.grad = mg.tensor(G1, dtype="float64")
    opt.step()
    p.data = np.zeros(3)                     # e.g. an initialiser or load_state_dict replaced it
    opt.step()
    np.testing.assert_allclose(p.numpy(), -0.5 * G1)
    np.testing.assert_allclose(q.numpy(), THETA0 - G1)
    assert p.data.base is q.data.base
