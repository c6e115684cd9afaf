"""The README's and docs' runnable shell blocks name commands, targets and files that exist.

A block is runnable when the line before its opening fence is ``<!-- runnable -->``. For every
command line in such a block: ``make`` targets exist in the Makefile and ``CONFIG=`` files exist;
``phrenology …`` parses with the real CLI parser; ``dvc`` subcommands exist; ``snakemake``'s
``--configfile``/``--profile``/``--snakefile`` name files in the repository; every repository path
a line names (``config/…``, ``docs/…``, ``src/…``, …) exists. Placeholders (``<…>``, ``…``) are
not checked.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from phrenology.pipeline.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARK = "<!-- runnable -->"
REPO_DIRS = (
    "config",
    "docs",
    "src",
    "rules",
    "workflow",
    "slurm",
    "benchmarks",
    "tests",
    "envs",
    "report",
)
# Commands the block may use besides the project's own (shell builtins and common tools).
KNOWN = {
    "cd",
    "export",
    "source",
    "git",
    "pip",
    "python",
    "python3",
    "ls",
    "cat",
    "rm",
    "find",
    "sed",
}


def runnable_blocks(path: Path) -> list[tuple[int, list[str]]]:
    """(line number of the fence, command lines) of every block marked runnable in ``path``."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == MARK:
            fence = i + 1
            if fence >= len(lines) or not lines[fence].startswith("```"):
                raise AssertionError(
                    f"{path.name}:{i + 1}: {MARK} must stand right before a ``` fence"
                )
            end = fence + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            blocks.append((fence + 1, lines[fence + 1 : end]))
            i = end
        i += 1
    return blocks


def commands(block: list[str]) -> list[list[str]]:
    """Each non-empty line without its comment, split like a shell; ``&&`` starts a new command."""
    out = []
    for line in block:
        words = shlex.split(line, comments=True)
        cmd: list[str] = []
        for w in [*words, "&&"]:
            if w in ("&&", "||", ";", "|"):
                if cmd:
                    out.append(cmd)
                cmd = []
            else:
                cmd.append(w)
    return out


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", text, flags=re.M))


def dvc_subcommands() -> set[str]:
    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
    if dvc is None:
        pytest.skip("dvc is not installed")
    text = subprocess.run([dvc, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"^\s{4}(\w[\w-]*)\s", text, flags=re.M))


def placeholder(word: str) -> bool:
    return "<" in word or "…" in word or "$" in word


def check_paths(words: list[str]) -> list[str]:
    """Repository paths named by the words (also after KEY=) that do not exist."""
    missing = []
    for w in words:
        w = w.split("=", 1)[-1]
        if placeholder(w) or not w.startswith(tuple(d + "/" for d in REPO_DIRS)):
            continue
        if not (REPO / w).exists():
            missing.append(w)
    return missing


def check(cmd: list[str], targets: set[str], dvc_cmds) -> list[str]:
    """Problems with one command, as messages."""
    problems = [f"no such file: {p}" for p in check_paths(cmd)]
    while cmd and re.fullmatch(r"[A-Z_]+=\S*", cmd[0]):  # VAR=value command …
        cmd = cmd[1:]
    if not cmd:
        return problems
    prog = cmd[0]
    name = Path(prog).name
    if prog.startswith(".venv/bin/"):
        if not (REPO / prog).exists() and not (Path(sys.executable).parent / name).exists():
            problems.append(f"{prog} is not installed by make venv")
    if name == "make":
        for w in cmd[1:]:
            if "=" not in w and not w.startswith("-") and w not in targets:
                problems.append(f"make target {w!r} is not in the Makefile")
    elif name == "phrenology":
        args = cmd[1:]
        if not any(placeholder(a) for a in args):
            try:
                build_parser().parse_args(args)
            except SystemExit:
                problems.append(f"phrenology {' '.join(args)} does not parse")
    elif name == "dvc":
        if len(cmd) > 1 and cmd[1] not in dvc_cmds():
            problems.append(f"dvc has no subcommand {cmd[1]!r}")
    elif name == "snakemake":
        for opt in ("--configfile", "--snakefile"):
            if opt in cmd and not (REPO / cmd[cmd.index(opt) + 1]).exists():
                problems.append(f"{opt} {cmd[cmd.index(opt) + 1]} does not exist")
        if "--profile" in cmd and not (REPO / cmd[cmd.index("--profile") + 1]).is_dir():
            problems.append(f"--profile {cmd[cmd.index('--profile') + 1]} is not a folder here")
    elif name not in KNOWN:
        problems.append(f"unknown command {prog!r}")
    return problems


def all_blocks():
    return [(path, line, block) for path in DOCS for line, block in runnable_blocks(path)]


def test_the_readme_and_docs_have_runnable_blocks():
    marked = {path.name for path, _, _ in all_blocks()}
    assert "README.md" in marked
    assert len(marked) >= 3, marked


@pytest.mark.parametrize(
    ("path", "line", "block"),
    all_blocks(),
    ids=[f"{p.name}:{n}" for p, n, _ in all_blocks()],
)
def test_runnable_block_names_what_exists(path, line, block):
    targets = make_targets()
    cache: dict[str, set[str]] = {}

    def dvc_cmds():
        if "dvc" not in cache:
            cache["dvc"] = dvc_subcommands()
        return cache["dvc"]

    problems = [
        f"{m}  ({' '.join(c)})" for c in commands(block) for m in check(c, targets, dvc_cmds)
    ]
    assert not problems, f"{path.name}:{line}:\n" + "\n".join(problems)


def test_the_checker_can_fail():
    targets = make_targets()
    assert check(["make", "no-such-target"], targets, set)
    assert check(["phrenology", "no-such-command"], targets, set)
    assert check(["snakemake", "--configfile", "config/nope.yaml"], targets, set)
    assert check(["ls", "docs/nope.md"], targets, set)
    assert check(["frobnicate"], targets, set)
    assert not check(["make", "run", "CONFIG=config/config.yaml"], targets, set)
