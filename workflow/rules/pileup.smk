# Pile-up pool: minimum-bias events (Pythia SoftQCD:inelastic, the run's tune) that every
# simulate job overlays when pileup.mu > 0. One job per pool shard.


rule pileup_pool:
    output:
        layout.POOL,
    log:
        "logs/pileup_pool/{pshard}.log",
    benchmark:
        "results/benchmarks/pileup_pool/{pshard}.tsv"
    params:
        config=CONFIG,
        digest=digest("pileup"),
        shard=lambda wildcards: startup.pool_shard(config, wildcards.pshard),
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        env_for("resim")
    shell:
        "resim pileup-pool --config {params.config} --shard {params.shard}"
        " --out {output} > {log} 2>&1"
