"""The cost of nbs/05's AP matrix, against its floor (one sort per latent) and the old code.

On synthetic data of the toy protocol's shape (64,000 patches: 1,000 images of 8 x 8 patches;
1,536 latents; 43 concepts with prevalences from 0.2 % to 11 %), for sparse scores (an SAE's ReLU
latents, most of them zero on a patch) and dense ones (raw stream coordinates), it times in one run:
  * ours:     `average_precision`: one sort per latent gives every patch's rank
              (`ranks_at_least`), then each concept gathers its positives' ranks;
  * previous: the code it replaced: per concept, one binary search of each positive into its
              latent's sorted scores (int64);
  * sort:     one sort of every latent's scores alone, the floor of any exact AP with ties.
It checks that ours equals the previous code exactly, and a sample of entries against the definition
(precision at each distinct threshold times the recall it adds).
Usage: python benchmarks/bench_localization.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import torch

from patchsae.localization import average_precision

N_PATCHES, N_LATENTS, D_STREAM = 64_000, 1_536, 96
PREVALENCES = torch.logspace(-2.7, -0.96, 43)  # 0.2 % .. 11 %, like the toy world's concepts
SPARSE_BIAS = -1.5  # the sparse scores' ReLU bias: about 7 % of them are non-zero
CHUNK = 128  # latents per sort, as in `average_precision`


def previous_average_precision(scores, labels, chunk: int = CHUNK):
    "The code `average_precision` replaced (the naive version here)."
    n, out = len(scores), torch.zeros(scores.shape[1], labels.shape[1])
    positives = [torch.nonzero(y).flatten() for y in labels.T]
    for s0 in range(0, scores.shape[1], chunk):
        sc = scores[:, s0:s0 + chunk].T.contiguous().float()
        ascending = sc.sort(1).values
        for c, idx in enumerate(positives):
            if not len(idx): continue
            at_c = n - torch.searchsorted(ascending, sc[:, idx].contiguous(), right=False)
            at_c = at_c.sort(1).values.float()
            hits = torch.searchsorted(at_c, at_c, right=True).float()
            out[s0:s0 + chunk, c] = (hits / at_c).mean(1)
    return out


def definition_ap(score, positive) -> float:
    "AP by its definition: over the distinct thresholds, precision times the recall each adds."
    values, inverse = score.unique(sorted=True, return_inverse=True)  # ascending
    at_least = torch.bincount(inverse, minlength=len(values)).flip(0).cumsum(0).flip(0)
    tp = torch.bincount(inverse[positive], minlength=len(values)).flip(0).cumsum(0).flip(0)
    added = tp - torch.cat([tp[1:], tp.new_zeros(1)])  # positives at exactly this threshold
    return float((added.double() / positive.sum() * tp.double() / at_least.double()).sum())


def _timed(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def data(kind: str, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    "Scores (N, S) whose latents partly follow the labels (N, C), as trained detectors do."
    labels = torch.rand(N_PATCHES, len(PREVALENCES), generator=g) < PREVALENCES
    z = torch.randn(N_PATCHES, D_STREAM, generator=g)
    z[:, :len(PREVALENCES)] += 2 * labels  # the stream carries each concept on one coordinate
    scores = z @ torch.randn(D_STREAM, N_LATENTS, generator=g) / D_STREAM ** .5
    return (scores + SPARSE_BIAS).relu() if kind == "sparse" else scores, labels


def bench(kind: str, repeats: int) -> dict:
    scores, labels = data(kind, torch.Generator().manual_seed(0))
    ours, ap = _timed(lambda: average_precision(scores, labels), repeats)
    previous, old = _timed(lambda: previous_average_precision(scores, labels), 1)
    sort, _ = _timed(lambda: [scores[:, s:s + CHUNK].T.contiguous().sort(1)
                              for s in range(0, N_LATENTS, CHUNK)], repeats)
    assert torch.equal(ap, old), "average_precision differs from the previous code"
    for s, c in ((0, 0), (7, 20), (500, 42), (1535, 10)):
        want = definition_ap(scores[:, s], labels[:, c])
        got = ap[s, c].item()
        assert abs(got - want) < 1e-6, f"AP[{s}, {c}] = {got:.6f}, definition {want:.6f}"
    return {"kind": kind, "nonzero": (scores > 0).float().mean().item(), "ours": ours,
            "previous": previous, "sort": sort}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3,
                   help="ours and sort: the best of this many runs")
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"N = {N_PATCHES:,} patches, "
          f"S = {N_LATENTS:,} latents, C = {len(PREVALENCES)} concepts")
    print(f"{'scores':<8}{'non-zero':>9}{'ours s':>8}{'previous s':>11}{'sort s':>8}"
          f"{'previous/ours':>14}{'ours/sort':>10}")
    for kind in ("sparse", "dense"):
        r = bench(kind, args.repeats)
        print(f"{r['kind']:<8}{r['nonzero']:>9.3f}{r['ours']:>8.2f}{r['previous']:>11.2f}"
              f"{r['sort']:>8.2f}"
              f"{r['previous'] / r['ours']:>13.2f}x{r['ours'] / r['sort']:>10.2f}")


if __name__ == "__main__":
    main()
