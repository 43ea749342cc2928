"The statistics pass at scale (peak memory) and localization on the toy profile."
import json
import subprocess
import textwrap

import pytest
import torch

from conftest import PYTHON, ROOT

from patchsae.core import ArtifactStore, get_config, project_root
from patchsae.data import load_dataset
from patchsae.localization import TOY_MIN_RATIO, baseline_ratio, localization_ap, localization_data
from patchsae.models import load_backbone
from patchsae.sae import trained_sae

PEAK = textwrap.dedent('''
    import json, resource, sys, torch
    from patchsae.sae import PatchSAE
    from patchsae.statistics import latent_statistics
    n, T, D, S, C = int(sys.argv[1]), 16, 32, 4096, 10
    sae = PatchSAE(D, S, torch.Generator().manual_seed(0))
    def batches():  # made on the fly: nothing of size n is ever held
        g = torch.Generator().manual_seed(1)
        for start in range(0, n, 250):
            m = min(250, n - start)
            yield torch.randn(m, T, D, generator=g), torch.randint(0, C, (m,), generator=g), torch.arange(start, start + m)
    stats = latent_statistics(sae, batches(), C)
    print(json.dumps({"n": stats.n_images, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
''')


def _peak_kb(n: int) -> int:
    r = subprocess.run([PYTHON, "-c", PEAK, str(n)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["n"] == n
    return out["peak_kb"]


def test_statistics_peak_memory_does_not_grow_with_images():
    # keeping one float per (image, latent) would add 20,000 x 4,096 x 4 B = 328 MB at the larger size
    small, large = _peak_kb(2_000), _peak_kb(20_000)
    assert large - small < 40_000, f"peak RSS grew by {(large - small) / 1024:.0f} MB from 2,000 to 20,000 images"


# trains the tiny CLIP (~12 min on 2 cores) and the toy SAE when runs/cache lacks them: longer than the
# default 900 s of pytest-timeout on a busy machine
@pytest.mark.timeout(1800)
def test_toy_sae_finds_the_planted_concepts():
    "Patch AP on toy (nbs/05): the SAE beats both baselines by nbs/05's margins; probe ceiling."
    cfg = get_config("toy")
    store = ArtifactStore(project_root() / "runs" / "cache")
    backbone = load_backbone(cfg, store)  # trains the tiny CLIP unless runs/cache already has it
    sae, _ = trained_sae(cfg, store, backbone, progress=False)
    val, test = (localization_data(backbone, load_dataset(cfg, "toy_imagenet", s).subset(torch.arange(1000)),
                                   cfg.backbone.hook_layer, 256) for s in ("val", "test"))
    loc, ap_val = localization_ap(sae, val, test, cfg.seed)  # as in nbs/05
    kind = loc.groupby("kind")[["SAE: AP", "random: AP", "neuron: AP", "probe: AP"]].mean()
    ratio = baseline_ratio(loc)  # the measured ratios are in nbs/05, beside TOY_MIN_RATIO
    for checked, floor in TOY_MIN_RATIO.items():
        assert ratio[checked] >= floor, (checked, ratio.to_dict(), kind)
    assert (kind["probe: AP"] >= kind[["random: AP", "neuron: AP"]].max(axis=1) - 0.02).all(), kind  # the ceiling
    assert ap_val.shape == (sae.d_sae, len(loc)) and len(loc) == 5 + 4 + 8 + 6 + 20  # ... and 20 classes
