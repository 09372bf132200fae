import random

import pytest

from evolab.evolution.dna import DNA, DNAError, Limits, training_memory_bytes
from evolab.evolution.mutations import apply_mutation, mutate


def wide_dna(factor: float) -> DNA:
    """The initial DNA with one inserted conv whose channel factor is `factor`."""
    obj = apply_mutation(DNA.initial(), "INSERT-CONVOLUTION", random.Random(0)).dna.to_json()
    for edge in obj["edges"]:
        if edge["kind"] == "conv":
            edge["channel_factor"] = factor
    return DNA.from_json(obj)


def test_the_estimate_grows_with_channels_and_batch():
    small, big = wide_dna(1.0), wide_dna(32.0)
    shape = (3, 32, 32)
    assert training_memory_bytes(big, shape, 50) > 10 * training_memory_bytes(small, shape, 50)
    assert training_memory_bytes(big, shape, 100) > training_memory_bytes(big, shape, 50)


def test_a_child_too_large_for_the_memory_limit_is_refused_with_a_clear_message():
    dna = wide_dna(60.0)
    limits = Limits(max_memory_bytes=50 * 2**20, memory_batch=256)
    with pytest.raises(DNAError, match="MiB"):
        DNA.from_json(dna.to_json(), limits=limits, in_shape=(3, 32, 32))


def test_mutations_never_produce_a_child_over_the_memory_limit():
    limits = Limits(max_memory_bytes=4 * 2**20, memory_batch=50)
    rng, dna = random.Random(3), DNA.initial()
    for _ in range(150):
        dna = mutate(dna, rng, in_shape=(3, 32, 32), limits=limits).dna
        assert training_memory_bytes(dna, (3, 32, 32), 50) <= limits.max_memory_bytes
