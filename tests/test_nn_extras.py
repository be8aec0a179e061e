"""Losses as modules, ModuleDict, pooling layers and TensorDataset: each the thin front of one existing
mechanism, checked against it, against finite differences, and for its errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigen as mg
import minigen.nn.functional as F
from minigen import nn
from minigen.autograd import gradcheck


def f64(shape, seed=0, low=-2.0, high=2.0):
    return mg.tensor(np.random.default_rng(seed).uniform(low, high, shape), dtype="float64", requires_grad=True)


# ------------------------------------------------------------------------------------ losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_equal_their_functional_form(reduction):
    x, t = f64((4, 3)), f64((4, 3), seed=1)
    p, b = f64((4, 3), seed=2, low=0.05, high=0.95), mg.tensor((np.arange(12).reshape(4, 3) % 2).astype("float64"))
    labels = mg.tensor(np.array([0, 2, 1, 2]))
    log_var = f64((4, 3), seed=3, low=-1, high=1)
    pairs = [(nn.MSELoss(reduction)(x, t), F.mse_loss(x, t, reduction)),
             (nn.BCELoss(reduction)(p, b), F.binary_cross_entropy(p, b, reduction)),
             (nn.BCEWithLogitsLoss(reduction)(x, b), F.binary_cross_entropy_with_logits(x, b, reduction)),
             (nn.CrossEntropyLoss(reduction)(x, labels), F.cross_entropy(x, labels, reduction)),
             (nn.GaussianNLLLoss(full=True, reduction=reduction)(x, t, log_var),
              F.gaussian_nll(x, t, log_var, full=True, reduction=reduction))]
    for module_value, functional_value in pairs:
        np.testing.assert_array_equal(module_value.numpy(), functional_value.numpy())


def test_loss_modules_have_exact_gradients():
    x, t = f64((3, 4)), f64((3, 4), seed=1)
    labels = mg.tensor(np.array([3, 0, 1]))
    assert gradcheck(lambda a: nn.MSELoss()(a, t), [x])
    assert gradcheck(lambda a: nn.BCEWithLogitsLoss(reduction="sum")(a, (t.detach() > 0).astype("float64")), [x])
    assert gradcheck(lambda a: nn.CrossEntropyLoss()(a, labels), [x])
    soft = mg.tensor(np.full((3, 4), 0.25))                       # class probabilities as targets
    assert gradcheck(lambda a: nn.CrossEntropyLoss()(a, soft), [x])


def test_loss_modules_refuse_a_bad_reduction_and_say_what_they_are():
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss("average")
    assert repr(nn.CrossEntropyLoss("sum")) == "CrossEntropyLoss(reduction='sum')"
    with pytest.raises(ValueError, match="shape"):
        nn.MSELoss()(mg.zeros(3), mg.zeros(4))


def test_a_model_trains_with_a_loss_module():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    criterion, opt = nn.CrossEntropyLoss(), mg.optim.Adam(model.parameters(), lr=0.05)
    x = mg.randn(64, 2)
    y = (x.numpy()[:, 0] > 0).astype(np.int64)
    for _ in range(60):
        loss = criterion(model(x), mg.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2


# ------------------------------------------------------------------------------------ ModuleDict
def test_module_dict_registers_its_modules():
    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"mean": nn.Linear(3, 2), "log_var": nn.Linear(3, 2)})

        def forward(self, h):
            return {name: head(h) for name, head in self.heads.items()}

    model = Heads()
    assert list(model.heads) == ["mean", "log_var"] and len(model.heads) == 2 and "mean" in model.heads
    assert set(model.state_dict()) == {"heads.mean.weight", "heads.mean.bias", "heads.log_var.weight",
                                       "heads.log_var.bias"}
    assert len(list(model.parameters())) == 4
    model.heads["extra"] = nn.Linear(3, 1)
    assert "heads.extra.weight" in model.state_dict()
    assert isinstance(model.heads.pop("extra"), nn.Linear) and "extra" not in model.heads
    other = Heads()
    other.load_state_dict(model.state_dict())
    h = mg.randn(5, 3)
    np.testing.assert_array_equal(other(h)["mean"].numpy(), model(h)["mean"].numpy())
    (model(h)["mean"].sum() + model(h)["log_var"].sum()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_module_dict_errors_name_what_is_wrong():
    heads = nn.ModuleDict()
    with pytest.raises(ValueError, match="without '.'"):
        heads["a.b"] = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="expected a Module, got int"):
        heads["a"] = 3
    with pytest.raises(KeyError, match="has no module 'b'"):
        heads["b"]
    with pytest.raises(TypeError, match="mapping or \\(name, module\\) pairs"):
        nn.ModuleDict(["not a pair"])
    assert list(nn.ModuleDict([("z", nn.ReLU()), ("a", nn.Tanh())]).keys()) == ["z", "a"]   # insertion order


# ------------------------------------------------------------------------------------ pooling
@settings(max_examples=20, deadline=None)
@given(kernel=st.integers(1, 3), stride=st.sampled_from([None, 1, 2]), seed=st.integers(0, 10 ** 6))
def test_pooling_layers_equal_the_functional_pooling(kernel, stride, seed):
    x = mg.tensor(np.random.default_rng(seed).normal(size=(2, 3, 6, 6)))
    np.testing.assert_array_equal(nn.MaxPool2d(kernel, stride)(x).numpy(), F.max_pool2d(x, kernel, stride).numpy())
    np.testing.assert_array_equal(nn.AvgPool2d(kernel, stride)(x).numpy(), F.avg_pool2d(x, kernel, stride).numpy())


def test_pooling_layers_shapes_and_gradients():
    x = f64((2, 1, 4, 4))
    assert nn.MaxPool2d(2)(x).shape == (2, 1, 2, 2) and nn.AvgPool2d(3, stride=1, padding=1)(x).shape == (2, 1, 4, 4)
    assert gradcheck(lambda a: nn.AvgPool2d(2)(a), [x])
    assert gradcheck(lambda a: nn.MaxPool2d(2)(a), [x])
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=None, padding=0)"
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3))
    assert cnn(mg.randn(5, 1, 4, 4)).shape == (5, 3)


# ------------------------------------------------------------------------------------ TensorDataset
def test_a_tensor_dataset_gives_the_loader_the_same_batches():
    x, y = mg.data.load("digits", split="test")
    dataset = mg.data.TensorDataset(x, y)
    assert len(dataset) == len(x)
    xi, yi = dataset[5]
    np.testing.assert_array_equal(xi, x[5])
    assert yi == y[5]
    plain = list(mg.data.DataLoader(x, y, batch_size=50, seed=3).batches(0))
    through = list(mg.data.DataLoader(dataset, batch_size=50, seed=3).batches(0))
    assert len(plain) == len(through)
    for (xa, ya), (xb, yb) in zip(plain, through):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    unlabelled = mg.data.DataLoader(mg.data.TensorDataset(mg.tensor(x)), batch_size=100)
    xb, yb = next(iter(unlabelled))
    assert xb.shape == (100, 1, 8, 8) and yb is None


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match="different numbers of examples"):
        mg.data.TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(TypeError, match="NumPy array or Tensor"):
        mg.data.TensorDataset([1, 2, 3])
    with pytest.raises(ValueError, match="brings its own labels"):
        mg.data.DataLoader(mg.data.TensorDataset(np.zeros((3, 2))), np.zeros(3))
