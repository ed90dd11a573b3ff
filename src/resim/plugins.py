"""Named plug-ins: hard-scatter backends, fork points, shower backends, detectors, commands.

Each kind has one :class:`Registry`. Implementations register themselves with a decorator when
their module is imported; the registry imports its modules on the first lookup of an unknown
name, so an optional module (an external backend's adapter) costs nothing until it is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from .errors import ConfigError


def import_optional(modules: Iterable[str]) -> list[ModuleType]:
    """Import ``modules``, skipping those that do not exist; an import error inside one
    (a missing dependency of an existing module) surfaces."""
    imported = []
    for name in modules:
        try:
            imported.append(importlib.import_module(name))
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
    return imported


class Registry:
    """Implementations of one kind, by name."""

    def __init__(self, kind: str, modules: Iterable[str]):
        self.kind = kind
        self.modules = tuple(modules)
        self.entries: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: register a class or function under ``name`` (once)."""

        def decorate(obj: Any) -> Any:
            if self.entries.get(name, obj) is not obj:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self.entries[name] = obj
            obj.registry_name = name
            return obj

        decorate.__doc__ = f"Register a {self.kind} as {name!r}."
        return decorate

    def names(self) -> list[str]:
        import_optional(self.modules)
        return sorted(self.entries)

    def get(self, name: Any, key: str) -> Any:
        """The implementation registered as ``name``; a ConfigError naming the config ``key``
        (and the known names) otherwise."""
        if name not in self.entries:
            import_optional(self.modules)
        if name not in self.entries:
            raise ConfigError(f"{key}: unknown {self.kind} {name!r} "
                              f"(known: {', '.join(self.names())})")
        return self.entries[name]
