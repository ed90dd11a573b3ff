"""Fine-tuning (``rs3l finetune``): a task's labelled jets (:mod:`.tasks`, :mod:`.labelled`), a
tagger on a backbone (:mod:`.taggers`: the head of :mod:`.heads`, LoRA adapters of :mod:`.lora`)
trained by one loop (:mod:`.loop`), for every mode of :mod:`.finetune`. Evaluation and the
anomaly detection reuse the tasks, the taggers and the loop."""
