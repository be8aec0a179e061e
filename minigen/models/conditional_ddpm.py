r"""Diffusion conditioned on an image or a sentence: image -> image (SR3, Palette) and text -> image.

Both are the DDPM of ddpm.py -- the same DDPM module (L_simple, Algorithm 1; the samplers, the
schedule and classifier-free guidance of minigen.diffusion), the same U-Net (unet.py), the same EMA
and training step -- whose denoiser also takes a condition c.

Image -> image (``ddpm-img2img``; Saharia et al. 2021, SR3; Saharia et al. 2022, Palette). The
condition x (brought to the target's grid, data.paired.lift) is concatenated to the noisy target as
extra input channels, and the network learns the noise given both:

    y_t = sqrt(alpha_bar_t) y + sqrt(1 - alpha_bar_t) eps
    L   = E_{(x, y), t, eps} || eps - eps_theta([y_t, x], t) ||^2

Sampling runs the reverse process from y_T ~ N(0, I) with the same x at every step: a draw from
p(y | x), so several draws for one x differ where x leaves the digit open. No guidance (SR3 and Palette
need none: the condition pins down most of the image), so no null condition is trained.

Text -> image (``ddpm-txt2img``). A caption's token ids w are embedded by a text encoder trained
jointly with the denoiser (nn.TextEncoder: token and position embeddings, ``text_layers``
transformer blocks, the mean over the words) into one vector enc(w), added to the step's embedding in
every ResBlock, as a class label's embedding is:

    L = E_{(w, y), t, eps} || eps - eps_theta(y_t, t, enc(w)) ||^2

In training each image comes with one of its captions (data.captions), drawn anew every step, and with
probability ``caption_dropout`` with the empty caption instead, the null condition. Sampling uses the
classifier-free guidance of the label case, unchanged (DDPM.eps, diffusion.guided_eps):

    eps~ = (1 + w) eps_theta(y_t, t, enc(prompt)) - w eps_theta(y_t, t, enc(""))

One vector for the whole caption suffices here: every word of these captions describes the whole
digit (its class, thickness, slant, width). Captions about parts of an image ("a red hat on the left")
would call for cross-attention, each pixel reading the words it needs (Rombach et al. 2022).

    minigen train ddpm-img2img --dataset lowres2digits
    minigen sample runs/ddpm-img2img-lowres2digits --condition low.npy --n 4 --steps 50
    minigen train ddpm-txt2img --dataset captioned-digits
    minigen sample runs/ddpm-txt2img-captioned-digits --prompt "a thin slanted four" --n 16 --guidance 3 --steps 50
"""
import minigen as mg
from minigen import nn
from minigen.data import captions, paired
from minigen.metrics.conditional import caption_reference, prompt_scores
from minigen.recipe import Recipe, UsageError, register

from .ddpm import DDPMRecipe
from .translation import conditions_for, judge, save_translation_figure, translation_metrics
from .unet import UNet

# the DDPM options that apply to both (not the MLP's, the class label's or the bound's)
_SHARED = {key: value for key, value in DDPMRecipe.default_config.items()
           if key not in ("hidden", "depth", "conditional", "label_dropout", "guidance", "bound_examples",
                          "bound_timesteps")}
_SHARED_HELP = {key: text for key, text in DDPMRecipe.option_help.items() if key in _SHARED}


class _ConditionalDDPM(DDPMRecipe):
    """What both share beyond the DDPM: no bound, no anomaly score, no restoration prior (those are
    the unconditional model's); sampling with the EMA weights from a condition c."""

    sampler_steps = True

    @classmethod
    def anomaly_score_names(cls):
        return ()

    anomaly_scores = Recipe.anomaly_scores
    restoration_prior = Recipe.restoration_prior

    def check_config(self, config, positive):
        for key in positive:
            if config[key] < 1:
                raise ValueError(f"{key} must be a positive integer, got {config[key]}")

    def draw(self, c, steps, guidance, callback=None):
        """len(c) images (NumPy, data space) from conditions c (a Tensor) with the averaged weights."""
        self.model.eval()
        with self.ema.average_parameters():
            y0 = self.model.sample((c.shape[0],) + tuple(self.info.shape), c, guidance, steps,
                                   self.config["eta"], self.config["variance"], clip_x0=True,
                                   callback=callback, device=self.device)
        return mg.clip(self.to_data_space(y0), 0.0, 1.0).numpy().astype("float32")


@register("ddpm-img2img")
class ImageToImageDDPMRecipe(_ConditionalDDPM):
    """eps_theta([y_t, x], t) on a paired set; ``eval_steps`` DDIM steps for eval and the figure."""

    default_config = {**_SHARED, "batch_size": 64, "epochs": 30, "eval_steps": 50, "eval_examples": 1000}
    option_help = {**_SHARED_HELP, "eval_steps": "DDIM steps of the samples eval and the figure draw",
                   "eval_examples": "test pairs that eval translates"}
    data_kinds = ("paired",)
    condition_kind = "image"
    guided = False

    def __init__(self, config, info, device):
        self.check_config(config, ("eval_steps", "eval_examples"))
        super().__init__(config, info, device)

    def build_denoiser(self, config, info):
        return UNet(info.shape, config["channels"], config["channel_mults"], config["dropout"],
                    condition_channels=info.condition_shape[0])

    def condition(self, x):
        """Conditions (a Tensor in data space) as the denoiser reads them: in [-1, 1], on the target's grid."""
        return paired.lift(self.to_model_space(x), self.info.shape)

    def training_pair(self, batch):
        x, y = batch
        return self.to_model_space(y), self.condition(x)

    def sample(self, n, label=None, steps=None, condition=None, callback=None):
        """n draws from p(y | x) for the conditions x (one, repeated, or n of them); DDIM with
        ``steps`` steps, else ancestral over all T."""
        if label is not None:
            self.sample_labels(n, label)                   # refuses: not class-conditional
        x = mg.tensor(conditions_for(self, n, condition), device=self.device)
        return self.draw(self.condition(x), steps, 0.0, callback)

    def evaluate(self, x, y=None):
        n = self.config["eval_examples"]
        metrics = translation_metrics(self, x[:n], y[:n], steps=self.config["eval_steps"])
        return {**metrics, "eval_steps": self.config["eval_steps"]}

    def save_figure(self, path, x, y=None):
        return save_translation_figure(self, path, x, y, steps=self.config["eval_steps"])


@register("ddpm-txt2img")
class TextToImageDDPMRecipe(_ConditionalDDPM):
    """eps_theta(y_t, t, enc(w)) on a captioned set, with classifier-free guidance."""

    default_config = {**_SHARED, "text_dim": 64, "text_layers": 1, "text_heads": 2, "caption_dropout": 0.1,
                      "guidance": 3.0, "batch_size": 64, "epochs": 60, "eval_steps": 50, "eval_samples": 20}
    option_help = {**_SHARED_HELP, "text_dim": "width of the text encoder's word vectors",
                   "text_layers": "transformer blocks of the text encoder (0: the mean word embedding)",
                   "text_heads": "attention heads of the text encoder",
                   "caption_dropout": "probability of the empty caption in training",
                   "guidance": "classifier-free guidance weight w when sampling",
                   "eval_steps": "DDIM steps of the samples eval and the figure draw",
                   "eval_samples": "samples per prompt that eval draws"}
    data_kinds = ("captioned",)
    condition_kind = "text"
    guided = True

    def __init__(self, config, info, device):
        self.check_config(config, ("text_dim", "text_heads", "eval_steps", "eval_samples"))
        if config["text_layers"] < 0:
            raise ValueError(f"text_layers must be >= 0, got {config['text_layers']}")
        if config["text_dim"] % config["text_heads"]:
            raise ValueError(f"text_dim ({config['text_dim']}) must be divisible by text_heads "
                             f"({config['text_heads']})")
        if not 0 <= config["caption_dropout"] < 1:
            raise ValueError(f"caption_dropout must lie in [0, 1), got {config['caption_dropout']}")
        super().__init__(config, info, device)

    def build_denoiser(self, config, info):
        encoder = nn.TextEncoder(len(captions.VOCABULARY), config["text_dim"], 4 * config["channels"],
                                 captions.MAX_WORDS, config["text_layers"], config["text_heads"])
        return UNet(info.shape, config["channels"], config["channel_mults"], config["dropout"], encoder=encoder)

    def training_pair(self, batch):
        """(images in [-1, 1], one caption per image): phrasing k ~ U{0..P-1} of each, or the empty
        caption with probability caption_dropout."""
        tokens, y = batch                                              # (B, P, L), (B, 1, H, W)
        B, P, L = tokens.shape
        pick = mg.randint(0, P, size=(B, 1, 1), device=y.device) + mg.zeros((B, 1, L), dtype="int64", device=y.device)
        w = mg.take_along_axis(tokens, pick, axis=1).reshape(B, L)
        drop = mg.rand(B, 1, device=y.device) < self.config["caption_dropout"]     # broadcast over the words
        return self.to_model_space(y), mg.where(drop, mg.zeros_like(w), w)

    def prompts(self, n, prompt):
        """Token ids (n, L) of a prompt (for all n samples) or a list of n prompts."""
        if prompt is None:
            raise UsageError(f"'{self.name}' draws images of a prompt: give one (minigen sample DIR --prompt "
                             "\"a thin slanted four\"; in Python, sample(n, condition=\"a thin slanted four\"))")
        texts = [prompt] * n if isinstance(prompt, str) else list(prompt)
        if len(texts) != n:
            raise ValueError(f"{n} samples asked for with {len(texts)} prompts: give one prompt, or one per sample")
        return mg.tensor(captions.encode_all(texts), device=self.device)

    def sample(self, n, label=None, steps=None, condition=None, guidance=None, callback=None):
        """n images of the prompt ``condition`` (or of n prompts), with guidance w (default the
        config's); DDIM with ``steps`` steps, else ancestral over all T."""
        if label is not None:
            self.sample_labels(n, label)                   # refuses: not class-conditional
        guidance = self.config["guidance"] if guidance is None else guidance
        return self.draw(self.prompts(n, condition), steps, guidance, callback)

    def evaluate(self, x, y=None):
        """For every digit, eval_samples samples of each prompt of data.captions.EVALUATION_PROMPTS
        ("a seven", "a thick seven", "a thin seven", "7, slanted to the left", "7, slanted to the
        right"), without guidance and with the config's w, the same noise for both: the judge's
        agreement with the named digit and the property gaps (metrics.conditional); and the gaps of the
        real test images, grouped by their captions."""
        texts, digits, kinds = captions.evaluation_prompts(self.config["eval_samples"])
        classify, steps, w = judge(self), self.config["eval_steps"], self.config["guidance"]
        metrics = {"samples": len(texts), "eval_steps": steps, "guidance": w}
        for suffix, weight in (("", 0.0), ("_guided", w)):
            mg.manual_seed(self.config.get("seed", 0))
            chunks = [self.sample(len(texts[i:i + 250]), condition=texts[i:i + 250], steps=steps, guidance=weight)
                      for i in range(0, len(texts), 250)]
            metrics.update(prompt_scores(chunks, digits, kinds, classify, suffix))
        labels = None if y is None else paired.target_digits(self.info.base, y)
        if labels is not None and (labels >= 0).all():
            metrics.update(caption_reference(y, labels, captions.describe(y, labels, self.info.base)))
        return metrics

    def save_figure(self, path, x, y=None, per_prompt=8):
        """One row per digit, "a zero" ... "a nine", with the config's guidance."""
        from minigen import viz
        texts = [f"a {word}" for word in captions.DIGIT_WORDS for _ in range(per_prompt)]
        images = self.sample(len(texts), condition=texts, steps=self.config["eval_steps"])
        viz.image_grid(images, path, nrow=per_prompt,
                       title=f"{self.name}: rows \"a zero\" ... \"a nine\", guidance {self.config['guidance']}")
        return True
