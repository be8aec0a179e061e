"""minigen.nn: Module bookkeeping, layers (shapes, gradients, reference values), losses, initialisers."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigen as mg
from minigen import nn
from minigen.autograd import gradcheck, gradgradcheck
import minigen.nn.functional as F


def f64(*shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return mg.tensor(data, dtype="float64", requires_grad=requires_grad)


def check_layer_gradients(layer, x):
    """gradcheck of layer(x) with respect to the input and every parameter."""
    params = list(layer.parameters())
    assert gradcheck(lambda x, *ps: layer(x), [x] + params)


# ------------------------------------------------------------------------------ Module
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(mg.ones(1))
        self.not_registered = mg.zeros(2)      # a plain Tensor attribute is not state

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


def test_registration_and_dotted_names():
    model = nn.Sequential(Block(), nn.ReLU(), nn.Linear(4, 2))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.scale", "0.fc.weight", "0.fc.bias", "0.bn.weight", "0.bn.bias", "2.weight", "2.bias"]
    assert [n for n, _ in model.named_buffers()] == ["0.bn.running_mean", "0.bn.running_var"]
    assert model.num_parameters() == 1 + 12 + 4 + 4 + 4 + 8 + 2
    assert [type(m).__name__ for m in model.children()] == ["Block", "ReLU", "Linear"]
    assert len(list(model.modules())) == 6
    assert "0.bn.running_mean" in model.state_dict() and "0.not_registered" not in model.state_dict()


def test_shared_parameter_counted_once_and_reassignment():
    a = nn.Linear(3, 3)
    model = nn.Sequential(a, nn.Tanh(), a)
    assert len(list(model.parameters())) == 2
    block = Block()
    block.fc = nn.Identity()            # replacing a sub-module drops its parameters
    assert "fc.weight" not in dict(block.named_parameters())
    with pytest.raises(TypeError, match="Parameter"):
        block.scale = mg.ones(1)        # a plain tensor cannot silently replace a parameter


def test_forgetting_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Broken()


def test_train_eval_reach_every_module_and_zero_grad():
    model = nn.Sequential(Block(), nn.Dropout(0.5))
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model(mg.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_repr_is_nested():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1))))
    assert text == ("Sequential(\n"
                    "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                    "  (1): Sequential(\n"
                    "    (0): ReLU()\n"
                    "    (1): Dropout(p=0.1)\n"
                    "  )\n"
                    ")")


def test_sequential_and_modulelist_containers():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert seq[0] is layers[0] and seq[-1] is layers[2] and len(seq) == 3
    assert list(seq) == layers
    x = mg.randn(4, 2)
    np.testing.assert_allclose(seq(x).numpy(), seq[1:](seq[0](x)).numpy(), rtol=1e-6)
    ml = nn.ModuleList([nn.Linear(2, 2)]).append(nn.Linear(2, 3))
    assert len(ml) == 2 and [n for n, _ in ml.named_parameters()][-1] == "1.bias"
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_to_keeps_parameter_identity_and_casts_buffers(device):
    model = Block()
    before = list(model.parameters())
    model(mg.randn(5, 3)).sum().backward()
    model.to(device, dtype="float64")
    after = list(model.parameters())
    assert all(a is b for a, b in zip(before, after))
    assert all(p.dtype == np.float64 and p.device == device for p in after)
    assert all(p.grad.dtype == np.float64 for p in after)
    assert model.bn.running_var.dtype == np.float64 and model.bn.running_var.device == device
    y = model(mg.randn(5, 3, dtype="float64", device=device))
    assert y.dtype == np.float64


# ------------------------------------------------------------------------------ state_dict
def test_state_dict_round_trip_into_a_fresh_model():
    model = nn.Sequential(Block(), nn.Linear(4, 2))
    model(mg.randn(8, 3))                         # moves BatchNorm's running statistics off 0 and 1
    state = model.state_dict()
    fresh = nn.Sequential(Block(), nn.Linear(4, 2))
    assert not np.allclose(fresh[1].weight.numpy(), model[1].weight.numpy())
    fresh.load_state_dict({k: v.numpy() for k, v in state.items()})   # NumPy arrays are accepted
    for k, v in fresh.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state[k].numpy())
    x = mg.randn(6, 3)
    model.eval(), fresh.eval()
    np.testing.assert_array_equal(model(x).numpy(), fresh(x).numpy())


def test_load_state_dict_copies_onto_dtype_and_keeps_identity():
    model = nn.Linear(3, 2)
    weight = model.weight
    state = {"weight": np.ones((2, 3), dtype=np.float64), "bias": mg.zeros(2)}
    model.load_state_dict(state)
    assert model.weight is weight and weight.dtype == np.float32
    state["weight"][0, 0] = 5.0                   # the module holds a copy, not the caller's array
    assert weight.numpy()[0, 0] == 1.0


def test_load_state_dict_errors_name_every_bad_key():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    state = model.state_dict()
    state.pop("1.running_var")
    state["2.weight"] = np.zeros(3)
    state["0.weight"] = np.zeros((3, 3))
    before = model[0].bias.numpy().copy()
    state["0.bias"] = np.full(2, 7.0)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(state)
    msg = str(err.value)
    assert "missing keys: 1.running_var" in msg
    assert "unexpected keys: 2.weight" in msg
    assert "0.weight: expected shape (2, 3), got (3, 3)" in msg
    np.testing.assert_array_equal(model[0].bias.numpy(), before)    # nothing loaded on failure

    del state["0.weight"]
    with pytest.raises(RuntimeError, match="missing keys: 0.weight, 1.running_var"):
        model.load_state_dict(state)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["0.weight", "1.running_var"] and unexpected == ["2.weight"]
    np.testing.assert_array_equal(model[0].bias.numpy(), [7.0, 7.0])


# ------------------------------------------------------------------------------ layer shapes
SHAPE_CASES = [
    (lambda: nn.Linear(5, 3), (2, 4, 5), (2, 4, 3)),
    (lambda: nn.Conv2d(3, 8, 3, stride=2, padding=1), (2, 3, 9, 9), (2, 8, 5, 5)),
    (lambda: nn.Conv2d(4, 6, (3, 1), groups=2, bias=False), (1, 4, 5, 5), (1, 6, 3, 5)),
    (lambda: nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1), (2, 4, 7, 7), (2, 2, 14, 14)),
    (lambda: nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), (1, 4, 7, 7), (1, 2, 14, 14)),
    (lambda: nn.BatchNorm1d(4), (6, 4), (6, 4)),
    (lambda: nn.BatchNorm1d(4), (6, 4, 7), (6, 4, 7)),
    (lambda: nn.BatchNorm2d(3), (2, 3, 4, 4), (2, 3, 4, 4)),
    (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3), (2, 4, 3, 3)),
    (lambda: nn.LayerNorm(6), (2, 3, 6), (2, 3, 6)),
    (lambda: nn.Flatten(), (2, 3, 4, 5), (2, 60)),
    (lambda: nn.Upsample(2), (2, 3, 4, 5), (2, 3, 8, 10)),
    (lambda: nn.Dropout(0.3), (4, 5), (4, 5)),
    (lambda: nn.Identity(), (4, 5), (4, 5)),
    (lambda: nn.SelfAttention2d(8, num_heads=2), (2, 8, 3, 3), (2, 8, 3, 3)),
] + [(cls, (3, 4), (3, 4)) for cls in (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.GELU, nn.Tanh,
                                         nn.Sigmoid, nn.Softplus)]


@pytest.mark.parametrize("make, in_shape, out_shape", SHAPE_CASES)
def test_layer_output_shape(make, in_shape, out_shape, device):
    layer = make().to(device)
    y = layer(mg.randn(*in_shape, device=device))
    assert y.shape == out_shape and y.device == device and y.dtype == np.float32


def test_embedding_lookup_and_range_check():
    emb = nn.Embedding(10, 3)
    idx = np.array([[1, 2], [9, 1]])
    y = emb(idx)
    assert y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y.numpy(), emb.weight.numpy()[idx])
    y.sum().backward()
    assert emb.weight.grad.numpy()[1].tolist() == [2.0, 2.0, 2.0]    # row 1 was used twice
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        emb(np.array([10]))


def test_layers_reject_wrong_input_shapes():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*\(2, 4, 5, 5\)"):
        nn.Conv2d(3, 4, 3)(mg.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"\(N, 4\) or \(N, 4, L\)"):
        nn.BatchNorm1d(4)(mg.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="5 features"):
        nn.Linear(4, 2)(mg.randn(3, 5))
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(3, 8)


# ------------------------------------------------------------------------------ gradients
GRAD_CASES = {
    "linear": (lambda: nn.Linear(3, 2), (2, 3)),
    "conv2d": (lambda: nn.Conv2d(4, 2, 3, stride=2, padding=1, groups=2), (1, 4, 5, 5)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1,
                                                    groups=2), (1, 2, 3, 3)),
    "batchnorm1d": (lambda: nn.BatchNorm1d(3), (4, 3)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(2), (3, 2, 2, 2)),
    "batchnorm2d_eval": (lambda: nn.BatchNorm2d(2).eval(), (3, 2, 2, 2)),
    "groupnorm": (lambda: nn.GroupNorm(2, 4), (2, 4, 2, 2)),
    "layernorm": (lambda: nn.LayerNorm((2, 3)), (2, 2, 3)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), (3, 4)),
    "elu": (lambda: nn.ELU(), (3, 4)),
    "silu": (lambda: nn.SiLU(), (3, 4)),
    "gelu": (lambda: nn.GELU(), (3, 4)),
    "softplus": (lambda: nn.Softplus(), (3, 4)),
    "upsample": (lambda: nn.Upsample(2), (1, 2, 2, 3)),
    "flatten": (lambda: nn.Flatten(), (2, 2, 3)),
    "attention": (lambda: nn.SelfAttention2d(4, num_heads=2, num_groups=2), (1, 4, 2, 2)),
}


def randomise_affine(layer):
    """Norm layers start at weight 1, bias 0; random values make the check see their gradients."""
    for m in layer.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
            nn.init.normal_(m.weight, 1.0, 0.5)
            nn.init.normal_(m.bias)
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.normal_(m.running_mean)
                nn.init.uniform_(m.running_var, 0.5, 2.0)
    return layer


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_layer_gradcheck(name):
    make, shape = GRAD_CASES[name]
    layer = randomise_affine(make().to(dtype="float64"))
    check_layer_gradients(layer, f64(*shape))


@pytest.mark.parametrize("name", ["layernorm", "groupnorm", "attention", "conv2d"])
def test_layer_second_derivatives(name):
    make, shape = GRAD_CASES[name]
    layer = randomise_affine(make().to(dtype="float64"))
    assert gradgradcheck(lambda x: layer(x), [f64(*shape)])


# ------------------------------------------------------------------------------ normalisation values
def test_batchnorm_training_statistics_and_running_updates():
    x = np.random.default_rng(1).standard_normal((5, 3, 2, 2)) * 3 + 1
    bn = nn.BatchNorm2d(3, momentum=0.2).to(dtype="float64")
    y = bn(mg.tensor(x)).numpy()
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    expected = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    n = 5 * 2 * 2
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.8 * 0 + 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.8 * 1 + 0.2 * var * n / (n - 1), rtol=1e-12)

    bn.eval()
    y_eval = bn(mg.tensor(x)).numpy()
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    np.testing.assert_allclose(y_eval, (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5),
                               rtol=1e-10)
    np.testing.assert_array_equal(bn.running_mean.numpy(), rm)    # eval does not update
    assert not np.allclose(y_eval, y)


def test_batchnorm1d_on_sequences_and_single_value_error():
    x = np.random.default_rng(2).standard_normal((4, 3, 5))
    bn = nn.BatchNorm1d(3, affine=False).to(dtype="float64")
    y = bn(mg.tensor(x)).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1, rtol=1e-4)
    assert list(bn.parameters()) == []
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3)(mg.randn(1, 3))


@settings(max_examples=15, deadline=None)
@given(groups=st.sampled_from([1, 2, 3, 6]), n=st.integers(1, 3), size=st.integers(1, 3))
def test_group_norm_matches_numpy(groups, n, size):
    rng = np.random.default_rng(groups * 100 + n * 10 + size)
    x = rng.standard_normal((n, 6, size, size + 1)) * 2 + 0.5
    gn = nn.GroupNorm(groups, 6, eps=1e-5).to(dtype="float64")
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    gn.load_state_dict({"weight": w, "bias": b})
    g = x.reshape(n, groups, -1)
    ref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    ref = ref * w[None, :, None, None] + b[None, :, None, None]
    np.testing.assert_allclose(gn(mg.tensor(x)).numpy(), ref, rtol=1e-10, atol=1e-12)


def test_layer_norm_matches_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4, 5)) * 4 - 1
    ln = nn.LayerNorm((4, 5)).to(dtype="float64")
    w, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    ln.load_state_dict({"weight": w, "bias": b})
    mean = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(ln(mg.tensor(x)).numpy(), (x - mean) / np.sqrt(var + 1e-5) * w + b, rtol=1e-10)
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\).*\(5, 4\)"):
        nn.LayerNorm((5, 4))(mg.tensor(x))


def test_dropout_train_and_eval():
    x = mg.ones(200, 100)
    drop = nn.Dropout(0.25)
    y = drop(x).numpy()
    assert abs((y == 0).mean() - 0.25) < 0.02                    # 20,000 draws: sd of the rate ~0.003
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)    # survivors are scaled up
    drop.eval()
    assert drop(x) is x


# ------------------------------------------------------------------------------ attention
def attention_reference(block, x):
    """NumPy version of SelfAttention2d with the block's parameters."""
    N, C, H, W = x.shape
    heads, d = block.num_heads, C // block.num_heads
    G = block.norm.num_groups
    g = x.reshape(N, G, -1)
    h = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    h = h * block.norm.weight.numpy()[:, None, None] + block.norm.bias.numpy()[:, None, None]
    seq = h.reshape(N, C, H * W).transpose(0, 2, 1)
    qkv = seq @ block.qkv.weight.numpy().T + block.qkv.bias.numpy()
    q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(N, H * W, heads, d).transpose(0, 2, 1, 3) for i in range(3))
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    out = (a @ v).transpose(0, 2, 1, 3).reshape(N, H * W, C) @ block.proj.weight.numpy().T + block.proj.bias.numpy()
    return x + out.transpose(0, 2, 1).reshape(x.shape)


def test_attention_matches_numpy_reference():
    block = randomise_affine(nn.SelfAttention2d(6, num_heads=3, num_groups=3).to(dtype="float64"))
    x = np.random.default_rng(4).standard_normal((2, 6, 3, 2))
    np.testing.assert_allclose(block(mg.tensor(x)).numpy(), attention_reference(block, x), rtol=1e-10, atol=1e-12)


def test_attention_is_permutation_equivariant_over_positions():
    block = nn.SelfAttention2d(8, num_heads=2).to(dtype="float64")
    x = np.random.default_rng(5).standard_normal((2, 8, 3, 4))
    perm = np.random.default_rng(6).permutation(12)
    x_perm = x.reshape(2, 8, 12)[:, :, perm].reshape(2, 8, 3, 4)
    y = block(mg.tensor(x)).numpy()
    y_perm = block(mg.tensor(x_perm)).numpy()
    np.testing.assert_allclose(y_perm.reshape(2, 8, 12), y.reshape(2, 8, 12)[:, :, perm], rtol=1e-10, atol=1e-12)
    # and it does mix positions: changing one position changes the output at another
    x2 = x.copy()
    x2[:, :, 0, 0] += 1.0
    assert not np.allclose(block(mg.tensor(x2)).numpy()[:, :, 2, 3], y[:, :, 2, 3])


def test_attention_default_groups_and_head_check():
    assert nn.SelfAttention2d(64).norm.num_groups == 32
    assert nn.SelfAttention2d(24).norm.num_groups == 24
    assert nn.SelfAttention2d(48).norm.num_groups == 24
    with pytest.raises(ValueError, match="num_heads"):
        nn.SelfAttention2d(6, num_heads=4)


# ------------------------------------------------------------------------------ losses
def _sigmoid(x):
    return 0.5 * (1 + np.tanh(x / 2))


def test_losses_match_numpy_references():
    rng = np.random.default_rng(7)
    x, t = rng.standard_normal((4, 3)), rng.random((4, 3))
    p = _sigmoid(x)
    xt = mg.tensor(x)
    np.testing.assert_allclose(F.mse_loss(xt, t).item(), ((x - t) ** 2).mean(), rtol=1e-12)
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy(mg.tensor(p), t).item(), bce.mean(), rtol=1e-10)
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(xt, t, reduction="none").numpy(), bce, rtol=1e-10)

    logits, labels = rng.standard_normal((5, 4)) * 3, rng.integers(0, 4, 5)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    ce = -log_p[np.arange(5), labels]
    np.testing.assert_allclose(F.cross_entropy(mg.tensor(logits), labels, reduction="none").numpy(), ce, rtol=1e-10)
    one_hot = np.eye(4)[labels]
    np.testing.assert_allclose(F.cross_entropy(mg.tensor(logits), one_hot).item(), ce.mean(), rtol=1e-10)
    soft = rng.dirichlet(np.ones(4), 5)
    np.testing.assert_allclose(F.cross_entropy(mg.tensor(logits), soft, reduction="sum").item(),
                               -(soft * log_p).sum(), rtol=1e-10)
    # class axis 1 with spatial axes, as for per-pixel classification
    logits4 = rng.standard_normal((2, 3, 2, 2))
    labels4 = rng.integers(0, 3, (2, 2, 2))
    lp4 = logits4 - np.log(np.exp(logits4).sum(1, keepdims=True))
    ref4 = -np.take_along_axis(lp4, labels4[:, None], axis=1)[:, 0]
    np.testing.assert_allclose(F.cross_entropy(mg.tensor(logits4), labels4, reduction="none").numpy(), ref4)

    mu, target, log_var = rng.standard_normal(6), rng.standard_normal(6), rng.standard_normal(6)
    nll = 0.5 * (log_var + (target - mu) ** 2 / np.exp(log_var))
    np.testing.assert_allclose(F.gaussian_nll(mg.tensor(mu), target, mg.tensor(log_var), reduction="sum").item(),
                               nll.sum(), rtol=1e-10)
    np.testing.assert_allclose(F.gaussian_nll(mg.tensor(mu), target, mg.tensor(log_var), full=True).item(),
                               (nll + 0.5 * np.log(2 * np.pi)).mean(), rtol=1e-10)


def test_losses_are_stable_at_extreme_logits():
    x = mg.tensor([[-1000.0, 1000.0, 0.0], [1000.0, -1000.0, 3.0]], dtype="float64", requires_grad=True)
    t = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.numpy()[:, :2], [[1000.0, 1000.0], [0.0, 1000.0]])
    loss.sum().backward()
    # d/dx = sigmoid(x) - t, exactly 0.5 - t at x = 0 (where max(x, 0) and |x| have kinks)
    np.testing.assert_allclose(x.grad.numpy(), _sigmoid(x.numpy()) - t, atol=1e-12)

    x.grad = None
    ce = F.cross_entropy(x, np.array([0, 1]))
    assert ce.item() == pytest.approx(2000.0)       # logsumexp(row) - picked logit = 1000 + 1000
    ce.backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    probs = F.binary_cross_entropy(mg.tensor([0.0, 1.0]), np.array([1.0, 0.0]), reduction="none")
    assert np.all(np.isfinite(probs.numpy())) and np.all(probs.numpy() > 10)


def test_loss_gradients_and_second_derivatives():
    x, t = f64(3, 4), np.random.default_rng(8).random((3, 4))
    assert gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, t), [x])
    assert gradgradcheck(lambda x: F.binary_cross_entropy_with_logits(x, t), [x])
    labels = np.array([0, 3, 1])
    assert gradcheck(lambda x: F.cross_entropy(x, labels, reduction="sum"), [x])
    mu, log_var = f64(3, 4, seed=1), f64(4, seed=2)
    assert gradcheck(lambda mu, lv: F.gaussian_nll(mu, t, lv), [mu, log_var])
    assert gradcheck(lambda x: F.mse_loss(x, t, reduction="sum"), [x])


def test_loss_reductions_and_argument_errors():
    x, t = mg.randn(3, 4), np.random.default_rng(9).standard_normal((3, 4)).astype(np.float32)
    none = F.mse_loss(x, t, reduction="none")
    assert none.shape == (3, 4)
    np.testing.assert_allclose(F.mse_loss(x, t, reduction="sum").item(), none.numpy().sum(), rtol=1e-5)
    np.testing.assert_allclose(F.mse_loss(x, t).item(), none.numpy().mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.cross_entropy(x, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(4, 3\)"):
        F.mse_loss(x, t.T)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 1\)"):
        F.binary_cross_entropy_with_logits(x, t[:, :1])
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(2,\)"):
        F.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        F.cross_entropy(x, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="log_var shape"):
        F.gaussian_nll(x, t, mg.zeros(3))


# ------------------------------------------------------------------------------ initialisers
def test_kaiming_normal_std_matches_formula():
    w = nn.Parameter(mg.zeros(128, 64, 3, 3))
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    expected = math.sqrt(2.0 / (64 * 9))                # gain sqrt(2) over sqrt(fan_in)
    # 73,728 draws: the sample std is within 1% of the truth with overwhelming probability
    assert abs(w.numpy().std() / expected - 1) < 0.01
    assert abs(w.numpy().mean()) < 0.01 * expected * 10
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() / math.sqrt(2.0 / (128 * 9)) - 1) < 0.01


def test_uniform_initialisers_hit_their_bounds():
    w = nn.Parameter(mg.zeros(200, 300))
    nn.init.xavier_uniform_(w)
    bound = math.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound
    nn.init.xavier_normal_(w, gain=2.0)
    assert abs(w.numpy().std() / (2 * math.sqrt(2 / 500)) - 1) < 0.01

    layer = nn.Linear(400, 300)       # default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.98 * bound
    conv = nn.Conv2d(8, 16, 3)
    assert np.abs(conv.weight.numpy()).max() <= 1 / math.sqrt(8 * 9)
    assert abs(conv.weight.numpy().std() - 1 / math.sqrt(3 * 8 * 9)) < 0.1 / math.sqrt(3 * 8 * 9)


def test_initialisation_is_seeded_and_keeps_dtype():
    mg.manual_seed(123)
    a = nn.Linear(5, 5).weight.numpy()
    mg.manual_seed(123)
    b = nn.Linear(5, 5).weight.numpy()
    np.testing.assert_array_equal(a, b)
    w = nn.Parameter(mg.zeros(3, 3, dtype="float64"))
    assert nn.init.normal_(w).dtype == np.float64
    assert nn.init.ones_(w).numpy().sum() == 9 and nn.init.zeros_(w).numpy().sum() == 0
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.kaiming_uniform_(nn.Parameter(mg.zeros(3)))


# ------------------------------------------------------------------------------ whole models
class TinyNet(nn.Module):
    """A bit of everything: conv, norms, attention, embedding, dropout, linear head."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.SiLU(),
                                      nn.SelfAttention2d(8, num_heads=2), nn.Conv2d(8, 8, 4, stride=2, padding=1))
        self.label = nn.Embedding(3, 8)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(8 * 2 * 2, 3))

    def forward(self, x, y):
        h = self.features(x) + self.label(y).reshape(-1, 8, 1, 1)
        return self.head(h)


def test_model_trains_on_device_and_round_trips_through_numpy(device):
    model = TinyNet().to(device)
    x, y = mg.randn(4, 1, 4, 4, device=device), np.array([0, 2, 1, 2])
    loss = F.cross_entropy(model(x, y), y)
    loss.backward()
    assert all(p.grad is not None and p.grad.device == device for p in model.parameters())
    snapshot = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    fresh = TinyNet().to(device)
    fresh.load_state_dict(snapshot)
    assert all(t.device == device for t in fresh.state_dict().values())
    model.eval(), fresh.eval()
    np.testing.assert_array_equal(model(x, y).numpy(), fresh(x, y).numpy())


def test_deepcopy_gives_an_independent_model():
    import copy
    model = TinyNet()
    twin = copy.deepcopy(model)
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in model.named_parameters()]
    twin.head[2].weight.data[0, 0] += 1.0
    assert twin.head[2].weight.numpy()[0, 0] != model.head[2].weight.numpy()[0, 0]


def test_unflatten_inverts_flatten():
    x = mg.randn(2, 3, 4, 5)
    flat = mg.nn.Flatten()(x)
    np.testing.assert_array_equal(mg.nn.Unflatten((3, 4, 5))(flat).numpy(), x.numpy())
