"""The suite's own scheduling on several CPUs (tests/xdist_groups.py): a shared run is made once
for all workers, the module that makes it goes out first and its other readers last, and a
module stays on one worker."""

import os
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

CONFTEST = """
import os, time, pytest
from xdist_groups import made_once
pytest_plugins = ["xdist_groups"]

def log(line):
    with open(os.environ["XG_LOG"], "a") as f:
        f.write(line + "\\n")

@pytest.fixture(scope="session")
def quick_dag(tmp_path_factory, worker_id):
    def make(workdir):
        log(f"{worker_id} made")
        time.sleep(2)  # long enough for the other worker to reach a reader meanwhile
        (workdir / "result").write_text("made")
    return made_once(tmp_path_factory, "quick_dag", make)

@pytest.fixture(autouse=True)
def record(request, worker_id):
    log(f"{worker_id} {request.node.name}")
"""

READS = "def test_{m}{i}(quick_dag):\n    assert (quick_dag / 'result').read_text() == 'made'\n"
PLAIN = "import time\ndef test_{m}{i}():\n    time.sleep(0.1)\n"


def test_a_shared_run_is_made_once_for_every_worker(pytester, monkeypatch, tmp_path):
    log = tmp_path / "log"
    monkeypatch.setenv("XG_LOG", str(log))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )
    pytester.makeconftest(CONFTEST)

    def module(template, m, n):
        return "".join(template.format(m=m, i=i) for i in range(n))

    # collection order: a plain module, two readers, another plain module
    pytester.makepyfile(
        test_1=module(PLAIN, "plain_a", 4), test_2=module(READS, "reads_a", 3),
        test_3=module(READS, "reads_b", 3), test_4=module(PLAIN, "plain_b", 4),
    )  # fmt: skip
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "loadscope", "--no-loadscope-reorder", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=14)
    lines = [line.split() for line in log.read_text().splitlines()]
    workers = {}
    for worker, what in lines:
        workers.setdefault(what.rstrip("0123456789"), set()).add(worker)
    assert len(workers["made"]) == 1, lines  # once for the run, not once per worker
    assert len(workers["test_reads_a"] | workers["test_reads_b"]) == 2, lines  # read on both
    for module_ in ("test_plain_a", "test_plain_b", "test_reads_a", "test_reads_b"):
        assert len(workers[module_]) == 1, lines  # a module stays on one worker
    (maker,) = workers["made"]
    first = next(what for worker, what in lines if worker == maker and what != "made")
    assert first.startswith("test_reads_a"), lines  # the first reader went out first
    last = [what for _, what in lines][-1]
    assert last.startswith("test_reads"), lines  # the other reader last
