"""Random-search control: fresh random children, the worst dies at the set-point."""

import random

from evolab.evolution.selection import Candidate, plan_random


def test_random_search_asks_for_a_fresh_child_and_kills_the_worst():
    alive = [Candidate("a", 0.4, 0), Candidate("b", 0.2, 1), Candidate("c", 0.2, 2)]
    plan = plan_random(alive, 3, random.Random(0))
    assert plan.fresh and plan.parent is None
    assert plan.kill == ["b"]  # tied with c on accuracy; b is older


def test_random_search_kills_nobody_below_the_set_point():
    plan = plan_random([Candidate("a", 0.4, 0)], 3, random.Random(0))
    assert plan.kill == [] and plan.fresh
    assert plan_random([], 3, random.Random(0)).kill == []
