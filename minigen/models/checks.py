"""Input checks the families' networks share: a clear error at the call that went wrong, naming the
network, what it expected and what came.

    check_image_shape(who, shape)          a network's image shape (C, H, W): positive ints
    check_batch(who, x, example_shape)     x is a batch (N, *example_shape)
    check_latent(who, z, latent_dim)       z is (N, latent_dim)
    check_labels(who, y, num_classes, n)   y is (n,) integer classes in [0, num_classes)
"""


def check_image_shape(who, image_shape):
    """(C, H, W) as a tuple of positive ints, or a ValueError saying what came."""
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"{who}: image_shape must be (C, H, W) of positive ints, got {image_shape!r}")
    return shape


def check_batch(who, x, example_shape, noun="data"):
    """x must be a batch (N, *example_shape); ``noun`` names the examples in the message ("images")."""
    example_shape = tuple(example_shape)
    if x.ndim != len(example_shape) + 1 or tuple(x.shape[1:]) != example_shape:
        expected = ", ".join(str(s) for s in example_shape)
        raise ValueError(f"{who}: expected {noun} of shape (N, {expected}), got {tuple(x.shape)}")


def check_latent(who, z, latent_dim):
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"{who}: expected a latent z of shape (N, {latent_dim}), got {tuple(z.shape)}")


def check_labels(who, y, num_classes, n=None):
    """Labels y (n,) must be integers in [0, num_classes); ``n`` None accepts any batch size."""
    if y is None:
        raise ValueError(f"{who} is class-conditional and needs labels: one per example, y of shape "
                         f"({'N' if n is None else n},); got None")
    data = y.data
    if data.dtype.kind not in "iu" or y.ndim != 1:
        raise ValueError(f"{who}: labels must be a 1-D integer tensor, got {y.dtype} {tuple(y.shape)}")
    if n is not None and tuple(y.shape) != (n,):
        raise ValueError(f"{who}: expected labels of shape ({n},), got {tuple(y.shape)}")
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise ValueError(f"{who}: labels must lie in [0, {num_classes}), got [{int(data.min())}, "
                         f"{int(data.max())}]")
