"""``python -m train.pretrain`` / ``torchrun ... -m train.pretrain``: pre-training on one or
several processes, the arguments of ``rs3l pretrain`` (:func:`.run.main`)."""

import sys

from .run import main

sys.exit(main())
