"Backbones: the paper's ViT-B/16 from a local weights file, and the tiny CLIP's cache and reproducibility."
import json

import pytest
import torch

from patchsae.core import ArtifactStore, get_config
from patchsae.models import (TINY_CLIP_VERSION, Backbone, WeightsError, load_backbone,
                             openclip_backbone, tiny_clip, tiny_clip_model, tiny_clip_spec,
                             train_tiny_clip)


def test_paper_backbone_from_local_weights_file(tmp_path):
    "A state dict on disk loads into ViT-B-16-quickgelu exactly; a file for another architecture is refused."
    ref = openclip_backbone("ViT-B-16-quickgelu", "random")
    with torch.no_grad():
        ref.model.visual.proj.mul_(1.5)  # not what a fresh random init would give
    path = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(ref.model.state_dict(), path)
    cfg = get_config("paper", {"backbone.pretrained": str(path)})
    bb = load_backbone(cfg)
    assert isinstance(bb, Backbone) and bb.name == "ViT-B-16-quickgelu"
    for k, v in ref.model.state_dict().items():
        assert torch.equal(bb.model.state_dict()[k], v), k
    img = torch.randn(1, 3, 224, 224)
    with torch.no_grad():  # against open_clip's own forward of the saved model, not ours twice
        theirs = ref.model.encode_image(img, normalize=True)
        torch.testing.assert_close(bb.encode_image(img), theirs)
        assert bb.residual(img, cfg.backbone.hook_layer).shape == (1, 197, 768)
    assert bb.spec == ref.spec  # the same weights from a file: the same key

    small = tmp_path / "other.bin"
    torch.save({"visual.proj": torch.zeros(3)}, small)
    with pytest.raises(WeightsError, match="must be weights for exactly this architecture"):
        openclip_backbone("ViT-B-16-quickgelu", str(small))


def test_tiny_clip_is_cached_and_bit_reproducible(tmp_path):
    cfg = get_config("smoke", {"toy_clip.epochs": 1})
    store = ArtifactStore(tmp_path / "cache")
    logs = []
    a, info = tiny_clip(cfg, store, log=logs.append)
    assert len(logs) == 1 and info["steps"] > 0
    b, _ = tiny_clip(cfg, store, log=logs.append)
    assert len(logs) == 1, "the second call must load the cached weights, not train again"
    again, _ = train_tiny_clip(cfg, log=None)  # a fresh training run from the same seed
    for k, v in again.state_dict().items():
        assert torch.equal(a.model.state_dict()[k], v), f"{k} differs between two runs from the same seed"
    other, _ = train_tiny_clip(get_config("smoke", {"toy_clip.epochs": 1, "seed": 1}), log=None)
    assert not torch.equal(other.visual.proj, again.visual.proj)
    folder = store.path("tiny_clip", tiny_clip_spec(cfg), version=TINY_CLIP_VERSION)
    assert json.loads((folder / "train.json").read_text())["steps"] == info["steps"]
    changed = get_config("smoke", {"toy_clip.epochs": 1, "toy_clip.lr": 1e-3})
    tiny_clip(changed, store, log=logs.append)
    assert len(logs) == 2, "a changed recipe must train a new model, never reuse the old one"


def test_backbone_width_must_match_the_config():
    with pytest.raises(WeightsError, match="backbone.layers = 24"):
        load_backbone(get_config("paper", {"backbone.pretrained": "random", "backbone.layers": 24}))
    bb = Backbone(tiny_clip_model(get_config("smoke")), None)
    with pytest.raises(ValueError, match="out of range"):
        bb.residual(torch.zeros(1, 3, 32, 32), 2)


def test_paper_profile_runs_on_fake_data(tmp_path):
    "The paper profile's data and model notebooks, end to end: fake CoOp folders, ViT-B/16 with random weights."
    from conftest import cli

    from patchsae.data import make_fake_task
    root = tmp_path / "data"
    for task in ("eurosat", "dtd"):
        make_fake_task(root, task, n_classes=4, per_split=(2, 1, 2), size=16)
    r = cli("--profile", "paper", "--only", "01", "--only", "02", "--out", tmp_path, "--cache", tmp_path / "cache",
            "--data-root", root, "--set", "backbone.pretrained=random", "--set", "data.tasks=['eurosat', 'dtd']",
            "--set", "data.batch_size=8")
    assert r.returncode == 0, r.stdout + r.stderr
    for stem in ("extra_data_examples", "extra_zeroshot_tasks"):
        assert (tmp_path / "figures/paper" / f"{stem}.png").stat().st_size > 0
    executed = (tmp_path / "runs/paper/02_models.ipynb").read_text()
    assert "eurosat" in executed and "dtd" in executed
