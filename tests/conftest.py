import os

import numpy as np
import pytest

import minigen as mg


def current_device():
    """The device the op tests run on: MINIGEN_TEST_DEVICE=cuda runs them on the GPU."""
    return os.environ.get("MINIGEN_TEST_DEVICE", "cpu")


@pytest.fixture
def device():
    dev = current_device()
    if dev.startswith("cuda") and not mg.cuda.is_available():
        pytest.skip("MINIGEN_TEST_DEVICE=cuda but no CUDA GPU with CuPy is available")
    return dev


@pytest.fixture(autouse=True)
def _seed():
    mg.manual_seed(0)
    np.random.seed(0)
