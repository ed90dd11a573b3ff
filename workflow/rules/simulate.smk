# Re-simulation: one job per (sample, shard) runs every view in dataset.view_order; forks restart
# from their parent's parton- or hadron-level record in memory, and with jets.require_all_views
# each view simulates only the events still holding an object every earlier view selected (the
# cascade). Output: the matched jets of every view, with cut-flows.


rule simulate:
    input:
        lhe=layout.HARD,
        pool=pileup_inputs,
    output:
        layout.VIEWS,
    log:
        "logs/simulate/{sample}/{shard}.log",
    benchmark:
        "results/benchmarks/simulate/{sample}/{shard}.tsv"
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
        " --shard {wildcards.shard} --lhe {input.lhe} --pileup {input.pool}"
        " --out {output} > {log} 2>&1"
