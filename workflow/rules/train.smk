# Pre-training of every backbone of pretrain.runs on the pretrain split (H + QCD jets only; the
# W jets of the out-of-distribution task are in no pretrain shard), validated (best epoch, early
# stopping) on the validation split; then fine-tuning: every task x size x backbone x mode x rep.
# The study's axes come from train.study through resim_workflow.runs (one place, unit-tested);
# resim_workflow.startup checked them at parse time, so a bad study fails at `snakemake -n`.


wildcard_constraints:
    backbone="|".join(map(re.escape, runs.backbones(config))),
    size=r"\d+|all",


rule pretrain:
    input:
        train=layout.split_path("pretrain"),
        val=layout.split_path("validation"),
    output:
        checkpoint=f"{layout.TRAIN}/checkpoint.pt",
        last=f"{layout.TRAIN}/last.pt",
        metrics=f"{layout.TRAIN}/metrics.csv",
        summary=f"{layout.TRAIN}/metrics.json",
        curves=report(
            f"{layout.TRAIN}/curves.png",
            caption="../report/curves.rst",
            category="Pre-training",
            subcategory="{name}",
        ),
        cosine=report(
            f"{layout.TRAIN}/cosine.png",
            caption="../report/cosine.rst",
            category="Pre-training",
            subcategory="{name}",
        ),
    log:
        "logs/pretrain/{name}.log",
    benchmark:
        "results/benchmarks/pretrain/{name}.tsv"
    params:
        config=CONFIG,
        digest=lambda wildcards: stage_digest(config, "pretrain", backbone=wildcards.name),
        outdir=subpath(output.checkpoint, parent=True),
    threads: 2
    resources:
        mem_mb=8000,
    conda:
        env_for("resim")
    shell:
        "rs3l pretrain --config {params.config} --run {wildcards.name} --out {params.outdir}"
        " {input.train} --val {input.val} > {log} 2>&1"


# A tagger on a backbone (fixed: head only; floating: everything; lora: head and low-rank
# adapters).
rule finetune:
    input:
        backbone=layout.path(layout.CHECKPOINT, name="{backbone}"),
        train=labelled("finetune"),
        val=labelled("validation"),
    output:
        model=f"{layout.FINETUNE}/{layout.TAGGER_RUN}/model.pt",
        scores=f"{layout.FINETUNE}/{layout.TAGGER_RUN}/scores.npz",
        metrics=f"{layout.FINETUNE}/{layout.TAGGER_RUN}/metrics.json",
    wildcard_constraints:
        mode="fixed|floating|lora",
    log:
        "logs/finetune/{task}/{size}/{backbone}/{mode}-{rep}.log",
    benchmark:
        "results/benchmarks/finetune/{task}/{size}/{backbone}/{mode}-{rep}.tsv"
    params:
        config=CONFIG,
        digest=digest("finetune"),
        outdir=subpath(output.model, parent=True),
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        env_for("resim")
    shell:
        "rs3l finetune --config {params.config} --task {wildcards.task} --size {wildcards.size}"
        " --mode {wildcards.mode} --rep {wildcards.rep} --backbone {input.backbone}"
        " --out {params.outdir} --train {input.train} --val {input.val} > {log} 2>&1"


# The fully supervised baseline: the backbones' network from scratch, the same jets.
rule supervised:
    input:
        train=labelled("finetune"),
        val=labelled("validation"),
    output:
        model=f"{layout.FINETUNE}/{layout.BASELINE_RUN}/model.pt",
        scores=f"{layout.FINETUNE}/{layout.BASELINE_RUN}/scores.npz",
        metrics=f"{layout.FINETUNE}/{layout.BASELINE_RUN}/metrics.json",
    log:
        "logs/finetune/{task}/{size}/supervised-{rep}.log",
    benchmark:
        "results/benchmarks/finetune/{task}/{size}/supervised-{rep}.tsv"
    params:
        config=CONFIG,
        digest=digest("finetune"),
        outdir=subpath(output.model, parent=True),
        network=runs.baseline_network(config),
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        env_for("resim")
    shell:
        "rs3l finetune --config {params.config} --task {wildcards.task} --size {wildcards.size}"
        " --mode supervised --rep {wildcards.rep} --run {params.network}"
        " --out {params.outdir} --train {input.train} --val {input.val} > {log} 2>&1"


# When the backbones differ in network: one baseline per network, trained from scratch, below
# the first backbone with it (no pre-training input: it reads the run's network, not weights).
use rule supervised as supervised_network with:
    output:
        model=f"{layout.FINETUNE}/{layout.NETWORK_BASELINE_RUN}/model.pt",
        scores=f"{layout.FINETUNE}/{layout.NETWORK_BASELINE_RUN}/scores.npz",
        metrics=f"{layout.FINETUNE}/{layout.NETWORK_BASELINE_RUN}/metrics.json",
    log:
        "logs/finetune/{task}/{size}/{backbone}/supervised-{rep}.log",
    benchmark:
        "results/benchmarks/finetune/{task}/{size}/{backbone}/supervised-{rep}.tsv"
    params:
        config=CONFIG,
        digest=digest("finetune"),
        outdir=lambda wildcards, output: str(Path(output.model).parent),
        network=lambda wildcards: wildcards.backbone,
