"""VQ-VAE and VQ-VAE-2 on the digits: reconstructions, codebook usage, and samples through a
factorised prior (VQ-VAE) against the autoregressive PixelCNN priors (VQ-VAE-2).

    1. VQ-VAE (EMA codebook, 64 codes of size 16, a 4x4 grid of codes per image): test images and
       their reconstructions; the codebook perplexity exp(H(p_k)) says how many codes are in real use
    2. its samples, each of the 16 codes drawn independently from its usage frequency: the parts are
       plausible, the whole is not (nothing ties the positions together)
    3. VQ-VAE-2 (2x2 top codes, 4x4 bottom codes): samples drawn top-down through its gated PixelCNN
       priors p(k_top) p(k_bottom | k_top), which model the dependencies between positions

    python examples/vqvae_digits.py [--quick] [--dataset digits] [--img docs/img]
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
    folder = os.path.join(out, f"{model}-{dataset}")
    shutil.rmtree(folder, ignore_errors=True)
    return train(model, dataset, out=folder, epochs=epochs, options=options, stream=open(os.devnull, "w")).recipe


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--quick", action="store_true", help="a tenth of the epochs (a smoke run)")
    parser.add_argument("--out", default=os.path.join("runs", "vqvae-digits"))
    parser.add_argument("--img", default=os.path.join("docs", "img"))
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    mg.manual_seed(0)
    x, _ = mg.data.load(args.dataset, "test")

    vq = fit("vqvae", args.dataset, args.out, max(1, int(40 * scale)), ema=True)
    print("vqvae", json.dumps(vq.evaluate(x)))
    with mg.no_grad():
        x_hat = vq.model.decode(vq.model.encode(mg.tensor(x[:32]))).numpy()
    rows = [r for i in range(0, 32, 8) for r in (x[i:i + 8], x_hat[i:i + 8])]
    viz.image_grid(np.concatenate(rows), os.path.join(args.img, "vqvae_reconstructions.png"), nrow=8,
                   title="VQ-VAE: test images (odd rows) and reconstructions from 16 codes each")
    mg.manual_seed(1)
    viz.image_grid(vq.sample(64), os.path.join(args.img, "vqvae_factorised_samples.png"), nrow=8,
                   title="VQ-VAE, codes drawn independently per position")

    vq2 = fit("vqvae2", args.dataset, args.out, max(2, int(60 * scale)))
    print("vqvae2", json.dumps(vq2.evaluate(x)))
    mg.manual_seed(1)
    viz.image_grid(vq2.sample(64), os.path.join(args.img, "vqvae2_samples.png"), nrow=8,
                   title="VQ-VAE-2, codes drawn through the PixelCNN priors")
    print(f"wrote {args.img}/vqvae_reconstructions.png, vqvae_factorised_samples.png, vqvae2_samples.png")


if __name__ == "__main__":
    main()
