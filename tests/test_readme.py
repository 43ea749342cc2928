"The README's Python examples run as written: on the smoke profile, in a fresh artifact store."
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

README = Path(__file__).parents[1] / "README.md"


def python_block(heading: str) -> str:
    "The first ```python block under the README section titled `heading`."
    text = README.read_text()
    section = text[text.index(f"## {heading}\n"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_statistics_example_runs(tmp_path):
    code = python_block("Latent statistics and localization from Python")
    # the example names the toy profile and the default store; smoke trains its models in seconds
    code = code.replace('get_config("toy")', 'get_config("smoke")')
    code = code.replace('"runs/cache"', repr(str(tmp_path / "cache")))
    assert 'get_config("smoke")' in code and str(tmp_path) in code, "the README example changed shape"
    scope: dict = {}
    exec(compile(code, str(README), "exec"), scope)
    assert scope["maps"].shape == (4, 32, 32)  # smoke images are 32 px
    assert len(scope["table"]) == scope["sae"].d_sae
    assert scope["maps"].amax() > 0  # the most frequent latent fires somewhere on these images


def test_own_vit_example_runs():
    "A ViT that is not open_clip's: SAE from plain batches, statistics and maps, no Config."
    code = python_block("Your own backbone")
    scope: dict = {}
    exec(compile(code, str(README), "exec"), scope)
    sae, log, stats, maps = scope["sae"], scope["log"], scope["stats"], scope["maps"]
    assert (sae.d_in, sae.d_sae) == (64, 512)
    assert log[-1]["step"] == 31  # one step per batch: 512 images / 16
    assert log[-1]["recon"] < log[0]["recon"] / 2  # it learned to reconstruct the stream
    assert stats.n_images == 512 and len(scope["table"]) == 512
    assert maps.shape == (4, 32, 32) and maps.amax() > 0
    # the maps are the chosen latent's SAE activations at the patches, each patch 4 x 4 pixels
    with scope["torch"].no_grad():
        h = sae.encode(scope["vit"].residual(scope["images"][:4], 2))[:, 1:, scope["latent"]]
    assert scope["torch"].allclose(maps[:, ::4, ::4].reshape(4, -1), h)


def test_nbdev_readme_cannot_overwrite_the_readme():
    "README.md is written by hand; nbdev_readme renders settings.ini's readme_nb, which must not exist."
    import configparser
    root = README.parent
    settings = configparser.ConfigParser()
    settings.read(root / "settings.ini")
    readme_nb = settings["DEFAULT"]["readme_nb"]
    assert not list((root / "nbs").rglob(readme_nb)), f"nbs/ has {readme_nb}: nbdev_readme would render it"
