"""Swarm testing (Groce et al., ISSTA 2012): each seed switches a random subset of the fault kinds off.

A seed that may draw every kind rarely draws many of one kind, and a fault can mask another (a paused instance
cannot crash-loop); leaving kinds out makes some seeds dense in the rest. Each kind is on with probability
ON (at least one is on), drawn from a generator of its own (`swarm <seed>`), so the set depends on the seed only.
The faults a seed schedules are drawn from the kinds on, as many as before (0 to 6), so a kind that is on is drawn
more often: over a sweep each kind fires about as often as without swarm testing, in fewer seeds, more of them
together. The seed's trace says which kinds are on; a sweep reports per kind how many seeds had it on and in how
many it fired (sim/coverage.py's table).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

#: The chance that a fault kind is on in a seed.
ON = 0.5


def kinds_on(seed: int, kinds: Sequence[str]) -> frozenset[str]:
    """The fault kinds (of `kinds`, distinct names) switched on in `seed`."""
    rng = random.Random(f"swarm {seed}")
    names = sorted(set(kinds))
    on = frozenset(name for name in names if rng.random() < ON)
    return on or frozenset({rng.choice(names)})
