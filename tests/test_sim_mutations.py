"""The mutation set (sim/mutations.py): the sweep of the world of the real service, by itself, catches every member
at the seed sim/mutations.py's CLUSTER gives it; a member it does not catch says why (`unseen`), and is never counted
as caught. Issue 17's old behaviours (old-N) are also caught by scripted scenarios (tests/test_sim.py)."""

from __future__ import annotations

import inspect

import attrs
import pytest

from sim.__main__ import mutation_row
from sim.mutations import BY_NAME, CLUSTER, MUTANTS, Replace, Rewrite, resolve


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_a_member_changes_the_code_for_the_run_and_undoes_it(name: str) -> None:
    """Each patch finds its target (a rewrite finds its text exactly once, so a change to the code shows here), sets
    it for the block, and puts the original back after."""
    mutant = BY_NAME[name]
    targets = [resolve(patch.target)[:2] for patch in mutant.patches]
    before = [inspect.getattr_static(owner, attr) for owner, attr in targets]
    with mutant.applied():
        during = [inspect.getattr_static(owner, attr) for owner, attr in targets]
    after = [inspect.getattr_static(owner, attr) for owner, attr in targets]

    assert all(was is not now for was, now in zip(before, during, strict=True))
    assert before == after
    assert mutant.patches
    assert all(isinstance(patch, (Rewrite, Replace)) for patch in mutant.patches)


def test_members_the_sim_does_not_catch_are_never_counted_as_caught() -> None:
    """`python -m sim --mutants` marks a member that says why it is not caught as not run, with the reason (since
    helper mu3 every member has a seed: one given a reason here stands for a member not caught)."""
    unseen = [mutant for mutant in MUTANTS if mutant.unseen] or [attrs.evolve(MUTANTS[0], unseen="never reached")]

    assert all(f"| no: not run ({mutant.unseen}) |" in mutation_row(mutant, None, 0, 0.0) for mutant in unseen)


# ---------------------------------------------------------------------------- the world of the real service

#: (member, the seed of sim/cluster.py's world that catches it): sim/mutations.py's CLUSTER.
CLUSTER_CAUGHT = sorted((name, seed) for name, seed in CLUSTER.items() if isinstance(seed, int))


def test_every_member_has_a_seed_of_the_real_services_world_or_a_reason() -> None:
    assert set(CLUSTER) == set(BY_NAME)
    assert all(bool(BY_NAME[name].unseen) == isinstance(why, str) for name, why in CLUSTER.items())


@pytest.mark.parametrize("seed", sorted({seed for _, seed in CLUSTER_CAUGHT}))
def test_a_seed_that_catches_a_member_keeps_every_invariant_without_it(seed: int) -> None:
    from sim import cluster

    result = cluster.run_seed(seed)

    assert result.ok, result.report()


@pytest.mark.parametrize(("name", "seed"), CLUSTER_CAUGHT)
def test_the_real_services_world_catches_the_member_at_its_seed(name: str, seed: int) -> None:
    """The member applied to the code that ships, the seed breaks an invariant (the seed keeps them all without it,
    above). A change to what seeds draw moves the seed: find it again with `python -m sim --mutant NAME --seeds N`."""
    from sim import cluster

    with BY_NAME[name].applied():
        result = cluster.run_seed(seed)

    assert not result.ok, f"{name} is not caught at seed {seed} any more"
