# Pre-training of every backbone of pretrain.runs on the pretrain split (H + QCD jets only; the
# W jets of the out-of-distribution task are in no pretrain shard), validated (best epoch, early
# stopping) on the validation split; then fine-tuning: every task x size x backbone x mode x rep.
# The study's axes come from train.study through resolve.workflow (one place, unit-tested).

# Backbone names and labels unique, every run a valid pretrain section whose views the dataset
# has, sizes unique: checked here, at parse time, so a bad study fails at `snakemake -n`.
wf.check_study(config)


wildcard_constraints:
    backbone="|".join(map(re.escape, wf.backbones(config))),
    size=r"\d+|all",


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
            subcategory="{name}",
        ),
        cosine=report(
            "results/train/{name}/cosine.png",
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
        digest=lambda wildcards: wf.stage_digest(config, "pretrain", backbone=wildcards.name),
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
        backbone="results/train/{backbone}/checkpoint.pt",
        train=labelled("finetune"),
        val=labelled("validation"),
    output:
        model="results/finetune/{task}/{size}/{backbone}/{mode}-{rep}/model.pt",
        scores="results/finetune/{task}/{size}/{backbone}/{mode}-{rep}/scores.npz",
        metrics="results/finetune/{task}/{size}/{backbone}/{mode}-{rep}/metrics.json",
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
        model="results/finetune/{task}/{size}/supervised-{rep}/model.pt",
        scores="results/finetune/{task}/{size}/supervised-{rep}/scores.npz",
        metrics="results/finetune/{task}/{size}/supervised-{rep}/metrics.json",
    log:
        "logs/finetune/{task}/{size}/supervised-{rep}.log",
    benchmark:
        "results/benchmarks/finetune/{task}/{size}/supervised-{rep}.tsv"
    params:
        config=CONFIG,
        digest=digest("finetune"),
        outdir=subpath(output.model, parent=True),
        network=wf.baseline_network(config),
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
        model="results/finetune/{task}/{size}/{backbone}/supervised-{rep}/model.pt",
        scores="results/finetune/{task}/{size}/{backbone}/supervised-{rep}/scores.npz",
        metrics="results/finetune/{task}/{size}/{backbone}/supervised-{rep}/metrics.json",
    log:
        "logs/finetune/{task}/{size}/{backbone}/supervised-{rep}.log",
    benchmark:
        "results/benchmarks/finetune/{task}/{size}/{backbone}/supervised-{rep}.tsv"
    params:
        config=CONFIG,
        digest=digest("finetune"),
        outdir=lambda wildcards, output: str(Path(output.model).parent),
        network=lambda wildcards: wildcards.backbone,
