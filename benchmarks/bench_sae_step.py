"""How close is one PatchSAE training step to what this machine can do?

For each shape (tokens N, width D, latents S) it times, in one run:
  * ours:   a full `train_sae` step (forward, backward, the non-finite check, decoder-norm handling, Adam,
            fired counters);
  * matmul: the five dense fp32 products a step needs, (N,D)x(D,S), (N,S)x(S,D), (N,D)x(D,S), (S,N)x(N,D),
            (D,N)x(N,S), each timed alone with `patchsae.core.matmul_flops`;
  * naive:  the same step written with plain autograd (no fused encoder backward).
It prints achieved FLOP/s = 10·N·D·S / step time, and the ratio ours / matmul (1.0 = the step costs exactly its
products) and ours vs naive. Usage: python benchmarks/bench_sae_step.py [--device cuda] [--shapes toy,paper]
"""
from __future__ import annotations

import argparse
import time

import torch

from patchsae.core import matmul_flops
from patchsae.sae import PatchSAE, _not_finite, sae_loss

SHAPES = {  # name: (tokens per step, width, latents)
    "toy": (64 * 65, 96, 16 * 96),  # the toy profile's step: 64 images x 65 tokens, 96 -> 1,536
    "paper": (1024, 768, 64 * 768),  # ViT-B/16 -> 49,152 latents; 1,024 tokens (the paper's 25,216 on a GPU)
    "paper-gpu": (128 * 197, 768, 64 * 768),  # the paper's full step: 128 images x 197 tokens
}


def _sync(device):
    if device.type == "cuda": torch.cuda.synchronize()


def time_steps(step, device, warmup: int = 2, repeats: int = 5) -> float:
    for _ in range(warmup): step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats): step()
    _sync(device)
    return (time.perf_counter() - t0) / repeats


def ours_step(sae, opt, z, since_fired):
    out = sae_loss(sae, z, 8e-5, "normalized", since_fired > 64)
    opt.zero_grad(set_to_none=True)
    assert torch.isfinite(out.loss)  # train_sae's guard: the loss, then the gradients, before the step
    out.loss.backward()
    assert not _not_finite(sae)
    sae.remove_parallel_grad()
    opt.step()
    sae.normalize_decoder()
    with torch.no_grad(): since_fired.copy_(torch.where(out.acts.amax(0) > 0, 0, since_fired + 1))


def naive_step(sae, opt, z):
    f = torch.relu((z - sae.b_dec) @ sae.W_enc + sae.b_enc)
    z_hat = f @ sae.W_dec + sae.b_dec
    loss = ((z_hat - z) ** 2 / z.norm(dim=-1, keepdim=True)).mean() + 8e-5 * f.abs().sum(-1).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    sae.remove_parallel_grad()
    opt.step()
    sae.normalize_decoder()


def bench(name: str, device: torch.device, repeats: int) -> dict:
    N, D, S = SHAPES[name]
    torch.manual_seed(0)
    sae = PatchSAE(D, S).to(device)
    opt = torch.optim.Adam(sae.parameters(), lr=4e-4)
    z = torch.randn(N, D, device=device) * 3
    since_fired = torch.zeros(S, dtype=torch.long, device=device)
    t_ours = time_steps(lambda: ours_step(sae, opt, z, since_fired), device, repeats=repeats)
    t_naive = time_steps(lambda: naive_step(sae, opt, z), device, repeats=repeats)
    products = [(N, D, S), (N, S, D), (N, D, S), (S, N, D), (D, N, S)]
    t_mm = sum(2 * m * k * n / matmul_flops(m, k, n, device) for m, k, n in products)
    flops = 10 * N * D * S
    return {"shape": name, "N": N, "D": D, "S": S, "ours_ms": 1e3 * t_ours, "matmul_ms": 1e3 * t_mm,
            "naive_ms": 1e3 * t_naive, "ours_tflops": flops / t_ours / 1e12, "matmul_tflops": flops / t_mm / 1e12,
            "ratio": t_mm / t_ours, "speedup_vs_naive": t_naive / t_ours}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--shapes", default="toy,paper")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    print(f"{'shape':<10} {'N':>6} {'D':>5} {'S':>6} {'ours ms':>9} {'matmul ms':>10} {'naive ms':>9} "
          f"{'TFLOP/s':>8} {'ratio':>6} {'vs naive':>8}")
    for name in args.shapes.split(","):
        r = bench(name, device, args.repeats)
        print(f"{r['shape']:<10} {r['N']:>6} {r['D']:>5} {r['S']:>6} {r['ours_ms']:>9.1f} {r['matmul_ms']:>10.1f} "
              f"{r['naive_ms']:>9.1f} {r['ours_tflops']:>8.3f} {r['ratio']:>6.2f} {r['speedup_vs_naive']:>7.2f}x")
    print("ratio = (time of the step's five matmuls alone) / (time of the full step) = achieved FLOP/s / matmul FLOP/s; "
          "target >= 0.7")


if __name__ == "__main__":
    main()
