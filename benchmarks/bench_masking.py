"""What does the whole top-k masking sweep of Fig 5b cost, against one plain zero-shot pass?

For each shape (a CLIP ViT with random weights, an SAE with random weights, random images and
class-level counts) it times, in one run and on the same images:
  * plain:  one zero-shot pass (`predict`: the whole backbone, then the classifier);
  * ours:   `masked_predictions` over every setting of the sweep (k of the profile's `analysis.topk`
            plus "all", on/off, class/dataset/random with the profile's random seeds): the backbone
            to the hook and the SAE encoder once per batch, linear decoding, the last block at CLS;
  * naive:  `naive_predictions`, the definition: one full forward with the masked splice per
            setting. It is timed on every NAIVE_EVERY-th setting and scaled to the whole sweep (each
            of its settings costs the same full forward); its predictions must equal ours.
Plain and ours are the best of REPEATS runs. It prints ours / plain (targets: ≤ 3 at the paper
shape, ≤ 5 on toy) and naive / ours.
Usage: python benchmarks/bench_masking.py [--device cuda] [--shapes toy,paper]
"""
from __future__ import annotations

import argparse
import time

import torch
from bench_statistics import build  # the same random-weight backbone and sparse SAE per shape

from patchsae.data import LabelledImages
from patchsae.masking import (SELECTIONS, Rankings, masked_predictions, naive_predictions,
                              rank_latents, sweep_settings)
from patchsae.models import predict

SHAPES = {  # name: (profile whose backbone is built, images, batch size)
    "toy": ("toy", 512, 256),  # tiny CLIP 32 px, 65 tokens, 96 -> 1,536 latents, hook: block 2 of 4
    "paper": ("paper", 8, 8),  # ViT-B/16 224 px, 197 tokens, 768 -> 49,152, hook: block 10 of 12
}
N_CLASSES = 20
NAIVE_EVERY = 8
REPEATS = 3  # plain and ours: best of 3


class TensorImages(LabelledImages):
    "Images held in memory."

    def __init__(self, images, labels):
        super().__init__(labels, [f"class {c}" for c in range(N_CLASSES)], "random")
        self.images = images

    def get_batch(self, index):
        return self.images[index], self.labels[index]


def _timed(fn, device, repeats: int = 1):
    "(the best of `repeats` wall times of fn(), its output): the minimum is the least noisy."
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda": torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        if device.type == "cuda": torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, out


def bench(name: str, device) -> dict:
    profile, n, bs = SHAPES[name]
    cfg, backbone, sae = build(profile, device)
    g = torch.Generator().manual_seed(0)
    size = cfg.data.image_size
    ds = TensorImages(torch.randn(n, 3, size, size, generator=g), torch.arange(n) % N_CLASSES)
    counts = torch.randint(0, 1000, (N_CLASSES, sae.d_sae), generator=g)
    rankings = Rankings(rank_latents(counts), rank_latents(counts.sum(0)),
                        torch.zeros(sae.d_in, device=device))
    width = backbone.model.visual.output_dim
    clf = torch.nn.functional.normalize(torch.randn(width, N_CLASSES, generator=g), dim=0)
    clf = clf.to(device)
    settings = sweep_settings(cfg.analysis.topk, sae.d_sae, SELECTIONS, cfg.analysis.random_seeds)
    sample = settings[::NAIVE_EVERY]
    layer = cfg.backbone.hook_layer
    sweep = lambda: masked_predictions(backbone, sae, ds, clf, layer, rankings, settings,
                                       batch_size=bs)
    definition = lambda: naive_predictions(backbone, sae, ds, clf, layer, rankings, sample,
                                           batch_size=bs)
    with torch.no_grad():
        predict(backbone, ds, clf, bs)  # warm-up
        plain, _ = _timed(lambda: predict(backbone, ds, clf, bs), device, REPEATS)
        ours, (fast, _) = _timed(sweep, device, REPEATS)
        naive, slow = _timed(definition, device)
    assert torch.equal(fast[::NAIVE_EVERY], slow), "the sweep's predictions differ from the naive"
    naive *= len(settings) / len(sample)
    return {"shape": name, "images": n, "settings": len(settings), "S": sae.d_sae, "plain": plain,
            "ours": ours, "naive": naive}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--shapes", default="toy,paper")
    args = p.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    print(f"{'shape':<7}{'images':>7}{'settings':>9}{'S':>7}{'plain s':>9}{'ours s':>8}"
          f"{'naive s':>9}{'ours/plain':>11}{'naive/ours':>11}")
    for name in args.shapes.split(","):
        r = bench(name, device)
        print(f"{r['shape']:<7}{r['images']:>7}{r['settings']:>9}{r['S']:>7}{r['plain']:>9.2f}"
              f"{r['ours']:>8.2f}{r['naive']:>9.1f}{r['ours'] / r['plain']:>11.2f}"
              f"{r['naive'] / r['ours']:>10.1f}x")


if __name__ == "__main__":
    main()
