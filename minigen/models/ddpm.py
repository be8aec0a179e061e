"""Denoising diffusion probabilistic models (Ho et al. 2020).

The forward process adds Gaussian noise in T small steps, with a closed form for any t:

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)
    q(x_t | x_0)     = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),    alpha_bar_t = prod_{s<=t} (1 - beta_s)
    x_t              = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,   eps ~ N(0, I)

A network eps_theta(x_t, t) learns to guess the noise, with the "simple" loss (Ho et al. eq. 14: the
variational bound with its per-step weights dropped),

    L_simple = E_{t ~ U{1..T}, x_0, eps} || eps - eps_theta(sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, t) ||^2

or, equivalently up to a weighting, x_0 itself or v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0
(``prediction``). Sampling runs the learnt reverse process from x_T ~ N(0, I): ancestral (DDPM) over all
T steps, or DDIM in S < T steps, with an exponential moving average of the weights.

Class-conditional: eps_theta(x_t, t, c), where during training c is replaced by a "null" label with
probability ``label_dropout``, so the same network also learns eps_theta(x_t, t, null); sampling mixes
the two, eps~ = (1 + w) eps_theta(x_t, t, c) - w eps_theta(x_t, t, null)  (classifier-free guidance).
The DDPM module below takes any condition c its denoiser takes (a label, a caption's token ids, an
image); models/conditional_ddpm.py conditions on images and on text with this same module.

Training is Algorithm 1 of the paper, line for line, in ``DDPM.loss``; sampling is Algorithm 2, whose
step x_{t-1} = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) + sigma_t z is
``minigen.diffusion.ancestral_step``. The schedule (beta_t, alpha_bar_t, ...), the samplers and the
variational bound are minigen.diffusion; this file builds the networks (an MLP for 2-D points, a U-Net
for images) and trains them. Images live in [0, 1] as data and in [-1, 1] for the diffusion.

The defaults depend on the data (``dataset_defaults``): an MLP on batches of 256 for 2-D points; a
U-Net of two resolutions (8x8 -> 4x4) on batches of 64 for the 8x8 digits; three (28 -> 14 -> 7) on
batches of 32 for 28x28 images, where more, smaller steps did better than fewer big ones at the same
cost (docs/diffusion.md).

    minigen train ddpm --dataset moons
    minigen train ddpm --dataset digits
    minigen sample runs/ddpm-digits --n 64 --steps 50 --out samples.png     # DDIM, 50 steps
    minigen eval runs/ddpm-digits                              # the bound in bits/dim
"""
import minigen as mg
from minigen import diffusion, nn, optim
from minigen.data import pixels
from minigen.diffusion import NoiseSchedule
from minigen.metrics.distances import energy_distance
from minigen.nn import functional as F
from minigen.recipe import Recipe, UsageError, register
from minigen.restore import GuidedDiffusion

from .denoisers import MLPDenoiser
from .unet import UNet


class DDPM(nn.Module):
    """A denoiser network and the noise schedule it was trained under."""

    def __init__(self, denoiser, schedule, prediction="eps"):
        super().__init__()
        if prediction not in diffusion.PREDICTIONS:
            raise ValueError(f"prediction must be one of {diffusion.PREDICTIONS}, got {prediction!r}")
        self.denoiser = denoiser
        self.schedule = schedule
        self.prediction = prediction
        self.num_classes = denoiser.time_embedding.num_classes       # None: not class-conditional
        self.conditional = denoiser.conditional                      # takes a condition c

    def loss(self, x_0, c=None):
        """L_simple, Algorithm 1 of Ho et al. (one x_0 per example of the batch):

            t ~ Uniform({1, ..., T}),  eps ~ N(0, I)
            x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
            || eps - eps_theta(x_t, t) ||^2        (the network's target is x_0 or v if so trained)
        """
        t = mg.randint(1, self.schedule.T + 1, size=(x_0.shape[0],), device=x_0.device)
        eps = mg.randn_like(x_0)
        sqrt_alpha_bar_t, sqrt_one_minus_alpha_bar_t = self.schedule.per_example(
            t, x_0, "sqrt_alpha_bar", "sqrt_one_minus_alpha_bar")
        x_t = sqrt_alpha_bar_t * x_0 + sqrt_one_minus_alpha_bar_t * eps
        eps_theta = self.denoiser(x_t, t, c)
        return F.mse_loss(eps_theta, self.schedule.target(self.prediction, x_0, t, eps))

    def eps(self, x_t, t, c=None, guidance=0.0):
        """eps_theta(x_t, t [, c]) whatever the network predicts; with a condition c (a label, a
        caption) and guidance w, the classifier-free guided (1 + w) eps(c) - w eps(null)."""
        if guidance and not self.conditional:
            raise ValueError(f"classifier-free guidance (weight {guidance}) needs a class-conditional "
                             "model (or a text-conditional one); this one is unconditional (train with "
                             "--conditional true)")
        if guidance and c is None:
            raise ValueError(f"classifier-free guidance (weight {guidance}) needs a condition (a label, a "
                             "prompt) to guide towards")
        eps_conditional = self.schedule.eps_from_output(self.prediction, x_t, t, self.denoiser(x_t, t, c))
        if not guidance:
            return eps_conditional
        eps_unconditional = self.schedule.eps_from_output(self.prediction, x_t, t, self.denoiser(x_t, t))
        return diffusion.guided_eps(eps_conditional, eps_unconditional, guidance)

    def sample(self, shape, c=None, guidance=0.0, steps=None, eta=0.0, variance="beta", clip_x0=False,
               callback=None, device=None):
        """x_0 by Algorithm 2, from x_T ~ N(0, I): for t = T, ..., 1,
        x_{t-1} = diffusion.ancestral_step(x_t, t, eps_theta(x_t, t [, c]), z), z ~ N(0, I) (z = 0 at
        t = 1); or DDIM in ``steps`` jumps (diffusion.ddim_step). ``c``: one condition per sample (a
        Tensor), or an int class for all of them."""
        x_T = mg.randn(*shape, device=device)
        if c is not None and not isinstance(c, mg.Tensor):
            c = mg.full((shape[0],), int(c), dtype="int64", device=device)

        def eps_model(x_t, t):
            return self.eps(x_t, t, c, guidance)
        if steps is None:
            return diffusion.ancestral(eps_model, self.schedule, x_T, variance, clip_x0=clip_x0, callback=callback)
        return diffusion.ddim(eps_model, self.schedule, x_T, steps, eta, clip_x0=clip_x0, callback=callback)


@register("ddpm")
class DDPMRecipe(Recipe):
    """DDPM on 2-D points (MLP denoiser) or images (U-Net, trained in [-1, 1]).

    Config: timesteps T, schedule (linear | cosine), prediction (eps | x0 | v), variance of the ancestral
    sampler (beta | beta_tilde), eta for DDIM; U-Net channels / channel_mults / dropout; MLP hidden /
    depth; conditional, label_dropout and guidance w for classifier-free guidance; ema_decay;
    bound_examples: how many examples ``evaluate`` spends the bound on; bound_timesteps: how many
    stratified steps estimate its sum over t (0: all T, exact but T network calls per image).
    """

    # excerpt: ddpm-defaults
    default_config = {"timesteps": 1000, "schedule": "linear", "prediction": "eps", "variance": "beta",
                      "eta": 0.0, "channels": 16, "channel_mults": [1, 2, 2], "dropout": 0.0,
                      "hidden": 128, "depth": 3, "conditional": False, "label_dropout": 0.1,
                      "guidance": 0.0, "ema_decay": 0.995, "grad_clip": 1.0, "bound_examples": 200,
                      "bound_timesteps": 100,
                      "lr": 1e-3, "batch_size": 32, "epochs": 20}          # for 28x28 images; and:
    # mnist-5k: 2,500 steps of 32 (tuned, seed 0: 2,000 steps gave samples that a digit classifier is
    # 0.89 sure of, every digit present, memorisation ratio 1.38), about 10 minutes on a core
    dataset_defaults = {"2d": {"batch_size": 256, "epochs": 40},
                        "digits": {"channel_mults": [1, 2], "batch_size": 64, "epochs": 100},
                        "mnist-5k": {"batch_size": 32, "epochs": 20}}
    # end excerpt: ddpm-defaults
    option_help = {"timesteps": "T, the number of diffusion steps",
                   "schedule": "linear or cosine noise schedule",
                   "prediction": "what the network predicts: eps, x0 or v",
                   "variance": "sigma_t^2 of the ancestral sampler: beta or beta_tilde",
                   "eta": "DDIM noise (0: deterministic)", "channels": "U-Net base channels (images)",
                   "channel_mults": "U-Net channel multiplier per resolution", "dropout": "U-Net dropout",
                   "hidden": "width of the MLP denoiser (2-D data)",
                   "depth": "hidden layers of the MLP denoiser (2-D data)",
                   "conditional": "class-conditional, for classifier-free guidance",
                   "label_dropout": "probability of the null label in training",
                   "guidance": "classifier-free guidance weight w when sampling",
                   "ema_decay": "decay of the weights' moving average",
                   "grad_clip": "gradient-norm clipping threshold",
                   "bound_examples": "examples the variational bound is evaluated on",
                   "bound_timesteps": "stratified steps estimating the bound (0: all T)"}
    sampler_steps = True
    guided = True
    image_space = "symmetric"      # images in [-1, 1] for the networks: x_model = 2 x - 1

    def __init__(self, config, info, device):
        super().__init__(config, info, device)
        self.is_image = len(info.shape) == 3
        if config["variance"] not in ("beta", "beta_tilde"):
            raise ValueError(f"variance must be 'beta' or 'beta_tilde', got {config['variance']!r}")
        schedule = NoiseSchedule.from_name(config["schedule"], config["timesteps"])
        self.model = DDPM(self.build_denoiser(config, info).to(device), schedule, config["prediction"])
        if config.get("guidance") and not self.model.conditional:
            raise ValueError(f"guidance={config['guidance']} needs a class-conditional model "
                             "(add --conditional true)")
        # samples.png by DDIM in 50 steps, not T ancestral ones (``minigen sample`` keeps those)
        self.preview_steps = min(50, config["timesteps"])
        self.optimizer = optim.Adam(self.model.parameters(), lr=config["lr"])
        self.ema = optim.EMA(self.model.parameters(), decay=config["ema_decay"], warmup=True)

    def build_denoiser(self, config, info):
        """eps_theta: a U-Net for images, an MLP for 2-D points; class-conditional if so configured."""
        num_classes = info.num_classes if self.conditional else None
        if self.is_image:
            return UNet(info.shape, config["channels"], config["channel_mults"], config["dropout"], num_classes)
        return MLPDenoiser(info.shape[0], config["hidden"], config["depth"], num_classes)

    def train_step(self, batch, step):
        return self.update(*self.training_pair(batch))

    def training_pair(self, batch):
        """(x_0 in the diffusion's space, the condition c to train with): images as 2 x - 1, and for a
        class-conditional model the label, dropped to "null" with probability label_dropout."""
        x, y = batch
        label = None
        if self.conditional:
            drop = mg.rand(x.shape[0], device=x.device) < self.config["label_dropout"]
            label = mg.where(drop, mg.full(y.shape, self.info.num_classes, dtype="int64", device=x.device), y)
        return self.to_model_space(x), label

    def update(self, x0, c):
        """One Adam step on L_simple at the batch x0 with conditions c; the EMA follows."""
        self.model.train()
        loss = self.model.loss(x0, c)
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = optim.clip_grad_norm_(self.model.parameters(), self.config["grad_clip"])
        self.optimizer.step()
        self.ema.update()
        return {"loss": loss.item(), "grad_norm": float(grad_norm)}

    def preview_sampler(self):
        return f"DDIM, {self.preview_steps} steps"

    def sample(self, n, label=None, steps=None, guidance=None, callback=None):
        """n samples in data space; DDIM with ``steps`` steps, else ancestral over all T. ``guidance``
        (default the config's) applies to samples of a class ``label``."""
        if guidance and label is None:
            raise UsageError(f"guidance (weight {guidance}) needs a class to guide towards (a label: "
                             "--label K)")
        guidance = self.config["guidance"] if guidance is None else guidance
        if label is not None:
            label = self.sample_labels(n, label)
        self.model.eval()
        with self.ema.average_parameters():
            x0 = self.model.sample((n,) + tuple(self.info.shape), label, guidance if label is not None else 0.0,
                                   steps, self.config["eta"], self.config["variance"], clip_x0=self.is_image,
                                   callback=callback, device=self.device)
        x = self.to_data_space(x0)
        return (mg.clip(x, 0.0, 1.0) if self.is_image else x).numpy().astype("float32")

    def eps_model(self):
        """eps(x_t, t) of the averaged (EMA) weights, for the samplers and the bound; call inside
        ``with self.ema.average_parameters():``."""
        return lambda x_t, t: self.model.eps(x_t, t)

    def evaluate(self, x, y=None):
        """The variational bound on the first ``bound_examples`` examples (bits/dim for images, nats
        for 2-D points), its sum over t estimated from ``bound_timesteps`` stratified steps (0: every
        step); for 2-D data also the energy distance of 2,000 DDIM-100 samples to ``x``."""
        subset = x[: self.config["bound_examples"]]
        self.model.eval()
        with self.ema.average_parameters():
            x0 = self.to_model_space(mg.tensor(subset, device=self.device))
            bound = diffusion.variational_bound(self.eps_model(), self.model.schedule, x0,
                                                self.config["variance"], clip_x0=self.is_image,
                                                levels=self.info.levels,
                                                timesteps=self.config["bound_timesteps"] or None)
        metrics = {"bound_examples": len(subset), "bound_timesteps": len(bound["steps"])}
        if self.is_image:
            metrics["nll_bits_per_dim"] = float(bound["bits_per_dim"].mean())
        else:
            metrics["nll_nats"] = float(bound["total"].mean())
            samples = self.sample(2000, steps=min(100, self.model.schedule.T))
            metrics["energy_distance"] = energy_distance(samples, x[:2000])
        metrics["bound_prior_nats"] = float(bound["prior"].mean())
        metrics["bound_decoder_nats"] = float(bound["decoder"].mean())
        return metrics

    # ----------------------------------------------------------------------------- for the harnesses
    @classmethod
    def anomaly_score_names(cls):
        return ("ddpm", "ddpm-bound")

    def anomaly_scores(self, x, seed=0, batch_size=500, timesteps=10):
        """Two scores from the same network calls, at K = ``timesteps`` fixed steps t_1 < ... < t_K
        spread geometrically over 2..T (``diffusion.score_timesteps``), the same for every image:

            ddpm-bound   the bound on -log p(x) (nats), L_T + L_0 + sum_k n_k L_{t_k - 1}: the sum over
                         t by a quadrature, L_{t_k - 1} standing for the n_k steps nearest to t_k
            ddpm         the plain noise-prediction error (1/K) sum_k ||eps_k - eps_theta(x_{t_k}, t_k)||^2,
                         the bound's per-step weights dropped as in the training loss L_simple

        Geometric spacing: the terms L_{t-1} are large and change fast at small t, tiny and flat at
        large t. Images are put on the dataset's grey-level grid first; the EMA weights are used."""
        levels = self.info.levels
        on_grid = pixels.on_grid(x, levels)
        quadrature = diffusion.score_timesteps(self.model.schedule.T, timesteps)
        self.model.eval()
        with mg.no_grad(), self.ema.average_parameters():
            x0 = self.to_model_space(mg.tensor(on_grid, device=self.device))
            bound = diffusion.variational_bound(self.eps_model(), self.model.schedule, x0,
                                                self.config["variance"], clip_x0=True, levels=levels,
                                                batch_size=batch_size, timesteps=quadrature)
        return {"ddpm": bound["eps_error"].mean(axis=0), "ddpm-bound": bound["total"]}

    def restoration_prior(self):
        """The guided reverse process (minigen.restore.GuidedDiffusion), run with the EMA weights in the
        diffusion's space [-1, 1]."""
        return GuidedDiffusion(self.eps_model(), self.model.schedule, self.to_model_space, self.to_data_space,
                               variance=self.config["variance"], eta=self.config["eta"],
                               weights=self.ema.average_parameters)
