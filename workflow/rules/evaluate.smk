# Fine-tuning (task x mode x rep), evaluation per task, and the summary across tasks.


rule finetune:
    input:
        backbone=backbone_input,
        train="results/dataset/finetune.h5",
        val="results/dataset/validation.h5",
    output:
        model="results/finetune/{task}/{mode}-{rep}/model.pt",
        scores="results/finetune/{task}/{mode}-{rep}/scores.npz",
        metrics="results/finetune/{task}/{mode}-{rep}/metrics.json",
    log:
        "logs/finetune/{task}/{mode}-{rep}.log",
    benchmark:
        "results/benchmarks/finetune/{task}/{mode}-{rep}.tsv"
    params:
        config=CONFIG,
        digest=digest("finetune"),
        backbone=backbone_arg,
        outdir=subpath(output.model, parent=True),
    threads: 2
    resources:
        mem_mb=4000,
    conda:
        env_for("resim")
    shell:
        "rs3l finetune --config {params.config} --task {wildcards.task}"
        " --mode {wildcards.mode} --rep {wildcards.rep} {params.backbone}"
        " --out {params.outdir} --train {input.train} --val {input.val} > {log} 2>&1"


rule evaluate:
    input:
        test="results/dataset/test.h5",
        val="results/dataset/validation.h5",
        backbone=backbone_checkpoint,
        models=finetune_inputs,
    output:
        rejection=report(
            "results/evaluate/{task}/rejection.csv",
            caption="../report/eval_rejection.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        wasserstein=report(
            "results/evaluate/{task}/wasserstein.csv",
            caption="../report/eval_wasserstein.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        knn=report(
            "results/evaluate/{task}/knn.csv",
            caption="../report/eval_knn.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        roc=report(
            "results/evaluate/{task}/roc.png",
            caption="../report/eval_roc.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        roc_subclass=report(
            "results/evaluate/{task}/roc_subclass.png",
            caption="../report/eval_roc_subclass.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        wasserstein_plot=report(
            "results/evaluate/{task}/wasserstein.png",
            caption="../report/eval_wasserstein_plot.rst",
            category="Evaluation",
            subcategory="{task}",
        ),
        discriminating_dim=report(
            "results/evaluate/{task}/discriminating_dim.png",
            caption="../report/eval_discriminating_dim.rst",
            category="Representation",
            subcategory="{task}",
        ),
        corner=report(
            "results/evaluate/{task}/corner.png",
            caption="../report/eval_corner.rst",
            category="Representation",
            subcategory="{task}",
        ),
        tsne=report(
            "results/evaluate/{task}/tsne.png",
            caption="../report/eval_tsne.rst",
            category="Representation",
            subcategory="{task}",
        ),
        tables=multiext("results/evaluate/{task}/", "rejection.md", "wasserstein.md", "knn.md"),
        metrics="results/evaluate/{task}/metrics.json",
        scores="results/evaluate/{task}/scores.npz",
    log:
        "logs/evaluate/{task}.log",
    benchmark:
        "results/benchmarks/evaluate/{task}.tsv"
    params:
        config=CONFIG,
        digest=digest("evaluate"),
        outdir=subpath(output.metrics, parent=True),
        models=finetune_dirs,
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        env_for("resim")
    shell:
        "rs3l evaluate --config {params.config} --task {wildcards.task}"
        " --out {params.outdir} --backbone {input.backbone} --test {input.test}"
        " --val {input.val}"
        " {params.models} > {log} 2>&1"


rule summary:
    input:
        splits=expand("results/dataset/{split}.h5", split=wf.SPLITS),
        backbone=backbone_checkpoint,
        evaluations=evaluate_outputs,
    output:
        report("results/summary.md", caption="../report/eval_summary.rst", category="Summary"),
    log:
        "logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    params:
        config=CONFIG,
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        env_for("resim")
    shell:
        "rs3l summary --config {params.config} --out {output} > {log} 2>&1"
