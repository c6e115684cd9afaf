"""envs/*.yaml: the per-rule conda environments agree with requirements.txt and cover the rules.

conda is not needed: the files are checked statically. Every job rule must name an env, every
pin must equal requirements.txt, and every third-party module a rule's script imports
(directly, through the phrenology modules it uses) must be pinned in that rule's env.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import yaml
from workflow_info import REPO, job_rules, quick_workflow

ENVS = sorted((REPO / "envs").glob("*.yaml"))
PACKAGE = "phrenology"
SRC = REPO / "src"


def normalize(name: str) -> str:
    """PEP 503 name: ``Transformer_Lens`` and ``transformer-lens`` are the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"requirements.txt: {line!r} is not pinned with =="
            pins[normalize(name)] = version.strip()
    return pins


def env_spec(path: Path) -> tuple[list[str], dict[str, str]]:
    """(conda-level dependencies, {pip distribution: pinned version}) of one env file."""
    spec = yaml.safe_load(path.read_text())
    conda, pip = [], {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if line.startswith("-"):  # pip options such as --extra-index-url
                    continue
                name, sep, version = line.partition("==")
                assert sep, f"{path.name}: pip entry {line!r} is not pinned with =="
                pip[normalize(name)] = version.strip()
        else:
            conda.append(dep)
    return conda, pip


def test_there_are_envs():
    assert ENVS, "no envs/*.yaml"


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_pins_equal_requirements(path):
    pins = requirement_pins()
    conda, pip = env_spec(path)
    assert pip, f"{path.name} pins no packages"
    for name, version in pip.items():
        assert name in pins, f"{path.name}: {name} is not in requirements.txt"
        assert version == pins[name], (
            f"{path.name}: {name}=={version}, requirements.txt has {name}=={pins[name]}"
        )
    # Only the interpreter and pip come from conda; packages from conda channels would carry
    # versions (and builds) that requirements.txt does not control.
    names = {re.split(r"[=<>! ]", d)[0] for d in conda}
    assert names == {"python", "pip"}, f"{path.name}: conda-level dependencies {sorted(names)}"
    assert "python=3.11" in conda, f"{path.name}: pin python=3.11 (the project's Python)"


def test_torch_is_pinned_like_requirements():
    pins = requirement_pins()
    torch_envs = [p.name for p in ENVS if "torch" in env_spec(p)[1]]
    assert torch_envs, "no env provides torch"
    for path in ENVS:
        version = env_spec(path)[1].get("torch")
        assert version in (None, pins["torch"])


def test_every_job_rule_names_an_env():
    missing = [r["name"] for r in job_rules(quick_workflow()) if not r["conda"]]
    assert not missing, f"rules without a conda: directive: {missing}"
    for rule in job_rules(quick_workflow()):
        env = Path(rule["conda"])
        assert env.is_file(), f"rule {rule['name']}: {env} does not exist"
        assert env.parent == REPO / "envs", f"rule {rule['name']}: env {env} is not in envs/"


# --- which third-party modules a script needs --------------------------------------------------


def _module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(nodes) -> list[ast.Import | ast.ImportFrom]:
    """Import statements among ``nodes`` and their nested blocks, minus TYPE_CHECKING blocks."""
    found = []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """Statements that run on import: everything but function and class bodies."""
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [node for node in tree.body if not isinstance(node, defs)]


def _resolve(node: ast.Import | ast.ImportFrom) -> tuple[set[str], dict[str, str]]:
    """(top-level third-party names, {local alias: package module}) bound by one import."""
    third, local = set(), {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == PACKAGE:
                local[alias.asname or alias.name] = alias.name
            else:
                third.add(alias.name.split(".")[0])
    elif node.level == 0 and node.module:
        if node.module.split(".")[0] == PACKAGE:
            for alias in node.names:
                # a module (from phrenology.pipeline import io) or a function (from phrenology.pipeline.io import f)
                local[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        else:
            third.add(node.module.split(".")[0])
    return third, local


def third_party_imports(script: Path) -> set[str]:
    """Top-level third-party modules that running ``script`` imports.

    All imports of the script itself; for the package modules it reaches, their module-level
    imports (recursively) plus the imports inside the functions the script calls by name.
    """
    tree = ast.parse(script.read_text())
    third: set[str] = set()
    used: set[str] = set()  # "phrenology.mod" or "phrenology.mod.function"
    aliases: dict[str, str] = {}
    for node in _imports(tree.body):
        t, local = _resolve(node)
        third |= t
        aliases.update(local)
        used |= set(local.values())
    for node in ast.walk(tree):  # io.write_tsv(...) -> phrenology.pipeline.io.write_tsv
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in aliases:
                used.add(f"{aliases[node.value.id]}.{node.attr}")

    seen: set[str] = set()
    todo = sorted(used)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        module, function = name, None
        if not _module_file(module):
            module, _, function = name.rpartition(".")
        path = _module_file(module)
        if path is None:
            continue
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent __init__ runs too
        tree = ast.parse(path.read_text())
        nodes = _module_level(tree)
        if function:
            nodes += [
                n
                for n in tree.body
                if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == function
            ]
        for node in _imports(nodes):
            t, local = _resolve(node)
            third |= t
            todo += list(local.values())
    return {m for m in third if m not in sys.stdlib_module_names}


def distributions(module: str) -> set[str]:
    """Distributions that provide top-level ``module`` in this environment."""
    return {normalize(d) for d in importlib.metadata.packages_distributions().get(module, [])}


def test_import_analysis_follows_the_package(tmp_path):
    """The checker sees imports inside the package functions a script calls (else it could not fail)."""
    script = tmp_path / "script.py"
    script.write_text(
        "from phrenology.pipeline.jobs import snakemake_job\n"
        "with snakemake_job(snakemake) as job:\n"
        "    from phrenology.data import vocab\n"
        "    from phrenology.pipeline import io\n"
        "    io.read_tsv('x')\n"
        "    vocab.load_encoding('gpt2')\n"
    )
    found = third_party_imports(script)
    assert {"pandas", "numpy", "tiktoken"} <= found  # read_tsv, io's module level, load_encoding
    assert "torch" not in found  # only inside Job.set_torch_threads, which is not called


@pytest.mark.slow
def test_each_env_provides_what_its_rules_import():
    problems = []
    for rule in job_rules(quick_workflow()):
        if not (rule["script"] and rule["conda"]):
            continue
        pinned = set(env_spec(Path(rule["conda"]))[1])
        for module in sorted(third_party_imports(Path(rule["script"]))):
            dists = distributions(module)
            if not dists:
                problems.append(f"{rule['name']}: imports {module}, not installed here")
            elif not dists & pinned:
                problems.append(
                    f"rule {rule['name']}: {Path(rule['script']).name} imports {module} "
                    f"({'/'.join(sorted(dists))}) but {Path(rule['conda']).name} does not pin it"
                )
    assert not problems, "\n".join(problems)
