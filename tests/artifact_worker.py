"""A process that fetches one artifact from a shared store (used by test_artifacts.py).

usage: python artifact_worker.py STORE LOG SPEC_VALUE SECONDS
Its computation appends its pid to LOG, then writes 8 MiB in 64 slow chunks, so a non-atomic store would expose
a partial file. Prints the artifact folder and the SHA-256 of the file it reads back.
"""
import hashlib
import os
import sys
import time
from pathlib import Path

from patchsae.core import ArtifactStore

store, log, value, seconds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
CHUNKS, CHUNK = 64, 128 * 1024


def compute(folder: Path):
    with open(log, "a") as f:
        f.write(f"{os.getpid()}\n")
    with open(folder / "data.bin", "wb") as f:
        for i in range(CHUNKS):
            f.write(bytes([i % 251]) * CHUNK)
            f.flush()
            time.sleep(seconds / CHUNKS)


path = ArtifactStore(store).fetch("shared", {"value": value}, compute)
print(path, hashlib.sha256((path / "data.bin").read_bytes()).hexdigest(), flush=True)
