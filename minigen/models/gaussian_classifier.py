r"""A generative classifier: one Gaussian per class, and Bayes' rule to classify.

It models how the data are made, p(x, y) = p(y) p(x | y):

    p(y = k)     = pi_k = (N_k + 1) / (N + K)                   class frequencies (add-one smoothed)
    p(x | y = k) = N(x; mu_k, Sigma_k)                          a Gaussian over all D pixels

and fits both by maximum likelihood, in closed form, from sufficient statistics gathered in one pass:

    N_k = sum_i [y_i = k]      s_k = sum_{i: y_i=k} x_i      Q_k = sum_{i: y_i=k} x_i x_i^T
    mu_k = s_k / N_k           S_k = Q_k / N_k - mu_k mu_k^T                (the empirical covariance)

With D = 64 pixels and ~140 images per class, S_k is singular (blank border pixels never vary), so it
is regularised by adding lambda (``reg``) to the diagonal. ``covariance`` picks the model:

    "full"       Sigma_k = S_k + lambda I                    one covariance per class (QDA)
    "shared"     Sigma_k = sum_j N_j S_j / N + lambda I      the same for every class (LDA)
    "diagonal"   Sigma_k = diag(S_k) + lambda I              pixels independent given the class (naive Bayes)

With the Cholesky factor Sigma_k = L_k L_k^T, z_k = L_k^{-1} (x - mu_k) and

    log p(x | k) = -1/2 ||z_k||^2 - sum_d log (L_k)_dd - D/2 log(2 pi)

Classifying is Bayes' rule, in log space so that nothing underflows:

    log p(y = k | x) = log pi_k + log p(x | k) - logsumexp_j (log pi_j + log p(x | j))

and, unlike a discriminative classifier, it can also draw new images of a class:

    x = mu_k + L_k eps,   eps ~ N(0, I)      (clipped to the pixel range [0, 1])

The closed-form fit needs a Cholesky factorisation and a triangular inverse, which are not
differentiable ops in minigen; they run once per refit on the raw arrays of the device.
"""
import math

import minigen as mg
from minigen import backend, nn
from minigen.recipe import Recipe, register

COVARIANCES = ("full", "shared", "diagonal")


class GaussianClassifier(nn.Module):
    """Class-conditional Gaussians over flattened inputs of ``dim`` values; statistics are buffers."""

    def __init__(self, dim, num_classes, covariance="full", reg=0.01):
        super().__init__()
        if covariance not in COVARIANCES:
            raise ValueError(f"GaussianClassifier: covariance must be one of {COVARIANCES}, "
                             f"got {covariance!r}")
        if not reg > 0:
            raise ValueError(f"GaussianClassifier: reg must be > 0 (it keeps Sigma invertible), got {reg!r}")
        self.dim, self.num_classes, self.covariance, self.reg = dim, num_classes, covariance, reg
        # float64: the covariances are differences of large sums, and get factorised
        self.register_buffer("count", mg.zeros(num_classes, dtype="float64"))          # N_k
        self.register_buffer("total", mg.zeros(num_classes, dim, dtype="float64"))     # s_k
        self.register_buffer("outer", mg.zeros(num_classes, dim, dim, dtype="float64"))  # Q_k
        self._stale = True

    # ------------------------------------------------------------------------------ fitting
    def observe(self, x, y):
        """Add a batch (x of shape (N, dim), integer labels y) to the sufficient statistics."""
        x = x.reshape(len(x), self.dim).astype("float64")
        onehot = mg.one_hot(y, self.num_classes, dtype="float64")            # (N, K)
        with mg.no_grad():
            per_class = onehot.T.expand_dims(2) * x.expand_dims(0)           # (K, N, D): x_i if y_i = k
            self.count.data += onehot.sum(axis=0).data
            self.total.data += per_class.sum(axis=1).data
            self.outer.data += (per_class.transpose(0, 2, 1) @ x).data      # (K, D, D)
        self._stale = True

    def load_state_dict(self, state, strict=True):
        result = super().load_state_dict(state, strict)
        self._stale = True
        return result

    def _refit(self):
        """mu_k, the Cholesky factors of Sigma_k and their inverses, log det Sigma_k, log pi_k."""
        with mg.no_grad():
            n_k = self.count.expand_dims(1)                                   # (K, 1)
            safe_n = mg.maximum(n_k, mg.ones_like(n_k))                       # a class not yet seen: mu = 0
            self.mu = self.total / safe_n
            S = self.outer / safe_n.expand_dims(2) - self.mu.expand_dims(2) * self.mu.expand_dims(1)
            index = mg.arange(self.dim, device=self.count.device)
            eye = (index.expand_dims(1) == index).astype("float64")
            if self.covariance == "shared":
                pooled = (n_k.expand_dims(2) * S).sum(axis=0) / max(self.count.sum().item(), 1.0)
                S = mg.broadcast_to(pooled, S.shape)
            elif self.covariance == "diagonal":
                S = S * eye
            sigma = S + self.reg * eye
            xp = backend.get_array_module(sigma.data)
            L = xp.linalg.cholesky(sigma.data)                                # Sigma_k = L_k L_k^T
            self.L = mg.tensor(L)
            self.L_inv = mg.tensor(xp.linalg.inv(L))
            self.log_det = 2 * mg.log(mg.tensor(xp.diagonal(L, axis1=1, axis2=2))).sum(axis=1)
            n = self.count.sum()
            self.log_prior = mg.log((self.count + 1) / (n + self.num_classes))
        self._stale = False

    # ------------------------------------------------------------------------------ densities
    def log_joint(self, x):
        """log p(x, y=k) = log pi_k + log p(x | k) for every class: (N, K)."""
        if self._stale:
            self._refit()
        x = x.reshape(len(x), self.dim).astype("float64")
        diff = x.expand_dims(0) - self.mu.expand_dims(1)                      # (K, N, D)
        z = diff @ self.L_inv.transpose(0, 2, 1)                             # z_k = L_k^{-1} (x - mu_k)
        log_lik = (-0.5 * (z * z).sum(axis=2) - 0.5 * self.log_det.expand_dims(1)
                   - 0.5 * self.dim * math.log(2 * math.pi))                  # (K, N)
        return log_lik.T + self.log_prior

    def log_posterior(self, x):
        """log p(y = k | x) by Bayes' rule: (N, K)."""
        log_joint = self.log_joint(x)
        return log_joint - mg.logsumexp(log_joint, axis=1, keepdims=True)

    def log_marginal(self, x):
        """log p(x) = logsumexp_k log p(x, y=k): (N,)."""
        return mg.logsumexp(self.log_joint(x), axis=1)

    def sample(self, n, label=None):
        """n draws x = mu_y + L_y eps (flattened, not clipped), y = label or y ~ pi."""
        if self._stale:
            self._refit()
        device = self.count.device
        if label is None:
            # Gumbel-max trick: argmax_k (log pi_k + g_k), g_k ~ Gumbel(0, 1), is a draw from pi
            gumbel = -mg.log(-mg.log(mg.rand(n, self.num_classes, dtype="float64", device=device)))
            y = (self.log_prior + gumbel).argmax(axis=1).data
        else:
            y = mg.full((n,), label, dtype="int64", device=device).data
        eps = mg.randn(n, self.dim, 1, dtype="float64", device=device)
        return self.mu[y] + (self.L[y] @ eps).squeeze(2)


@register("gaussian-classifier")
class GaussianClassifierRecipe(Recipe):
    """One pass over the training set gathers the statistics; the reported loss of each batch is
    computed *before* the batch is added (how well the fit so far predicts unseen data), in nats per
    dimension of -log p(x, y)."""

    default_config = {"covariance": "full", "reg": 0.01, "batch_size": 256, "epochs": 1}
    option_help = {"covariance": "full (QDA), shared (LDA) or diagonal (naive Bayes)",
                   "reg": "lambda added to the covariance diagonal"}
    conditional = True
    drop_last = False        # every example counts once per epoch: the fit is exact after one

    data_kinds = ("image",)
    needs_labels = True

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.image_shape = tuple(info.shape)
        dim = math.prod(self.image_shape)
        self.model = GaussianClassifier(dim, info.num_classes, config["covariance"],
                                        config["reg"]).to(device)

    def train_step(self, batch, step):
        x, y = batch
        with mg.no_grad():
            log_joint = self.model.log_joint(x)
            picked = mg.take_along_axis(log_joint, y.reshape(len(y), 1), axis=1)
            loss = -picked.mean() / self.model.dim
            accuracy = (log_joint.argmax(axis=1) == y).astype("float32").mean()
        self.model.observe(x, y)
        return {"loss": loss.item(), "accuracy": accuracy.item()}

    def evaluate(self, x, y=None, batch_size=500):
        parts_joint = []
        with mg.no_grad():
            for i in range(0, len(x), batch_size):
                parts_joint.append(self.model.log_joint(mg.tensor(x[i:i + batch_size], device=self.device)))
            log_joint = mg.concatenate(parts_joint)
            log_px = mg.logsumexp(log_joint, axis=1)
            metrics = {"nll_nats": -log_px.mean().item()}
            if y is not None:
                y = mg.tensor(y, device=self.device)
                log_joint_y = mg.take_along_axis(log_joint, y.reshape(len(y), 1), axis=1).squeeze(1)
                metrics["accuracy"] = (log_joint.argmax(axis=1) == y).astype("float32").mean().item()
                metrics["nll"] = -(log_joint_y - log_px).mean().item()
        return metrics

    def sample(self, n, label=None, steps=None):
        if label is not None:
            label = int(self.sample_labels(1, label).item())      # checked: a class in [0, K)
        with mg.no_grad():
            x = self.model.sample(n, label)
        x = mg.clip(x, 0.0, 1.0).astype("float32")
        return x.reshape(n, *self.image_shape).numpy()
