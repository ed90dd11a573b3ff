"""Fork point "pileup": keep the parent's particles, draw the pile-up again.

The view carries its parent's final state unchanged (as the ``hadron`` fork does); when the
dataset stage overlays pile-up (``pileup.mu`` > 0), this view and its descendants draw it from a
stream of their own (other pool events, other vertices: ``resim.pileup.overlay.stream_view``)
instead of the pile-up every other view of the event shares. So the views differ by pile-up
(and detector response) only: an augmentation that teaches a backbone to ignore pile-up.
"""

from __future__ import annotations

from .redetect import ReDetect
from .registry import register_fork


@register_fork("pileup")
class RePileUp(ReDetect):
    backend = "none (pile-up drawn again)"
