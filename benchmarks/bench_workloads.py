"""Five training workloads in minigen and in PyTorch, side by side: ms per step and peak memory.

    python benchmarks/bench_workloads.py [--device cpu|cuda] [--workloads W1,W2,...] [--steps 20] [--threads N]
    python benchmarks/bench_workloads.py --families [--family-steps 12]     # + ms/step of `minigen train`

W1 MLP-VAE      B=128: encoder 784-512-512, heads 512->20 (mu, log_var); decoder 20-512-512-784; ReLU;
                sum(BCE-with-logits)/B + KL/B, eps ~ N(0, 1) each step; Adam 1e-3.
W2 DCGAN        B=64: D = Conv(1->64, k4 s2 p1) LReLU(0.2) Conv(64->128, k4 s2 p1) BN LReLU Linear(6272->1);
                G = Linear(100->6272) reshape (128, 7, 7) BN ReLU ConvT(128->64, k4 s2 p1) BN ReLU
                ConvT(64->1, k4 s2 p1) Tanh. A step: G forward; a D step on real and fake.detach(); a G
                step through D. BCE-with-logits; Adam(2e-4, betas (0.5, 0.999)).
W3 RealNVP-2D   B=512 two-moons: 8 affine couplings, masks [0,1]/[1,0] alternating; separate s- and t-MLPs
                2-256-256-2 (ReLU), s = tanh(.); y = x m + (1 - m)(x exp(s) + t); NLL under N(0, I); Adam 1e-3.
W4 DDPM U-Net   B=64, 28x28x1, T=1000, linear betas 1e-4..0.02: sinusoidal(128) -> Linear-SiLU-Linear,
                SiLU of it projected into every ResBlock; ResBlock = GN(8)-SiLU-conv3x3 (+ time projection),
                GN(8)-SiLU-conv3x3, 1x1 skip when channels change; conv_in(1->32) @28 -> RB(32->32) ->
                conv s2 -> RB(32->64) @14 -> conv s2 -> RB(64->64) @7 + 4-head self-attention -> nearest
                x2 + conv -> concat -> RB(128->64) @14 -> nearest x2 + conv(64->32) -> concat ->
                RB(64->32) @28 -> GN-SiLU-conv(32->1). Loss: eps-prediction MSE; Adam 2e-4.
W5 per-op       y = (x * w + b).sum(); y.backward() on 10x10 tensors that all require grad: microseconds
                per iteration, averaged over 1000 iterations.

Each (framework, workload) pair runs in a fresh child process, one after the other (never two at
once), so that its peak resident memory (VmHWM) is its own: the figure includes the interpreter and
the libraries, which is what a user's process costs. Times are the median of --steps steps after
--warmup warm-up steps. Both frameworks use their default threads (PyTorch: one per core; NumPy:
OpenBLAS's, or what minigen's thread policy sets). Nothing here is asserted in tests.

--families times `minigen train MODEL` for every family on its usual dataset (in-process, the
trainer's own loop, the median time between steps) and the end-of-training preview (samples.png).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

WORKLOADS = ("W1", "W2", "W3", "W4", "W5")
TITLES = {"W1": "W1 MLP-VAE", "W2": "W2 DCGAN step (D + G)", "W3": "W3 RealNVP-2D",
          "W4": "W4 DDPM U-Net", "W5": "W5 per-op overhead (us per 3 ops + backward)"}


# ====================================================================================== data
def mnist_batch(n, seed=0):
    """n mnist-5k images in [0, 1] as float32 (n, 1, 28, 28): real pixels, not noise."""
    import numpy as np
    import minigen as mg
    x, _ = mg.data.load("mnist-5k", split="train")
    idx = np.random.default_rng(seed).choice(len(x), n, replace=False)
    return np.ascontiguousarray(x[idx], dtype=np.float32)


def moons_batch(n, seed=0):
    import numpy as np
    import minigen as mg
    x, _ = mg.data.load("moons", split="train")
    idx = np.random.default_rng(seed).choice(len(x), n, replace=False)
    return np.ascontiguousarray(x[idx], dtype=np.float32)


# ================================================================================== minigen
def mg_w1(device):
    import minigen as mg
    from minigen import nn
    from minigen.nn import functional as F
    B = 128
    enc = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU())
    mu_head, log_var_head = nn.Linear(512, 20), nn.Linear(512, 20)
    dec = nn.Sequential(nn.Linear(20, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 784))
    modules = [enc, mu_head, log_var_head, dec]
    for m in modules:
        m.to(device)
    opt = mg.optim.Adam([p for m in modules for p in m.parameters()], lr=1e-3)
    x = mg.tensor(mnist_batch(B).reshape(B, 784), device=device)

    def step():
        opt.zero_grad()
        h = enc(x)
        mu, log_var = mu_head(h), log_var_head(h)
        z = mu + mg.exp(0.5 * log_var) * mg.randn(B, 20, device=device)
        logits = dec(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * (1 + log_var - mu * mu - mg.exp(log_var)).sum()
        loss = (rec + kl) * (1.0 / B)
        loss.backward()
        opt.step()
    return step


def mg_w2(device):
    import minigen as mg
    from minigen import nn
    from minigen.nn import functional as F
    B = 64
    D = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1),
                      nn.BatchNorm2d(128), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(6272, 1)).to(device)
    G = nn.Sequential(nn.Linear(100, 6272), nn.Unflatten((128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh()).to(device)
    opt_d = mg.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = mg.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = mg.tensor(mnist_batch(B) * 2 - 1, device=device)
    ones, zeros = mg.ones(B, 1, device=device), mg.zeros(B, 1, device=device)

    def step():
        fake = G(mg.randn(B, 100, device=device))
        opt_d.zero_grad()
        loss_d = (F.binary_cross_entropy_with_logits(D(real), ones)
                  + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros))
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)
        loss_g.backward()
        opt_g.step()
    return step


def mg_w3(device):
    import math
    import minigen as mg
    from minigen import nn
    B, K = 512, 8

    def mlp():
        return nn.Sequential(nn.Linear(2, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2))
    s_nets = nn.ModuleList([mlp() for _ in range(K)]).to(device)
    t_nets = nn.ModuleList([mlp() for _ in range(K)]).to(device)
    masks = [mg.tensor([[0.0, 1.0]] if k % 2 == 0 else [[1.0, 0.0]], device=device) for k in range(K)]
    opt = mg.optim.Adam(list(s_nets.parameters()) + list(t_nets.parameters()), lr=1e-3)
    x0 = mg.tensor(moons_batch(B), device=device)

    def step():
        opt.zero_grad()
        y, log_det = x0, 0.0
        for m, s_net, t_net in zip(masks, s_nets, t_nets):
            kept = y * m
            s = mg.tanh(s_net(kept)) * (1 - m)
            t = t_net(kept) * (1 - m)
            y = kept + (1 - m) * (y * mg.exp(s) + t)
            log_det = log_det + s.sum(axis=1)
        log_pz = -0.5 * (y * y).sum(axis=1) - math.log(2 * math.pi)
        loss = -(log_pz + log_det).mean()
        loss.backward()
        opt.step()
    return step


def mg_unet(device):
    import math
    import minigen as mg
    from minigen import nn
    from minigen.nn import functional as F

    class ResBlock(nn.Module):
        def __init__(self, c_in, c_out, emb):
            super().__init__()
            self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
            self.time = nn.Linear(emb, c_out)
            self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
            self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

        def forward(self, x, emb):
            h = self.conv1(F.silu(self.norm1(x))) + self.time(emb).reshape(x.shape[0], -1, 1, 1)
            h = self.conv2(F.silu(self.norm2(h)))
            return (x if self.skip is None else self.skip(x)) + h

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.t1, self.t2 = nn.Linear(128, 128), nn.Linear(128, 128)
            self.conv_in = nn.Conv2d(1, 32, 3, padding=1)
            self.rb1 = ResBlock(32, 32, 128)
            self.down1 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
            self.rb2 = ResBlock(32, 64, 128)
            self.down2 = nn.Conv2d(64, 64, 3, stride=2, padding=1)
            self.rb3 = ResBlock(64, 64, 128)
            self.attn = nn.SelfAttention2d(64, num_heads=4, num_groups=8)
            self.up1 = nn.Conv2d(64, 64, 3, padding=1)
            self.rb4 = ResBlock(128, 64, 128)
            self.up2 = nn.Conv2d(64, 32, 3, padding=1)
            self.rb5 = ResBlock(64, 32, 128)
            self.norm_out, self.conv_out = nn.GroupNorm(8, 32), nn.Conv2d(32, 1, 3, padding=1)

        def forward(self, x, t):
            half = 64
            freqs = mg.exp(mg.arange(half, device=x.device).astype("float32") * (-math.log(10000.0) / half))
            angles = t.astype("float32").reshape(-1, 1) * freqs.reshape(1, half)
            e = mg.concatenate([mg.sin(angles), mg.cos(angles)], axis=1)
            emb = F.silu(self.t2(F.silu(self.t1(e))))
            h1 = self.rb1(self.conv_in(x), emb)                          # 32 @28
            h2 = self.rb2(self.down1(h1), emb)                           # 64 @14
            h = self.attn(self.rb3(self.down2(h2), emb))                 # 64 @7
            h = self.rb4(mg.concatenate([self.up1(F.upsample(h, 2)), h2], axis=1), emb)
            h = self.rb5(mg.concatenate([self.up2(F.upsample(h, 2)), h1], axis=1), emb)
            return self.conv_out(F.silu(self.norm_out(h)))
    return UNet


def mg_w4(device):
    import numpy as np
    import minigen as mg
    from minigen.nn import functional as F
    B, T = 64, 1000
    model = mg_unet(device)().to(device)
    opt = mg.optim.Adam(model.parameters(), lr=2e-4)
    betas = np.linspace(1e-4, 0.02, T)
    alpha_bar = mg.tensor(np.cumprod(1 - betas).astype(np.float32), device=device)
    x0 = mg.tensor(mnist_batch(B) * 2 - 1, device=device)

    def step():
        opt.zero_grad()
        t = mg.randint(0, T, size=(B,), device=device)
        eps = mg.randn(B, 1, 28, 28, device=device)
        a = alpha_bar[t].reshape(B, 1, 1, 1)
        x_t = mg.sqrt(a) * x0 + mg.sqrt(1 - a) * eps
        loss = F.mse_loss(model(x_t, t), eps)
        loss.backward()
        opt.step()
    return step


def mg_w5(device):
    import minigen as mg
    x, w, b = (mg.randn(10, 10, device=device, requires_grad=True) for _ in range(3))

    def step():
        for _ in range(1000):
            y = (x * w + b).sum()
            y.backward()
    return step


# ==================================================================================== PyTorch
def torch_w1(device):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    B = 128
    enc = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU())
    mu_head, log_var_head = nn.Linear(512, 20), nn.Linear(512, 20)
    dec = nn.Sequential(nn.Linear(20, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 784))
    modules = nn.ModuleList([enc, mu_head, log_var_head, dec]).to(device)
    opt = torch.optim.Adam(modules.parameters(), lr=1e-3)
    x = torch.tensor(mnist_batch(B).reshape(B, 784), device=device)

    def step():
        opt.zero_grad()
        h = enc(x)
        mu, log_var = mu_head(h), log_var_head(h)
        z = mu + torch.exp(0.5 * log_var) * torch.randn(B, 20, device=device)
        rec = F.binary_cross_entropy_with_logits(dec(z), x, reduction="sum")
        kl = -0.5 * (1 + log_var - mu * mu - torch.exp(log_var)).sum()
        ((rec + kl) / B).backward()
        opt.step()
    return step


def torch_w2(device):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    B = 64
    D = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1),
                      nn.BatchNorm2d(128), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(6272, 1)).to(device)
    G = nn.Sequential(nn.Linear(100, 6272), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh()).to(device)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.tensor(mnist_batch(B) * 2 - 1, device=device)
    ones, zeros = torch.ones(B, 1, device=device), torch.zeros(B, 1, device=device)

    def step():
        fake = G(torch.randn(B, 100, device=device))
        opt_d.zero_grad()
        loss_d = (F.binary_cross_entropy_with_logits(D(real), ones)
                  + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros))
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        F.binary_cross_entropy_with_logits(D(fake), ones).backward()
        opt_g.step()
    return step


def torch_w3(device):
    import math
    import torch
    import torch.nn as nn
    B, K = 512, 8

    def mlp():
        return nn.Sequential(nn.Linear(2, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2))
    s_nets = nn.ModuleList([mlp() for _ in range(K)]).to(device)
    t_nets = nn.ModuleList([mlp() for _ in range(K)]).to(device)
    masks = [torch.tensor([[0.0, 1.0]] if k % 2 == 0 else [[1.0, 0.0]], device=device) for k in range(K)]
    opt = torch.optim.Adam(list(s_nets.parameters()) + list(t_nets.parameters()), lr=1e-3)
    x0 = torch.tensor(moons_batch(B), device=device)

    def step():
        opt.zero_grad()
        y, log_det = x0, 0.0
        for m, s_net, t_net in zip(masks, s_nets, t_nets):
            kept = y * m
            s = torch.tanh(s_net(kept)) * (1 - m)
            t = t_net(kept) * (1 - m)
            y = kept + (1 - m) * (y * torch.exp(s) + t)
            log_det = log_det + s.sum(dim=1)
        log_pz = -0.5 * (y * y).sum(dim=1) - math.log(2 * math.pi)
        (-(log_pz + log_det).mean()).backward()
        opt.step()
    return step


def torch_w4(device):
    import math
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    B, T = 64, 1000

    class ResBlock(nn.Module):
        def __init__(self, c_in, c_out, emb):
            super().__init__()
            self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
            self.time = nn.Linear(emb, c_out)
            self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
            self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

        def forward(self, x, emb):
            h = self.conv1(F.silu(self.norm1(x))) + self.time(emb).reshape(x.shape[0], -1, 1, 1)
            h = self.conv2(F.silu(self.norm2(h)))
            return (x if self.skip is None else self.skip(x)) + h

    class Attention(nn.Module):
        def __init__(self, c, heads):
            super().__init__()
            self.heads = heads
            self.norm, self.qkv, self.proj = nn.GroupNorm(8, c), nn.Linear(c, 3 * c), nn.Linear(c, c)

        def forward(self, x):
            N, C, H, W = x.shape
            P, d = H * W, C // self.heads
            h = self.norm(x).reshape(N, C, P).transpose(1, 2)
            q, k, v = self.qkv(h).reshape(N, P, 3, self.heads, d).permute(2, 0, 3, 1, 4)
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
            out = (a @ v).transpose(1, 2).reshape(N, P, C)
            return x + self.proj(out).transpose(1, 2).reshape(N, C, H, W)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.t1, self.t2 = nn.Linear(128, 128), nn.Linear(128, 128)
            self.conv_in = nn.Conv2d(1, 32, 3, padding=1)
            self.rb1 = ResBlock(32, 32, 128)
            self.down1 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
            self.rb2 = ResBlock(32, 64, 128)
            self.down2 = nn.Conv2d(64, 64, 3, stride=2, padding=1)
            self.rb3 = ResBlock(64, 64, 128)
            self.attn = Attention(64, 4)
            self.up1 = nn.Conv2d(64, 64, 3, padding=1)
            self.rb4 = ResBlock(128, 64, 128)
            self.up2 = nn.Conv2d(64, 32, 3, padding=1)
            self.rb5 = ResBlock(64, 32, 128)
            self.norm_out, self.conv_out = nn.GroupNorm(8, 32), nn.Conv2d(32, 1, 3, padding=1)

        def forward(self, x, t):
            half = 64
            freqs = torch.exp(torch.arange(half, device=x.device, dtype=torch.float32) * (-math.log(10000.0) / half))
            angles = t.float().reshape(-1, 1) * freqs.reshape(1, half)
            emb = F.silu(self.t2(F.silu(self.t1(torch.cat([torch.sin(angles), torch.cos(angles)], 1)))))
            h1 = self.rb1(self.conv_in(x), emb)
            h2 = self.rb2(self.down1(h1), emb)
            h = self.attn(self.rb3(self.down2(h2), emb))
            h = self.rb4(torch.cat([self.up1(F.interpolate(h, scale_factor=2, mode="nearest")), h2], 1), emb)
            h = self.rb5(torch.cat([self.up2(F.interpolate(h, scale_factor=2, mode="nearest")), h1], 1), emb)
            return self.conv_out(F.silu(self.norm_out(h)))

    model = UNet().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    alpha_bar = torch.tensor(np.cumprod(1 - np.linspace(1e-4, 0.02, T)).astype(np.float32), device=device)
    x0 = torch.tensor(mnist_batch(B) * 2 - 1, device=device)

    def step():
        opt.zero_grad()
        t = torch.randint(0, T, (B,), device=device)
        eps = torch.randn(B, 1, 28, 28, device=device)
        a = alpha_bar[t].reshape(B, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps
        F.mse_loss(model(x_t, t), eps).backward()
        opt.step()
    return step


def torch_w5(device):
    import torch
    x, w, b = (torch.randn(10, 10, device=device, requires_grad=True) for _ in range(3))

    def step():
        for _ in range(1000):
            y = (x * w + b).sum()
            y.backward()
    return step


# ================================================================================ measuring
def peak_rss_mb():
    """This process's peak resident set (VmHWM), in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(framework, workload, device, steps, warmup):
    """Time one workload in this (fresh) process; print one JSON line."""
    if framework == "torch":
        import torch
        if os.environ.get("BENCH_THREADS"):
            torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
        torch.manual_seed(0)
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        threads = torch.get_num_threads()
    else:
        import minigen as mg
        mg.manual_seed(0)
        sync = ((lambda: mg.device(device).xp.cuda.Stream.null.synchronize())
                if device.startswith("cuda") else (lambda: None))
        threads = blas_threads()
    step = globals()[f"{framework}_{workload.lower()}"](device)
    if workload == "W5":
        steps, warmup = max(5, steps // 4), 1
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1e3
    if workload == "W5":
        ms = ms / 1000 * 1e3        # microseconds per iteration
    print(json.dumps({"framework": framework, "workload": workload, "time": ms, "peak_mb": peak_rss_mb(),
                      "threads": threads}))


def blas_threads():
    from minigen.backend import parallel
    numpy_blas = [n for lib, n in parallel.blas_threads().items() if "openblas64" in lib or "numpy" in lib]
    return f"pool {parallel.get_num_threads()}, BLAS {numpy_blas[0] if numpy_blas else '?'}"


def measure(framework, workload, device, steps, warmup, threads=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", framework, workload, "--device", device,
           "--steps", str(steps), "--warmup", str(warmup)]
    env = dict(os.environ)
    if threads:
        env.update(BENCH_THREADS=str(threads), MINIGEN_NUM_THREADS=str(threads))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return {"error": tail[0]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def workload_table(device, workloads, steps, warmup, with_torch, threads=None):
    rows = []
    print(f"{'workload':<46}{'PyTorch':>10}{'minigen':>10}{'ratio':>8}{'peak MB mg/pt':>16}")
    for w in workloads:
        mine = measure("mg", w, device, steps, warmup, threads)
        theirs = (measure("torch", w, device, steps, warmup, threads) if with_torch
                  else {"error": "not installed"})
        rows.append((w, mine, theirs))
        unit = "" if w != "W5" else " us"
        t_mg = f"{mine['time']:.1f}" if "time" in mine else "error"
        t_pt = f"{theirs['time']:.1f}" if "time" in theirs else "-"
        ratio = f"{mine['time'] / theirs['time']:.2f}x" if "time" in mine and "time" in theirs else "-"
        mem = (f"{mine.get('peak_mb', 0):.0f} / {theirs['peak_mb']:.0f}" if "peak_mb" in theirs
               else f"{mine.get('peak_mb', 0):.0f} / -")
        print(f"{TITLES[w] + unit:<46}{t_pt:>10}{t_mg:>10}{ratio:>8}{mem:>16}", flush=True)
        for who, r in (("minigen", mine), ("PyTorch", theirs)):
            if "error" in r and r["error"] != "not installed":
                print(f"    {who} failed: {r['error']}")
    threads = {r[1].get("threads") for r in rows} - {None}
    print(f"(ms per step, median of {steps} after {warmup} warm-up; W5 in us per iteration; "
          f"threads minigen: {sorted(threads) or '?'}, torch: "
          f"{sorted({r[2].get('threads') for r in rows} - {None}) or '-'})")
    return rows


# ======================================================================= `minigen train` families
FAMILIES = [   # model, dataset, extra options (the recipe's defaults otherwise)
    ("ae", "mnist-5k", {}), ("vae", "mnist-5k", {}), ("cvae", "mnist-5k", {}),
    ("vqvae", "mnist-5k", {}), ("vqvae2", "mnist-5k", {}), ("pixelcnn", "mnist-5k", {}),
    ("gan", "mnist-5k", {}), ("dcgan", "mnist-5k", {}), ("cgan", "mnist-5k", {}),
    ("wgan-gp", "8gaussians", {}), ("planar", "8gaussians", {}), ("realnvp", "digits", {}),
    ("realnvp", "mnist-5k", {}), ("glow", "mnist-5k", {}), ("ddpm", "mnist-5k", {}),
]


def family_table(device, steps):
    from minigen.training import train, get
    print(f"\n`minigen train MODEL --dataset NAME --steps {steps}` (median ms per step after 2; preview = "
          "samples.png at the end; default run = default steps x ms/step + preview)")
    print(f"{'model':<10}{'dataset':<12}{'ms/step':>10}{'preview s':>11}{'default steps':>15}"
          f"{'default run':>13}")
    for model, dataset, options in FAMILIES:
        stamps = []
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            try:
                run = train(model, dataset, out=out, steps=steps, device=device, options=options,
                            callback=lambda step, metrics: stamps.append(time.perf_counter()),
                            stream=open(os.devnull, "w"))
            except Exception as e:     # a family that fails should not hide the others' numbers
                print(f"{model:<10}{dataset:<12}  failed: {type(e).__name__}: {e}")
                continue
            total = time.perf_counter() - t0
        per_step = statistics.median(b - a for a, b in zip(stamps[2:], stamps[3:]))
        preview = total - (stamps[-1] - t0)
        default_steps = default_length(get(model), dataset, options)
        minutes = (default_steps * per_step + preview) / 60
        print(f"{model:<10}{dataset:<12}{per_step * 1e3:>10.1f}{preview:>11.1f}{default_steps:>15}"
              f"{minutes:>11.1f} m", flush=True)
        del run


def default_length(recipe, dataset, options):
    """Steps of `minigen train MODEL --dataset NAME` with the family's default epochs and batch size
    (on NAME: the recipe's dataset_defaults included)."""
    import minigen as mg
    from minigen.recipe import dataset_info, family_defaults
    config = {**family_defaults(recipe, dataset_info(dataset)), **options}
    x, _ = mg.data.load(dataset, split="train")
    batch = min(config.get("batch_size", 64), len(x))
    per_epoch = len(x) // batch if recipe.drop_last else -(-len(x) // batch)
    return int(config.get("epochs", 1)) * per_epoch


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--no-torch", action="store_true", help="minigen only")
    p.add_argument("--threads", type=int, help="threads for both frameworks (default: each one's own "
                   "default, one per core); --threads 1 compares single cores, which a busy machine "
                   "disturbs far less")
    p.add_argument("--families", action="store_true", help="also time `minigen train` for every family")
    p.add_argument("--family-steps", type=int, default=12)
    p.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "WORKLOAD"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return run_child(*args.child, args.device, args.steps, args.warmup)

    try:
        import torch  # noqa: F401
        with_torch = not args.no_torch
    except ImportError:
        with_torch = False
        print("PyTorch is not installed: minigen only (for the comparison: pip install torch==2.13.0)")
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  device {args.device}  cores {os.cpu_count()}  "
          f"load average {' '.join(load)}")
    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    workload_table(args.device, workloads, args.steps, args.warmup, with_torch, args.threads)
    if args.families:
        family_table(args.device, args.family_steps)


if __name__ == "__main__":
    main()
