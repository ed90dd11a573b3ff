"""Views of hard events: the fork points (:mod:`.registry`; ``reshower``, ``rehadronise``,
``redetect``, ``repileup``) and the engine that runs a shard's views in order (:mod:`.chain`:
:class:`ViewChain`, :func:`run_views`, :func:`view_order`).

A plug-in imports what it needs from here: ``register_fork`` to add a fork point,
``register_shower`` to add a shower backend, and the hand-offs ``Branch`` and ``LHEBatch``
(:mod:`resim.contracts`).
"""

from __future__ import annotations

from ..contracts import Branch, LHEBatch
from ..showers.registry import register_shower
from .chain import ViewChain, run_views, view_order
from .registry import register_fork

__all__ = ["view_order", "ViewChain", "run_views", "register_fork", "register_shower", "Branch",
           "LHEBatch"]
