"""Compiled code kept between jobs: numba's cache directory, and UMAP with its numba functions cached.

UMAP (``umap-learn``) compiles its numba functions on first use in every process: 20–26 s
per UMAP job on a small CPU, for a fit that then takes a fraction of a second. pynndescent
marks its functions ``cache=True``; umap marks almost none, so a cache directory alone does
not help. :func:`import_umap` imports umap with ``cache=True`` as the default of
``numba.jit`` / ``numba.njit`` while umap's modules are being executed (their decorators run
then), so every later job loads the machine code from ``NUMBA_CACHE_DIR`` instead of compiling.
Numba keys each cache entry by the function's source file (path, size, mtime), its argument
types and the CPU (name and features), so an upgraded umap or another machine sharing the
directory recompiles instead of loading stale code; the code loaded is the code that would
have been compiled, so results do not change.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from types import ModuleType


def numba_cache_dir(environ: Mapping[str, str] = os.environ) -> str:
    """``$NUMBA_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/phrenology/numba`` (``~/.cache/...``).

    Per user, not per run directory: a fresh ``results/`` (and every test's temporary run)
    reuses what an earlier run compiled."""
    if environ.get("NUMBA_CACHE_DIR"):
        return environ["NUMBA_CACHE_DIR"]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "phrenology", "numba")


def import_umap() -> ModuleType:
    """``import umap``, with umap's numba functions cached on disk (see the module docstring)."""
    if "umap" in sys.modules:
        return sys.modules["umap"]
    # read by numba when it is first imported; the Snakefile sets it for every job already
    os.environ.setdefault("NUMBA_CACHE_DIR", numba_cache_dir())
    import numba

    jit, njit = numba.jit, numba.njit

    def caching(decorator):
        def wrapped(*args, **kwargs):
            if len(args) == 1 and callable(args[0]) and not kwargs:  # bare @numba.njit
                return decorator(cache=True)(args[0])
            kwargs.setdefault("cache", True)
            return decorator(*args, **kwargs)

        return wrapped

    numba.jit, numba.njit = caching(jit), caching(njit)
    try:
        import umap
    finally:
        numba.jit, numba.njit = jit, njit
    return umap
