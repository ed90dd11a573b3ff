"""train: RS3L backbones, contrastive pre-training, fine-tuning and evaluation."""
