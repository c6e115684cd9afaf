"""Running the suite on several CPUs (pytest-xdist: `make test` runs
``-n logical --dist loadscope --no-loadscope-reorder``), each shared run made once.

* :func:`made_once`: a shared run (the quick DAG, the toy workflow) is made by the first worker
  that needs it, in a directory all workers see, while the others wait for it.
* ``--dist loadscope`` sends each test module to one worker as a whole (the suite has no test
  classes), so module-scoped fixtures (the tiny family's DAG) are made once too;
  ``--no-loadscope-reorder`` keeps the modules in collection order, which
  :func:`pytest_collection_modifyitems` sets: the first module that reads the quick DAG (it
  makes it) and the family's module go out first, the other readers of the quick DAG last, so
  the workers' other tests overlap the DAG runs and its readers find it made.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest

QUICK_READERS = {"quick_dag", "quick_project"}  # quick_project reads quick_dag
FAMILY_READERS = {"family_run"}


def made_once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """A directory filled by ``make(directory)`` once per test run, however many workers ask.

    In one process: a new temporary directory. Under xdist: ``<the workers' common base>/name``,
    made by the first worker to ask while the others wait on a file lock. A failure is recorded
    beside it; the other workers then fail with its message instead of making it again."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        workdir = tmp_path_factory.mktemp(name)
        make(workdir)
        return workdir
    root = tmp_path_factory.getbasetemp().parent  # shared by this run's workers
    workdir, done, failed = root / name, root / f"{name}.done", root / f"{name}.failed"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if failed.exists():
            pytest.fail(failed.read_text(), pytrace=False)
        if not done.exists():
            workdir.mkdir(exist_ok=True)
            try:
                make(workdir)
            except BaseException as e:  # pytest.fail's exception is a BaseException
                failed.write_text(getattr(e, "msg", None) or f"{type(e).__name__}: {e}")
                raise
            done.touch()
    return workdir


def module_of(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


def module_ranks(items: list[pytest.Item]) -> dict[str, int]:
    """0: the first module reading the quick DAG; 1: the family's; 2: the rest; 3: the other
    modules reading the quick DAG."""
    fixtures: dict[str, set[str]] = {}  # module -> the fixtures its tests use, collection order
    for item in items:
        fixtures.setdefault(module_of(item), set()).update(item.fixturenames)
    readers = [module for module, names in fixtures.items() if names & QUICK_READERS]

    def rank(module: str) -> int:
        if module in readers:
            return 0 if module == readers[0] else 3
        return 1 if fixtures[module] & FAMILY_READERS else 2

    return {module: rank(module) for module in fixtures}


def pytest_collection_modifyitems(config, items):
    """(xdist worker) The modules in the order above; a plain one-process run keeps pytest's."""
    if hasattr(config, "workerinput"):
        ranks = module_ranks(items)
        items.sort(key=lambda item: ranks[module_of(item)])  # stable: a module stays in one piece
