# The merged splits in the layouts the field trains on (config `export`, off by default): one
# `resim export` per format and split into results/export/<format>/<split>/.


rule export:
    input:
        layout.SPLIT,
    output:
        directory(layout.EXPORT),
    log:
        "logs/export/{fmt}/{split}.log",
    benchmark:
        "results/benchmarks/export/{fmt}/{split}.tsv"
    wildcard_constraints:
        fmt="jetclass|rs3l",
    params:
        config=CONFIG,
        max_jets=config["export"]["max_jets"],
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        env_for("resim")
    shell:
        "resim export --format {wildcards.fmt} --out {output} --name {wildcards.split}"
        " --max-jets {params.max_jets} --config {params.config} {input} > {log} 2>&1"
