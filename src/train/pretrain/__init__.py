"""Pre-training (``rs3l pretrain``): one training loop (:mod:`.pretrain`) behind two objectives,
contrastive RS3L pairs (:mod:`.contrastive`, NT-Xent in :mod:`.losses`) and masked particle
modelling (:mod:`.mpm`), on one process or several (:mod:`.distributed`)."""
