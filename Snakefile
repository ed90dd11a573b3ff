# resim: hard scatter -> re-simulated views -> paired HDF5 -> RS3L pre-training -> fine-tuning
# -> evaluation. Rules are thin: each calls one `resim` / `rs3l` sub-command (docs/architecture.md).
#   snakemake --cores 2                          the default (config.yaml), laptop scale
#   snakemake --cores 2 --configfile config/tiny.yaml
#   snakemake --workflow-profile workflow/profiles/slurm --configfile config/rs3l-paper.yaml
from snakemake.utils import min_version

min_version("8.20")


# A preset given with --configfile is a whole config: it replaces config.yaml (merging would keep
# config.yaml's views). --config KEY=VALUE overrides single keys on top of either.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# common.smk validates the config against workflow/schemas/config.schema.yaml first.
include: "workflow/rules/common.smk"
include: "workflow/rules/hard.smk"
include: "workflow/rules/pileup.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/anomaly.smk"


onstart:
    prepare_run()


rule all:
    input:
        all_targets,
    default_target: True
