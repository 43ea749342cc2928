"SAE training at the paper's size (random ViT-B/16, fake data) and at the toy profile's full size."
import json

import pytest
import torch

from patchsae.core import ArtifactStore, get_config, project_root, read_metrics
from patchsae.data import make_fake_task
from patchsae.sae import TOY_DEAD_MAX, TOY_FVU_MAX, TOY_L0_RANGE  # nbs/03's bounds, measured there


def test_paper_profile_training_on_fake_data(tmp_path):
    "nbs/03 on the paper profile: ViT-B/16 (random weights) at block 10, SAE 768 -> 49,152, Table 2 included."
    from conftest import cli
    root = tmp_path / "data"
    make_fake_task(root, "eurosat", n_classes=4, per_split=(2, 1, 2), size=16)
    sets = ["backbone.pretrained=random", "data.tasks=['eurosat']", "data.batch_size=8", "sae.train_images=6",
            "sae.batch_images=2", "sae.eval_images=4", "sae.checkpoint_every=2"]
    r = cli("--profile", "paper", "--only", "03", "--out", tmp_path, "--cache", tmp_path / "cache", "--data-root", root,
            *[a for s in sets for a in ("--set", s)], timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    metrics = read_metrics(tmp_path / "runs/paper/metrics.json")
    for k in ("sae.fvu", "sae.l0", "sae.dead_fraction", "sae.cl_org", "sae.cl_sae", "sae.train_seconds"):
        assert k in metrics, k
    table = (tmp_path / "figures/paper/table2.csv").read_text().splitlines()
    assert len(table) == 1 + 1 + 4 + 2 + 3 + 3 + 2 + 2  # header, default, 6 groups each with the default repeated
    assert "ViT-B-16" in table[1] and ",11," in table[1]  # layer index 10 = "layer 11"
    sae_dirs = list((tmp_path / "cache/sae").glob("*/sae.json"))
    assert any(json.loads(p.read_text())["d_sae"] == 49152 for p in sae_dirs)


# trains the tiny CLIP (~12 min on 2 cores) and the toy SAE when runs/cache lacks them: longer than the
# default 900 s of pytest-timeout on a busy machine
@pytest.mark.timeout(1800)
def test_toy_profile_main_sae_quality():
    "The toy profile's main SAE (shared with `make reproduce` through runs/cache) meets the measured bounds."
    from patchsae.sae import ActivationSource, evaluate_sae, pretraining_data, trained_sae
    from patchsae.models import load_backbone
    cfg = get_config("toy")
    store = ArtifactStore(project_root() / "runs" / "cache")
    backbone = load_backbone(cfg, store)  # trains the tiny CLIP (~12 min) unless `make reproduce` already has
    sae, info = trained_sae(cfg, store, backbone, progress=False)
    src = ActivationSource(backbone, pretraining_data(cfg, "test"), cfg.backbone.hook_layer, 256)
    m = evaluate_sae(sae, src.ordered())
    assert m["fvu"] <= TOY_FVU_MAX, m
    assert m["dead_fraction"] <= TOY_DEAD_MAX, m
    assert TOY_L0_RANGE[0] <= m["l0"] <= TOY_L0_RANGE[1], m
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(sae.d_sae), atol=1e-4)
    assert info["log"][-1]["step"] == 4_999  # 320,000 images, 64 per step
