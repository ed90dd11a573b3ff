# Hard scatter: one job per (sample, shard) -> LHE + stats (embedded Pythia 8 or MadGraph).


rule hard:
    output:
        lhe=layout.HARD,
        stats=layout.HARD_STATS,
    log:
        "logs/hard/{sample}/{shard}.log",
    benchmark:
        "results/benchmarks/hard/{sample}/{shard}.tsv"
    params:
        config=CONFIG,
        digest=digest("hard"),
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        hard_env
    shell:
        "resim hard --config {params.config} --sample {wildcards.sample}"
        " --shard {wildcards.shard} --out {output.lhe} > {log} 2>&1"
