"""The numba cache: where it is, and that UMAP's own numba functions use it (they are not
marked cache=True upstream, so without import_umap every UMAP job compiled them afresh)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from phrenology.pipeline.caches import numba_cache_dir

REPO = Path(__file__).resolve().parents[3]


def test_cache_dir_is_the_users_unless_set():
    assert numba_cache_dir({"NUMBA_CACHE_DIR": "/x/numba"}) == "/x/numba"
    assert numba_cache_dir({"XDG_CACHE_HOME": "/c"}) == "/c/phrenology/numba"
    assert numba_cache_dir({}) == os.path.expanduser("~/.cache/phrenology/numba")


CHECK = """
import numba, sys
from phrenology.pipeline.caches import import_umap
umap = import_umap()
fn = umap.umap_.smooth_knn_dist  # plain @numba.njit in umap: not cached upstream
print(type(fn._cache).__name__, fn._cache._cache_path)
numba.njit(lambda x: x)  # the defaults are numba's own again afterwards
print(numba.njit is numba.core.decorators.njit)
"""


def test_umap_functions_are_cached_in_the_cache_dir():
    # the suite's own cache directory (the user's, as for every job), not a fresh one: an
    # empty directory would make this check compile all of umap and pynndescent (≈ 20 s)
    cache = Path(numba_cache_dir())
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", CHECK], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    kind, path, restored = proc.stdout.split()
    assert kind == "FunctionCache"  # not numba's NullCache
    assert Path(path).parent == cache
    assert restored == "True"
