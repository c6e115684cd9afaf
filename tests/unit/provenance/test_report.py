"""The HTML report: every figure and Table 1 with its caption and provenance summary."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from phrenology.pipeline.errors import DataError
from phrenology.provenance import records
from phrenology.provenance.report import provenance_rst, summary_name

from conftest import REPO, run_in

SUMMARIES = "results/report/provenance"


def write_record(workdir: Path, path: str, rule: str, used: list[dict], sha: str, **act) -> None:
    (workdir / path).parent.mkdir(parents=True, exist_ok=True)
    (workdir / path).write_text(sha)
    record = {
        "schema": records.SCHEMA,
        "entity": {"path": path, "sha256": sha},
        "wasGeneratedBy": {"id": path, "rule": rule, "params": {}, "wildcards": {}, **act},
        "used": used,
        "wasAssociatedWith": {
            "git": {"commit": "c0ffee" * 7, "dirty": True},
            "host": "node7",
            "slurm": {"job_id": "4242"},
            "software": {"python": "3.11.7", "torch": "2.13.0", "umap-learn": "0.5.12"},
        },
    }
    records.record_path(workdir / path).write_text(json.dumps(record))


def test_summary_names_mirror_the_results_tree():
    assert summary_name("results/figures/fig04.png") == "figures/fig04.png.rst"
    with pytest.raises(DataError, match="not under results/"):
        summary_name("elsewhere/fig.png")


def test_provenance_summary_names_file_job_code_config_inputs_seeds_sources(tmp_path):
    source = [{"path": "/data/brown.zip", "sha256": "9" * 64, "role": "corpus"},
              {"path": None, "role": "tokenizer", "name": "gpt2", "vocab_sha256": "e" * 64}]  # fmt: skip
    write_record(tmp_path, "results/data.npy", "make_data", source, "d" * 64,
                 wildcards={"seed": "7"}, params={"seed": 7})  # fmt: skip
    used = [{"path": "results/data.npy", "sha256": "d" * 64, "role": "data"}]
    write_record(tmp_path, "results/figures/fig.png", "plot", used, "f" * 64,
                 params={"k": 3, "umap": {"n_neighbors": 5}}, startedAtTime="2026-01-02T03:04:05Z",
                 duration_s=1.5, command={"configfiles": ["config/quick.yaml"],
                                          "script": "workflow/scripts/plot.py",
                                          "script_sha256": "5" * 64})  # fmt: skip
    text = provenance_rst("results/figures/fig.png", tmp_path)
    fields = dict(re.findall(r"^:([^:]+): (.*)$", text, re.M))
    assert "``results/figures/fig.png`` sha256 ``ffffffffffff``" in fields["file"]
    assert "rule ``plot``" in fields["made by"] and "Slurm job ``4242``" in fields["made by"]
    assert "``c0ffeec0ffee`` with uncommitted changes" in fields["code"]
    assert "``workflow/scripts/plot.py`` sha256 ``555555555555``" in fields["code"]
    assert "``config/quick.yaml``" in fields["config"]
    assert "``k=3`` ``umap.n_neighbors=5``" in fields["config"]
    assert fields["inputs"] == "``results/data.npy`` (``dddddddddddd``)"
    assert fields["seeds upstream"] == "``make_data: seed=7``"
    assert "``/data/brown.zip`` sha256 ``999999999999``" in fields["data sources"]
    assert "vocab_sha256=eeeeeeeeeeee" in fields["data sources"]
    assert fields["software"] == "python 3.11.7, torch 2.13.0"


def test_a_product_without_record_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no provenance record"):
        provenance_rst("results/figures/none.png", tmp_path)


def test_every_report_caption_includes_the_summary_of_its_own_product():
    """Static: each report() output names a caption that includes its product's summary."""
    text = "\n".join(p.read_text() for p in sorted((REPO / "rules").glob("*.smk")))
    items = re.findall(r'report\(\s*"([^"]+)",\s*caption="\.\./report/([^"]+)"', text)
    # Figs. 1-14, 9b-9c, 12b-12c, Table 1, the three verdict figures and the head overview
    assert len(items) == 23
    for product, caption in items:
        include = f".. include:: {SUMMARIES}/{summary_name(product)}"
        assert include in (REPO / "report" / caption).read_text(), f"{caption} lacks {include}"


def report_results(html: str) -> dict[str, dict]:
    """The report's items (path → name, caption HTML, …) from its embedded JSON."""
    match = re.search(r"var results = (\{.*?\});\n", html, re.S)
    assert match, "no results table in the report"
    return json.loads(match.group(1))


@pytest.mark.integration
def test_report_has_every_figure_and_table_1_with_caption_and_provenance(quick_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(quick_project, project, symlinks=True)
    run_in(project, "python", "-m", "snakemake", "--configfile", "config/quick.yaml",
           "--report", "report.html")  # fmt: skip
    results = report_results((project / "report.html").read_text())
    figures = sorted(p for p in results if re.search(r"/fig\d\d_.*\.png$", p))
    assert [re.search(r"fig(\d\d)", p).group(1) for p in figures] == [
        f"{i:02d}" for i in range(1, 15)
    ]
    assert "results/figures/table1_aic.tsv" in results
    for path in [*figures, "results/figures/table1_aic.tsv"]:
        record = json.loads((project / (path + ".prov.json")).read_text())
        caption = results[path]["caption"]
        assert "Provenance" in caption, path
        assert "system-message" not in caption, f"{path}: docutils could not render its caption"
        assert record["entity"]["sha256"][:12] in caption, f"{path}: its sha256 is not shown"
        assert record["wasGeneratedBy"]["rule"] in caption
        commit = (record["wasAssociatedWith"].get("git") or {}).get("commit")
        assert commit is None or commit[:12] in caption, f"{path}: git commit not shown"
    assert re.search(r"AIC", results["results/figures/table1_aic.tsv"]["caption"])
