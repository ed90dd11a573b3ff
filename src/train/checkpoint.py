"""Pre-training checkpoints: one dict, written atomically, restorable bit for bit.

Format (the file rule pretrain hands rule finetune, docs/architecture.md): ``{"model_config",
"state_dict", "epoch", "optimizer", "scheduler", "rng_state", "config", "metrics"}`` plus ``"trainer"`` (early-stopping bookkeeping) and, for
masked particle modelling, ``"mpm"``.
``epoch`` is the number of finished epochs. Only tensors, numbers, strings, lists and dicts are
stored, so ``torch.load(..., weights_only=True)`` reads it.
"""

from __future__ import annotations

import collections
import io
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resim.errors import ResimError
from resim.io import atomic_path

REQUIRED_KEYS = ("model_config", "state_dict", "epoch", "optimizer", "scheduler", "rng_state",
                 "config", "metrics")


class CheckpointError(ResimError):
    """A checkpoint is missing, unreadable or lacks a required entry."""


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside a DistributedDataParallel (or any ``.module``) wrapper."""
    return getattr(model, "module", model)


def rng_state() -> dict[str, Any]:
    """torch's CPU and CUDA generator states (the loader's randomness derives from the epoch)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, *, model: nn.Module, epoch: int,
                    optimizer: torch.optim.Optimizer, scheduler: Any, config: dict,
                    metrics: list[dict], trainer: dict | None = None,
                    extra: dict[str, Any] | None = None) -> None:
    """Write the checkpoint dict to ``path`` atomically (a crash never leaves half a file).

    ``extra`` adds entries beside the backbone's (e.g. ``"mpm"``: the masked-particle head and
    tokeniser, which are not part of the backbone that fine-tuning loads).
    """
    bare = unwrap(model)
    payload = {
        "model_config": bare.model_config,
        "state_dict": bare.state_dict(),
        "epoch": epoch,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng_state": rng_state(),
        "config": config,
        "metrics": metrics,
        "trainer": trainer or {},
        **(extra or {}),
    }
    atomic_torch_save(payload, path)


def _canonical(obj: Any) -> Any:
    """``obj`` with the same content and no object sharing that depends on how it was made:
    fresh containers, every string interned.

    pickle writes an object once and refers back to it when the same object comes again. An
    uninterrupted run's optimizer keys ('lr', ...) are torch's interned literals, the same
    objects as the config's keys; a resumed run's come from the unpickled last.pt and are not,
    so equal checkpoints pickled to different bytes (and a different serialization_id).
    """
    if isinstance(obj, str):
        return sys.intern(obj)
    if isinstance(obj, dict):
        items = [(_canonical(k), _canonical(v)) for k, v in obj.items()]
        if isinstance(obj, collections.defaultdict):
            new = type(obj)(obj.default_factory, items)
        else:
            new = type(obj)(items)
        if getattr(obj, "__dict__", None):  # a state_dict's _metadata (module versions)
            new.__dict__.update(_canonical(obj.__dict__))
        return new
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    if isinstance(obj, tuple) and type(obj) is tuple:
        return tuple(_canonical(v) for v in obj)
    return obj


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to ``path`` atomically and reproducibly.

    Saving into memory, not to the temporary path: torch names the archive's records after the
    file it is given, and the random temporary name would make identical runs differ; and its
    zip writer reports a full disk only as "unexpected pos", where a plain write says why.
    """
    buffer = io.BytesIO()
    torch.save(_canonical(obj), buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


#: How the files torch.save writes start: a zip archive, or a pickle (the legacy format).
_TORCH_MAGIC = (b"PK\x03\x04", b"\x80")
#: Files a checkpoint argument is mistaken for, by their first bytes.
_OTHER_FILES = {b"\x89HDF\r\n\x1a\n": "an HDF5 file (a dataset?)",
                b"\x1f\x8b": "a gzip file (an LHE file?)"}


#: What each kind of checkpoint is and where it comes from (a tagger records its ``mode``).
KINDS = {"pretraining": "a pre-training checkpoint (rs3l pretrain's results/train/<name>/"
                        "checkpoint.pt)",
         "tagger": "a tagger (rs3l finetune's model.pt)"}


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu",
                    kind: str | None = None) -> dict[str, Any]:
    """Read a checkpoint; CheckpointError naming the file if it is missing or malformed, or
    not of ``kind`` (a key of :data:`KINDS`) when given."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head.startswith(_TORCH_MAGIC):
        what = next((kind for magic, kind in _OTHER_FILES.items() if head.startswith(magic)),
                    "not a file torch.save writes")
        raise CheckpointError(f"checkpoint {path} is not a PyTorch checkpoint: {what}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for truncated / foreign files
        raise CheckpointError(f"checkpoint {path} cannot be read: {err}") from None
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {missing}")
    found = "tagger" if "mode" in checkpoint else "pretraining"
    if kind is not None and found != kind:
        raise CheckpointError(f"checkpoint {path} is {KINDS[found]}, not {KINDS[kind]}")
    return checkpoint
