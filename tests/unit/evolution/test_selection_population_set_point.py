"""Over many steps every scheme holds the population at its set-point P."""

import random

import pytest

from evolab.evolution.selection import Candidate, plan_step


@pytest.mark.parametrize("scheme", ["tournament", "aging", "random"])
@pytest.mark.parametrize("start", [20, 7])
def test_the_population_stays_at_the_set_point(scheme, start):
    rng = random.Random(0)
    population = 20
    alive = {n: Candidate(n, rng.random(), born=n) for n in range(start)}
    born = start
    sizes = []
    for _ in range(600):
        plan = plan_step(scheme, list(alive.values()), population, rng, sample_size=5)
        for victim in plan.kill:
            del alive[victim]  # KeyError would mean a double kill
        alive[born] = Candidate(born, rng.random(), born=born)
        born += 1
        sizes.append(len(alive))
    assert max(sizes) == population
    assert sizes[population:] == [population] * (600 - population)


def test_aging_replaces_everybody_in_turn():
    rng = random.Random(1)
    alive = {n: Candidate(n, 0.5, born=n) for n in range(10)}
    for born in range(10, 30):
        (victim,) = plan_step("aging", list(alive.values()), 10, rng, sample_size=3).kill
        assert victim == born - 10  # first in, first out
        del alive[victim]
        alive[born] = Candidate(born, 0.99, born=born)
