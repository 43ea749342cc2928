"Top-k latent masking (nbs/06): §4.1's finding on toy, and the paper profile on fake data."
import pytest

from conftest import cli

from patchsae.core import ArtifactStore, get_config, project_root, read_metrics
from patchsae.data import make_fake_task
from patchsae.masking import FINDING_KS, FINDING_SE, finding_gaps, masking_results, sweep_accuracy
from patchsae.models import load_backbone
from patchsae.sae import trained_sae


# trains the tiny CLIP (~12 min on 2 cores) and the toy SAE when runs/cache lacks them
@pytest.mark.timeout(1800)
def test_toy_class_level_latents_carry_the_class():
    """§4.1 on toy: at each k of FINDING_KS (50 and 100), switching off a class's top-k latents
    lowers accuracy below switching off as many random or dataset-level latents, and switching on only
    them beats as many random ones, each by at least FINDING_SE = 2 standard errors of the difference of the two
    accuracies (2,000 test images)."""
    cfg = get_config("toy")
    store = ArtifactStore(project_root() / "runs" / "cache")
    backbone = load_backbone(cfg, store)
    sae, _ = trained_sae(cfg, store, backbone, progress=False)
    accuracy = sweep_accuracy(masking_results(cfg, store, backbone, sae, progress=False).table)
    gaps = finding_gaps(accuracy, FINDING_KS)
    assert len(gaps) == 6
    assert (gaps["gap"] >= FINDING_SE * gaps["se"]).all(), gaps.to_string()


def test_paper_profile_masking_on_fake_data(tmp_path):
    "nbs/06 on the paper profile: ViT-B/16 (random weights), SAE 768 -> 49,152, fake CoOp tasks."
    root = tmp_path / "data"
    for task in ("eurosat", "dtd"):
        make_fake_task(root, task, n_classes=4, per_split=(2, 1, 2), size=16)
    sets = ["backbone.pretrained=random", "data.tasks=['eurosat','dtd']", "data.batch_size=8",
            "sae.train_images=4", "sae.batch_images=2", "sae.eval_images=4",
            "sae.checkpoint_every=2"]
    r = cli("--profile", "paper", "--only", "06", "--out", tmp_path, "--cache", tmp_path / "cache",
            "--data-root", root, *[a for s in sets for a in ("--set", s)], timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    metrics = read_metrics(tmp_path / "runs/paper/metrics.json")
    for k in ("masking.original_top1", "masking.on_all_top1", "masking.on_all_token_top1",
              "masking.off_all_top1", "masking.on_top50.class_top1",
              "masking.off_top100.random_top1", "masking.dtd.base.clip.on_top10_top1",
              "masking.dtd.novel.clip.original_top1"):
        assert k in metrics, k
    assert metrics["masking.chance_top1"] == 25.0
    assert metrics["masking.on_all_token_top1"] == metrics["masking.original_top1"]
    for stem in ("fig05b_masking", "extra_masking_tasks"):
        assert (tmp_path / "figures/paper" / f"{stem}.png").stat().st_size > 0
    table = (tmp_path / "figures/paper/extra_masking_sweep.csv").read_text().splitlines()
    assert len(table) == 1 + 10 * 2 * 3  # header; 9 values of k + all, on/off, three selections
