# attention-phrenology: the whole DAG. Rules live in rules/*.smk; the science in src/phrenology.
#   snakemake --cores all                                  the paper (config/config.yaml)
#   snakemake --cores all --configfile config/quick.yaml   the small default (make run)


include: "rules/common.smk"
include: "rules/corpus.smk"


if PRETRAINED:  # a published family (models.source: pretrained): fetched, not trained

    include: "rules/pretrained.smk"

else:

    include: "rules/train.smk"


include: "rules/capture.smk"
include: "rules/compare.smk"
include: "rules/autoencoder.smk"
include: "rules/clustering.smk"
include: "rules/knockout.smk"
include: "rules/verdict.smk"
include: "rules/summary.smk"  # last: it summarises the report() outputs of the rules above


rule all:
    default_target: True
    input:
        final_outputs(),
