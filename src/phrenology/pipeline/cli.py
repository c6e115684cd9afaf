"""``phrenology``: command-line tools around the pipeline's products.

    phrenology provenance results/figures/fig05_….png     lineage of a figure, as a tree
    phrenology audit --configfile config/quick.yaml       is every product still current?
    phrenology dvc sync --configfile config/quick.yaml    dvc.yaml from the Snakemake DAG
    phrenology hashes -o run1.tsv; phrenology hashes --compare run1.tsv   same numbers as before?
    phrenology prewarm -- snakemake --cores 2              jobs in prewarmed processes (local)

``python -m phrenology`` is the same program.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from phrenology.pipeline.errors import PhrenologyError

EXIT_OK, EXIT_NOT_CURRENT, EXIT_ERROR = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phrenology",
        description="Provenance, audit and hashes of attention-phrenology results; DVC; prewarmed runs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prov = sub.add_parser(
        "provenance",
        help="print the lineage of an output back to the corpus, tokenizer, seeds and config",
        description="Print the lineage of an output (from its provenance record and the "
        "records of everything upstream) as a tree.",
    )
    prov.add_argument("path", help="an output of the pipeline, e.g. a figure under results/")
    prov.add_argument("--json", action="store_true", help="print the lineage as JSON")
    prov.add_argument(
        "-d", "--directory", default=".", help="Snakemake working directory (default: .)"
    )

    aud = sub.add_parser(
        "audit",
        help="re-hash every recorded product and its inputs; exit 1 unless all are current",
        description="Report every recorded product as current, stale, missing-input, modified "
        "or missing. Exit status: 0 all current, 1 some not current, 2 the audit could not run.",
    )
    aud.add_argument(
        "paths", nargs="*", help="report only these products (default: all under --results)"
    )
    aud.add_argument(
        "--results",
        action="append",
        help="folder holding the records, relative to --directory (repeatable; default: results)",
    )
    aud.add_argument(
        "--configfile",
        "--config",
        dest="configfiles",
        action="append",
        metavar="FILE",
        help="compare each rule's config subset with what this config gives now; repeatable "
        "(default: the config files each product was made with, as they read now)",
    )
    aud.add_argument("--snakefile", help="Snakefile to evaluate (default: the one recorded)")
    aud.add_argument(
        "--no-config", action="store_true", help="check files only, not the config subsets"
    )
    aud.add_argument(
        "-d", "--directory", default=".", help="Snakemake working directory (default: .)"
    )
    aud.add_argument("--json", action="store_true", help="print the findings as JSON")
    _add_dvc_parser(sub)
    _add_hashes_parser(sub)
    _add_prewarm_parser(sub)
    return parser


def _add_dvc_parser(sub: argparse._SubParsersAction) -> None:
    dvc = sub.add_parser(
        "dvc",
        help="keep dvc.yaml in step with the Snakefile; record and restore results with DVC",
        description="dvc.yaml is generated from the Snakemake DAG (one stage per job).",
    )
    actions = dvc.add_subparsers(dest="action", required=True, metavar="ACTION")
    sync = actions.add_parser(
        "sync", help="write dvc.yaml for a config file (--check: only tell whether it is current)"
    )
    sync.add_argument("--check", action="store_true", help="exit 1 and print a diff if stale")
    record = actions.add_parser(
        "record",
        help="after a Snakemake run, store its products in dvc.lock and the DVC cache "
        "(dvc commit), so that dvc repro has nothing to do",
    )
    restore = actions.add_parser(
        "restore",
        help="dvc pull (or checkout), then mark the products up to date for Snakemake "
        "(snakemake --touch in DAG order), so that it reruns nothing",
    )
    restore.add_argument("--no-pull", action="store_true", help="dvc checkout from the cache")
    restore.add_argument("--remote", help="DVC remote to pull from (default: the default remote)")
    repro = actions.add_parser(
        "repro",
        help="sync dvc.yaml, dvc repro, then mark the products up to date for Snakemake "
        "(DVC skips stages whose inputs came out unchanged; Snakemake compares times)",
    )
    for p in (sync, record, restore, repro):
        p.add_argument(
            "--configfile",
            help="config file, relative to the repository (default: the one dvc.yaml names, "
            "else config/quick.yaml)",
        )
        p.add_argument("--repo", default=".", help="repository root (default: .)")


def run_dvc(args: argparse.Namespace) -> int:
    from pathlib import Path

    from phrenology.provenance import dvc

    repo = Path(args.repo).resolve()
    config = args.configfile or dvc.configured(repo / dvc.DVC_YAML)
    config = config or dvc.DEFAULT_CONFIG
    if args.action == "sync":
        if args.check:
            changes = dvc.diff(config, repo)
            print(changes or f"dvc.yaml is up to date with the workflow for {config}\n", end="")
            return EXIT_NOT_CURRENT if changes else EXIT_OK
        changed = dvc.sync(config, repo)
        print(f"dvc.yaml {'written' if changed else 'already up to date'} for {config}")
        return EXIT_OK
    if args.action == "record":
        _, _, note = dvc.record(config, repo)
        print(f"phrenology dvc record: {note}")
        return EXIT_OK
    if args.action == "repro":
        dvc.repro(config, repo)
        print(f"phrenology dvc repro: done; products marked up to date for Snakemake ({config})")
        return EXIT_OK
    print(dvc.restore(config, repo, pull=not args.no_pull, remote=args.remote))
    return EXIT_OK


def _add_hashes_parser(sub: argparse._SubParsersAction) -> None:
    hsh = sub.add_parser(
        "hashes",
        help="content hash of every tensor and table; compare two runs",
        description="Print 'path<TAB>sha256' for every tensor and table under --results "
        "(timings, device names, figures and provenance records left out), or compare them "
        "with a manifest written earlier. Exit status: 0 same, 1 different, 2 error.",
    )
    hsh.add_argument("--results", default="results", help="folder of results (default: results)")
    hsh.add_argument("-o", "--output", help="write the manifest to this file instead of stdout")
    hsh.add_argument(
        "--compare", metavar="MANIFEST", help="compare with a manifest written by an earlier run"
    )


def _add_prewarm_parser(sub: argparse._SubParsersAction) -> None:
    pre = sub.add_parser(
        "prewarm",
        help="run a command (snakemake ...) with its jobs in prewarmed Python processes",
        description="Run COMMAND beside a server that has imported torch, TransformerLens and "
        "the other heavy libraries once; each job of a local Snakemake run then starts from a "
        "fork of it instead of importing them again, with the same outputs. Jobs that cannot "
        "(Slurm, conda envs, another environment) run in their own process as before. "
        "Exit status: COMMAND's.",
    )
    pre.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND ...",
                     help="the command and its arguments, e.g. -- snakemake --cores 2")  # fmt: skip


def run_prewarm(args: argparse.Namespace) -> int:
    from phrenology.pipeline import prewarm

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise PhrenologyError("no command given: phrenology prewarm -- snakemake --cores 2 ...")
    return prewarm.run(cmd)


def run_hashes(args: argparse.Namespace) -> int:
    from phrenology.provenance.hashes import compare, manifest, read_manifest, write_manifest

    hashes = manifest(args.results)
    if args.output:
        write_manifest(args.output, hashes)
    if args.compare:
        diff = compare(hashes, read_manifest(args.compare))
        for key, what in (("differ", "differs"), ("only_a", "only here"),
                          ("only_b", f"only in {args.compare}")):  # fmt: skip
            for path in diff[key]:
                print(f"{what}\t{path}")
        same = not any(diff.values())
        print(f"{len(hashes)} products: " + ("identical" if same else "NOT identical"),
              file=sys.stderr)  # fmt: skip
        return EXIT_OK if same else EXIT_NOT_CURRENT
    if not args.output:
        print("".join(f"{p}\t{h}\n" for p, h in sorted(hashes.items())), end="")
    return EXIT_OK


def run_provenance(args: argparse.Namespace) -> int:
    from phrenology.provenance.lineage import format_lineage, lineage

    tree = lineage(args.path, args.directory)
    print(json.dumps(tree, indent=2) if args.json else format_lineage(tree))
    return EXIT_OK


def run_audit(args: argparse.Namespace) -> int:
    import os

    from phrenology.provenance.audit import audit, counts, format_table

    findings = audit(
        args.directory,
        args.results or ["results"],
        check_config=not args.no_config,
        configfiles=args.configfiles,
        snakefile=args.snakefile,
    )
    if args.paths:
        wanted = {os.path.normpath(p) for p in args.paths}
        unknown = wanted - {f.path for f in findings}
        if unknown:
            raise PhrenologyError(f"no provenance record for {', '.join(sorted(unknown))}")
        findings = [f for f in findings if f.path in wanted]
    if args.json:
        print(json.dumps({"counts": counts(findings), "records": [f.as_dict() for f in findings]},
                         indent=2))  # fmt: skip
    else:
        print(format_table(findings))
    return EXIT_OK if all(f.status == "current" for f in findings) else EXIT_NOT_CURRENT


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "provenance":
            return run_provenance(args)
        if args.command == "dvc":
            return run_dvc(args)
        if args.command == "hashes":
            return run_hashes(args)
        if args.command == "prewarm":
            return run_prewarm(args)
        return run_audit(args)
    except PhrenologyError as e:
        print(f"phrenology {args.command}: {e}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
