# Evaluation per task (every size, backbone, mode and repetition at once) and the summary, which
# reads exactly the files its rule names.


rule evaluate:
    input:
        test=labelled("test"),
        val=labelled("validation"),
        backbones=backbone_checkpoints,
        models=finetune_inputs,
    output:
        rejection=report(
            f"{layout.EVALUATE}/rejection.csv",
            caption="../report/eval_rejection.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        wasserstein=report(
            f"{layout.EVALUATE}/wasserstein.csv",
            caption="../report/eval_wasserstein.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        knn=report(
            f"{layout.EVALUATE}/knn.csv",
            caption="../report/eval_knn.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        roc=report(
            f"{layout.EVALUATE}/roc.png",
            caption="../report/eval_roc.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        roc_subclass=report(
            f"{layout.EVALUATE}/roc_subclass.png",
            caption="../report/eval_roc_subclass.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        wasserstein_plot=report(
            f"{layout.EVALUATE}/wasserstein.png",
            caption="../report/eval_wasserstein_plot.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        discriminating_dim=report(
            backbone_plots("discriminating_dim"),
            caption="../report/eval_discriminating_dim.rst",
            category="Representation",
            subcategory="{task}",
        ),
        corner=report(
            backbone_plots("corner"),
            caption="../report/eval_corner.rst",
            category="Representation",
            subcategory="{task}",
        ),
        tsne=report(
            backbone_plots("tsne"),
            caption="../report/eval_tsne.rst",
            category="Representation",
            subcategory="{task}",
        ),
        label_efficiency=report(
            f"{layout.EVALUATE}/label_efficiency.png",
            caption="../report/eval_label_efficiency.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        label_efficiency_wasserstein=report(
            f"{layout.EVALUATE}/label_efficiency_wasserstein.png",
            caption="../report/eval_label_efficiency_wasserstein.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        curves=backbone_plots("curves"),
        cosine=backbone_plots("cosine"),
        tables=multiext(f"{layout.EVALUATE}/", "rejection.md", "wasserstein.md", "knn.md"),
        metrics=f"{layout.EVALUATE}/metrics.json",
        scores=f"{layout.EVALUATE}/scores.npz",
    log:
        "logs/evaluate/{task}.log",
    benchmark:
        "results/benchmarks/evaluate/{task}.tsv"
    params:
        config=CONFIG,
        digest=digest("evaluate"),
        outdir=subpath(output.metrics, parent=True),
        models=finetune_dirs,
        backbones=backbone_args,
    threads: 2
    resources:
        mem_mb=4000,
    conda:
        env_for("resim")
    shell:
        "rs3l evaluate --config {params.config} --task {wildcards.task}"
        " --out {params.outdir} {params.backbones} --test {input.test}"
        " --val {input.val}"
        " {params.models} > {log} 2>&1"


rule summary:
    input:
        splits=expand(layout.SPLIT, split=SPLITS),
        pretrain=pretrain_metrics,
        evaluations=evaluate_outputs,
        anomaly=layout.ANOMALY_METRICS if runs.anomaly_samples(config) else [],
    output:
        report(layout.SUMMARY, caption="../report/eval_summary.rst", category="Summary"),
    log:
        "logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    params:
        config=CONFIG,
        anomaly=lambda wildcards, input: f"--anomaly {input.anomaly}" if input.anomaly else "",
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        env_for("resim")
    shell:
        "rs3l summary --config {params.config} --out {output} --splits {input.splits}"
        " --pretrain {input.pretrain} --evaluations {input.evaluations} {params.anomaly}"
        " > {log} 2>&1"
