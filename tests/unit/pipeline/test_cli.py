"""The ``phrenology`` command line: provenance trees and audit exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from phrenology.pipeline.cli import EXIT_ERROR, EXIT_NOT_CURRENT, EXIT_OK, main

from conftest import REPO

FIG01 = "results/figures/fig01_table.png"


def test_help_lists_both_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "provenance" in out and "audit" in out


def test_python_dash_m_runs_the_same_program(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-m", "phrenology", "audit", "-d", str(tmp_path)],
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert proc.returncode == EXIT_ERROR
    assert "phrenology audit: no provenance records" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_provenance_of_a_file_without_record_exits_2(tmp_path, capsys):
    assert main(["provenance", "results/x.png", "-d", str(tmp_path)]) == EXIT_ERROR
    assert "no provenance record" in capsys.readouterr().err


@pytest.mark.integration
def test_provenance_prints_the_tree_or_json(toy_workflow, capsys):
    assert main(["provenance", FIG01, "-d", str(toy_workflow)]) == EXIT_OK
    text = capsys.readouterr().out
    assert text.startswith(FIG01)
    for expected in ("rule fig01", "rule summarize", "rule make_data [seed=1]",
                     "rule make_data [seed=2]", "title=toy table", "seed (wildcard): 1, 2",
                     "config files: config.yaml"):  # fmt: skip
        assert expected in text
    assert main(["provenance", FIG01 + ".prov.json", "-d", str(toy_workflow), "--json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    assert tree["path"] == FIG01 and tree["generatedBy"]["rule"] == "fig01"


@pytest.mark.integration
def test_audit_exit_codes_table_and_json(toy_workflow, capsys):
    d = str(toy_workflow)
    assert main(["audit", "-d", d]) == EXIT_OK
    assert "6 records: 6 current" in capsys.readouterr().out

    data = toy_workflow / "results/data/seed2.npy"
    np.save(data, np.load(data) + 1)
    assert main(["audit", "-d", d, "--no-config"]) == EXIT_NOT_CURRENT
    out = capsys.readouterr().out
    assert "modified       results/data/seed2.npy" in out
    assert "input results/data/seed2.npy changed since it was used" in out

    assert main(["audit", "-d", d, "--no-config", "--json", "results/table.md"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in report["records"]] == ["results/table.md"]
    assert report["records"][0]["status"] == "stale" and report["counts"]["stale"] == 1

    assert main(["audit", "-d", d, "--no-config", "results/data/seed1.npy"]) == EXIT_OK
    assert main(["audit", "-d", d, "--no-config", "results/unknown.png"]) == EXIT_ERROR
    assert "no provenance record for results/unknown.png" in capsys.readouterr().err


@pytest.mark.integration
def test_audit_against_another_config_file(toy_workflow, capsys, monkeypatch):
    monkeypatch.chdir(toy_workflow)
    changed = (toy_workflow / "config.yaml").read_text().replace("scale: 2.0", "scale: 2.5")
    (toy_workflow / "other.yaml").write_text(changed)
    assert main(["audit", "--config", "other.yaml"]) == EXIT_NOT_CURRENT
    out = capsys.readouterr().out
    assert "config differs now (other.yaml): scale: 2.0 → 2.5" in out
    assert "5 current, 1 stale" in out
    assert main(["audit", "--config", "missing.yaml"]) == EXIT_ERROR
