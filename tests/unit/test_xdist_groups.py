"""The suite's own scheduling on several CPUs (tests/xdist_groups.py): a shared run is made once
per suite, its readers share its worker and go out first, and the rest is spread."""

import os
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

CONFTEST = """
import os, pytest
pytest_plugins = ["xdist_groups"]

def log(line):
    with open(os.environ["XG_LOG"], "a") as f:
        f.write(line + "\\n")

@pytest.fixture(scope="session")
def quick_dag(worker_id):
    log(f"{worker_id} made")

@pytest.fixture(autouse=True)
def record(request, worker_id):
    log(f"{worker_id} {request.node.name}")
"""


def test_a_shared_run_is_made_once_and_its_tests_share_one_worker(pytester, monkeypatch, tmp_path):
    log = tmp_path / "log"
    monkeypatch.setenv("XG_LOG", str(log))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )
    pytester.makeconftest(CONFTEST)
    reads = "import time\n" + "".join(
        f"def test_{{m}}{i}(quick_dag):\n    time.sleep(0.1)\n" for i in range(3)
    )
    plain = "import time\n" + "".join(
        f"def test_{{m}}{i}():\n    time.sleep(0.1)\n" for i in range(4)
    )
    # the readers of the shared run come last in collection order and in two modules
    pytester.makepyfile(
        test_1=plain.format(m="plain_a"), test_2=plain.format(m="plain_b"),
        test_3=reads.format(m="reads_a"), test_4=reads.format(m="reads_b"),
    )  # fmt: skip
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=14)
    lines = [line.split() for line in log.read_text().splitlines()]
    made = [worker for worker, what in lines if what == "made"]
    assert len(made) == 1, lines  # once per suite, not once per worker
    readers = {worker for worker, what in lines if what.startswith("test_reads")}
    assert readers == set(made), lines  # every reader on the worker that made it
    assert len({worker for worker, _ in lines}) == 2, lines  # and the rest spread over both
    first = next(what for worker, what in lines if worker == made[0] and what != "made")
    assert first.startswith("test_reads"), lines  # the shared run went out first
