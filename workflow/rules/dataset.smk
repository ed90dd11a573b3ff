# Paired HDF5: pair the views of each (sample, shard), merge the shards of each split,
# plot the validation distributions of each split. `snakemake dataset` stops here.


rule dataset:
    input:
        expand("results/dataset/{split}.h5", split=wf.SPLITS),
        expand("results/plots/dataset/{split}", split=wf.SPLITS),


rule pair:
    input:
        view_inputs,
    output:
        "results/dataset/{sample}/{shard}.h5",
    log:
        "logs/pair/{sample}/{shard}.log",
    benchmark:
        "results/benchmarks/pair/{sample}/{shard}.tsv"
    params:
        config=CONFIG,
        digest=digest("pair"),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        env_for("resim")
    shell:
        "resim pair --config {params.config} --sample {wildcards.sample}"
        " --shard {wildcards.shard} --out {output} {input} > {log} 2>&1"


rule merge:
    input:
        split_inputs,
    output:
        "results/dataset/{split}.h5",
    log:
        "logs/merge/{split}.log",
    benchmark:
        "results/benchmarks/merge/{split}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        env_for("resim")
    shell:
        "resim merge --out {output} {input} > {log} 2>&1"


rule plots:
    input:
        "results/dataset/{split}.h5",
    output:
        report(
            directory("results/plots/dataset/{split}"),
            patterns=["{name}.png"],
            caption="../report/plots.rst",
            category="Dataset",
            subcategory="{split}",
        ),
    log:
        "logs/plots/{split}.log",
    benchmark:
        "results/benchmarks/plots/{split}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        env_for("resim")
    shell:
        "resim plots --outdir {output} {input} > {log} 2>&1"
