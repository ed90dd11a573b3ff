"""The SLURM profile against a real SLURM: a single-node cluster on localhost.

Debian's ``slurmctld``, ``slurmd`` and ``munge`` (installed here when missing, if we are root and
apt works) run from a slurm.conf in a temporary directory; the tiny workflow's first shard
(hard scatter + one view group) goes through ``workflow/profiles/slurm``; SLURM's job-completion
log must list every job as COMPLETED. The daemons this test started are stopped by process id.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.backend]

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scontrol", "sinfo")
TARGET = "results/views/qcd/0.h5"   # jobs: hard (qcd, 0) + simulate (qcd, 0: every view)
STAGE_MODULES = ("resim.hard.cli", "resim.forks", "resim.dataset.cli")

SLURM_CONF = """\
ClusterName=resim-test
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={root}/jobcomp.txt
MinJobAge=600
DefMemPerCPU=1000
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def ensure_slurm() -> None:
    """Install Debian's SLURM and munge when missing; skip with the reason when we cannot."""
    if all(shutil.which(tool) for tool in DAEMONS):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("SLURM is not installed and we cannot apt-get it (not root or no apt)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    if subprocess.run(install, capture_output=True, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        result = subprocess.run(install, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            pytest.skip(f"apt-get install {' '.join(PACKAGES)} failed: {result.stderr[-300:]}")
    if not all(shutil.which(tool) for tool in DAEMONS):
        pytest.skip("SLURM packages installed but their programs are not on PATH")


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def munge_works() -> bool:
    munge = subprocess.run(["munge", "-n"], capture_output=True)
    return munge.returncode == 0 and subprocess.run(
        ["unmunge"], input=munge.stdout, capture_output=True).returncode == 0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: Where every SLURM client looks. It must be this file: the job-step plugin strips SLURM_CONF
#: from the environment of the ``srun`` it starts inside each job.
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


class LocalSlurm:
    """slurmctld + slurmd (+ munged if none runs) for one test; stop() ends what start() began
    and removes the slurm.conf it wrote."""

    def __init__(self, root: Path, conf: Path = SYSTEM_CONF):
        self.root = root
        self.conf = conf
        self.env = dict(os.environ, SLURM_CONF=str(conf))
        self.processes: list[subprocess.Popen] = []
        self.wrote_conf = False

    def start(self) -> None:
        if self.conf.exists():
            pytest.skip(f"{self.conf} exists: a real SLURM setup; this test will not replace it")
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(parents=True)
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        ports = free_port(), free_port()
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.wrote_conf = True
        self.conf.write_text(SLURM_CONF.format(root=self.root, cpus=os.cpu_count(),
                                               memory_mb=int(memory_mb * 0.8),
                                               ctld_port=ports[0], d_port=ports[1]))
        if not munge_works():
            Path("/run/munge").mkdir(exist_ok=True)
            shutil.chown("/run/munge", "munge", "munge")
            self.spawn(["runuser", "-u", "munge", "--", "munged", "--foreground"], "munged")
            wait_for(munge_works, 15, "munged")
        self.spawn(["slurmctld", "-D", "-i", "-f", str(self.conf)], "slurmctld")
        wait_for(lambda: self.run("scontrol", "ping").stdout.count("UP") > 0, 30, "slurmctld")
        self.spawn(["slurmd", "-D", "-N", "localhost", "-f", str(self.conf)], "slurmd")
        wait_for(lambda: self.run("sinfo", "-h", "-o", "%t").stdout.strip() == "idle", 30,
                 "the node to become idle")

    def spawn(self, cmd: list[str], name: str) -> None:
        log = open(self.root / f"{name}.out", "wb")
        self.processes.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                               env=self.env))

    def run(self, *cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.wrote_conf:
            self.conf.unlink(missing_ok=True)

    def completed_jobs(self) -> list[dict[str, str]]:
        """Records of the job-completion log: one dict (JobId, JobState, ...) per finished job."""
        path = self.root / "jobcomp.txt"
        lines = path.read_text().splitlines() if path.exists() else []
        return [dict(field.split("=", 1) for field in line.split() if "=" in field)
                for line in lines]


@pytest.fixture()
def slurm(tmp_path_factory):
    ensure_slurm()
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_tiny_shard_runs_through_the_slurm_profile(repo_root, tmp_path, slurm):
    missing = [m for m in STAGE_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"stage modules not in the tree yet: {', '.join(missing)}")
    work = tmp_path / "work"
    work.mkdir()
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo_root / "Snakefile"),
           "--directory", str(work),
           "--workflow-profile", str(repo_root / "workflow" / "profiles" / "slurm"),
           f"--configfile={repo_root / 'config' / 'tiny.yaml'}",
           # quick polling and no retry for a test; everything else is the profile's
           "--slurm-init-seconds-before-status-checks", "2", "--retries", "0",
           "--latency-wait", "5", "--slurm-no-account", TARGET]
    # run from the work directory: the plugin puts slurm-logdir under the launch directory
    result = subprocess.run(cmd, capture_output=True, text=True, env=slurm.env, cwd=work,
                            timeout=240)
    output = result.stdout + result.stderr
    logdir = work / "logs" / "slurm"
    slurm_logs = "\n".join(p.read_text()[-2000:] for p in logdir.rglob("*.log"))
    assert result.returncode == 0, output[-5000:] + slurm_logs
    assert (work / TARGET).stat().st_size > 0

    jobs = slurm.completed_jobs()
    assert len(jobs) == 2, jobs
    assert all(job["JobState"] == "COMPLETED" for job in jobs), jobs
    # The plugin names its jobs by run id and logs one file per rule and job under the profile's
    # slurm-logdir: both jobs went through sbatch.
    rules = {p.relative_to(logdir).parts[0] for p in logdir.rglob("*.log")}
    assert {"rule_hard", "rule_simulate"} <= rules, rules
    assert "sbatch" in output or "Job " in output
