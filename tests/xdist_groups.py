"""Running the suite on several CPUs (pytest-xdist: `make test` runs
``-n logical --dist loadgroup --no-loadscope-reorder``), each shared run made once.

* :func:`made_once`: a shared run (the quick DAG, the toy workflow) is made by the first worker
  that needs it, in a directory all workers see, while the others wait for it.
* Each test module is one unit of work, so module-scoped fixtures (the tiny family's DAG) are
  made once too; xdist's own ``loadgroup`` grouping cannot be used for that, see
  :func:`pytest_xdist_make_scheduler`.
* Order: the first module that reads the quick DAG (it makes it) and the family's module go out
  first, the other readers of the quick DAG last, so the workers' other tests overlap the DAG
  runs and its readers find it made.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

QUICK_READERS = ("quick_dag", "quick_project")  # quick_project reads quick_dag
FAMILY_READERS = ("family_run",)
GROUPS_DIR = pytest.StashKey[Path]()


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
    ranks: dict[str, int] = {}
    first_reader = None
    for item in items:
        module, names = module_of(item), item.fixturenames
        if any(f in names for f in QUICK_READERS):
            first_reader = first_reader or module
            ranks[module] = 0 if module == first_reader else 3
        elif any(f in names for f in FAMILY_READERS):
            ranks[module] = min(ranks.get(module, 1), 1)
        else:
            ranks.setdefault(module, 2)
    return ranks


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """(controller) Where each worker writes the unit of work of each test it collected."""
    stash = node.config.stash
    if GROUPS_DIR not in stash:
        stash[GROUPS_DIR] = Path(tempfile.mkdtemp(prefix="xdist-groups-"))
    node.workerinput["groups_dir"] = str(stash[GROUPS_DIR])


def pytest_collection_modifyitems(config, items):
    """(worker) Order the modules; tell the controller's scheduler each test's module."""
    workerinput = getattr(config, "workerinput", {})
    if "groups_dir" not in workerinput:
        return  # a plain one-process run keeps pytest's order
    ranks = module_ranks(items)
    items.sort(key=lambda item: ranks[module_of(item)])  # stable: a module stays in one piece
    out = Path(workerinput["groups_dir"]) / f"{workerinput['workerid']}.json"
    out.with_suffix(".tmp").write_text(json.dumps({item.nodeid: module_of(item) for item in items}))
    out.with_suffix(".tmp").replace(out)


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before xdist's own loadgroup scheduler
def pytest_xdist_make_scheduler(config, log):
    """A module per unit of work, in the workers' order. (``--dist loadscope`` would group by
    module too, but orders the modules by size; xdist's ``loadgroup`` reads a test's group from a
    suffix it writes into the node id, which pytest 9.2's structured node ids ignore,
    pytest-dev/pytest-xdist#1386.) Enabled by ``--dist loadgroup``."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # first called once every worker has collected
                self.groups = {}
                for f in sorted(config.stash[GROUPS_DIR].glob("*.json")):
                    self.groups.update(json.loads(f.read_text()))
            return self.groups.get(nodeid, nodeid)

    return ModuleScheduling(config, log)


def pytest_unconfigure(config):
    if GROUPS_DIR in config.stash:
        shutil.rmtree(config.stash[GROUPS_DIR], ignore_errors=True)
