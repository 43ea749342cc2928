"The papermill pipeline: end to end on the smoke profile, and its errors on bad input."
import json
import os
import time
from pathlib import Path

import pytest
from conftest import ROOT, RUN_PARAMS, cli, write_notebook

from patchsae.core import MANIFEST, figure_entry, read_metrics
from patchsae.reproduce import RUN_PARAMETERS, SECTIONS, PipelineError, read_parameters, reproduce, section_notebooks


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_section_notebooks_name_themselves_in_setup():
    "Metrics are filed under the notebook named in its setup call: that must be its own name."
    for nb in section_notebooks(ROOT / "nbs"):
        cells = json.loads(nb.read_text())["cells"]
        sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        calls = [src for src in sources if "setup(profile, overrides" in src]
        assert len(calls) == 1 and f'notebook="{nb.stem}"' in calls[0], (nb.stem, calls)


def test_rerun_drops_the_metrics_a_notebook_no_longer_records(tmp_path, quiet):
    nbs, out, cache = tmp_path / "nbs", tmp_path / "out", tmp_path / "cache"
    nbs.mkdir()
    write_notebook(nbs / "00_core.ipynb", "run.record_metric('demo.old', 1)",
                   "run.record_metric('demo.kept', 2)")
    write_notebook(nbs / "01_data.ipynb", "run.record_metric('data.images', 3)")
    reproduce("smoke", nbs_dir=nbs, out=out, cache=cache, manifest=(), log=quiet)
    metrics = out / "runs/smoke/metrics.json"
    assert read_metrics(metrics) == {"demo.old": 1, "demo.kept": 2, "data.images": 3}
    write_notebook(nbs / "00_core.ipynb", "run.record_metric('demo.kept', 5)")  # demo.old is gone
    reproduce("smoke", nbs_dir=nbs, out=out, cache=cache, manifest=(), only=["00"], log=quiet)
    assert read_metrics(metrics) == {"demo.kept": 5, "data.images": 3}  # 01 did not run: kept
    write_notebook(nbs / "00_core.ipynb", "raise RuntimeError('broken')")
    with pytest.raises(PipelineError):
        reproduce("smoke", nbs_dir=nbs, out=out, cache=cache, manifest=(), only=["00"], log=quiet)
    assert read_metrics(metrics) == {"data.images": 3}  # a failed run leaves no old numbers


def test_section_notebooks_have_one_literal_parameters_cell():
    notebooks = section_notebooks(ROOT / "nbs")
    assert notebooks and notebooks[0].stem == "00_core"
    for nb in notebooks:
        params = read_parameters(nb)  # exactly one tagged cell, literals only, else it raises
        assert set(RUN_PARAMETERS) <= set(params), nb.stem
        assert params["profile"] == "smoke", f"{nb.stem}: the notebooks' default profile is smoke"
    for nb in (ROOT / "nbs").glob("*.ipynb"):
        if nb.stem not in SECTIONS:  # plumbing notebooks are not pipeline steps and take no parameters
            with pytest.raises(PipelineError, match="found 0"):
                read_parameters(nb)


def test_smoke_pipeline_end_to_end(tmp_path):
    nbs_before = _snapshot(ROOT / "nbs")
    r = cli("--profile", "smoke", "--out", tmp_path, "--cache", tmp_path / "cache")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((tmp_path / "runs/smoke/summary.json").read_text())
    executed = [n["notebook"] for n in summary["notebooks"]]
    assert executed == [p.stem for p in section_notebooks(ROOT / "nbs")]
    assert summary["ok"] and all(n["status"] == "ok" and n["seconds"] > 0 for n in summary["notebooks"])
    for n in summary["notebooks"]:
        assert Path(n["output"]).is_file() and Path(n["output"]).parent == tmp_path / "runs/smoke"
    expected = {e.id for e in MANIFEST if e.notebook in executed}
    assert {m["id"] for m in summary["manifest"]} == expected
    for m in summary["manifest"]:
        assert m["written"], m
        for f in m["files"]:
            assert (tmp_path / "figures/smoke" / f).stat().st_size > 0
    by_notebook = json.loads((tmp_path / "runs/smoke/metrics.json").read_text())
    assert set(by_notebook) <= set(executed), by_notebook.keys()  # filed under who made them
    assert read_metrics(tmp_path / "runs/smoke/metrics.json")["machine.matmul_fp32_gflops"] > 0
    assert _snapshot(ROOT / "nbs") == nbs_before, "the pipeline must never write into nbs/"


def test_unknown_profile_is_a_clear_error(tmp_path):
    r = cli("--profile", "huge", "--out", tmp_path)
    assert r.returncode == 2
    assert "invalid choice: 'huge'" in r.stderr and "'smoke', 'toy', 'paper'" in r.stderr
    assert not any(tmp_path.iterdir())


def test_unknown_parameter_and_override_are_clear_errors(tmp_path):
    r = cli("--profile", "smoke", "--out", tmp_path, "-p", "n_stesp=3")
    assert r.returncode == 2
    assert "unknown parameter n_stesp: no notebook of this run declares it" in r.stderr
    r = cli("--profile", "smoke", "--out", tmp_path, "--set", "sae.l1=1e-3")
    assert r.returncode == 2 and "unknown config key 'sae.l1'" in r.stderr and "sae.l1_coeff" in r.stderr
    r = cli("--profile", "smoke", "--out", tmp_path, "--only", "42")
    assert r.returncode == 2 and "no section notebook '42'" in r.stderr
    assert not any(tmp_path.iterdir()), "a run that cannot start writes nothing"


FIGURE = ("import matplotlib.pyplot as plt\n"
          "fig, ax = plt.subplots(); ax.plot([0, 1], [1, 0])\n"
          "run.save_figure(fig, 'fig02c_demo')\n"
          "run.record_metric('demo.value', 1.5)")


def test_failing_notebook_stops_the_run_and_keeps_earlier_results(tmp_path, quiet):
    nbs, out, cache = tmp_path / "nbs", tmp_path / "out", tmp_path / "cache"
    nbs.mkdir()
    manifest = (figure_entry("fig02c", "00_core", "fig02c_demo"),)
    write_notebook(nbs / "00_core.ipynb", FIGURE,
                   "run.store.fetch('demo', {'k': 1}, lambda d: (d / 'x.txt').write_text('done'))")
    reproduce("smoke", nbs_dir=nbs, out=out, cache=cache, manifest=manifest, log=quiet)
    figs = out / "figures/smoke"
    before = {p.name: p.read_bytes() for p in figs.iterdir()}
    artifacts_before = _snapshot(cache)

    write_notebook(nbs / "01_data.ipynb", "x = 1", "raise ValueError('boom: the toy world is empty')")
    write_notebook(nbs / "02_models.ipynb", "y = 2")
    with pytest.raises(PipelineError) as err:
        reproduce("smoke", nbs_dir=nbs, out=out, cache=cache, manifest=manifest, only=["01", "02"], log=quiet)
    msg = str(err.value)
    assert "notebook 01_data failed at In [5] (`raise ValueError(" in msg and "ValueError: boom: the toy world is empty" in msg
    assert str(out / "runs/smoke/01_data.ipynb") in msg and (out / "runs/smoke/01_data.ipynb").is_file()
    summary = json.loads((out / "runs/smoke/summary.json").read_text())
    assert [(n["notebook"], n["status"]) for n in summary["notebooks"]] == [("01_data", "failed"), ("02_models", "not run")]
    assert summary["ok"] is False and "boom" in summary["notebooks"][0]["error"]
    assert {p.name: p.read_bytes() for p in figs.iterdir()} == before  # figures of the earlier run intact
    assert _snapshot(cache) == artifacts_before  # artifacts intact
    metrics = json.loads((out / "runs/smoke/metrics.json").read_text())
    assert metrics == {"00_core": {"demo.value": 1.5}}


def test_manifest_file_not_rewritten_fails_the_run(tmp_path, quiet):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    write_notebook(nbs / "00_core.ipynb", "x = 1")  # writes no figure
    stale = out / "figures/smoke/fig02c_demo.pdf"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"%PDF old run")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))  # left over from an older run: does not count
    manifest = (figure_entry("fig02c", "00_core", "fig02c_demo"),)
    with pytest.raises(PipelineError, match=r"fig02c \(00_core\): fig02c_demo.pdf, fig02c_demo.png"):
        reproduce("smoke", nbs_dir=nbs, out=out, cache=tmp_path / "c", manifest=manifest, log=quiet)
    summary = json.loads((out / "runs/smoke/summary.json").read_text())
    assert summary["ok"] is False and summary["notebooks"][0]["status"] == "ok"
    assert summary["manifest"] == [{"id": "fig02c", "notebook": "00_core", "title": "", "written": False,
                                    "files": {"fig02c_demo.pdf": False, "fig02c_demo.png": False}}]

    write_notebook(nbs / "00_core.ipynb", FIGURE)
    summary = reproduce("smoke", nbs_dir=nbs, out=out, cache=tmp_path / "c", manifest=manifest, log=quiet)
    assert summary["ok"] and summary["manifest"][0]["written"]


def test_parameters_reach_the_notebook(tmp_path, quiet):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    write_notebook(nbs / "00_core.ipynb",
                   "run.record_metric('demo.steps', steps)\nrun.record_metric('demo.l1', run.cfg.sae.l1_coeff)\n"
                   "run.record_metric('demo.root', run.cfg.data.root)",
                   params=RUN_PARAMS + "\nsteps = 1")
    r = cli("--profile", "smoke", "--nbs", nbs, "--out", out, "--cache", tmp_path / "c", "-p", "steps=7",
            "--set", "sae.l1_coeff=0.5", "--data-root", "/data/x")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "runs/smoke/metrics.json").read_text()) == {"00_core": {
        "demo.l1": 0.5, "demo.root": "/data/x", "demo.steps": 7}}
    r = cli("--profile", "smoke", "--nbs", nbs, "--out", out, "-p", "steps=seven")
    assert r.returncode == 2 and "parameter steps of notebook 00_core expects int" in r.stderr
    (tmp_path / "weights").mkdir()  # a relative path is resolved here, not in nbs/
    write_notebook(nbs / "00_core.ipynb", "run.record_metric('demo.weights', run.cfg.sae.weights)\n"
                   "run.record_metric('demo.root', run.cfg.data.root)")
    r = cli("--profile", "smoke", "--nbs", nbs, "--out", out, "--cache", tmp_path / "c", "--set",
            "sae.weights=weights", "--data-root", "weights", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    where = str((tmp_path / "weights").resolve())
    recorded = json.loads((out / "runs/smoke/metrics.json").read_text())["00_core"]
    assert recorded == {"demo.weights": where, "demo.root": where}
