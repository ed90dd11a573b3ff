# Paired HDF5: pair the views of each (sample, shard), merge the shards of each split,
# plot the validation distributions of each split. `snakemake dataset` stops here.


rule dataset:
    input:
        expand(layout.SPLIT, split=SPLITS),
        expand(layout.DATASET_PLOTS, split=SPLITS),


rule pair:
    input:
        view_inputs,
    output:
        layout.PAIRED,
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
        layout.SPLIT,
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
        layout.SPLIT,
    output:
        report(
            directory(layout.DATASET_PLOTS),
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
