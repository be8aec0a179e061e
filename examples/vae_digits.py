"""A VAE on the digits: samples, latent interpolations, the 2-D latent map, and class-conditional
samples from the conditional VAE.

    1. VAE with a 16-D latent: samples z ~ N(0, I), and straight lines z = (1 - t) mu(x_a) + t mu(x_b)
       between the posterior means of test pairs, decoded (each row morphs one digit into another)
    2. VAE with a 2-D latent: the decoded grid over [-2.5, 2.5]^2 (the prior's bulk)
    3. Conditional VAE: one row per label y, with z ~ N(0, I) shared down each column, so a column
       keeps its style (slant, thickness) while the class changes
    It prints the test -ELBO and the IWAE bound on -log p(x) (k = 500) in nats and bits/dim.

    python examples/vae_digits.py [--quick] [--dataset digits] [--img docs/img]
"""
import argparse
import json
import os
import shutil

import numpy as np

import minigen as mg
from minigen import viz
from minigen.training import train


def fit(model, dataset, out, epochs, **options):
    folder = os.path.join(out, f"{model}-{dataset}" + "".join(f"-{k}{v}" for k, v in options.items()))
    shutil.rmtree(folder, ignore_errors=True)
    return train(model, dataset, out=folder, epochs=epochs, options=options, stream=open(os.devnull, "w")).recipe


def interpolations(recipe, x, pairs=8, steps=10, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.choice(len(x), pairs, replace=False), rng.choice(len(x), pairs, replace=False)
    with mg.no_grad():
        mu_a = recipe.model.encode(mg.tensor(x[a])).mean
        mu_b = recipe.model.encode(mg.tensor(x[b])).mean
        rows = [recipe.model.decode((1 - t) * mu_a + t * mu_b).mean.numpy() for t in np.linspace(0, 1, steps)]
    return np.stack(rows, axis=1).reshape((pairs * steps,) + x.shape[1:])   # row i: pair i from a to b


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--quick", action="store_true", help="a tenth of the epochs (a smoke run)")
    parser.add_argument("--out", default=os.path.join("runs", "vae-digits"))
    parser.add_argument("--img", default=os.path.join("docs", "img"))
    args = parser.parse_args()
    epochs = 10 if args.quick else 100
    mg.manual_seed(0)
    x, y = mg.data.load(args.dataset, "test")

    vae = fit("vae", args.dataset, args.out, epochs)
    metrics = vae.evaluate(x)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}))
    mg.manual_seed(1)
    viz.image_grid(vae.sample(64), os.path.join(args.img, "vae_samples.png"), nrow=8,
                   title="VAE samples: decoder means at z ~ N(0, I)")
    viz.image_grid(interpolations(vae, x), os.path.join(args.img, "vae_interpolation.png"), nrow=10,
                   title="VAE: decoded straight lines between the posterior means of two test digits")

    vae2 = fit("vae", args.dataset, args.out, epochs, latent_dim=2)

    def decode(codes):
        with mg.no_grad():
            return vae2.model.decode(mg.tensor(codes)).mean.numpy()

    viz.latent_manifold(decode, os.path.join(args.img, "vae_latent_map.png"), bounds=(-2.5, 2.5), n=15,
                        title="2-D VAE: the decoded latent plane")

    cvae = fit("cvae", args.dataset, args.out, epochs)
    print("cvae", json.dumps({k: round(v, 4) for k, v in cvae.evaluate(x, y).items() if isinstance(v, float)}))
    z = mg.randn(10, cvae.model.latent_dim)
    with mg.no_grad():
        rows = [cvae.model.decode(z, mg.full((10,), k, dtype="int64")).mean.numpy() for k in range(10)]
    viz.image_grid(np.concatenate(rows), os.path.join(args.img, "cvae_samples.png"), nrow=10,
                   title="CVAE: row = label y, column = one shared z (the style)")
    print(f"wrote {args.img}/vae_samples.png, vae_interpolation.png, vae_latent_map.png, cvae_samples.png")


if __name__ == "__main__":
    main()
