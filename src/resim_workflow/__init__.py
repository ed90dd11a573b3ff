"""The workflow's glue, above both packages: where every file lives, which jobs a config asks
for, what each rule reads, and what is checked when Snakemake parses the workflow.

Layers look down only: this package imports :mod:`resim` (simulation, dataset) and :mod:`train`
(training, evaluation); ``resim`` imports neither of them and ``train`` imports ``resim`` alone
(``tests/test_imports.py``). The Snakefile and ``workflow/rules/*.smk`` stay thin: every path,
every list of targets and every per-job digest comes from here, unit-tested without Snakemake.

- :mod:`.layout`: the results layout (``results/<stage>/...``), the one place that names a file
- :mod:`.splits`: shards of each sample assigned to the dataset splits
- :mod:`.runs`: the study's axes as jobs (backbones, tasks, fine-tuning runs, anomaly inputs) and
  the files each rule reads
- :mod:`.digests`: per-stage config digests (a job re-runs when its own sections change)
- :mod:`.startup`: what runs when the workflow is parsed (config checks, PATH)
"""
