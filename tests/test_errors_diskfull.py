"""Writes fail cleanly (issue 18, class 3): a full disk or a file-size limit during any writer is
exit 2 and one line naming the output and the reason; no temporary file, no half output; a
command with several outputs publishes all or none.

The limit is real: each command runs in a subprocess under ``RLIMIT_FSIZE`` with SIGXFSZ
ignored, so the kernel refuses the write (EFBIG) wherever it happens, as a full disk would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fixtures_train import tiny_config, write_pairs

SRC = Path(__file__).resolve().parents[1] / "src"

LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from {module} import main
sys.exit(main(sys.argv[2:]))
"""

CONFIG = {"run": {"seed": 3, "events_per_shard": 20, "batch_size": 20},
          "samples": {"qcd": {"process": "zjet_nunu", "shards": 2, "eta_max": 2.0}},
          "views": {"nominal": {"fork": "hard"}, "rehad": {"fork": "shower", "parent": "nominal"}},
          "jets": {"pt_min": 300.0, "eta_max": 2.0}}


def _env(cwd: Path) -> dict:
    # no byte-code: under the limit Python would leave truncated .pyc files in the checkout
    return {"PYTHONPATH": f"{SRC}{':' + str(SRC.parent / 'tests')}", "PATH": "/usr/bin:/bin",
            "HOME": str(cwd), "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}


def run(cwd: Path, script: str, argv: list, limit: int | None = None):
    module = {"resim": "resim.cli", "rs3l": "train.cli"}[script]
    cmd = [sys.executable, "-c", LIMITED.format(module=module), str(limit or 2**40),
           *map(str, argv)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=_env(cwd),
                          timeout=600)


def _errors(proc) -> list[str]:
    """The lines of stderr that are not log records."""
    return [line for line in proc.stderr.splitlines()
            if line.strip() and not line[:4].isdigit()]  # log lines start with the date


def _litter(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*.tmp"))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One shard made without a limit: LHE, view file, paired files, training files."""
    root = tmp_path_factory.mktemp("diskfull")
    # matplotlib's font cache (under HOME) is matplotlib's write, not a writer's: made first
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=_env(root),
                   check=True)
    (root / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    job = ["--config", "config.yaml", "--sample", "qcd"]
    for shard in (0, 1):
        for argv in (["hard", *job, "--shard", shard, "--out", f"hard/{shard}.lhe.gz"],
                     ["simulate", *job, "--shard", shard, "--lhe", f"hard/{shard}.lhe.gz",
                      "--out", f"views/{shard}.h5"],
                     ["pair", *job, "--shard", shard, "--out", f"dataset/{shard}.h5",
                      f"views/{shard}.h5"]):
            proc = run(root, "resim", argv)
            assert proc.returncode == 0, proc.stderr
    train = tiny_config(epochs=1, val_fraction=0.0)
    train["pileup"] = {"pool_events": 20}
    train["finetune"].update(epochs=1, device="cpu")
    (root / "train.yaml").write_text(yaml.safe_dump(train))
    write_pairs(root / "pairs.h5", 256, seed=1)
    write_pairs(root / "val.h5", 64, seed=2, shard=1)
    proc = run(root, "rs3l", ["finetune", "--config", "train.yaml", "--task", "h_vs_qcd",
                              "--mode", "supervised", "--out", "ft/supervised-0", "--train",
                              "pairs.h5", "--val", "val.h5"])  # a model for rs3l evaluate
    assert proc.returncode == 0, proc.stderr
    return root


JOB = ["--config", "config.yaml", "--sample", "qcd", "--shard", "0"]

#: writer: (script, arguments, its outputs, a file as large as its output: the limit is half
#: of it, so that the write fails in the middle; None: only the first bytes are allowed)
WRITERS = {
    "hard": ("resim", ["hard", *JOB, "--out", "out/0.lhe.gz"], ["out/0.lhe.gz", "out/0.json"],
             "hard/0.lhe.gz"),
    "simulate": ("resim", ["simulate", *JOB, "--lhe", "hard/0.lhe.gz", "--out", "out/0.h5"],
                 ["out/0.h5"], "views/0.h5"),
    "pair": ("resim", ["pair", *JOB, "--out", "out/0.h5", "views/0.h5"], ["out/0.h5"],
             "dataset/0.h5"),
    "merge": ("resim", ["merge", "--out", "out/train.h5", "dataset/0.h5", "dataset/1.h5"],
              ["out/train.h5"], None),
    "views": ("resim", ["views", *JOB, "--lhe", "hard/0.lhe.gz", "--out", "out/v.h5"],
              ["out/v.h5"], "views/0.h5"),
    "plots": ("resim", ["plots", "--outdir", "out", "dataset/0.h5"], ["out/0_mass.png"], None),
    "pretrain": ("rs3l", ["pretrain", "--config", "train.yaml", "--out", "out", "pairs.h5"],
                 ["out/last.pt", "out/checkpoint.pt"], None),
    "summary": ("rs3l", ["summary", "--config", "config.yaml", "--splits", "pairs.h5",
                         "--pretrain", "train/metrics.json", "--out", "out/summary.md"],
                ["out/summary.md"], None),
    "pileup-pool": ("resim", ["pileup-pool", "--config", "train.yaml", "--shard", "0", "--out",
                              "out/pool.h5"], ["out/pool.h5"], None),
    "finetune": ("rs3l", ["finetune", "--config", "train.yaml", "--task", "h_vs_qcd", "--mode",
                          "supervised", "--out", "out", "--train", "pairs.h5", "--val", "val.h5"],
                 ["out/model.pt", "out/metrics.json"], None),
    "evaluate": ("rs3l", ["evaluate", "--config", "train.yaml", "--task", "h_vs_qcd", "--out",
                          "out", "--test", "val.h5", "--val", "val.h5", "ft/supervised-0"],
                 ["out/metrics.json"], None),
}


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("where", ["start", "middle"])
def test_a_write_that_does_not_fit_is_one_line(made, writer, where):
    script, argv, outputs, like = WRITERS[writer]
    if where == "middle" and like is None:
        pytest.skip("an output of a few kB: its first write already fails")
    limit = 200 if where == "start" else (made / like).stat().st_size // 2
    proc = run(made, script, argv, limit)
    errors = _errors(proc)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{script} {argv[0]}: error: cannot write out/")
    assert errors[0].endswith("file too large (a file-size limit, ulimit -f?)")
    assert not any((made / o).exists() for o in outputs)
    assert _litter(made) == []


def test_hard_publishes_neither_file_when_one_fails(made):
    """The statistics cannot be written (a directory stands there): the LHE file goes too."""
    (made / "out2" / "0.json").mkdir(parents=True)
    proc = run(made, "resim", ["hard", *JOB, "--out", "out2/0.lhe.gz"])
    assert proc.returncode == 2
    assert _errors(proc) == ["resim hard: error: cannot write out2/0.json: Is a directory"]
    assert not (made / "out2" / "0.lhe.gz").exists() and _litter(made) == []


def test_plots_publish_all_files_or_none(made):
    """The second file's plots fail (it is not a paired file): the first one's go too."""
    proc = run(made, "resim", ["plots", "--outdir", "out3", "dataset/0.h5", "views/1.h5"])
    assert proc.returncode == 2 and len(_errors(proc)) == 1
    assert list((made / "out3").glob("*.png")) == []


def test_plots_of_two_files_with_one_name_are_refused(made):
    proc = run(made, "resim", ["plots", "--outdir", "out4", "dataset/0.h5", "views/0.h5"])
    assert proc.returncode == 2
    assert _errors(proc) == ["resim plots: error: views/0.h5: its plots would overwrite those of "
                             "dataset/0.h5 (0_mass.png in out4); plot them into separate "
                             "directories"]
