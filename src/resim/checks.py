"""Config checks the schema cannot express, each registered beside the stage that owns it.

A check is a function ``check(config) -> Iterable[str]`` yielding one ``"key: what is wrong"``
line per problem. Its stage's module registers it with :func:`register_check` when imported, as
the backends register themselves; :func:`problems` imports the stages named in
:data:`CHECKS` first (by name: this module imports none of them, so the config, which every
stage imports, is imported by no stage's checks). Another package's stage registers the same
way when it is imported (``train``'s anomaly detection: :mod:`train.anomaly.checks`).

Every check is cheap and needs no input file, so :func:`resim.config.validate` runs them at
workflow parse time (``snakemake -n`` fails on them) and in every command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .plugins import Registry

Check = Callable[[dict], Iterable[str]]

#: The stages whose modules register checks, in the order their problems are listed.
CHECKS = Registry("config check", (
    "resim.backends",          # every backend the config names exists
    "resim.hard",              # a sample's pt_range selects something
    "resim.hard.processes",    # embedded processes, their channels, and the labels of tasks
    "resim.hard.madgraph",     # MadGraph processes
    "resim.formats.jetclass",  # tasks on JetClass files
    "resim.showers.checks",    # the dark sector's shower; Pythia settings lines
    "resim.pileup.overlay",    # a pool large enough for mu
))

#: Decorator: register a stage's config check under a name (once).
register_check = CHECKS.register


def problems(config: dict) -> list[str]:
    """Every registered check's problems (empty: nothing to report), stage by stage in the
    order of :data:`CHECKS` (a check registered from elsewhere: after them), each check's in
    its own order."""
    CHECKS.names()  # imports the stages, which register their checks

    def order(check: Check) -> tuple:
        module = check.__module__
        rank = CHECKS.modules.index(module) if module in CHECKS.modules else len(CHECKS.modules)
        return rank, module, check.__code__.co_firstlineno

    return [line for check in sorted(CHECKS.entries.values(), key=order) for line in check(config)]
