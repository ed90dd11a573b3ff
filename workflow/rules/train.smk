# RS3L pre-training: one contrastive backbone on the pretrain split (H + QCD jets only; the
# W jets of the out-of-distribution task are in no pretrain shard), validated (best epoch,
# early stopping) on the validation split.


rule pretrain:
    input:
        train="results/dataset/pretrain.h5",
        val="results/dataset/validation.h5",
    output:
        checkpoint="results/train/{name}/checkpoint.pt",
        last="results/train/{name}/last.pt",
        metrics="results/train/{name}/metrics.csv",
        summary="results/train/{name}/metrics.json",
        curves=report(
            "results/train/{name}/curves.png",
            caption="../report/curves.rst",
            category="Pre-training",
        ),
        cosine=report(
            "results/train/{name}/cosine.png",
            caption="../report/cosine.rst",
            category="Pre-training",
        ),
    log:
        "logs/pretrain/{name}.log",
    benchmark:
        "results/benchmarks/pretrain/{name}.tsv"
    params:
        config=CONFIG,
        digest=digest("pretrain"),
        outdir=subpath(output.checkpoint, parent=True),
    threads: 2
    resources:
        mem_mb=8000,
    conda:
        env_for("resim")
    shell:
        "rs3l pretrain --config {params.config} --out {params.outdir} {input.train}"
        " --val {input.val} > {log} 2>&1"
