"""Pile-up: a minimum-bias pool, per-event overlay, charged-hadron subtraction (CHS).

``pool``: Pythia 8 ``SoftQCD:inelastic`` events with the run's tune, stored once per pool shard
as flat particle arrays (``resim pileup-pool``). ``overlay``: every hard event gets
N ~ Poisson(mu) distinct pool events at vertices z ~ N(0, sigma_z), drawn from the event's own
random stream; the pile-up particles carry a truth flag to the constituents (never a feature).
"""


def pileup_on(config: dict) -> bool:
    """Whether hard events get pile-up (``pileup.mu`` above 0): the one place that decides,
    for the pool the workflow builds, the overlay a view gets and the pool's size check."""
    return float((config.get("pileup") or {}).get("mu", 0)) > 0
