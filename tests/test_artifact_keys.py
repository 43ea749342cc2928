"""Artifact identity (SPEC §6) on the smoke profile: every config field and the backbone either
change an artifact's key or provably change nothing about it.

For every field of the config, one valid alternative value (ALTERNATIVES below). With the field
changed, the profile's artifacts are fetched the way the notebooks fetch them, and each artifact's
key (its folder in the store) is compared with the baseline's:
* a field of the artifact's key (ARTIFACT_KEYS[name].fields) must change the key;
* a field listed as not affecting it (ARTIFACT_KEYS[name].ignores) must leave the key and,
  recomputed with the field changed, give byte-identical content;
* any other field reaches the artifact through an input (the backbone, the data, the SAE, the
  activation source) or an argument: it changes the key, or recomputing gives identical content.
  A stale artifact fails.
The table of nbs/00_core (the prose) must say exactly what ARTIFACT_KEYS says.
"""
import json
import os
import re
from pathlib import Path

import pytest
import torch
from conftest import ROOT

from patchsae.core import (ARTIFACT_KEYS, ArtifactStore, config_keys, flat_config, get_config,
                           key_fields)
from patchsae.models import Backbone, ToyTokenizer, load_backbone, tiny_clip_model
from patchsae.sae import (PatchSAE, activation_cache, cached_layers, pretraining_data,
                          pretraining_source, profile_sae, save_sae, trained_sae, training_spec)
from patchsae.maple import MAPLE_TEMPLATE, trained_maple
from patchsae.masking import masking_results
from patchsae.statistics import dataset_statistics

PROFILE = "smoke"
# A valid alternative for every field of the smoke profile. A dict changes fields that only make
# sense together; a callable gets a temporary folder and returns the value.
VIT_S = {"backbone.arch": "ViT-S-32", "backbone.pretrained": "random", "backbone.width": 384,
         "backbone.layers": 12, "backbone.patch_size": 32,
         "data.image_size": 224}  # an open_clip ViT instead of the tiny CLIP


def _other_sae(folder: Path) -> str:
    "A saved SAE of the smoke backbone's width, trained on its hook layer by its metadata."
    cfg = get_config(PROFILE)
    sae = PatchSAE(cfg.backbone.width, cfg.d_sae, torch.Generator().manual_seed(5))
    meta = {"inputs": {"activations": {"layer": cfg.backbone.hook_layer}}}
    return str(save_sae(sae, folder / "other_sae", meta))


ALTERNATIVES = {
    "seed": 1, "device": "cpu", "data.root": "/nonexistent/data-root", "data.image_size": 40,
    "data.n_classes": 8, "data.n_train": 400, "data.n_eval": 100, "data.task_images": (6, 4, 8),
    "data.tasks": ("toy_imagenet", "easy"), "data.shots": 2, "data.batch_size": 48,
    "data.num_workers": 1, "backbone.arch": VIT_S, "backbone.pretrained": "random",
    "backbone.width": 64, "backbone.layers": 3, "backbone.patch_size": 4, "backbone.hook_layer": 1,
    "sae.expansion": 2, "sae.l1_coeff": 1e-3, "sae.lr": 1e-3, "sae.warmup_steps": 2,
    "sae.train_images": 320, "sae.batch_images": 16, "sae.recon_loss": "mse",
    "sae.bdec_init": "mean", "sae.ghost_grads": False, "sae.dead_steps": 2, "sae.tokens": "cls",
    "sae.shuffle_tokens": True, "sae.dtype": "bfloat16", "sae.cache_activations": False,
    "sae.checkpoint_every": 2, "sae.eval_images": 32, "sae.ablation_images": 96,
    "sae.cl_negatives": "all", "sae.weights": _other_sae, "analysis.tau": 0.5,
    "analysis.n_reference": 3, "analysis.stats_images": 100, "analysis.topk": (1, 2),
    "analysis.random_seeds": (0, 1), "analysis.selection_split": "val",
    "analysis.eval_split": "val", "analysis.error_term": "token",
    "analysis.include_prompt_tokens": True, "analysis.table1_upper": 3,
    "analysis.table1_lower": 20, "maple.n_ctx": 4, "maple.depth": 2, "maple.lr": 0.01,
    "maple.momentum": 0.8, "maple.weight_decay": 1e-3, "maple.batch_size": 8, "maple.epochs": 2,
    "maple.warmup_lr": 1e-4, "maple.seeds": (1, 2), "maple.checkpoint_root": "/nonexistent/maple",
    "toy_clip.embed_dim": 48, "toy_clip.text_width": 64, "toy_clip.text_layers": 3,
    "toy_clip.head_width": 16, "toy_clip.epochs": 3, "toy_clip.batch_size": 32,
    "toy_clip.lr": 1e-3, "toy_clip.weight_decay": 0.2, "toy_clip.warmup_steps": 4,
    "toy_clip.dtype": "bfloat16",  # emulated on AVX2-only CPUs: slow, but the smoke CLIP is tiny
}
# bf16 autocast is a GPU option: on this CPU only the SAE's key can be checked (training is refused)
KEY_ONLY = {"sae.dtype"}
CONTENT = ("*.safetensors", "*.npy", "stats.json")  # MaPLe: prompts.safetensors  # what an artifact holds (not its timings)


class RecordingStore(ArtifactStore):
    "An artifact store that remembers the folder (the key) of every artifact it hands out."

    def __init__(self, root):
        super().__init__(root)
        self.fetched: dict[str, str] = {}

    def fetch(self, name, spec, compute, version=0):
        folder = super().fetch(name, spec, compute, version)
        self.fetched[name] = folder.name
        return folder


def run_chain(cfg, store: RecordingStore, backbone=None) -> dict[str, str | None]:
    "The profile's artifacts, fetched as the notebooks do: {artifact: key} (None: not in this run)."
    store.fetched.clear()
    bb = backbone if backbone is not None else load_backbone(cfg, store)
    # the cache and the trained SAE are fetched even where the profile does without them (the SAE
    # streams, or sae.weights names another SAE), so their keys are always compared
    activation_cache(bb, pretraining_data(cfg, "train"), cached_layers(cfg, cfg.backbone.hook_layer),
                     store, cfg.data.batch_size, progress=False)
    trained_sae(cfg, store, bb, progress=False, log=None)
    sae, _ = profile_sae(cfg, store, bb, progress=False, log=None)
    dataset_statistics(cfg, store, bb, sae, progress=False)
    keys = dict(store.fetched)  # masking fetches the statistics of analysis.selection_split too
    masking_results(cfg, store, bb, sae, progress=False)
    keys["masking"] = store.fetched.get("masking")
    trained_maple(cfg, store, bb, cfg.data.tasks[0], cfg.maple.seeds[0], log=None)
    keys["maple"] = store.fetched.get("maple")
    return {name: keys.get(name) for name in ARTIFACT_KEYS}


def content(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for pattern in CONTENT for p in sorted(folder.glob(pattern))}


def recomputed(cfg, shared: Path, scratch: Path, name: str, key: str) -> dict[str, bytes]:
    "Artifact `name` recomputed under `cfg` in a store that links every other artifact of `shared`."
    for folder in shared.glob("*/*"):
        other = (folder.parent.name, folder.name) != (name, key)
        if folder.is_dir() and not folder.name.startswith(".") and other:
            (scratch / folder.parent.name).mkdir(parents=True, exist_ok=True)
            os.symlink(folder, scratch / folder.parent.name / folder.name)
    run_chain(cfg, RecordingStore(scratch))
    assert not (scratch / name / key).is_symlink(), f"{name} was not recomputed"
    return content(scratch / name / key)


def changed(field: str, value, tmp: Path) -> dict:
    value = value(tmp) if callable(value) else value
    return dict(value) if isinstance(value, dict) else {field: value}


def test_every_field_has_an_alternative():
    fields = set(flat_config(get_config(PROFILE)))
    assert set(ALTERNATIVES) == fields, "give each new config field an alternative"
    assert set(config_keys()) == set(flat_config(get_config(PROFILE)))
    for field, value in ALTERNATIVES.items():
        if not callable(value):
            overrides = changed(field, value, Path("."))
            assert get_config(PROFILE, overrides) != get_config(PROFILE), f"{field}: is the default"


def _prose_table() -> dict[str, dict[str, set[str]]]:
    "The key table of nbs/00_core's prose: {artifact: {column: set}}, sections expanded."
    cells = json.loads((ROOT / "nbs/00_core.ipynb").read_text())["cells"]
    texts = ["".join(c["source"]) for c in cells]
    text = next(t for t in texts if "| artifact | inputs |" in t)
    rows = [l for l in text.splitlines() if re.match(r"\| `\w+` \|", l)]
    table = {}
    for row in rows:
        name, inputs, arguments, fields, ignores = [c.strip() for c in row.strip("|").split("|")]
        split = lambda col: tuple(x.strip() for x in col.split(",") if x.strip())
        table[name.strip("`")] = {"inputs": set(split(inputs)), "arguments": set(split(arguments)),
                                  "fields": set(key_fields(split(fields))),
                                  "ignores": set(key_fields(split(ignores)))}
    return table


def test_the_prose_table_is_the_library_table():
    prose = _prose_table()
    assert set(prose) == set(ARTIFACT_KEYS)
    for name, key in ARTIFACT_KEYS.items():
        assert prose[name] == {"inputs": set(key.inputs), "arguments": set(key.arguments),
                               "fields": set(key_fields(key.fields)),
                               "ignores": set(key_fields(key.ignores))}, name


@pytest.mark.timeout(1800)  # about 70 fields, each with up to 4 artifacts recomputed on smoke
def test_every_field_and_the_backbone_reach_every_key(tmp_path):
    shared = tmp_path / "store"
    store = RecordingStore(shared)
    base_cfg = get_config(PROFILE)
    base = run_chain(base_cfg, store)
    assert all(base.values()), base
    base_content = {name: content(shared / name / key) for name, key in base.items()}
    problems = []
    base_bb = load_backbone(base_cfg, store)
    base_source = pretraining_source(base_cfg, store, base_bb, progress=False)
    for i, (field, value) in enumerate(ALTERNATIVES.items()):
        overrides = changed(field, value, tmp_path)
        cfg = get_config(PROFILE, overrides)
        if field in KEY_ONLY:
            source = pretraining_source(cfg, store, load_backbone(cfg, store), progress=False)
            if training_spec(cfg, source) == training_spec(base_cfg, base_source):
                problems.append(f"{field}: the SAE's key did not change")
            continue
        keys = run_chain(cfg, store)
        for name, key in keys.items():
            if key is None: continue  # not part of this computation (another backbone's tiny CLIP)
            declared = set(key_fields(ARTIFACT_KEYS[name].fields))
            ignored = set(key_fields(ARTIFACT_KEYS[name].ignores))
            if key != base[name]:
                if set(overrides) <= ignored:
                    problems.append(f"{field} is listed as not affecting {name} but changes it")
                continue
            if set(overrides) & declared:
                problems.append(f"{field} is a field of {name}'s key but leaves the key as it was")
                continue
            again = recomputed(cfg, shared, tmp_path / f"scratch{i}-{name}", name, key)
            if again != base_content[name]:
                problems.append(f"STALE: {field} = {value!r} changes {name}'s content, not its key")
    assert not problems, "\n".join(problems)


def test_a_second_backbone_gets_its_own_artifacts(tmp_path):
    "The tiny CLIP with one weight changed, same config: every artifact computed from it is new."
    cfg = get_config(PROFILE)
    store = RecordingStore(tmp_path / "store")
    base = run_chain(cfg, store)
    first = load_backbone(cfg, store)
    second = Backbone(tiny_clip_model(cfg).eval(), ToyTokenizer(), "tiny-clip", cfg.data.image_size)
    second.model.load_state_dict(first.model.state_dict())
    with torch.no_grad():
        second.model.visual.transformer.resblocks[0].attn.out_proj.weight[0, 0] += 1e-2
    keys = run_chain(cfg, store, backbone=second)
    for name in ("activations", "sae", "statistics", "maple"):
        assert keys[name] != base[name], f"{name}: the second backbone got the first one's artifact"


def test_maple_gets_its_own_statistics_and_masking(tmp_path):
    "MaPLe on the profile's CLIP, same config: its statistics and masking are never CLIP's."
    cfg = get_config(PROFILE)
    store = RecordingStore(tmp_path / "store")
    clip = load_backbone(cfg, store)
    sae, _ = profile_sae(cfg, store, clip, progress=False, log=None)
    keys = {}
    for name, bb in (("clip", clip), ("maple", trained_maple(cfg, store, clip, "easy", 1, log=None)),
                     ("seed2", trained_maple(cfg, store, clip, "easy", 2, log=None))):
        store.fetched.clear()
        dataset_statistics(cfg, store, bb, sae, "easy", "test", progress=False)
        keys[name, "statistics"] = store.fetched["statistics"]
        masking_results(cfg, store, bb, sae, "easy", "base", ("class",), progress=False,
                        templates=(MAPLE_TEMPLATE,))
        keys[name, "masking"] = store.fetched["masking"]
    for what in ("statistics", "masking"):
        assert len({keys[n, what] for n in ("clip", "maple", "seed2")}) == 3, what
