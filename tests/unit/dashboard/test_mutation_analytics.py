"""Per mutation: children made, first-tournament survival, mean accuracy change vs parent."""

import pytest

from evolab.evolution.mutations import MUTATIONS
from evolab.experiments import dashboard


def by_name(rows):
    return {r["mutation"]: r for r in rows}


def test_it_counts_survival_and_the_mean_change_per_mutation(exp, birth):
    root = birth(0.5)
    winner = birth(0.7, parent=root, mutation="INSERT-CONVOLUTION")  # will have a child
    birth(0.4, parent=root, mutation="INSERT-CONVOLUTION", state="dead")  # lost, childless
    birth(0.6, parent=root, mutation="INSERT-CONVOLUTION")  # alive, childless: undecided
    birth(0.75, parent=winner, mutation="ADD-SKIP")
    rows = by_name(dashboard.mutation_analytics(exp))
    conv = rows["INSERT-CONVOLUTION"]
    assert conv["applied"] == 3
    assert (conv["survived"], conv["decided"], conv["survival_rate"]) == (1, 2, 0.5)
    assert conv["mean_delta"] == pytest.approx((0.2 - 0.1 + 0.1) / 3)
    assert rows["ADD-SKIP"]["mean_delta"] == pytest.approx(0.05)


def test_every_one_of_the_eleven_mutations_has_a_row_even_unused(exp, birth):
    birth(0.5)
    rows = dashboard.mutation_analytics(exp)
    assert [r["mutation"] for r in rows] == list(MUTATIONS) and len(rows) == 11
    assert all(r["applied"] == 0 and r["mean_delta"] is None for r in rows)
