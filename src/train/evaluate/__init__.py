"""Evaluation of fine-tuned taggers and of the learned representation (seed 000 §III).

``metrics``: ROC, background rejection at fixed signal efficiency, Wasserstein robustness,
kNN accuracy. ``representation``: backbone embeddings and the statistics the plots show.
``tables``: the seed's rejection and Wasserstein tables (CSV + Markdown). ``plots``: the seed's
figures. ``pipeline``: the whole evaluation of a task; ``cli``: ``rs3l evaluate``.
"""
