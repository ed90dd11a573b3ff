"""Binary tagging tasks (``finetune.tasks``) and the seed of each repetition."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resim.dataset.reader import PairedDataset
from resim.errors import ConfigError
from resim.seeds import derive_seed

#: Stream name for training randomness (shuffling, initialisation, view assignment).
SEED_STREAM = "train"


@dataclass(frozen=True)
class Task:
    """A binary tagging task: signal label names vs background label names."""

    name: str
    signal: tuple[str, ...]
    background: tuple[str, ...]

    @classmethod
    def from_config(cls, config: dict, name: str) -> Task:
        tasks = (config.get("finetune") or {}).get("tasks") or {}
        if name not in tasks:
            raise ConfigError(f"finetune.tasks: no task {name!r} (tasks: {', '.join(tasks) or 'none'})")
        spec = tasks[name]
        return cls(name, tuple(spec["signal"]), tuple(spec["background"]))

    def codes(self, label_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Label codes of the signal and background classes in a file's ``label_names``."""
        unknown = sorted(set(self.signal + self.background) - set(label_names))
        if unknown:
            raise ConfigError(f"finetune.tasks.{self.name}: labels {unknown} are not in the "
                              f"dataset's label_names {label_names}")
        index = {n: i for i, n in enumerate(label_names)}
        return (np.array([index[n] for n in self.signal]), np.array([index[n] for n in self.background]))

    def select(self, dataset: PairedDataset) -> tuple[np.ndarray, np.ndarray]:
        """(sorted rows of the task's classes, target 1 = signal / 0 = background).

        ConfigError naming the files when either class has no jet in them.
        """
        sig, bkg = self.codes(dataset.label_names)
        rows = np.flatnonzero(np.isin(dataset.labels, np.concatenate([sig, bkg])))
        targets = np.isin(dataset.labels[rows], sig).astype(np.float32)
        n_sig = int(targets.sum())
        if n_sig == 0 or n_sig == len(rows):
            files = ", ".join(str(p) for p in dataset.paths)
            raise ConfigError(f"finetune.tasks.{self.name}: {files} hold {n_sig} signal and "
                              f"{len(rows) - n_sig} background jets; both are needed")
        return rows, targets


def task_seed(config: dict, task: str, rep: int) -> int:
    """The seed of one repetition of one task (shared by its modes: same jets, same order)."""
    return derive_seed(config["run"]["seed"], f"finetune:{task}", rep, "all", SEED_STREAM)
