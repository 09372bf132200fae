"""One mutation per child, drawn uniformly, redrawn when it cannot apply (docs/ALGORITHM.md §3)."""

import random
from collections import Counter

import pytest

from evolab.evolution.dna import DNA, Limits
from evolab.evolution.mutations import (
    MUTATIONS,
    InapplicableMutation,
    apply_mutation,
    mutate,
    random_dna,
)

NEVER_ON_INITIAL = {
    "REMOVE-CONVOLUTION",
    "ALTER-STRIDE",
    "ALTER-NUMBER-OF-CHANNELS",
    "FILTER-SIZE",
    "ADD-SKIP",
    "REMOVE-SKIP",
}


def test_the_eleven_mutations_have_the_papers_names():
    assert MUTATIONS == (
        "ALTER-LEARNING-RATE",
        "IDENTITY",
        "RESET-WEIGHTS",
        "INSERT-CONVOLUTION",
        "REMOVE-CONVOLUTION",
        "ALTER-STRIDE",
        "ALTER-NUMBER-OF-CHANNELS",
        "FILTER-SIZE",
        "INSERT-ONE-TO-ONE",
        "ADD-SKIP",
        "REMOVE-SKIP",
    )


def test_each_mutation_is_drawn_about_equally_often_when_all_apply(sample_dna):
    rng = random.Random(1)
    counts = Counter(mutate(sample_dna, rng, in_shape=(3, 32, 32)).names[0] for _ in range(2200))
    assert set(counts) == set(MUTATIONS)
    assert all(140 <= n <= 260 for n in counts.values()), counts


def test_inapplicable_mutations_are_redrawn_not_skipped():
    rng = random.Random(2)
    names = Counter(mutate(DNA.initial(), rng).names[0] for _ in range(500))
    assert not set(names) & NEVER_ON_INITIAL
    assert set(names) == set(MUTATIONS) - NEVER_ON_INITIAL


@pytest.mark.parametrize("name", sorted(NEVER_ON_INITIAL))
def test_a_named_mutation_that_cannot_apply_says_so(name):
    with pytest.raises(InapplicableMutation):
        apply_mutation(DNA.initial(), name, random.Random(0))


def test_an_insertion_beyond_the_vertex_limit_cannot_apply():
    with pytest.raises(InapplicableMutation, match="limit"):
        apply_mutation(
            DNA.initial(), "INSERT-CONVOLUTION", random.Random(0), limits=Limits(max_vertices=2)
        )


def test_mutate_never_modifies_its_input(sample_dna, sample_json):
    rng = random.Random(3)
    for _ in range(100):
        mutate(sample_dna, rng, count=3, in_shape=(3, 32, 32))
    assert sample_dna.to_json() == sample_json


def test_the_same_seed_gives_the_same_child(sample_dna):
    a = mutate(sample_dna, random.Random(9), count=5, in_shape=(3, 32, 32))
    b = mutate(sample_dna, random.Random(9), count=5, in_shape=(3, 32, 32))
    assert a.dna == b.dna and a.records == b.records


def test_count_applies_that_many_mutations_in_sequence(sample_dna):
    result = mutate(sample_dna, random.Random(4), count=5)
    assert len(result.records) == 5
    assert result.description.count("; then ") == 4
    with pytest.raises(ValueError):
        mutate(sample_dna, random.Random(4), count=0)


def test_the_reset_flag_is_set_exactly_when_reset_weights_was_drawn(sample_dna):
    rng = random.Random(5)
    for _ in range(200):
        result = mutate(sample_dna, rng, count=2)
        assert result.reset_weights == ("RESET-WEIGHTS" in result.names)


def test_random_dna_is_a_valid_chain_from_the_initial_dna():
    dna = random_dna(random.Random(6), 20, in_shape=(3, 32, 32))
    dna.validate(in_shape=(3, 32, 32))
    assert dna.next_id > 3
    assert random_dna(random.Random(6), 0) == DNA.initial()
    assert random_dna(random.Random(6), 20, in_shape=(3, 32, 32)) == dna


def test_records_round_trip_through_json(sample_dna):
    record = mutate(sample_dna, random.Random(7)).records[0]
    assert type(record).from_json(record.to_json()) == record
    assert set(record.to_json()) == {"name", "description", "inserted", "removed", "modified"}
