# Dark-jet anomaly detection (seed 001 §5.5, Fig. 9): an autoencoder on the frozen backbone,
# trained on the SM jets of the finetune split, scored on the test split and on every dark-jet
# sample (their shards belong to no split); the supervised benchmark for anomaly.benchmark.


rule anomaly_detection:
    input:
        backbone=layout.backbone_path(runs.anomaly_backbone(config)) if runs.anomaly_samples(config) else [],
        train=layout.split_path("finetune"),
        val=layout.split_path("validation"),
        test=layout.split_path("test"),
        dark=anomaly_dark_inputs,
    output:
        metrics=layout.ANOMALY_METRICS,
        table=f"{layout.ANOMALY}/auc.md",
        scores=f"{layout.ANOMALY}/scores.npz",
        autoencoder=f"{layout.ANOMALY}/autoencoder.pt",
        roc=report(
            f"{layout.ANOMALY}/roc.png",
            caption="../report/anomaly_roc.rst",
            category="Anomaly detection",
        ),
    log:
        "logs/anomaly.log",
    benchmark:
        "results/benchmarks/anomaly.tsv"
    params:
        config=CONFIG,
        digest=digest("anomaly"),
        outdir=lambda wildcards, output: os.path.dirname(output.metrics),
        dark=anomaly_dark_args,
    threads: 2
    resources:
        mem_mb=8000,
    conda:
        env_for("resim")
    shell:
        "rs3l anomaly --config {params.config} --backbone {input.backbone}"
        " --train {input.train} --val {input.val} --test {input.test}"
        " {params.dark} --out {params.outdir} > {log} 2>&1"
