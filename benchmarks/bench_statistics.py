"""What does the statistics pass cost beyond the forward passes it needs?

For each shape (a CLIP ViT with random weights, an SAE with random weights, images of that size) it times, in
one run and on the same batches:
  * base:   the backbone run to the hook, then the SAE encoder, chunked as the pass chunks it (the work any
            statistics pass must do);
  * ours:   `latent_statistics`: the same forward passes, plus every statistic of §3.2 and the counts of Eq. 4-5;
  * naive:  the reference code's design: one pass for frequency and mean activation, one for class-level
            counts, one for the top-k reference images, each running the backbone and the SAE again.
It prints ours / base (target ≤ 1.25) and naive / ours (target ≥ 2.5).
Usage: python benchmarks/bench_statistics.py [--device cuda] [--shapes toy,paper]
"""
from __future__ import annotations

import argparse
import time

import torch

from patchsae.core import get_config
from patchsae.models import Backbone, tiny_clip_model
from patchsae.sae import PatchSAE
from patchsae.statistics import _chunk_images, encode_images, latent_statistics

SHAPES = {  # name: (profile whose backbone is built, images, batch size)
    "toy": ("toy", 2048, 256),  # tiny CLIP 32 px, 65 tokens, width 96 -> 1,536 latents
    "paper": ("paper", 16, 8),  # ViT-B/16 224 px, 197 tokens, width 768 -> 49,152 latents (few images on a CPU)
}


def _sync(device):
    if device.type == "cuda": torch.cuda.synchronize()


def build(profile: str, device):
    cfg = get_config(profile)
    if cfg.backbone.arch == "tiny-clip":
        model = tiny_clip_model(cfg)
    else:
        import open_clip
        model = open_clip.create_model(cfg.backbone.arch, pretrained=None)
    backbone = Backbone(model.to(device).eval(), None, cfg.backbone.arch, cfg.data.image_size)
    sae = PatchSAE(cfg.backbone.width, cfg.d_sae, torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad(): sae.b_enc.fill_(-0.5)  # sparse, like a trained SAE
    return cfg, backbone, sae


def batches(cfg, n, bs, device, g):
    for start in range(0, n, bs):
        m = min(bs, n - start)
        x = torch.randn(m, 3, cfg.data.image_size, cfg.data.image_size, generator=g).to(device)
        yield x, torch.randint(0, cfg.data.n_classes, (m,), generator=g).to(device), torch.arange(start, start + m, device=device)


@torch.no_grad()
def base(backbone, sae, layer, data):
    for x, _, _ in data:
        z = backbone.residual(x, layer)
        step = _chunk_images(z.shape[1], sae.d_sae, z.device, None)
        for i in range(0, len(z), step): sae.encode(z[i:i + step])


@torch.no_grad()
def ours(backbone, sae, layer, data, n_classes):
    latent_statistics(sae, ((backbone.residual(x, layer), y, i) for x, y, i in data), n_classes)


@torch.no_grad()
def naive(backbone, sae, layer, make_data, n_classes):
    "Three passes, as the reference code's separate scripts: statistics, class counts, reference images."
    S = sae.d_sae
    fired, act_sum = torch.zeros(S, device=sae.W_enc.device), torch.zeros(S, device=sae.W_enc.device)
    for x, _, _ in make_data():  # 1: frequency and mean activation
        a = encode_images(sae, backbone.residual(x, layer))
        fired += (a.max_act > 0).sum(0); act_sum += a.mean_act.sum(0)
    counts = torch.zeros(n_classes, S, dtype=torch.long, device=sae.W_enc.device)
    for x, y, _ in make_data():  # 2: class-level counts
        counts.index_add_(0, y, encode_images(sae, backbone.residual(x, layer)).count_act)
    top_v, top_i = torch.full((10, S), -1.0, device=sae.W_enc.device), torch.full((10, S), -1, device=sae.W_enc.device)
    for x, _, i in make_data():  # 3: reference images
        m = encode_images(sae, backbone.residual(x, layer)).mean_act
        v, j = torch.cat([top_v, m]).topk(10, dim=0)
        top_v, top_i = v, torch.cat([top_i, i[:, None].expand(-1, S)]).gather(0, j)


def timed(fn, device) -> float:
    _sync(device); t0 = time.perf_counter(); fn(); _sync(device)
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--shapes", default="toy,paper")
    args = p.parse_args()
    device = torch.device(args.device)
    print(f"{'shape':8} {'images':>6} {'tokens':>6} {'S':>6} {'base s':>8} {'ours s':>8} {'naive s':>8} "
          f"{'ours/base':>9} {'naive/ours':>10}")
    for name in args.shapes.split(","):
        if name not in SHAPES:  # `make bench` passes the training bench's shapes too (e.g. paper-gpu)
            print(f"{name:8} (no such shape here; shapes: {', '.join(SHAPES)})"); continue
        profile, n, bs = SHAPES[name]
        cfg, backbone, sae = build(profile, device)
        layer = cfg.backbone.hook_layer
        make = lambda: batches(cfg, n, bs, device, torch.Generator().manual_seed(0))
        data = list(make())  # render once; every variant reads the same batches
        base(backbone, sae, layer, data[:1]); ours(backbone, sae, layer, data[:1], cfg.data.n_classes)  # warm-up
        t_base = timed(lambda: base(backbone, sae, layer, data), device)
        t_ours = timed(lambda: ours(backbone, sae, layer, data, cfg.data.n_classes), device)
        t_naive = timed(lambda: naive(backbone, sae, layer, lambda: iter(data), cfg.data.n_classes), device)
        print(f"{name:8} {n:6d} {cfg.n_tokens:6d} {sae.d_sae:6d} {t_base:8.2f} {t_ours:8.2f} {t_naive:8.2f} "
              f"{t_ours / t_base:9.2f} {t_naive / t_ours:9.2f}x")


if __name__ == "__main__":
    main()
