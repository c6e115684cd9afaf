"""Running the suite on several CPUs (pytest-xdist: `make test` runs
``-n logical --dist loadgroup --no-loadscope-reorder``) with each shared run made once.

A test that reads one of the shared runs joins that run's group, and a group runs on one
worker: each run is made once per suite, not once per worker. Every other test is grouped
with its module, so that module-scoped fixtures are made once too. The long runs go out
first, so that the other workers' tests overlap them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

# fixture -> group. quick_project asks for quick_dag through request.getfixturevalue, which
# pytest cannot see, hence both names.
SHARED_RUNS = {"quick_dag": "quick_dag", "quick_project": "quick_dag",
               "family_run": "pretrained_family", "toy_workflow_run": "toy_workflow"}  # fmt: skip
LONG_RUNS = ("quick_dag", "pretrained_family")
GROUPS_DIR = pytest.StashKey[Path]()


def group_of(item: pytest.Item) -> str:
    for fixture, group in SHARED_RUNS.items():
        if fixture in item.fixturenames:
            return group
    return item.nodeid.split("::")[0]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """(controller) Where each worker writes the groups of the tests it collected."""
    stash = node.config.stash
    if GROUPS_DIR not in stash:
        stash[GROUPS_DIR] = Path(tempfile.mkdtemp(prefix="xdist-groups-"))
    node.workerinput["groups_dir"] = str(stash[GROUPS_DIR])


def pytest_collection_modifyitems(config, items):
    """(worker) Long runs first; each test's group to the controller's scheduler."""
    workerinput = getattr(config, "workerinput", {})
    if "groups_dir" not in workerinput:
        return  # a plain one-process run keeps pytest's order
    groups = {item.nodeid: group_of(item) for item in items}
    rank = {group: i for i, group in enumerate(LONG_RUNS)}
    items.sort(key=lambda item: rank.get(groups[item.nodeid], len(LONG_RUNS)))  # stable
    out = Path(workerinput["groups_dir"]) / f"{workerinput['workerid']}.json"
    out.with_suffix(".tmp").write_text(json.dumps(groups))
    out.with_suffix(".tmp").replace(out)


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before xdist's own loadgroup scheduler
def pytest_xdist_make_scheduler(config, log):
    """xdist's loadgroup reads a test's group from a suffix it writes into the node id, which
    pytest 9.2's structured node ids ignore (pytest-dev/pytest-xdist#1386): every group would
    be split over the workers, and the quick DAG run once per worker. This is loadgroup with
    the groups the workers wrote at collection instead."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # first called once every worker has collected
                self.groups = {}
                for f in sorted(config.stash[GROUPS_DIR].glob("*.json")):
                    self.groups.update(json.loads(f.read_text()))
            return self.groups.get(nodeid, nodeid)

    return SharedRunScheduling(config, log)


def pytest_unconfigure(config):
    if GROUPS_DIR in config.stash:
        shutil.rmtree(config.stash[GROUPS_DIR], ignore_errors=True)
