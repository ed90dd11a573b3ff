# Re-simulation: one job per (sample, shard, root view). A root view is a hard fork; the
# shower/hadron forks under it run in the same job, because they restart from its parton-level
# or hadron-level record in memory. Output: jets of every view of the group, with cut-flows.


rule simulate:
    input:
        lhe="results/hard/{sample}/{shard}.lhe.gz",
    output:
        "results/views/{sample}/{shard}/{root}.h5",
    log:
        "logs/simulate/{sample}/{shard}/{root}.log",
    benchmark:
        "results/benchmarks/simulate/{sample}/{shard}/{root}.tsv"
    params:
        config=CONFIG,
        digest=digest("simulate"),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        simulate_env
    shell:
        "resim simulate --config {params.config} --sample {wildcards.sample}"
        " --shard {wildcards.shard} --lhe {input.lhe} --view {wildcards.root}"
        " --out {output} > {log} 2>&1"
