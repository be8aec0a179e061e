"""Data-parallel training in a loop of your own: a VAE on the digits, on as many ranks as you start.

    python examples/ddp_custom_loop.py --out runs/ddp-1.npz                 # one process, no MPI
    mpiexec -n 2 python examples/ddp_custom_loop.py --compare runs/ddp-1.npz   # two ranks (".[mpi]")

Whatever the number of ranks, the global batch is --batch-size, so every run takes the same steps
and ends with the same weights, up to the order of float32 sums: the losses printed agree, and
--compare prints how far the weights are from those of an earlier run (about 1e-6 here, against
weights of order 0.1). The digest printed shows that the ranks hold identical copies of the model
(a digest differs between 1 and 2 ranks: it sees the last bit). ``minigen train`` does all of this for
you (``mpiexec -n 2 minigen train vae --dataset digits``); this file shows the five pieces:

    dist = mg.distributed.init()                               1. who am I, how many are we
    DataLoader(..., shard=dist)                                2. my slice of every global batch
    DataParallel(Adam(...), dist)                              3. rank 0's start, averaged gradients
    with shard_draws(dist, len(x)): loss = ...                 4. my rows of the batch's random draws
    dist.allreduce_sum(...)   /   if dist.is_root: save        5. metrics over all ranks; one writer
"""
import argparse
import hashlib
import os

import numpy as np

import minigen as mg
from minigen.distributed import DataParallel, shard_draws, sync_batch_norm
from minigen.models.vae import VAE


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch, over all ranks")
    parser.add_argument("--out", default="runs/ddp-custom-loop.npz")
    parser.add_argument("--compare", metavar="FILE", help="weights saved by an earlier run, to compare")
    args = parser.parse_args()

    dist = mg.distributed.init()                   # a world of one when not started by mpiexec
    mg.manual_seed(0)                              # the same random stream on every rank
    x, _ = mg.data.load("digits", split="train")
    loader = mg.data.DataLoader(x, batch_size=args.batch_size, drop_last=True, seed=0, shard=dist)

    model = VAE(x.shape[1:], latent_dim=8, hidden=128)
    sync_batch_norm(model, dist)                   # (this VAE has none; a model with BatchNorm would)
    opt = DataParallel(mg.optim.Adam(model.parameters(), lr=1e-3), dist)   # broadcasts rank 0's state
    if dist.is_root:
        print(f"{dist.world_size} rank(s), backend {dist.backend}: global batch {args.batch_size}, "
              f"{loader.local_batch_size} examples per rank, {len(loader)} steps per epoch")

    for epoch in range(args.epochs):
        total = np.zeros(2)                        # sum of losses, number of steps
        for xb, _ in loader.batches(epoch):
            with shard_draws(dist, len(xb)):       # binarisation and eps: my rows of the global draw
                x_obs = (mg.rand_like(xb) < xb).astype(xb.dtype)
                loss = -model.elbo(x_obs)["elbo"].mean()      # the mean over MY shard
            opt.zero_grad()
            loss.backward()
            opt.step()                             # averages the ranks' gradients, then Adam
            total += (loss.item(), 1)
        total = dist.allreduce_sum(total)          # every rank's sums: the mean over ranks below
        if dist.is_root:
            print(f"epoch {epoch + 1}: -ELBO {total[0] / total[1]:.3f} nats (mean over all ranks)")

    digest = hashlib.sha256(b"".join(p.numpy().tobytes() for p in model.parameters())).hexdigest()[:16]
    digests = dist.allgather_object(digest)
    if dist.is_root:
        print(f"weights digest {digest}; the same on every rank: {len(set(digests)) == 1}")
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        weights = {k: v.numpy() for k, v in model.state_dict().items()}
        mg.save(weights, args.out)                  # one writer
        print(f"saved {args.out}")
        if args.compare:
            earlier = mg.load(args.compare)
            gap = max(float(np.abs(weights[k] - earlier[k]).max()) for k in weights)
            print(f"largest weight difference from {args.compare}: {gap:.2e} "
                  f"(largest weight {max(float(np.abs(w).max()) for w in weights.values()):.2f})")


if __name__ == "__main__":
    main()
