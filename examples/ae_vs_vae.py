"""Autoencoder vs VAE latent spaces, and the AE / VAE / VQ-VAE comparison table of docs/vae.md.

Part 1 (always): an AE and a VAE with a 2-D latent, trained on the same digits. Their test codes
(AE: z = f(x); VAE: the posterior mean mu(x)) are drawn coloured by class, and a grid over each latent
plane is decoded. The AE's classes sit in separate islands with empty space between them, and the
grid decodes to smudges there; the KL term packs the VAE's codes into one N(0, I) blob with no gaps,
so every point of the plane decodes to a digit-like image. The "empty fraction" printed is the share
of a grid over the codes' central box (1st to 99th percentile) farther than 0.25 code-standard-
deviations from every test code.

Part 2 (``--table``): AE, VAE and VQ-VAE at their default sizes on the same data, measured the same
way: reconstruction MSE, sample quality (a classifier trained here scores the samples: the
Inception-score analogue exp(E_x KL(p(y|x) || p(y))), at most 10), latent smoothness along straight
lines between 100 pairs of test encodings (the largest step between consecutive decoded images over
the mean step: 1 is even, large is a jump; and the classifier's confidence at the midpoints, low where
the path crosses a hole), and training time per epoch.

    python examples/ae_vs_vae.py [--quick] [--table] [--dataset digits] [--img docs/img]
"""
import argparse
import json
import os
import shutil
import time

import numpy as np

import minigen as mg
from minigen import viz
from minigen.training import train


def fit(model, dataset, out, epochs, **options):
    """Train a fresh run (replacing this script's earlier one); the recipe and seconds per epoch."""
    folder = os.path.join(out, f"{model}-{dataset}" + "".join(f"-{k}{v}" for k, v in options.items()))
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    run = train(model, dataset, out=folder, epochs=epochs, options=options, stream=open(os.devnull, "w"))
    seconds = time.perf_counter() - start
    return run.recipe, seconds / epochs


def empty_fraction(codes, n=60, radius=0.25):
    """Share of an n x n grid over the central box of the codes farther than radius (in units of the
    codes' standard deviation) from every code."""
    scaled = (codes - codes.mean(0)) / codes.std(0)
    lo, hi = np.percentile(scaled, 1, axis=0), np.percentile(scaled, 99, axis=0)
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    grid = np.stack([g1.ravel(), g2.ravel()], 1)
    nearest = np.sqrt(((grid[:, None] - scaled[None]) ** 2).sum(-1)).min(1)
    return float((nearest > radius).mean())


def latent_plots(dataset, out, img, epochs):
    x, y = mg.data.load(dataset, "test")
    ae, _ = fit("ae", dataset, out, epochs, latent_dim=2)
    vae, _ = fit("vae", dataset, out, epochs, latent_dim=2)
    with mg.no_grad():
        z_ae = ae.model.encode(mg.tensor(x)).numpy()
        z_vae = vae.model.encode(mg.tensor(x)).mean.numpy()
    for name, z in (("ae", z_ae), ("vae", z_vae)):
        print(f"{name}: empty fraction of the latent box {empty_fraction(z):.2f}")
    viz.latent_scatter(z_ae, y, os.path.join(img, "ae_latent_scatter.png"),
                       title="AE: test codes z = f(x), by class")
    viz.latent_scatter(z_vae, y, os.path.join(img, "vae_latent_scatter.png"),
                       title="VAE: test posterior means mu(x), by class")
    lo, hi = np.percentile(z_ae, 1), np.percentile(z_ae, 99)

    def decode_ae(codes):
        with mg.no_grad():
            return ae.model.decode(mg.tensor(codes)).numpy()

    def decode_vae(codes):
        with mg.no_grad():
            return vae.model.decode(mg.tensor(codes)).mean.numpy()

    viz.latent_manifold(decode_ae, os.path.join(img, "ae_latent_manifold.png"), bounds=(lo, hi), n=15,
                        title="AE: decoded grid over its codes' range")
    viz.latent_manifold(decode_vae, os.path.join(img, "vae_latent_manifold.png"), bounds=(-2.5, 2.5), n=15,
                        title="VAE: decoded grid over N(0, I)")
    print(f"wrote {img}/ae_latent_scatter.png, vae_latent_scatter.png, ae_latent_manifold.png, "
          f"vae_latent_manifold.png")


# ------------------------------------------------------------------------------------ the table
def classifier_score(probs):
    """exp(E_x KL(p(y|x) || p(y))): 10 for confident, evenly spread classes; 1 for none."""
    marginal = probs.mean(0, keepdims=True)
    kl = (probs * (np.log(probs + 1e-12) - np.log(marginal + 1e-12))).sum(1)
    return float(np.exp(kl.mean()))


def encoder_decoder(name, recipe):
    """(encode, decode) between images and a continuous latent for the interpolations."""
    model = recipe.model
    if name == "ae":
        return model.encode, model.decode
    if name == "vae":
        return (lambda x: model.encode(x).mean), (lambda z: recipe.to_data_space(model.decode(z).mean))
    return model.encoder, (lambda z_e: mg.sigmoid(model.decoder(model.quantizer(z_e)[0])))


def smoothness(name, recipe, classifier, x, pairs=100, steps=16, seed=0):
    encode, decode = encoder_decoder(name, recipe)
    rng = np.random.default_rng(seed)
    a, b = rng.choice(len(x), pairs), rng.choice(len(x), pairs)
    t = np.linspace(0, 1, steps + 1)
    with mg.no_grad():
        z_a, z_b = encode(mg.tensor(x[a])).numpy(), encode(mg.tensor(x[b])).numpy()
        path = np.stack([(1 - s) * z_a + s * z_b for s in t])                 # (steps + 1, pairs, ...)
        images = decode(mg.tensor(path.reshape((-1,) + path.shape[2:]).astype(np.float32))).numpy()
    images = images.reshape((steps + 1, pairs, -1))
    jumps = np.sqrt(((images[1:] - images[:-1]) ** 2).sum(-1))             # (steps, pairs)
    ratio = float((jumps.max(0) / (jumps.mean(0) + 1e-12)).mean())
    middle = images[steps // 2].reshape((pairs,) + x.shape[1:])
    confidence = float(mg.softmax(classifier.logits(middle), axis=1).numpy().max(1).mean())
    return ratio, confidence


def table(dataset, out, quick):
    x, y = mg.data.load(dataset, "test")
    classifier, _ = fit("classifier", dataset, out, 5 if quick else 30)
    print(f"classifier test accuracy {classifier.evaluate(x, y)['accuracy']:.3f}")
    scale = 0.1 if quick else 1.0
    rows = []
    for name, epochs in (("ae", 100), ("vae", 100), ("vqvae", 40)):
        recipe, per_epoch = fit(name, dataset, out, max(1, int(epochs * scale)))
        mg.manual_seed(0)
        samples = recipe.sample(1000)
        probs = mg.softmax(classifier.logits(samples), axis=1).numpy()
        ratio, confidence = smoothness(name, recipe, classifier, x)
        metrics = recipe.evaluate(x, y)
        rows.append({"model": name, "recon_mse": metrics["recon_mse"], "classifier_score": classifier_score(probs),
                     "sample_confidence": float(probs.max(1).mean()), "jump_ratio": ratio,
                     "midpoint_confidence": confidence, "seconds_per_epoch": per_epoch,
                     **{k: v for k, v in metrics.items() if k in ("nll_nats", "codebook_perplexity")}})
        print(json.dumps(rows[-1]))
    print("\n| model | recon MSE | classifier score (max 10) | sample confidence | jump ratio | "
          "midpoint confidence | s / epoch |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['recon_mse']:.4f} | {r['classifier_score']:.2f} | {r['sample_confidence']:.2f} | "
              f"{r['jump_ratio']:.2f} | {r['midpoint_confidence']:.2f} | {r['seconds_per_epoch']:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--quick", action="store_true", help="a tenth of the epochs (a smoke run)")
    parser.add_argument("--table", action="store_true", help="also train AE, VAE, VQ-VAE and print the table")
    parser.add_argument("--out", default=os.path.join("runs", "ae-vs-vae"))
    parser.add_argument("--img", default=os.path.join("docs", "img"))
    args = parser.parse_args()
    mg.manual_seed(0)
    latent_plots(args.dataset, args.out, args.img, 10 if args.quick else 100)
    if args.table:
        table(args.dataset, args.out, args.quick)


if __name__ == "__main__":
    main()
