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
