"""Dark-jet anomaly detection (``rs3l anomaly``, seed 001 §5.5): an autoencoder on a frozen
backbone (:mod:`.autoencoder`), its run and supervised benchmark (:mod:`.run`), the ROC figure
(:mod:`.plot`) and the anomaly section's config checks (:mod:`.checks`)."""
