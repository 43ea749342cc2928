"The artifact store across processes: computed once, never seen partial, never stale, robust to a killed writer."
import json
import signal
import subprocess
import time
from pathlib import Path

from conftest import PYTHON

from patchsae.core import ArtifactStore

WORKER = str(Path(__file__).with_name("artifact_worker.py"))
SIZE = 64 * 128 * 1024


def _worker(store, log, value=1, seconds=2.0):
    return subprocess.Popen([PYTHON, WORKER, str(store), str(log), str(value), str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_compute_one_artifact_once_and_never_see_it_partial(tmp_path):
    store, log = tmp_path / "store", tmp_path / "calls.log"
    final = ArtifactStore(store).path("shared", {"value": 1})
    procs = [_worker(store, log), _worker(store, log)]
    seen_sizes, deadline = set(), time.time() + 120
    while any(p.poll() is None for p in procs) and time.time() < deadline:
        if final.is_dir():  # whenever the folder is visible, its content must be complete
            seen_sizes.add((final / "data.bin").stat().st_size)
            assert (final / "artifact.json").is_file()
        time.sleep(0.005)
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert len(log.read_text().split()) == 1, "computed more than once"
    assert len({o[0] for o in outs}) == 1, "the two processes read different results"
    assert seen_sizes <= {SIZE}
    assert json.loads((final / "artifact.json").read_text())["spec"] == {"value": 1}
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name, final.name + ".lock"]


def test_changed_config_is_recomputed_and_old_one_reused(tmp_path):
    store, log = tmp_path / "store", tmp_path / "calls.log"
    for value in (1, 2, 1):
        p = _worker(store, log, value=value, seconds=0.0)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert len(log.read_text().split()) == 2  # value 1, value 2; the second value-1 fetch reused the first
    assert len([d for d in (store / "shared").iterdir() if d.is_dir()]) == 2


def test_killed_writer_leaves_no_artifact_and_the_next_fetch_recovers(tmp_path):
    store, log = tmp_path / "store", tmp_path / "calls.log"
    final = ArtifactStore(store).path("shared", {"value": 1})
    p = _worker(store, log, seconds=30.0)
    deadline = time.time() + 60
    while not log.exists() and time.time() < deadline: time.sleep(0.01)
    time.sleep(0.3)  # well into the computation
    p.send_signal(signal.SIGKILL); p.wait()
    assert not final.exists(), "a killed writer must not leave a visible artifact"
    leftovers = list(final.parent.glob(f".{final.name}.*.tmp"))
    assert len(leftovers) == 1  # its temporary folder is still there ...
    q = _worker(store, log, seconds=0.0)
    out, err = q.communicate(timeout=120)
    assert q.returncode == 0, err
    assert (final / "data.bin").stat().st_size == SIZE
    assert not any(l.exists() for l in leftovers)  # ... until the next fetch sweeps it up
